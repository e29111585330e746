import CHTTPParser
import LibUV

/// Status line and headers of an upstream response.
public struct HTTPResponseHead: Sendable {
    public var status = 0
    public var headers = HTTPHeaders()
    /// Declared body length; nil when chunked or close-delimited.
    public var contentLength: Int?
    public var keepAlive = true
    public init() {}
}

public enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// Could not connect (refused, unreachable, resolve failure).
    case connect(String)
    /// Connect did not finish within the connect timeout.
    case connectTimeout
    /// The connection closed or failed before the response was complete.
    case closed(String)
    /// The peer sent something that is not HTTP.
    case malformed(String)

    public var description: String {
        switch self {
        case .connect(let m): return "connect failed: \(m)"
        case .connectTimeout: return "connect timed out"
        case .closed(let m): return "connection closed: \(m)"
        case .malformed(let m): return "malformed response: \(m)"
        }
    }
}

let responseParserSettings = ParserSettings({
    var s = http_parser_settings()
    s.on_message_begin = { p in HTTPClientConnection.from(p).onMessageBegin() }
    s.on_status = { _, _, _ in 0 }
    s.on_header_field = { p, at, n in HTTPClientConnection.from(p).onHeaderField(at, n) }
    s.on_header_value = { p, at, n in HTTPClientConnection.from(p).onHeaderValue(at, n) }
    s.on_headers_complete = { p in HTTPClientConnection.from(p).onHeadersComplete() }
    s.on_body = { p, at, n in HTTPClientConnection.from(p).onBody(at, n) }
    s.on_message_complete = { p in HTTPClientConnection.from(p).onMessageComplete() }
    return s
}())

/// A keep-alive client connection to one upstream: one request at a time, response parsed with
/// http_parser and delivered as head, body pieces and end.
public final class HTTPClientConnection {
    public let tcp: UVTCP
    let parser: UnsafeMutablePointer<http_parser>
    var head = HTTPResponseHead()
    var headerBytes = 0
    public private(set) var inRequest = false
    /// Whether any byte of the current response has arrived.
    public private(set) var receivedAny = false
    public private(set) var requestsSent = 0
    public private(set) var isBroken = false
    var completed = false
    /// A HEAD request's response has no body.
    var expectNoBody = false

    public var onHead: ((HTTPResponseHead) -> Void)?
    public var onBody: ((UnsafeRawBufferPointer) -> Void)?
    /// The response ended; `reusable` says whether the connection may serve another request.
    public var onComplete: ((_ reusable: Bool) -> Void)?
    public var onError: ((HTTPClientError) -> Void)?
    /// All bytes of one socket read were processed (a moment to flush coalesced writes).
    public var onReadDone: (() -> Void)?
    /// The peer closed while idle (in a pool).
    public var onIdleClose: (() -> Void)?

    static let maxResponseHeaderBytes = 64 * 1024

