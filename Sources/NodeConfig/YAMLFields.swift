import WRPCommon
internal import Yams

/// One YAML mapping being read key by key, so that every error names its full path
/// (`pools[0].backends[1].weight`) and no key is silently ignored.
///
/// Keys are checked against `known` when the mapping is opened: a misspelt key is reported as
/// unknown before any "required" complaint about the key it was meant to be.
struct YAMLFields {
    /// Dotted path of this mapping; empty at the top level.
    let path: String
    private let known: [String]
    private let values: [String: Yams.Node]

    /// Opens `node` as a mapping. A null node (a section written as `server:` with nothing under
    /// it) reads as an empty mapping, so every key takes its default.
    init(_ node: Yams.Node?, path: String, known: [String]) throws(ConfigError) {
        self.path = path
        self.known = known
        var values: [String: Yams.Node] = [:]
        guard let node, !node.isNull else { self.values = values; return }
        guard case .mapping(let mapping) = node else {
            throw ConfigError(field: path, "must be a mapping (keys: \(known.joined(separator: ", ")))")
        }
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                throw ConfigError(field: path, "keys must be plain names, not lists or mappings")
            }
            let name = key.string
            let field = Self.join(path, name)
            guard known.contains(name) else {
                throw ConfigError(field: field, Self.unknownKeyMessage(name, known: known))
            }
            guard values[name] == nil else { throw ConfigError(field: field, "duplicate key") }
            values[name] = value
        }
        self.values = values
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// "unknown key (known: …)", with a suggestion when one known key is a small edit away.
    static func unknownKeyMessage(_ key: String, known: [String]) -> String {
        let list = known.joined(separator: ", ")
        let near = known.filter { editDistance($0, key) <= 2 }
        if near.count == 1 { return "unknown key, did you mean '\(near[0])'? (known: \(list))" }
        return "unknown key (known: \(list))"
    }

    func field(_ key: String) -> String { Self.join(path, key) }

    /// The raw node under `key`; nil when absent.
    func node(_ key: String) -> Yams.Node? {
        assert(known.contains(key), "YAMLFields: '\(key)' is read but not listed as known at '\(path)'")
        return values[key]
    }

    /// Entries present in this mapping, in `known` order (deterministic error order).
    var present: [(key: String, node: Yams.Node)] { known.compactMap { k in values[k].map { (k, $0) } } }

    /// A nested mapping under `key` (absent or null: empty).
    func mapping(_ key: String, known: [String]) throws(ConfigError) -> YAMLFields {
        try YAMLFields(node(key), path: field(key), known: known)
    }

    func required(_ key: String) throws(ConfigError) -> Yams.Node {
        guard let n = node(key) else { throw ConfigError(field: field(key), "required") }
        return n
    }

    // MARK: Typed readers (nil when the key is absent)

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let n = node(key) else { return nil }
        return try Self.string(n, field: field(key))
    }

    func int(_ key: String, _ rule: IntRule) throws(ConfigError) -> Int? {
        guard let n = node(key) else { return nil }
        return try Self.int(n, field: field(key), rule)
    }

    func double(_ key: String, _ rule: DoubleRule) throws(ConfigError) -> Double? {
        guard let n = node(key) else { return nil }
        return try Self.double(n, field: field(key), rule)
    }

    /// A `*_ms` key as nanoseconds; durations must be positive.
    func millis(_ key: String) throws(ConfigError) -> Nanos? {
        guard let n = node(key) else { return nil }
        let limit = Int(min(UInt64(Int.max), UInt64.max / 1_000_000))
        let ms = try Self.int(n, field: field(key), .range(1...limit, "must be a positive integer (milliseconds)"))
        return .ms(UInt64(ms))
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let n = node(key) else { return nil }
        guard n.tagName == .bool, let b = n.bool else { throw ConfigError(field: field(key), "must be true or false") }
        return b
    }

    func uint64(_ key: String) throws(ConfigError) -> UInt64? {
        guard let n = node(key) else { return nil }
        guard n.tagName == .int, let v = n.scalar.flatMap(UInt64.construct) else {
            throw ConfigError(field: field(key), "must be an integer in 0...\(UInt64.max)")
        }
        return v
    }

    /// A list under `key` (absent: nil; present but not a list: error).
    func sequence(_ key: String) throws(ConfigError) -> [Yams.Node]? {
        guard let n = node(key) else { return nil }
        guard case .sequence(let s) = n else { throw ConfigError(field: field(key), "must be a list") }
        return Array(s)
    }

    // MARK: Scalar conversion shared with list elements

    /// Any non-null scalar, as written: unquoted `id: 1` reads as "1".
    static func string(_ n: Yams.Node, field: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = n, n.tagName != .null else { throw ConfigError(field: field, "must be a string") }
        return s.string
    }

    /// Only YAML integers: a quoted "64" or 64.0 is a mistake worth reporting.
    static func int(_ n: Yams.Node, field: String, _ rule: IntRule) throws(ConfigError) -> Int {
        guard n.tagName == .int, let v = n.int, rule.accepts(v) else { throw ConfigError(field: field, rule.message) }
        return v
    }

    static func double(_ n: Yams.Node, field: String, _ rule: DoubleRule) throws(ConfigError) -> Double {
        let v: Double?
        switch n.tagName {
        case .int: v = n.int.map(Double.init)
        case .float: v = n.float
        default: v = nil
        }
        guard let v, v.isFinite, rule.accepts(v) else { throw ConfigError(field: field, rule.message) }
        return v
    }
}

/// What an integer setting accepts, and the message naming that when it doesn't.
enum IntRule {
    case positive
    case nonNegative
    case range(ClosedRange<Int>, String)

    func accepts(_ v: Int) -> Bool {
        switch self {
        case .positive: return v > 0
        case .nonNegative: return v >= 0
        case .range(let r, _): return r.contains(v)
        }
    }

    var message: String {
        switch self {
        case .positive: return "must be a positive integer"
        case .nonNegative: return "must be a non-negative integer"
        case .range(_, let m): return m
        }
    }
}

/// What a numeric setting accepts (always finite).
enum DoubleRule {
    case positive(atMost: Double)
    case nonNegative
    case any

    func accepts(_ v: Double) -> Bool {
        switch self {
        case .positive(let limit): return v > 0 && v <= limit
        case .nonNegative: return v >= 0
        case .any: return true
        }
    }

    var message: String {
        switch self {
        case .positive(let limit): return "must be a positive number no greater than \(limit.formatted)"
        case .nonNegative: return "must be a non-negative number"
        case .any: return "must be a number"
        }
    }
}

extension Double {
    /// "1000" rather than "1000.0" in messages.
    fileprivate var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

extension Yams.Node {
    /// The resolved tag (int, float, bool, null, str…); `Tag.name` itself is internal to Yams.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.description) }

    var isNull: Bool { if case .scalar = self { return tagName == .null } else { return false } }
}

/// Levenshtein distance, for "did you mean" on short YAML keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
