import Foundation
import HTTP
import LibUV
import SimCore
import WRPCommon
import Workload

/// One completion being "generated": waits out prefill, then emits tokens on a timer.
final class SimRequest {
    unowned let server: SimBackendServer
    let exchange: HTTPExchange
    let job: SimBackend.Job
    let kind: RequestKind
    let stream: Bool
    var timer: UVTimer?
    var generated = 0
    var cachedTokens = 0
    var perTokenNs: UInt64 = 0
    /// When the next token is due (ns, loop clock): timers are whole milliseconds, so each tick
    /// is scheduled against this absolute time and rounding never accumulates.
    var nextDueNs: UInt64 = 0
    var text: [UInt8] = []
    let created = Int(Date().timeIntervalSince1970)
    static let words: [String] = ["the", "router", "sends", "each", "prompt", "where", "its", "prefix", "is", "cached", "and", "load", "stays", "even"]

    init(server: SimBackendServer, exchange: HTTPExchange, job: SimBackend.Job, kind: RequestKind, stream: Bool) {
        self.server = server
        self.exchange = exchange
        self.job = job
        self.kind = kind
        self.stream = stream
    }

    var idString: String { (kind == .chat ? "chatcmpl-" : "cmpl-") + "\(server.id)-\(job.id)" }

    func run(_ s: SimBackend.Start) {
        cachedTokens = s.cachedTokens
        perTokenNs = s.perToken
        // The first token comes out when prefill ends; each further one a decode step later.
        nextDueNs = UVLoop.hrtime() &+ s.prefill &+ UInt64(server.fleet.addedLatencyMs * 1e6)
        let firstMs = delayMs(until: nextDueNs)
        let t = UVTimer(loop: server.loop)
        timer = t
        if stream {
            var h = HeadBuilder(status: 200)
            h.add("content-type", "text/event-stream")
            h.add("cache-control", "no-cache")
            h.add("x-wrp-sim-backend", server.id)
            exchange.startStream(head: h, contentLength: nil)
            exchange.flush()
            t.start(afterMs: firstMs) { [unowned self] in self.tick() }
        } else {
            let total = delayMs(until: nextDueNs &+ perTokenNs &* UInt64(max(0, job.outputTokens - 1)))
            t.start(afterMs: total) { [unowned self] in self.finishWhole() }
        }
    }

    func word(_ i: Int) -> String { SimRequest.words[(Int(job.id) &+ i) % SimRequest.words.count] + " " }

    func tick() {
        guard !exchange.isAborted else { return }
        let w = word(generated)
        generated += 1
        let last = generated >= job.outputTokens
        let json = response(object: kind == .chat ? "chat.completion.chunk" : "text_completion", usage: last) { j in
            if kind == .chat {
                j.key("delta"); j.object { j in j.key("content"); j.string(w) }
            } else {
                j.key("text"); j.string(w)
            }
            j.key("finish_reason"); if last { j.string("length") } else { j.null() }
        }
        var chunk = Array("data: ".utf8)
        chunk.append(contentsOf: json)
        chunk.append(contentsOf: Array("\n\n".utf8))
        if last { chunk.append(contentsOf: Array("data: [DONE]\n\n".utf8)) }
        chunk.withUnsafeBytes { exchange.write($0) }
        if last {
            exchange.end()
            end()
        } else {
            nextDueNs &+= perTokenNs
            timer?.start(afterMs: delayMs(until: nextDueNs)) { [unowned self] in self.tick() }
        }
    }

    /// Milliseconds from now until `due`, rounded to nearest (0 when past).
    func delayMs(until due: UInt64) -> UInt64 {
        let now = UVLoop.hrtime()
        return due > now ? (due - now + 500_000) / 1_000_000 : 0
    }

    /// An OpenAI completion object (or stream chunk) with one choice, whose fields `choice` writes.
    func response(object: String, usage: Bool, _ choice: (inout JSONWriter) -> Void) -> [UInt8] {
        var j = JSONWriter(capacity: 512)
        j.object { j in
            j.key("id"); j.string(idString)
            j.key("object"); j.string(object)
            j.key("created"); j.int(created)
            j.key("model"); j.string(server.modelName)
            j.key("choices"); j.array { j in
                j.object { j in
                    j.key("index"); j.int(0)
                    choice(&j)
                }
            }
            if usage { writeUsage(&j) }
        }
        return j.bytes
    }

    func writeUsage(_ j: inout JSONWriter) {
        j.key("usage"); j.object { j in
            j.key("prompt_tokens"); j.int(job.promptTokens)
            j.key("completion_tokens"); j.int(generated)
            j.key("total_tokens"); j.int(job.promptTokens + generated)
            j.key("prompt_tokens_details"); j.object { j in j.key("cached_tokens"); j.int(cachedTokens) }
        }
    }

    func finishWhole() {
        guard !exchange.isAborted else { return }
        var content = ""
        for i in 0..<job.outputTokens { content += word(i) }
        generated = job.outputTokens
        let json = response(object: kind == .chat ? "chat.completion" : "text_completion", usage: true) { j in
            if kind == .chat {
                j.key("message"); j.object { j in j.key("role"); j.string("assistant"); j.key("content"); j.string(content) }
            } else {
                j.key("text"); j.string(content)
            }
            j.key("finish_reason"); j.string("length")
        }
        exchange.respond(status: 200, body: json, extraHeaders: [("x-wrp-sim-backend", server.id)])
        end()
    }

    func end() {
        timer?.close()
        timer = nil
        server.done(self)
    }

    /// The client left: stop generating.
    func cancel() {
        timer?.close()
        timer = nil
    }
}
