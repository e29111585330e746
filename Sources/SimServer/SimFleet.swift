import Foundation
import HTTP
import LibUV
import Logging
import SimCore
import WRPCommon
import Workload

/// Settings of a simulated fleet (`wrp-sim` flags).
public struct SimFleetSettings: Sendable {
    public var backends = 4
    public var host = "127.0.0.1"
    public var basePort = 9001
    public var model = SimBackend.Settings()
    /// Model names; backend i serves `models[i % models.count]`.
    public var models = ["sim-llama-8b"]
    /// Router block size in bytes (must match wrpd's `routing.block_bytes` for cache affinity).
    public var blockBytes = 256
    /// Output tokens when the request gives no max_tokens.
    public var defaultMaxTokens = 32
    /// Fraction of completions answered 500.
    public var errorRate = 0.0
    /// Added before the first token (ms, not scaled).
    public var addedLatencyMs = 0.0
    public var seed: UInt64 = 1
    public init() {}
}

/// N simulated OpenAI-compatible backends on one loop, on ports basePort..basePort+N-1.
public final class SimFleet {
    let loop: UVLoop
    let settings: SimFleetSettings
    let logger: Logger
    var backends: [SimBackendServer] = []

    public init(loop: UVLoop, settings: SimFleetSettings, logger: Logger) {
        self.loop = loop
        self.settings = settings
        self.logger = logger
    }

    /// Binds every backend; returns their addresses.
    public func start() throws -> [SocketAddress] {
        var addrs: [SocketAddress] = []
        for i in 0..<settings.backends {
            let b = SimBackendServer(loop: loop, index: i, fleet: settings, logger: logger)
            let port = settings.basePort == 0 ? 0 : settings.basePort + i
            do {
                addrs.append(try b.listen(host: settings.host, port: port))
            } catch {
                throw SimError.bind("cannot listen on \(settings.host):\(port) for sim-\(i): \(error.message)")
            }
            backends.append(b)
        }
        return addrs
    }

    public func stop() { for b in backends { b.stop() } }

    public enum SimError: Error, CustomStringConvertible {
        case bind(String)
        public var description: String { switch self { case .bind(let m): return m } }
    }
}

/// One simulated backend: HTTP endpoints over a `SimBackend` model, with fault injection.
final class SimBackendServer {
    enum FailMode: String { case none, status500 = "500", hang, close }

    let loop: UVLoop
    let id: String
    let modelName: String
    let fleet: SimFleetSettings
    let logger: Logger
    var model: SimBackend
    var server: HTTPServer!
    var parser: WorkloadParser
    var rng: SeededRandom
    var failMode = FailMode.none
    var nextJob: UInt64 = 0
    var jobs: [UInt64: SimRequest] = [:]
    /// Jobs waiting for a slot, with what they need to start.
    var pending: [UInt64: SimRequest] = [:]
    var requestsTotal = 0

    init(loop: UVLoop, index: Int, fleet: SimFleetSettings, logger: Logger) {
        self.loop = loop
        self.id = "sim-\(index)"
        self.modelName = fleet.models[index % fleet.models.count]
        self.fleet = fleet
        self.logger = logger
        var m = fleet.model
        m.tokensPerBlock = max(1, fleet.blockBytes / 4)
        model = SimBackend(settings: m)
        parser = WorkloadParser(blockBytes: fleet.blockBytes)
        rng = SeededRandom(seed: fleet.seed &+ UInt64(index) &* 0x9E37_79B9)
    }

    func listen(host: String, port: Int) throws(UVError) -> SocketAddress {
        var s = HTTPServerSettings()
        s.maxBodyBytes = 64 * 1024 * 1024
        s.maxHeaderBytes = 64 * 1024
        server = HTTPServer(loop: loop, settings: s) { [unowned self] ex in self.handle(ex) }
        return try server.listen(host: host, port: port)
    }

    func stop() {
        for r in Array(jobs.values) + Array(pending.values) { r.cancel() }
        server.close()
    }

