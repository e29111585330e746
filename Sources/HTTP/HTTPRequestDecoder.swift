import CHTTPParser

let requestParserSettings = ParserSettings({
    var s = http_parser_settings()
    s.on_message_begin = { p in HTTPRequestDecoder.from(p).onMessageBegin() }
    s.on_url = { p, at, n in HTTPRequestDecoder.from(p).onURL(at, n) }
    s.on_header_field = { p, at, n in HTTPRequestDecoder.from(p).onHeaderField(at, n) }
    s.on_header_value = { p, at, n in HTTPRequestDecoder.from(p).onHeaderValue(at, n) }
    s.on_headers_complete = { p in HTTPRequestDecoder.from(p).onHeadersComplete() }
    s.on_body = { p, at, n in HTTPRequestDecoder.from(p).onBody(at, n) }
    s.on_message_complete = { p in HTTPRequestDecoder.from(p).onMessageComplete() }
    return s
}())

/// Turns request bytes into `HTTPRequest`s with http_parser, enforcing header and body limits.
///
/// No sockets: the server connection feeds it whatever arrived, and tests feed it bytes whole,
/// byte by byte or in random chunks. It stops after each complete request (the parser is paused)
/// so the caller can answer pipelined requests in order; the next `execute` resumes.
public final class HTTPRequestDecoder {
    public struct Failure: Error, Equatable, Sendable {
        /// 400 malformed, 413 body too large, 431 headers too large.
        public var status: Int
        public var message: String
        public var code: String
    }

    public enum Outcome: Equatable {
        case needMore
        case request(HTTPRequest)
        case failure(Failure)

        public static func == (a: Outcome, b: Outcome) -> Bool {
            switch (a, b) {
            case (.needMore, .needMore): return true
            case (.failure(let x), .failure(let y)): return x == y
            case (.request(let x), .request(let y)): return x.target == y.target && x.body == y.body
            default: return false
            }
        }
    }

    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int
    let parser: UnsafeMutablePointer<http_parser>
    var request = HTTPRequest()
    var headerBytes = 0
    var inTrailers = false
    /// Status to answer with when a callback aborted parsing (413, 431).
    var limitStatus = 0
    var completed: HTTPRequest?
    var failed = false
    /// Called when a request asks for `Expect: 100-continue`.
    public var onContinue: (() -> Void)?
    /// Called at the first byte of each request (starts the slow-client clock).
    public var onRequestBegin: (() -> Void)?

    public init(maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit { parser.deallocate() }

    static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPRequestDecoder {
        Unmanaged<HTTPRequestDecoder>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }

    /// Parses from `data`; returns how many bytes were consumed and what came of them. After a
    /// `.request`, call again with the unconsumed rest. After a `.failure`, the decoder is dead.
    public func execute(_ data: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        if failed { return (data.count, .failure(Failure(status: 400, message: "connection already failed", code: "malformed_request"))) }
        if http_errno(rawValue: parser.pointee.http_errno) == HPE_PAUSED { http_parser_pause(parser, 0) }
        guard data.count > 0 else { return (0, .needMore) }
        completed = nil
        let n = http_parser_execute(parser, requestParserSettings.pointer,
                                    data.baseAddress?.assumingMemoryBound(to: CChar.self), data.count)
        let errno = http_errno(rawValue: parser.pointee.http_errno)
        if errno == HPE_OK || errno == HPE_PAUSED {
            if let r = completed {
                completed = nil
                return (n, .request(r))
            }
            return (n, .needMore)
        }
        failed = true
        return (data.count, .failure(failure(errno)))
    }

    public func execute(_ bytes: [UInt8]) -> (consumed: Int, outcome: Outcome) {
        bytes.withUnsafeBytes { execute($0) }
    }

    func failure(_ errno: http_errno) -> Failure {
        if limitStatus == 413 {
            return Failure(status: 413, message: "request body exceeds the limit of \(maxBodyBytes) bytes", code: "request_too_large")
        }
        if limitStatus == 431 || errno == HPE_HEADER_OVERFLOW {
            return Failure(status: 431, message: "request headers exceed the limit of \(maxHeaderBytes) bytes", code: "headers_too_large")
        }
        return Failure(status: 400, message: "malformed HTTP request: \(String(cString: http_errno_description(errno)))",
                       code: "malformed_request")
    }

    // MARK: parser callbacks (return non-zero to abort)

    func onMessageBegin() -> Int32 {
        request = HTTPRequest()
        headerBytes = 0
        inTrailers = false
        limitStatus = 0
        onRequestBegin?()
        return 0
    }

    func countHeader(_ n: Int) -> Bool {
        headerBytes += n
        if headerBytes > maxHeaderBytes { limitStatus = 431; return false }
        return true
    }

    func onURL(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeader(n), let at else { return 1 }
        request.target.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    func onHeaderField(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeader(n), let at else { return 1 }
        // Chunked trailers arrive through the same callbacks; they are not request headers.
        if inTrailers { return 0 }
        let b = UnsafeRawBufferPointer(start: at, count: n)
        request.headers.appendNamePiece(b)
        return 0
    }

    func onHeaderValue(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeader(n), let at else { return 1 }
        if inTrailers { return 0 }
        request.headers.appendValue(UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    func onHeadersComplete() -> Int32 {
        inTrailers = true
        request.method = HTTPMethod(parser.pointee.method)
        request.httpMinor = Int(parser.pointee.http_minor)
        let len = parser.pointee.content_length
        if len != UInt64.max && len > 0 {
            if len > UInt64(maxBodyBytes) { limitStatus = 413; return -1 }
            request.body.reserveCapacity(Int(len))
        }
        if let i = request.headers.index(of: "expect"),
           request.headers.value(at: i).lazy.map(HTTPHeaders.lower).elementsEqual("100-continue".utf8) {
            onContinue?()
        }
        return 0
    }

    func onBody(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard let at else { return 1 }
        if request.body.count + n > maxBodyBytes { limitStatus = 413; return 1 }
        request.body.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    func onMessageComplete() -> Int32 {
        request.keepAlive = http_should_keep_alive(parser) != 0
        completed = request
        request = HTTPRequest()
        http_parser_pause(parser, 1)
        return 0
    }
}
