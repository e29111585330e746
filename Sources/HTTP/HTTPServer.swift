import CHTTPParser
import LibUV
import WRPCommon

/// Limits and timeouts of the HTTP server (see docs/configuration.md `server.*`).
public struct HTTPServerSettings: Sendable {
    /// Request line + headers; more → 431.
    public var maxHeaderBytes = 16 * 1024
    /// Body; more → 413.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// From a request's first byte to its last; slower → 408 and close.
    public var requestTimeoutMs: UInt64 = 30_000
    /// Idle keep-alive connections are closed after this.
    public var idleTimeoutMs: UInt64 = 60_000
    public var maxConnections = 10_000
    public init() {}
}

/// An HTTP/1.1 server on one libuv loop: keep-alive, pipelining (answered in order), chunked and
/// Content-Length bodies, limits, and graceful shutdown.
///
/// The handler gets one `HTTPExchange` per request and answers through it, now or later (the
/// proxy answers after the upstream does). While an exchange is open, further pipelined bytes are
/// buffered, not parsed, so responses go out in request order.
public final class HTTPServer {
    public let loop: UVLoop
    public let settings: HTTPServerSettings
    let handler: (HTTPExchange) -> Void
    var listener: UVTCPListener?
    var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    var sweepTimer: UVTimer?
    public private(set) var draining = false
    var drainDone: (() -> Void)?
    var drainTimer: UVTimer?
    /// Called for each error the server answers itself (parse errors, limits, slow clients).
    public var onProtocolError: ((Int) -> Void)?

    public init(loop: UVLoop, settings: HTTPServerSettings, handler: @escaping (HTTPExchange) -> Void) {
        self.loop = loop
        self.settings = settings
        self.handler = handler
    }

    /// Starts listening; returns the bound address (port 0 picks one).
    public func listen(host: String, port: Int) throws(UVError) -> SocketAddress {
        let l = try UVTCPListener(loop: loop, host: host, port: port) { [unowned self] tcp in
            self.accept(tcp)
        }
        listener = l
        let sweep = UVTimer(loop: loop)
        let period = max(10, min(250, min(settings.requestTimeoutMs, settings.idleTimeoutMs) / 4))
        sweep.start(afterMs: period, repeatMs: period) { [unowned self] in self.sweep() }
        sweep.unref()
        sweepTimer = sweep
        return l.address
    }

    public var openConnections: Int { connections.count }

    func accept(_ tcp: UVTCP) {
        if draining || connections.count >= settings.maxConnections {
            tcp.close()
            return
        }
        tcp.setNoDelay()
        let c = HTTPServerConnection(server: self, tcp: tcp)
        connections[ObjectIdentifier(c)] = c
        c.start()
    }

    func connectionClosed(_ c: HTTPServerConnection) {
        connections[ObjectIdentifier(c)] = nil
        if draining && connections.isEmpty { finishDrain() }
    }

    func countProtocolError(_ status: Int) {
        onProtocolError?(status)
    }

    func sweep() {
        let now = loop.nowMilliseconds
        for c in Array(connections.values) { c.checkTimeouts(nowMs: now) }
    }

    /// Stops accepting, closes idle connections, lets in-flight exchanges finish (their
    /// connections then close), and calls `done` when all are gone or `graceMs` has passed.
    public func shutdown(graceMs: UInt64, done: @escaping () -> Void) {
        guard !draining else { return }
        draining = true
        drainDone = done
        listener?.close()
        listener = nil
        for c in Array(connections.values) { c.drain() }
        if connections.isEmpty { finishDrain(); return }
        let t = UVTimer(loop: loop)
        t.start(afterMs: graceMs) { [unowned self] in
            for c in Array(self.connections.values) { c.forceClose() }
            self.finishDrain()
        }
        drainTimer = t
    }

    func finishDrain() {
        drainTimer?.close()
        drainTimer = nil
        sweepTimer?.close()
        sweepTimer = nil
        let d = drainDone
        drainDone = nil
        d?()
    }

