import HTTP
import LibUV
import RoutingCore
import WRPCommon
import Workload

/// One proxied request: tries the decision's backends in order, streams the chosen answer back.
///
/// Retries go to the next candidate when connecting fails, or when the backend answers 5xx or
/// closes before any byte reached the client. A stale pooled connection that fails before any
/// response byte is retried once on a fresh connection to the same backend. Once the client has
/// the response head, an upstream failure truncates the client connection (never a silently
/// short body). A client that goes away cancels the upstream request.
final class ProxyCall {
    unowned let node: Node
    let exchange: HTTPExchange
    let route: RouteLabel
    let poolIndex: Int
    let workload: Workload
    let decisionID: String
    var targets: Routing.IndexList
    var next = 0
    var backend = -1
    var conn: HTTPClientConnection?
    var timer: UVTimer?
    var sentHead = false
    var sawFirstByte = false
    var attemptStartNs: UInt64 = 0
    var staleRetried = false
    var attemptOpen = false
    var status = 0
    var lastError = "no backend tried"
    var lastErrorCode = "backend_unavailable"
    var timedOut = false
    /// The last bytes of the response body, where `usage` sits in OpenAI answers.
    var tail: [UInt8] = []
    static let tailBytes = 512

    /// The body to send when it differs from the client's (model chosen by wrp).
    let body: [UInt8]?
    /// Whether the bandit chose the model (its outcome then updates the statistics).
    let learned: Bool

    init(node: Node, exchange: HTTPExchange, route: RouteLabel, poolIndex: Int, workload: Workload,
         decision: Routing.Decision, decisionID: String, body: [UInt8]?, learned: Bool, maxAttempts: Int) {
        self.node = node
        self.body = body
        self.learned = learned
        self.exchange = exchange
        self.route = route
        self.poolIndex = poolIndex
        self.workload = workload
        self.decisionID = decisionID
        var t = Routing.IndexList()
        t.append(decision.chosen)
        for f in decision.fallbacks where t.count < maxAttempts { t.append(f) }
        targets = t
    }

    func start() {
        exchange.onAbort = { [self] in clientGone() }
        attemptNext()
    }

    /// The spec of backend `b` (read in place: copying the whole `Pool` per access would retain
    /// its arrays and policy on every call).
    func spec(_ b: Int) -> Routing.BackendSpec { node.pools[poolIndex].backends[b].spec }

    func attemptNext() {
        let now = node.now
        while next < targets.count {
            let b = targets[next]
            next += 1
            // Skip a fallback that became unroutable since the decision.
            if next > 1 && !node.pools[poolIndex].backends[b].health.isRoutable(now: now) { continue }
            if next > 1 { node.metrics.retries[spec(b).id, default: 0] &+= 1 }
            begin(backend: b)
            return
        }
        finishWithError()
    }

    func begin(backend b: Int) {
        backend = b
        staleRetried = false
        attemptOpen = true
        sawFirstByte = false
        attemptStartNs = UVLoop.hrtime()
        node.pools[poolIndex].requestStarted(backend: b, promptTokens: workload.estimatedPromptTokens)
        let up = node.upstreams[poolIndex][b]
        if let c = up.takeIdle() {
            send(on: c, reused: true)
        } else {
            connectFresh()
        }
    }

    func connectFresh() {
        let up = node.upstreams[poolIndex][backend]
        let b = backend
        up.connect(timeoutMs: node.config.upstream.connectTimeout / 1_000_000) { [self] r in
            guard attemptOpen, b == backend else {
                if case .success(let c) = r { c.close() }
                return
            }
            switch r {
            case .success(let c): send(on: c, reused: false)
            case .failure(let e): attemptFailed(e.description, code: e == .connectTimeout ? "backend_connect_timeout" : "backend_unavailable")
            }
        }
    }

