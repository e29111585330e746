import Testing
import HTTP

/// SplitMix64: a tiny seeded generator, so every chunking and mutation replays from its seed.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class Counter: @unchecked Sendable {
    var value = 0
    func increment() { value += 1 }
}

/// A decoded request in comparable form.
struct Decoded: Equatable, CustomStringConvertible {
    var method: HTTPMethod
    var target: String
    var headers: [[String]]
    var body: [UInt8]
    var keepAlive: Bool
    var httpMinor: Int

    init(_ r: HTTPRequest) {
        method = r.method
        target = String(decoding: r.target, as: UTF8.self)
        headers = (0..<r.headers.count).map {
            [String(decoding: r.headers.name(at: $0), as: UTF8.self), String(decoding: r.headers.value(at: $0), as: UTF8.self)]
        }
        body = r.body
        keepAlive = r.keepAlive
        httpMinor = r.httpMinor
    }

    var description: String { "\(method) \(target) 1.\(httpMinor) \(headers) body \(body.count)B keepAlive \(keepAlive)" }
}

enum Event: Equatable, CustomStringConvertible {
    case request(Decoded)
    case failure(Int)

    var description: String {
        switch self {
        case .request(let d): return d.description
        case .failure(let s): return "failure \(s)"
        }
    }
}

/// How to cut the input into reads.
enum Feed: Sendable, CustomStringConvertible {
    case whole, byteByByte, random(seed: UInt64)

    var description: String {
        switch self {
        case .whole: return "whole"
        case .byteByByte: return "byte by byte"
        case .random(let s): return "random chunks (seed \(s))"
        }
    }

    func chunks(_ count: Int) -> [Int] {
        switch self {
        case .whole: return count == 0 ? [] : [count]
        case .byteByByte: return Array(repeating: 1, count: count)
        case .random(let seed):
            var rng = TestRandom(seed: seed)
            var out: [Int] = []
            var left = count
            while left > 0 {
                let n = min(left, 1 + rng.below(rng.below(4) == 0 ? 64 : 9))
                out.append(n)
                left -= n
            }
            return out
        }
    }

    static let all: [Feed] = [.whole, .byteByByte] + (1...12).map { .random(seed: $0) }
}

