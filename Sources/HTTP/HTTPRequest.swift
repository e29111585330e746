import CHTTPParser

/// The methods wrp serves (anything else is parsed and answered 405/404).
public enum HTTPMethod: Sendable, Equatable {
    case get, post, put, delete, head, options, other(UInt32)

    init(_ raw: UInt32) {
        switch raw {
        case HTTP_GET.rawValue: self = .get
        case HTTP_POST.rawValue: self = .post
        case HTTP_PUT.rawValue: self = .put
        case HTTP_DELETE.rawValue: self = .delete
        case HTTP_HEAD.rawValue: self = .head
        case HTTP_OPTIONS.rawValue: self = .options
        default: self = .other(raw)
        }
    }
}

/// One complete request as received.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod = .get
    /// Raw request target (path and query).
    public var target: [UInt8] = []
    public var headers = HTTPHeaders()
    public var body: [UInt8] = []
    public var httpMinor = 1
    public var keepAlive = true

    public init() {}

    /// Length of the path part of `target` (before `?`).
    @inline(__always) public var pathLength: Int { target.firstIndex(of: UInt8(ascii: "?")) ?? target.count }

    /// Whether the path equals `p` exactly (query ignored).
    public func pathIs(_ p: StaticString) -> Bool {
        let n = pathLength
        guard n == p.utf8CodeUnitCount else { return false }
        let s = p.utf8Start
        for i in 0..<n where target[i] != s[i] { return false }
        return true
    }

    /// The path after `prefix`, when the path starts with it.
    public func pathSuffix(after prefix: StaticString) -> String? {
        let n = pathLength
        let m = prefix.utf8CodeUnitCount
        guard n > m else { return nil }
        let s = prefix.utf8Start
        for i in 0..<m where target[i] != s[i] { return nil }
        return String(decoding: target[m..<n], as: UTF8.self)
    }

    public var path: String { String(decoding: target[0..<pathLength], as: UTF8.self) }

    /// Query parameter `name` (no percent-decoding beyond `+`), if present.
    public func query(_ name: String) -> String? {
        guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let query = String(decoding: target[(q + 1)...], as: UTF8.self)
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first.map(String.init) == name { return kv.count > 1 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : "" }
        }
        return nil
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