    func send(on c: HTTPClientConnection, reused: Bool) {
        conn = c
        c.onHead = { [unowned self] head in self.gotHead(head) }
        c.onBody = { [unowned self] bytes in self.gotBody(bytes) }
        c.onComplete = { [unowned self] reusable in self.gotEnd(reusable: reusable) }
        c.onError = { [unowned self] e in self.gotError(e, reused: reused) }
        c.onReadDone = { [unowned self] in self.exchange.flush() }
        let up = node.upstreams[poolIndex][backend]
        var h = HeadBuilder(capacity: 512 + exchange.request.headers.storage.count)
        h.append("POST ")
        h.bytes.append(contentsOf: exchange.request.target)
        h.append(" HTTP/1.1\r\n")
        h.add("host", up.url.authority)
        let headers = exchange.request.headers
        for i in 0..<headers.count where !headers.isHopByHop(i) {
            h.add(name: headers.name(at: i), value: headers.value(at: i))
        }
        let payload = body ?? exchange.request.body
        h.add("content-length", int: payload.count)
        h.add("x-wrp-decision-id", decisionID)
        h.finish()
        if payload.count <= 16 * 1024 { h.bytes.append(contentsOf: payload) }
        c.send(h.bytes)
        if payload.count > 16 * 1024 { c.tcp.write(payload) }
        armTimer(ms: node.config.upstream.firstByteTimeout / 1_000_000, firstByte: true)
    }

    func armTimer(ms: UInt64, firstByte: Bool) {
        let t = timer ?? UVTimer(loop: node.loop)
        timer = t
        t.start(afterMs: ms) { [unowned self] in self.timeout(firstByte: firstByte) }
    }

    func gotHead(_ head: HTTPResponseHead) {
        status = head.status
        if head.status >= 500 && next < targets.count && !sentHead {
            conn?.cancel()
            conn = nil
            attemptFailed("backend answered \(head.status)", code: "backend_error")
            return
        }
        var h = HeadBuilder(status: head.status, capacity: 256 + head.headers.storage.count)
        for i in 0..<head.headers.count where !head.headers.isHopByHop(i) {
            h.add(name: head.headers.name(at: i), value: head.headers.value(at: i))
        }
        let spec = spec(backend)
        h.add("x-wrp-backend", spec.id)
        h.add("x-wrp-decision-id", decisionID)
        h.add("x-wrp-node", node.nodeID)
        exchange.startStream(head: h, contentLength: head.contentLength)
        sentHead = true
        armTimer(ms: max(1, (node.config.upstream.totalTimeout / 1_000_000) &- (UVLoop.hrtime() &- attemptStartNs) / 1_000_000), firstByte: false)
    }