    func handle(_ ex: HTTPExchange) {
        let r = ex.request
        if r.method == .post && r.pathIs("/admin/fail") { return setFail(ex) }
        if r.method == .post && r.pathIs("/admin/recover") {
            failMode = .none
            logger.notice("recovered", metadata: ["backend": "\(id)"])
            return json(ex, 200, #"{"status":"ok"}"#)
        }
        switch failMode {
        case .none: break
        case .status500:
            return ex.respondError(status: 500, message: "injected failure", type: "server_error", code: "injected")
        case .hang:
            return  // never answer; the client times out
        case .close:
            return ex.abortConnection()
        }
        if r.method == .get && r.pathIs("/health") { return json(ex, 200, "") }
        if r.method == .get && r.pathIs("/metrics") { return metrics(ex) }
        if r.method == .get && r.pathIs("/v1/models") {
            return json(ex, 200, #"{"object":"list","data":[{"id":"\#(modelName)","object":"model","created":0,"owned_by":"wrp-sim"}]}"#)
        }
        if r.method == .post && r.pathIs("/v1/chat/completions") { return complete(ex, kind: .chat) }
        if r.method == .post && r.pathIs("/v1/completions") { return complete(ex, kind: .completion) }
        ex.respondError(status: 404, message: "not found: \(r.path)", type: "invalid_request_error", code: "not_found")
    }

    func json(_ ex: HTTPExchange, _ status: Int, _ body: String) {
        ex.respond(status: status, body: Array(body.utf8), extraHeaders: [("x-wrp-sim-backend", id)])
    }

    func setFail(_ ex: HTTPExchange) {
        let obj = (try? JSONSerialization.jsonObject(with: Data(ex.request.body))) as? [String: Any]
        let raw = (obj?["mode"] as? String) ?? (obj?["mode"] as? NSNumber)?.stringValue ?? ""
        guard let mode = FailMode(rawValue: raw), mode != .none else {
            return ex.respondError(status: 400, message: "mode must be one of 500, hang, close", type: "invalid_request_error", code: "bad_mode")
        }
        failMode = mode
        logger.notice("failing", metadata: ["backend": "\(id)", "mode": "\(raw)"])
        json(ex, 200, #"{"status":"ok"}"#)
    }

    func complete(_ ex: HTTPExchange, kind: RequestKind) {
        let w: Workload
        do {
            w = try parser.parse(ex.request.body, kind: kind)
        } catch {
            return ex.respondError(status: 400, message: error.description, type: "invalid_request_error", code: "invalid_body")
        }
        if let m = w.model, m != modelName {
            return ex.respondError(status: 404, message: "The model `\(m)` does not exist.", type: "NotFoundError", code: "model_not_found")
        }
        requestsTotal += 1
        if fleet.errorRate > 0 && rng.unit() < fleet.errorRate {
            return ex.respondError(status: 500, message: "injected random error", type: "server_error", code: "injected")
        }
        nextJob &+= 1
        let job = SimBackend.Job(id: nextJob, promptTokens: max(1, w.estimatedPromptTokens),
                                 outputTokens: max(1, min(w.maxTokens ?? fleet.defaultMaxTokens, 4096)),
                                 blockHashes: w.blockHashes)
        let req = SimRequest(server: self, exchange: ex, job: job, kind: kind, stream: w.stream)
        ex.onAbort = { [unowned self, unowned req] in self.aborted(req) }
        if let s = model.arrive(job, now: Instant(nanoseconds: UVLoop.hrtime())) {
            jobs[job.id] = req
            req.run(s)
        } else {
            pending[job.id] = req
        }
    }

    func aborted(_ req: SimRequest) {
        if pending.removeValue(forKey: req.job.id) != nil {
            _ = model.cancelWaiting(id: req.job.id)
            return
        }
        req.cancel()
        done(req)
    }

    func done(_ req: SimRequest) {
        guard jobs.removeValue(forKey: req.job.id) != nil else { return }
        if let s = model.finish(generatedTokens: req.generated, now: Instant(nanoseconds: UVLoop.hrtime())), let next = pending.removeValue(forKey: s.id) {
            jobs[s.id] = next
            next.run(s)
        }
    }

    func metrics(_ ex: HTTPExchange) {
        let l = "{model_name=\"\(modelName)\"}"
        let text = """
        # HELP vllm:num_requests_running Number of requests currently running on GPU.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running\(l) \(model.running)
        # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting\(l) \(model.waitingCount)
        # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
        # TYPE vllm:kv_cache_usage_perc gauge
        vllm:kv_cache_usage_perc\(l) \(model.cache.usage)
        # HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
        # TYPE vllm:prefix_cache_queries_total counter
        vllm:prefix_cache_queries_total\(l) \(model.cacheQueryTokens)
        # HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
        # TYPE vllm:prefix_cache_hits_total counter
        vllm:prefix_cache_hits_total\(l) \(model.cacheHitTokens)
        # HELP vllm:prompt_tokens_total Number of prefill tokens processed.
        # TYPE vllm:prompt_tokens_total counter
        vllm:prompt_tokens_total\(l) \(model.promptTokensTotal)
        # HELP vllm:generation_tokens_total Number of generation tokens processed.
        # TYPE vllm:generation_tokens_total counter
        vllm:generation_tokens_total\(l) \(model.generationTokensTotal)
        # HELP wrp_sim_requests_total Completion requests received.
        # TYPE wrp_sim_requests_total counter
        wrp_sim_requests_total\(l) \(requestsTotal)

        """
        ex.respond(status: 200, contentType: "text/plain; version=0.0.4", body: Array(text.utf8),
                   extraHeaders: [("x-wrp-sim-backend", id)])
    }
}
