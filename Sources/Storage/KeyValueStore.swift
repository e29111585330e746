/// The column families wrp keeps; every store opens all of them.
///
/// - meta: node identity and incarnation number.
/// - members: last known cluster members (rejoin seeds).
/// - backends: backends added at run time.
/// - bandit: per-node bandit sufficient statistics (`bandit/<context>/<node>`).
/// - hotprefixes: hot-prefix overrides.
/// - decisions: routing decisions and their feedback, keyed by `TimestampKey` so they expire.
public enum ColumnFamily: String, CaseIterable, Sendable, Hashable {
    case meta, members, backends, bandit, hotprefixes, decisions

    /// Position in `allCases`, used to index column-family handles.
    @inline(__always) public var index: Int {
        switch self {
        case .meta: 0
        case .members: 1
        case .backends: 2
        case .bandit: 3
        case .hotprefixes: 4
        case .decisions: 5
        }
    }
}

/// Why a storage operation failed. Messages say what went wrong and what to do.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another process (or another `RocksStore` in this one) holds the data dir's lock.
    case locked(path: String, detail: String)
    /// The store could not be opened for another reason (permissions, corruption…).
    case cannotOpen(path: String, detail: String)
    /// A read or write failed; `operation` names it.
    case io(operation: String, detail: String)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .locked(let path, let detail):
            return "data dir \(path) is locked: is another wrpd running? (\(detail))"
        case .cannotOpen(let path, let detail):
            return "cannot open RocksDB at \(path): \(detail)"
        case .io(let operation, let detail):
            return "RocksDB \(operation) failed: \(detail)"
        case .closed:
            return "the store is closed"
        }
    }
}

/// An ordered group of writes applied atomically.
public struct WriteBatch: Sendable, Equatable {
    public enum Op: Sendable, Equatable {
        case put(ColumnFamily, key: [UInt8], value: [UInt8])
        case delete(ColumnFamily, key: [UInt8])
        /// Deletes keys in `[from, to)`; nothing when `from >= to`.
        case deleteRange(ColumnFamily, from: [UInt8], to: [UInt8])
    }

    public var ops: [Op] = []

    public init() {}
    public init(_ ops: [Op]) { self.ops = ops }

    public var isEmpty: Bool { ops.isEmpty }

    public mutating func put(_ cf: ColumnFamily, _ key: [UInt8], _ value: [UInt8]) { ops.append(.put(cf, key: key, value: value)) }
    public mutating func delete(_ cf: ColumnFamily, _ key: [UInt8]) { ops.append(.delete(cf, key: key)) }
    public mutating func deleteRange(_ cf: ColumnFamily, from: [UInt8], to: [UInt8]) { ops.append(.deleteRange(cf, from: from, to: to)) }

    /// Appends `other`'s operations after this batch's (group commit).
    public mutating func append(contentsOf other: WriteBatch) { ops.append(contentsOf: other.ops) }
}

/// A small ordered key-value store with column families. Keys and values are bytes; keys are
/// ordered bytewise (memcmp, shorter first on a common prefix), as RocksDB's default comparator.
///
/// Implementations are safe to call from several threads (the loop reads; `DurableWriter`
/// writes from its worker).
public protocol KeyValueStore: AnyObject, Sendable {
    /// The value under `key`, or nil.
    func get(_ cf: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8]?
    /// Applies `batch` atomically. With `sync`, returns only after the write-ahead log is on disk.
    func write(_ batch: WriteBatch, sync: Bool) throws(StorageError)
    /// Visits entries with `start <= key` (and `key < end` when `end` is given) in key order
    /// until `visit` returns false.
    func iterate(_ cf: ColumnFamily, from start: [UInt8], to end: [UInt8]?,
                 _ visit: (_ key: [UInt8], _ value: [UInt8]) -> Bool) throws(StorageError)
}

public extension KeyValueStore {
    func put(_ cf: ColumnFamily, _ key: [UInt8], _ value: [UInt8], sync: Bool = false) throws(StorageError) {
        try write(WriteBatch([.put(cf, key: key, value: value)]), sync: sync)
    }

    func delete(_ cf: ColumnFamily, _ key: [UInt8], sync: Bool = false) throws(StorageError) {
        try write(WriteBatch([.delete(cf, key: key)]), sync: sync)
    }

    func deleteRange(_ cf: ColumnFamily, from: [UInt8], to: [UInt8], sync: Bool = false) throws(StorageError) {
        try write(WriteBatch([.deleteRange(cf, from: from, to: to)]), sync: sync)
    }

    /// Entries whose key starts with `prefix`, in key order, at most `limit`.
    func scan(_ cf: ColumnFamily, prefix: [UInt8], limit: Int = .max) throws(StorageError) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        guard limit > 0 else { return out }
        try iterate(cf, from: prefix, to: KeyOrder.prefixEnd(prefix)) { k, v in
            out.append((k, v))
            return out.count < limit
        }
        return out
    }

    /// Deletes the entries of a timestamp-keyed family (`TimestampKey`) older than `cutoff`.
    func expire(_ cf: ColumnFamily = .decisions, before cutoff: UInt64, sync: Bool = false) throws(StorageError) {
        try deleteRange(cf, from: [], to: TimestampKey.bigEndian(cutoff), sync: sync)
    }
}

/// Bytewise key order helpers.
public enum KeyOrder {
    /// memcmp order, shorter first on a common prefix.
    public static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = min(a.count, b.count)
        var i = 0
        while i < n {
            if a[i] != b[i] { return a[i] < b[i] }
            i += 1
        }
        return a.count < b.count
    }

    /// The smallest key greater than every key starting with `prefix`; nil when there is none
    /// (empty prefix, or all 0xFF).
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8]? {
        var p = prefix
        while let last = p.last {
            if last < 0xFF { p[p.count - 1] = last + 1; return p }
            p.removeLast()
        }
        return nil
    }
}

/// Keys that start with an 8-byte big-endian timestamp, so that everything older than a cutoff
/// is one contiguous range (`expire(before:)` deletes it with one range tombstone).
///
/// The unit is the caller's (wrp uses milliseconds since the Unix epoch); it MUST be the same
/// for writing and expiring. A decision id that embeds its timestamp lets feedback find the key.
public enum TimestampKey {
    public static func make(timestamp: UInt64, suffix: [UInt8]) -> [UInt8] {
        bigEndian(timestamp) + suffix
    }

    public static func bigEndian(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
    }

    /// The timestamp of a key made by `make`; nil when the key is shorter than 8 bytes.
    public static func timestamp(of key: [UInt8]) -> UInt64? {
        guard key.count >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(key[i]) }
        return v
    }
}