    /// Closes everything now (tests, fatal errors).
    public func close() {
        listener?.close()
        listener = nil
        sweepTimer?.close()
        sweepTimer = nil
        drainTimer?.close()
        drainTimer = nil
        for c in Array(connections.values) { c.forceClose() }
    }
}

/// One request being answered. Answer exactly once: `respond(...)`, or `startStream` + `write` + `end`.
public final class HTTPExchange {
    public let request: HTTPRequest
    weak var connection: HTTPServerConnection?
    /// Called if the client goes away before the answer is complete.
    public var onAbort: (() -> Void)?
    /// Called when the client's socket drained after being backed up (see `isBackedUp`).
    public var onWritable: (() -> Void)?
    public private(set) var headSent = false
    public internal(set) var finished = false
    var chunked = false
    var pendingHead: [UInt8] = []
    let closeAfter: Bool
    public let receivedAtNs: UInt64

    init(request: HTTPRequest, connection: HTTPServerConnection, closeAfter: Bool, receivedAtNs: UInt64) {
        self.request = request
        self.connection = connection
        self.closeAfter = closeAfter
        self.receivedAtNs = receivedAtNs
    }

    /// Whether the connection will close after this response (client asked, or server draining).
    public var willClose: Bool { closeAfter || (connection?.server.draining ?? true) }

    /// Whether the client is gone.
    public var isAborted: Bool { connection == nil || connection!.tcp.isClosed }

    /// Bytes waiting to be written to the client (backpressure for streaming).
    public var isBackedUp: Bool { (connection?.tcp.writeQueueSize ?? 0) > 1 << 20 }

    /// A complete response. `head` must already hold the status line and headers, not the blank
    /// line; content-length and connection headers are added here.
    public func respond(head: HeadBuilder, body: UnsafeRawBufferPointer) {
        guard !finished, let c = connection else { return }
        var h = head
        h.add("content-length", int: body.count)
        if willClose { h.add("connection", "close") }
        h.finish()
        if body.count > 0 && body.count <= 16 * 1024 {
            h.bytes.append(contentsOf: body)
            c.tcp.write(h.bytes)
        } else {
            c.tcp.write(h.bytes)
            c.tcp.write(body)
        }
        headSent = true
        complete()
    }

    public func respond(head: HeadBuilder, body: [UInt8]) {
        body.withUnsafeBytes { respond(head: head, body: $0) }
    }

    public func respond(status: Int, contentType: StaticString = "application/json", body: [UInt8],
                        extraHeaders: [(StaticString, String)] = []) {
        var h = HeadBuilder(status: status)
        h.add("content-type", contentType)
        for (n, v) in extraHeaders { h.add(n, v) }
        respond(head: h, body: body)
    }

    /// Answers with the OpenAI error shape.
    public func respondError(status: Int, message: String, type: String, code: String,
                             extraHeaders: [(StaticString, String)] = []) {
        respond(status: status, body: openAIErrorBody(message: message, type: type, code: code), extraHeaders: extraHeaders)
    }

    /// Sends the head of a streamed response. With `contentLength` the body is sent as is;
    /// without, it is chunked (or close-delimited for HTTP/1.0 clients).
    public func startStream(head: HeadBuilder, contentLength: Int?) {
        guard !headSent, let c = connection else { return }
        var h = head
        if let n = contentLength {
            h.add("content-length", int: n)
        } else if request.httpMinor >= 1 {
            h.add("transfer-encoding", "chunked")
            chunked = true
        }
        if willClose || (contentLength == nil && request.httpMinor == 0) { h.add("connection", "close") }
        h.finish()
        // Held back until the first body bytes or `flush()`, to send both in one write.
        pendingHead = h.bytes
        headSent = true
    }