    init(tcp: UVTCP) {
        self.tcp = tcp
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit { parser.deallocate() }

    static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPClientConnection {
        Unmanaged<HTTPClientConnection>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }

    /// Connects to `address`, failing after `timeoutMs`.
    public static func connect(loop: UVLoop, to address: SocketAddress, timeoutMs: UInt64,
                               _ completion: @escaping (Result<HTTPClientConnection, HTTPClientError>) -> Void) {
        let tcp = UVTCP(loop: loop)
        let timer = UVTimer(loop: loop)
        var done = false
        timer.start(afterMs: timeoutMs) {
            guard !done else { return }
            done = true
            timer.close()
            tcp.close()
            completion(.failure(.connectTimeout))
        }
        tcp.connect(to: address) { err in
            guard !done else { return }
            done = true
            timer.close()
            if let err {
                tcp.close()
                completion(.failure(.connect(err.description)))
                return
            }
            tcp.setNoDelay()
            let c = HTTPClientConnection(tcp: tcp)
            c.startReading()
            completion(.success(c))
        }
    }

    func startReading() {
        tcp.onRead = { [unowned self] data in self.received(data) }
        tcp.onEnd = { [unowned self] err in self.peerClosed(err) }
        tcp.onClose = { [self] in _ = self }  // keeps the connection alive until libuv closes the socket
        tcp.startReading()
    }

    /// Sends a complete request (head + body bytes). `isHead` for HEAD requests.
    public func send(_ bytes: UnsafeRawBufferPointer, isHead: Bool = false) {
        precondition(!inRequest, "HTTPClientConnection: request already in progress")
        inRequest = true
        receivedAny = false
        completed = false
        expectNoBody = isHead
        requestsSent += 1
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        tcp.write(bytes)
    }

    public func send(_ bytes: [UInt8], isHead: Bool = false) { bytes.withUnsafeBytes { send($0, isHead: isHead) } }

    func received(_ data: UnsafeRawBufferPointer) {
        guard inRequest else {
            // Bytes on an idle connection: the peer is confused; drop the connection.
            isBroken = true
            close()
            onIdleClose?()
            return
        }
        receivedAny = true
        let n = http_parser_execute(parser, responseParserSettings.pointer,
                                    data.baseAddress?.assumingMemoryBound(to: CChar.self), data.count)
        let errno = http_errno(rawValue: parser.pointee.http_errno)
        if errno != HPE_OK && errno != HPE_PAUSED {
            fail(.malformed(String(cString: http_errno_description(errno))))
            return
        }
        if completed {
            finishResponse()
        } else if n < data.count {
            fail(.malformed("unexpected bytes after response"))
        } else {
            onReadDone?()
        }
    }

    func finishResponse() {
        inRequest = false
        let reusable = head.keepAlive && !isBroken && !tcp.isClosed
        if !reusable { close() }
        let cb = onComplete
        clearCallbacks()
        cb?(reusable)
    }

    func peerClosed(_ err: UVError?) {
        isBroken = true
        guard inRequest else {
            close()
            onIdleClose?()
            return
        }
        // EOF may complete a close-delimited body.
        _ = http_parser_execute(parser, responseParserSettings.pointer, nil, 0)
        if completed {
            finishResponse()
        } else {
            fail(.closed(err?.description ?? "peer closed the connection"))
        }
    }

    func fail(_ e: HTTPClientError) {
        isBroken = true
        inRequest = false
        close()
        let cb = onError
        clearCallbacks()
        cb?(e)
    }

    func clearCallbacks() {
        onReadDone = nil
        onHead = nil
        onBody = nil
        onComplete = nil
        onError = nil
    }

    /// Cancels whatever is in progress (no callbacks) and closes.
    public func cancel() {
        clearCallbacks()
        inRequest = false
        isBroken = true
        close()
    }

    public func close() {
        onIdleClose = nil
        tcp.close()
    }

    // MARK: parser callbacks

    func onMessageBegin() -> Int32 {
        head = HTTPResponseHead()
        headerBytes = 0
        return 0
    }

    func onHeaderField(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard let at else { return 1 }
        headerBytes += n
        if headerBytes > HTTPClientConnection.maxResponseHeaderBytes { return 1 }
        let b = UnsafeRawBufferPointer(start: at, count: n)
        head.headers.appendNamePiece(b)
        return 0
    }

    func onHeaderValue(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard let at else { return 1 }
        headerBytes += n
        if headerBytes > HTTPClientConnection.maxResponseHeaderBytes { return 1 }
        head.headers.appendValue(UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    func onHeadersComplete() -> Int32 {
        head.status = Int(parser.pointee.status_code)
        let len = parser.pointee.content_length
        let chunked = (UInt32(parser.pointee.flags) & F_CHUNKED.rawValue) != 0
        head.contentLength = (len == UInt64.max || chunked) ? nil : Int(len)
        if expectNoBody { head.contentLength = 0 }
        head.keepAlive = http_should_keep_alive(parser) != 0
        // 1xx interim responses are skipped (the real one follows).
        if head.status >= 100 && head.status < 200 { return 0 }
        onHead?(head)
        return expectNoBody ? 1 : 0
    }

    func onBody(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard let at else { return 1 }
        onBody?(UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    func onMessageComplete() -> Int32 {
        if head.status >= 100 && head.status < 200 { return 0 }
        head.keepAlive = http_should_keep_alive(parser) != 0
        completed = true
        http_parser_pause(parser, 1)
        return 0
    }
}