/// Feeds `bytes` as the server does: each read is appended to what is pending, and after a
/// request `execute` is called again with the unconsumed rest.
func decode(_ bytes: [UInt8], _ feed: Feed, maxHeaderBytes: Int = 8 * 1024, maxBodyBytes: Int = 64 * 1024,
            continues: Counter? = nil) -> (events: [Event], pending: Int) {
    let d = HTTPRequestDecoder(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    d.onContinue = { continues?.increment() }
    var events: [Event] = []
    var pending: [UInt8] = []
    var offset = 0
    for n in feed.chunks(bytes.count) {
        pending += bytes[offset..<(offset + n)]
        offset += n
        while !pending.isEmpty {
            let (consumed, outcome) = d.execute(pending)
            #expect(consumed >= 0 && consumed <= pending.count)
            pending.removeFirst(consumed)
            switch outcome {
            case .request(let r):
                events.append(.request(Decoded(r)))
                continue
            case .needMore:
                #expect(pending.isEmpty, "needMore left \(pending.count) bytes unconsumed")
            case .failure(let f):
                #expect([400, 413, 431].contains(f.status))
                #expect(!f.message.isEmpty && !f.code.isEmpty)
                events.append(.failure(f.status))
                return (events, pending.count)
            }
            break
        }
    }
    return (events, pending.count)
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct HTTPRequestDecoderTests {
    static let contentLengthRequest = bytes(
        "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n"
            + "Content-Length: 27\r\nX-Multi: a, b\r\n\r\n{\"model\":\"m\",\"messages\":[]}")

    static let chunkedRequest = bytes(
        "POST /v1/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;ext=1\r\nhello\r\n1\r\n \r\n6;a=b;c\r\nworld!\r\n0\r\nX-Trailer: done\r\n\r\n")

    @Test(arguments: Feed.all)
    func contentLengthBody_anyChunking_decodesIdentically(_ feed: Feed) {
        let (events, pending) = decode(HTTPRequestDecoderTests.contentLengthRequest, feed)
        #expect(pending == 0)
        #expect(events.count == 1)
        guard case .request(let r)? = events.first else { Issue.record("\(feed): \(events)"); return }
        #expect(r.method == .post)
        #expect(r.target == "/v1/chat/completions?x=1")
        #expect(r.headers == [["Host", "localhost:8080"], ["Content-Type", "application/json"], ["Content-Length", "27"], ["X-Multi", "a, b"]])
        #expect(String(decoding: r.body, as: UTF8.self) == #"{"model":"m","messages":[]}"#)
        #expect(r.keepAlive && r.httpMinor == 1)
        #expect(events == decode(HTTPRequestDecoderTests.contentLengthRequest, .whole).events)
    }

    @Test(arguments: Feed.all)
    func chunkedBody_withExtensionsAndTrailers_decodesIdentically(_ feed: Feed) {
        let (events, pending) = decode(HTTPRequestDecoderTests.chunkedRequest, feed)
        #expect(pending == 0)
        #expect(events.count == 1)
        guard case .request(let r)? = events.first else { Issue.record("\(feed): \(events)"); return }
        #expect(String(decoding: r.body, as: UTF8.self) == "hello world!")
        #expect(r.target == "/v1/completions")
        #expect(r.keepAlive)
        // http_parser reports trailer fields through the header callbacks, after the head's fields.
        #expect(Array(r.headers.prefix(2)) == [["Host", "h"], ["Transfer-Encoding", "chunked"]])
        #expect(events == decode(HTTPRequestDecoderTests.chunkedRequest, .whole).events)
    }

    static let pipelined: [UInt8] = bytes("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        + contentLengthRequest
        + bytes("DELETE /admin/backends/b-1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

    @Test(arguments: Feed.all)
    func pipelinedThreeRequests_anyChunking_decodeInOrder(_ feed: Feed) {
        let (events, pending) = decode(HTTPRequestDecoderTests.pipelined, feed)
        #expect(pending == 0)
        let requests = events.compactMap { e -> Decoded? in if case .request(let r) = e { return r } else { return nil } }
        #expect(requests.count == 3 && requests.count == events.count, "\(feed): \(events)")
        guard requests.count == 3 else { return }
        #expect(requests.map(\.method) == [.get, .post, .delete])
        #expect(requests.map(\.target) == ["/health", "/v1/chat/completions?x=1", "/admin/backends/b-1"])
        #expect(requests.map(\.keepAlive) == [true, true, false])
        #expect(requests[0].body.isEmpty && requests[2].body.isEmpty && requests[1].body.count == 27)
        #expect(events == decode(HTTPRequestDecoderTests.pipelined, .whole).events)
    }

    @Test(arguments: [
        ("GET / HTTP/1.0\r\n\r\n", false, 0),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, 0),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, 0),
        ("GET / HTTP/1.1\r\n\r\n", true, 1),
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, 1),
        ("GET / HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", false, 1),
    ])
    func connectionSemantics_byVersionAndHeader_setKeepAlive(_ head: String, _ keepAlive: Bool, _ minor: Int) {
        for feed in [Feed.whole, .byteByByte] {
            let (events, _) = decode(bytes(head), feed)
            guard case .request(let r)? = events.first, events.count == 1 else { Issue.record("\(feed): \(events)"); continue }
            #expect(r.keepAlive == keepAlive, "\(feed)")
            #expect(r.httpMinor == minor)
        }
    }

    @Test(arguments: [
        ("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", 1),
        ("POST /x HTTP/1.1\r\nEXPECT: 100-continue\r\nContent-Length: 3\r\n\r\nabc", 1),
        ("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0),
        ("POST /x HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc", 0),
    ])
    func expectHeader_100continue_invokesOnContinueOnce(_ text: String, _ expected: Int) {
        for feed in [Feed.whole, .byteByByte, .random(seed: 3)] {
            let continues = Counter()
            let (events, _) = decode(bytes(text), feed, continues: continues)
            #expect(continues.value == expected, "\(feed)")
            guard case .request(let r)? = events.first else { Issue.record("\(feed): \(events)"); continue }
            #expect(r.body == bytes("abc"))
        }
    }

    @Test func expectHeader_mixedCaseToken_invokesOnContinue() {
        // RFC 9110 §10.1.1: "The Expect field value is case-insensitive."
        let continues = Counter()
        let events = decode(bytes("POST /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\na"), .whole, continues: continues).events
        #expect(events.count == 1)
        #expect(continues.value == 1)
    }

    @Test(arguments: Feed.all)
    func headers_overMaxHeaderBytes_fail431(_ feed: Feed) {
        let big = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "v", count: 300) + "\r\n\r\n"
        #expect(decode(bytes(big), feed, maxHeaderBytes: 256).events == [.failure(431)])
        // The same head fits a larger limit.
        #expect(decode(bytes(big), feed, maxHeaderBytes: 1024).events.count == 1)
    }

    @Test func headers_overParserHardLimit_fail431() {
        let big = "GET / HTTP/1.1\r\n" + String(repeating: "X-Pad: " + String(repeating: "p", count: 1000) + "\r\n", count: 100) + "\r\n"
        #expect(decode(bytes(big), .whole, maxHeaderBytes: 1 << 30).events == [.failure(431)])
    }

    @Test(arguments: Feed.all)
    func contentLength_overMaxBodyBytes_fails413(_ feed: Feed) {
        let text = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + String(repeating: "b", count: 101)
        #expect(decode(bytes(text), feed, maxBodyBytes: 100).events == [.failure(413)])
    }

    @Test(arguments: [Feed.whole, .byteByByte])
    func contentLength_exactlyMaxBodyBytes_isAccepted(_ feed: Feed) {
        let text = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + String(repeating: "b", count: 100)
        let (events, _) = decode(bytes(text), feed, maxBodyBytes: 100)
        guard case .request(let r)? = events.first, events.count == 1 else { Issue.record("\(events)"); return }
        #expect(r.body.count == 100)
    }

    @Test(arguments: Feed.all)
    func chunkedBody_exceedingMaxBodyBytes_fails413(_ feed: Feed) {
        var text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<5 { text += "1e\r\n" + String(repeating: "c", count: 30) + "\r\n" }
        text += "0\r\n\r\n"
        #expect(decode(bytes(text), feed, maxBodyBytes: 100).events == [.failure(413)])
        let (ok, _) = decode(bytes(text), feed, maxBodyBytes: 150)
        guard case .request(let r)? = ok.first else { Issue.record("\(feed): \(ok)"); return }
        #expect(r.body.count == 150)
    }

    @Test(arguments: [
        "garbage\r\n\r\n",
        "\u{0}\u{1}\u{2}\u{3}",
        "GET / XTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /\u{7F} HTTP/1.1\r\n\r\n",
    ])
    func garbage_anyChunking_fails400(_ text: String) {
        for feed in [Feed.whole, .byteByByte, .random(seed: 5)] {
            #expect(decode(bytes(text), feed).events == [.failure(400)], "\(feed)")
        }
    }

    @Test func decoder_afterFailure_staysFailed() {
        let d = HTTPRequestDecoder(maxHeaderBytes: 1024, maxBodyBytes: 1024)
        guard case .failure(let f) = d.execute(bytes("nonsense\r\n\r\n")).outcome else { Issue.record("garbage accepted"); return }
        #expect(f.status == 400)
        guard case .failure = d.execute(bytes("GET / HTTP/1.1\r\n\r\n")).outcome else { Issue.record("dead decoder decoded"); return }
    }

    @Test func emptyInput_needsMore() {
        let d = HTTPRequestDecoder(maxHeaderBytes: 1024, maxBodyBytes: 1024)
        let r = d.execute([UInt8]())
        #expect(r.consumed == 0 && r.outcome == .needMore)
    }

    @Test func onRequestBegin_calledOncePerPipelinedRequest() {
        let d = HTTPRequestDecoder(maxHeaderBytes: 8192, maxBodyBytes: 8192)
        let begins = Counter()
        d.onRequestBegin = { begins.increment() }
        var pending = HTTPRequestDecoderTests.pipelined
        var requests = 0
        while !pending.isEmpty {
            let (n, outcome) = d.execute(pending)
            pending.removeFirst(n)
            if case .request = outcome { requests += 1 } else { break }
        }
        #expect(requests == 3)
        #expect(begins.value == 3)
    }

    @Test(arguments: 0..<40)
    func truncatedAndMutatedInput_ofManySeeds_neverCrashes(seed: UInt64) {
        var rng = TestRandom(seed: seed)
        var input = HTTPRequestDecoderTests.pipelined + HTTPRequestDecoderTests.chunkedRequest
        input = Array(input.prefix(rng.below(input.count + 1)))
        for _ in 0..<rng.below(6) where !input.isEmpty {
            input[rng.below(input.count)] = UInt8(truncatingIfNeeded: rng.next())
        }
        let a = decode(input, .whole)
        let b = decode(input, .random(seed: seed))
        // Whatever the bytes, chunking must not change the outcome.
        #expect(a.events == b.events, "seed \(seed)")
        #expect(a.events.count <= 4)
    }

    @Test(arguments: 0..<20)
    func randomGarbage_ofManySeeds_neverCrashesAndNeverDecodes(seed: UInt64) {
        var rng = TestRandom(seed: 10_000 + seed)
        let input = (0..<(1 + rng.below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let events = decode(input, .random(seed: seed)).events
        for e in events { if case .request = e { Issue.record("seed \(seed) decoded a request from random bytes") } }
    }
}