    func gotBody(_ bytes: UnsafeRawBufferPointer) {
        if !sawFirstByte { markFirstByte() }
        exchange.write(bytes)
        if bytes.count >= ProxyCall.tailBytes {
            tail.removeAll(keepingCapacity: true)
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - ProxyCall.tailBytes)...]))
        } else {
            tail.append(contentsOf: bytes)
            if tail.count > 2 * ProxyCall.tailBytes { tail.removeFirst(tail.count - ProxyCall.tailBytes) }
        }
        if exchange.isBackedUp, let c = conn {
            c.tcp.stopReading()
            exchange.onWritable = { [weak c] in c?.tcp.startReading() }
        }
    }

    func markFirstByte() {
        sawFirstByte = true
        let ttft = UVLoop.hrtime() &- attemptStartNs
        node.metrics.upstreamTTFB[spec(backend).id, default: Histogram()].observe(Double(ttft) / 1e9)
        node.pools[poolIndex].firstToken(backend: backend, promptTokens: workload.estimatedPromptTokens, ttft: ttft,
                                         workload: workload, now: node.now)
    }

    func gotEnd(reusable: Bool) {
        if !sawFirstByte { markFirstByte() }
        let c = conn
        conn = nil
        exchange.end()
        endAttempt(success: status < 500)
        if reusable, let c { node.upstreams[poolIndex][backend].release(c) }
        done(status: status)
    }

    func gotError(_ e: HTTPClientError, reused: Bool) {
        conn = nil
        if sentHead {
            // Mid-stream failure: truncate rather than pretend the body was complete.
            exchange.abortConnection()
            endAttempt(success: false)
            done(status: status)
            return
        }
        if reused && !staleRetried && status == 0 {
            // A pooled connection the backend had already closed: not the backend's fault.
            staleRetried = true
            connectFresh()
            return
        }
        attemptFailed(e.description, code: "backend_error")
    }

    func timeout(firstByte: Bool) {
        timedOut = true
        conn?.cancel()
        conn = nil
        let which = firstByte ? "first byte" : "response"
        lastError = "backend \(spec(backend).id) timed out waiting for the \(which)"
        endAttempt(success: false)
        if sentHead {
            exchange.abortConnection()
            done(status: status)
        } else {
            exchange.respondError(status: 504, message: lastError, type: "server_error", code: "backend_timeout",
                                  extraHeaders: [("x-wrp-decision-id", decisionID), ("x-wrp-node", node.nodeID)])
            done(status: 504)
        }
    }

    func attemptFailed(_ message: String, code: String) {
        lastError = "backend \(spec(backend).id): \(message)"
        lastErrorCode = code
        node.metrics.upstreamErrors[spec(backend).id, default: 0] &+= 1
        endAttempt(success: false)
        attemptNext()
    }

    func endAttempt(success: Bool) {
        guard attemptOpen else { return }
        attemptOpen = false
        timer?.stop()
        let cached = success ? ProxyCall.cachedTokens(in: tail) : nil
        let change = node.pools[poolIndex].requestFinished(
            backend: backend, promptTokens: workload.estimatedPromptTokens, sawFirstToken: sawFirstByte,
            success: success, cachedTokens: cached, workload: workload, now: node.now)
        let spec = spec(backend)
        node.metrics.upstreamDuration[spec.id, default: Histogram()].observe(Double(UVLoop.hrtime() &- attemptStartNs) / 1e9)
        if let change { node.healthChanged(pool: poolIndex, backend: backend, change) }
    }

    func finishWithError() {
        let status = lastErrorCode == "backend_connect_timeout" ? 504 : 502
        exchange.respondError(status: status, message: "all \(targets.count) backend attempt(s) failed; last: \(lastError)",
                              type: "server_error", code: lastErrorCode,
                              extraHeaders: [("x-wrp-decision-id", decisionID), ("x-wrp-node", node.nodeID)])
        done(status: status)
    }

    func clientGone() {
        node.metrics.clientAborts &+= 1
        conn?.cancel()
        conn = nil
        if attemptOpen {
            // The backend did nothing wrong: count it as a success for health purposes.
            endAttempt(success: true)
        }
        done(status: 499)
    }

    var isDone = false

    func done(status: Int) {
        guard !isDone else { return }
        isDone = true
        timer?.close()
        timer = nil
        exchange.onAbort = nil
        exchange.onWritable = nil
        let id = backend >= 0 ? spec(backend).id : ""
        if learned && backend >= 0 && status != 499 {
            let spec = spec(backend)
            let usage = ProxyCall.usage(in: tail)
            let cost = (Double(usage.prompt ?? workload.estimatedPromptTokens) * spec.costInputPerMillion
                        + Double(usage.completion ?? 0) * spec.costOutputPerMillion) / 1e6
            node.observeOutcome(decisionID: decisionID, success: status < 400,
                                latencyMs: Double(UVLoop.hrtime() &- exchange.receivedAtNs) / 1e6, cost: cost)
        }
        node.finished(self, route: route, status: status, backend: id)
    }

    /// `usage.prompt_tokens_details.cached_tokens` from the end of a response, if present.
    static func cachedTokens(in tail: [UInt8]) -> Int? { number(after: "\"cached_tokens\":", in: tail) }

    /// `usage.prompt_tokens` and `usage.completion_tokens` from the end of a response.
    static func usage(in tail: [UInt8]) -> (prompt: Int?, completion: Int?) {
        (number(after: "\"prompt_tokens\":", in: tail), number(after: "\"completion_tokens\":", in: tail))
    }

    /// The integer after the last occurrence of `keyText` in `tail`.
    static func number(after keyText: String, in tail: [UInt8]) -> Int? {
        let key = Array(keyText.utf8)
        guard tail.count >= key.count else { return nil }
        var i = tail.count - key.count
        while i >= 0 {
            if tail[i] == key[0] && tail[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                while j < tail.count && tail[j] == 0x20 { j += 1 }
                var v = 0
                var digits = 0
                while j < tail.count, tail[j] >= 0x30, tail[j] <= 0x39, digits < 12 {
                    v = v * 10 + Int(tail[j] - 0x30); j += 1; digits += 1
                }
                return digits > 0 ? v : nil
            }
            i -= 1
        }
        return nil
    }
}