    /// Writes body bytes. Head, chunk framing and data go out in one write where possible: each
    /// syscall on loopback costs more than copying a few kilobytes.
    public func write(_ data: UnsafeRawBufferPointer) {
        guard headSent, !finished, data.count > 0, let c = connection else { return }
        if data.count > 64 * 1024 {
            var out = takePending()
            if chunked { appendChunkPrefix(data.count, &out) }
            if !out.isEmpty { c.tcp.write(out) }
            c.tcp.write(data)
            if chunked { c.tcp.write([0x0D, 0x0A]) }
            return
        }
        var out = takePending()
        out.reserveCapacity(out.count + data.count + 16)
        if chunked { appendChunkPrefix(data.count, &out) }
        out.append(contentsOf: data)
        if chunked { out.append(0x0D); out.append(0x0A) }
        c.tcp.write(out)
    }

    func appendChunkPrefix(_ n: Int, _ out: inout [UInt8]) {
        HeadBuilder.appendHex(n, &out)
        out.append(0x0D); out.append(0x0A)
    }

    func takePending() -> [UInt8] {
        let p = pendingHead
        pendingHead = []
        return p
    }

    /// Sends a head still held back (call when no body byte follows right away).
    public func flush() {
        guard !pendingHead.isEmpty, let c = connection else { return }
        c.tcp.write(takePending())
    }

    /// Ends a streamed response.
    public func end() {
        guard headSent, !finished, let c = connection else { return }
        var out = takePending()
        if chunked { out.append(contentsOf: [0x30, 0x0D, 0x0A, 0x0D, 0x0A]) }
        if !out.isEmpty { c.tcp.write(out) }
        if request.httpMinor == 0 && !chunked { c.forceCloseAfterFlush() }
        complete()
    }

    /// Gives up on the response: closes the connection (used when an upstream fails mid-stream,
    /// so the client sees a truncated body rather than a silently complete one).
    public func abortConnection() {
        guard !finished else { return }
        flush()
        finished = true
        connection?.forceCloseAfterFlush()
    }

    func complete() {
        finished = true
        connection?.exchangeFinished(self)
    }
}

/// One client connection: parses requests, enforces limits and timeouts, hands out exchanges.
final class HTTPServerConnection {
    let server: HTTPServer
    let tcp: UVTCP
    let decoder: HTTPRequestDecoder
    /// Bytes received but not yet parsed (pipelined while an exchange is open).
    var inbox: [UInt8] = []
    var exchange: HTTPExchange?
    var requestStartMs: UInt64?
    var lastActivityMs: UInt64
    var closing = false
    var readPaused = false

