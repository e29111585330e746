/// Header fields stored as one byte buffer plus ranges: no `String` per header on the request path.
public struct HTTPHeaders: Sendable {
    public private(set) var storage: [UInt8] = []
    public private(set) var fields: [(name: Range<Int>, value: Range<Int>)] = []
    /// Whether the last piece fed by a parser was a value (a name piece then starts a new field).
    var lastWasValue = false

    public init() {}

    public var count: Int { fields.count }

    public mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        lastWasValue = false
    }

    /// A piece of a field name from http_parser, which may split a name over several callbacks:
    /// it starts a new field after a value (or at the first field), else continues the name.
    mutating func appendNamePiece(_ bytes: UnsafeRawBufferPointer) {
        if lastWasValue || fields.isEmpty { beginName(bytes) } else { continueName(bytes) }
        lastWasValue = false
    }

    /// Starts a new field whose name begins with `bytes`.
    mutating func beginName(_ bytes: UnsafeRawBufferPointer) {
        let s = storage.count
        storage.append(contentsOf: bytes)
        fields.append((s..<storage.count, storage.count..<storage.count))
    }

    mutating func continueName(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
        let i = fields.count - 1
        fields[i].name = fields[i].name.lowerBound..<storage.count
        fields[i].value = storage.count..<storage.count
    }

    mutating func appendValue(_ bytes: UnsafeRawBufferPointer) {
        guard !fields.isEmpty else { return }
        lastWasValue = true
        let i = fields.count - 1
        let start = fields[i].value.isEmpty ? storage.count : fields[i].value.lowerBound
        storage.append(contentsOf: bytes)
        fields[i].value = start..<storage.count
    }

    public mutating func add(name: String, value: String) {
        let s = storage.count
        storage.append(contentsOf: name.utf8)
        let m = storage.count
        storage.append(contentsOf: value.utf8)
        fields.append((s..<m, m..<storage.count))
    }

    @inline(__always)
    public static func lower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }

    /// Case-insensitive comparison of field `i`'s name with a lower-case ASCII `name`.
    @inline(__always)
    public func nameEquals(_ i: Int, _ name: StaticString) -> Bool {
        let r = fields[i].name
        guard r.count == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        var k = 0
        while k < r.count {
            if HTTPHeaders.lower(storage[r.lowerBound + k]) != p[k] { return false }
            k += 1
        }
        return true
    }

    public func index(of name: StaticString) -> Int? {
        for i in 0..<fields.count where nameEquals(i, name) { return i }
        return nil
    }

    public func value(_ name: StaticString) -> String? {
        guard let i = index(of: name) else { return nil }
        return String(decoding: storage[fields[i].value], as: UTF8.self)
    }

    public func name(at i: Int) -> ArraySlice<UInt8> { storage[fields[i].name] }
    public func value(at i: Int) -> ArraySlice<UInt8> { storage[fields[i].value] }

    /// Whether field `i` is hop-by-hop (RFC 9110 §7.6.1) or framing, which a proxy must not forward.
    public func isHopByHop(_ i: Int) -> Bool {
        nameEquals(i, "connection") || nameEquals(i, "keep-alive") || nameEquals(i, "transfer-encoding")
            || nameEquals(i, "te") || nameEquals(i, "trailer") || nameEquals(i, "upgrade")
            || nameEquals(i, "proxy-connection") || nameEquals(i, "proxy-authorization")
            || nameEquals(i, "content-length") || nameEquals(i, "host") || nameEquals(i, "expect")
    }
}

/// Builds a response or request head directly into bytes.
public struct HeadBuilder {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public init(status: Int, capacity: Int = 256) {
        self.init(capacity: capacity)
        append("HTTP/1.1 ")
        HeadBuilder.appendInt(status, &bytes)
        bytes.append(0x20)
        append(HTTPStatus.reason(status))
        crlf()
    }

    @inline(__always) public mutating func crlf() { bytes.append(0x0D); bytes.append(0x0A) }

    @inline(__always) public mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func add(_ name: StaticString, _ value: StaticString) {
        append(name); append(": "); append(value); crlf()
    }

    public mutating func add(_ name: StaticString, _ value: String) {
        append(name); append(": "); bytes.append(contentsOf: value.utf8); crlf()
    }

    public mutating func add(_ name: StaticString, int value: Int) {
        append(name); append(": "); HeadBuilder.appendInt(value, &bytes); crlf()
    }

    public mutating func add(name: some Sequence<UInt8>, value: some Sequence<UInt8>) {
        bytes.append(contentsOf: name); append(": "); bytes.append(contentsOf: value); crlf()
    }

    /// Ends the head (blank line).
    public mutating func finish() { crlf() }

    public static func appendInt(_ v: Int, _ out: inout [UInt8]) {
        var x = v.magnitude
        if v < 0 { out.append(UInt8(ascii: "-")) }
        if x == 0 { out.append(0x30); return }
        let start = out.count
        while x > 0 { out.append(UInt8(x % 10) + 0x30); x /= 10 }
        out[start...].reverse()
    }

    public static func appendHex(_ v: Int, _ out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        var x = v
        if x == 0 { out.append(0x30); return }
        let start = out.count
        while x > 0 { out.append(digits.utf8Start[x & 15]); x >>= 4 }
        out[start...].reverse()
    }
}

public enum HTTPStatus {
    public static func reason(_ code: Int) -> StaticString {
        switch code {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return code < 300 ? "OK" : (code < 500 ? "Client Error" : "Server Error")
        }
    }
}