    init(server: HTTPServer, tcp: UVTCP) {
        self.server = server
        self.tcp = tcp
        decoder = HTTPRequestDecoder(maxHeaderBytes: server.settings.maxHeaderBytes, maxBodyBytes: server.settings.maxBodyBytes)
        lastActivityMs = server.loop.nowMilliseconds
        decoder.onContinue = { [unowned self] in self.tcp.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        decoder.onRequestBegin = { [unowned self] in
            if self.requestStartMs == nil { self.requestStartMs = self.server.loop.nowMilliseconds }
        }
    }

    func start() {
        tcp.onRead = { [unowned self] data in self.received(data) }
        tcp.onEnd = { [unowned self] _ in self.peerClosed() }
        tcp.onClose = { [unowned self] in self.closed() }
        tcp.onDrain = { [unowned self] in self.exchange?.onWritable?() }
        tcp.startReading()
    }

    func received(_ data: UnsafeRawBufferPointer) {
        lastActivityMs = server.loop.nowMilliseconds
        if requestStartMs == nil { requestStartMs = lastActivityMs }
        if exchange != nil || !inbox.isEmpty {
            inbox.append(contentsOf: data)
            // Bound what a pipelining client can make us hold.
            if inbox.count > server.settings.maxBodyBytes + server.settings.maxHeaderBytes + 65536 {
                tcp.stopReading()
                readPaused = true
            }
            return
        }
        // Handlers may answer synchronously (health, metrics), so keep parsing pipelined
        // requests from this read until one is left open.
        var offset = 0
        while offset < data.count && !closing {
            if exchange != nil {
                inbox.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[offset...]))
                return
            }
            let consumed = parse(UnsafeRawBufferPointer(rebasing: data[offset...]))
            if consumed == 0 { break }
            offset += consumed
        }
    }

    /// Parses until the buffer is used up, a request completes, or an error. Returns bytes consumed.
    func parse(_ data: UnsafeRawBufferPointer) -> Int {
        let (n, outcome) = decoder.execute(data)
        switch outcome {
        case .needMore: break
        case .request(let r): dispatch(r)
        case .failure(let f):
            respondAndClose(status: f.status, message: f.message, code: f.code)
            return data.count
        }
        return n
    }

    func respondAndClose(status: Int, message: String, code: String) {
        server.countProtocolError(status)
        closing = true
        var h = HeadBuilder(status: status)
        h.add("content-type", "application/json")
        let body = openAIErrorBody(message: message, type: "invalid_request_error", code: code)
        h.add("content-length", int: body.count)
        h.add("connection", "close")
        h.finish()
        h.bytes.append(contentsOf: body)
        tcp.write(h.bytes)
        tcp.closeAfterFlush()
    }

    // MARK: exchanges

    func dispatch(_ req: HTTPRequest) {
        requestStartMs = nil
        let closeAfter = !req.keepAlive
        let ex = HTTPExchange(request: req, connection: self, closeAfter: closeAfter, receivedAtNs: UVLoop.hrtime())
        exchange = ex
        server.handler(ex)
    }

    func exchangeFinished(_ ex: HTTPExchange) {
        guard exchange === ex else { return }
        exchange = nil
        lastActivityMs = server.loop.nowMilliseconds
        if ex.willClose {
            closing = true
            tcp.closeAfterFlush()
            return
        }
        // Continue with pipelined bytes, one message at a time.
        while exchange == nil && !inbox.isEmpty && !closing {
            let pending = inbox
            inbox.removeAll(keepingCapacity: true)
            let consumed = pending.withUnsafeBytes { parse($0) }
            if consumed < pending.count && !closing {
                inbox.insert(contentsOf: pending[consumed...], at: 0)
            }
            if consumed == 0 && exchange == nil { break }
        }
        if readPaused && inbox.count < server.settings.maxHeaderBytes && !closing {
            readPaused = false
            tcp.startReading()
        }
    }

    func peerClosed() {
        if let ex = exchange, !ex.finished {
            exchange = nil
            ex.connection = nil
            ex.finished = true
            ex.onAbort?()
        }
        closing = true
        tcp.close()
    }

    func closed() {
        if let ex = exchange, !ex.finished {
            exchange = nil
            ex.connection = nil
            ex.finished = true
            ex.onAbort?()
        }
        server.connectionClosed(self)
    }

    func checkTimeouts(nowMs: UInt64) {
        guard !closing else { return }
        if exchange != nil { return }
        if let start = requestStartMs, nowMs >= start + server.settings.requestTimeoutMs {
            respondAndClose(status: 408, message: "request not received completely within \(server.settings.requestTimeoutMs) ms",
                            code: "request_timeout")
            return
        }
        if requestStartMs == nil && inbox.isEmpty && nowMs >= lastActivityMs + server.settings.idleTimeoutMs {
            closing = true
            tcp.close()
        }
    }

    /// Server is shutting down: close now if idle, else after the current exchange.
    func drain() {
        if exchange == nil && requestStartMs == nil && inbox.isEmpty {
            closing = true
            tcp.close()
        }
    }

    func forceClose() {
        closing = true
        tcp.close()
    }

    func forceCloseAfterFlush() {
        closing = true
        tcp.closeAfterFlush()
    }
}
