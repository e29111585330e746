import Synchronization

/// `KeyValueStore` in memory, with RocksStore's semantics (bytewise order, atomic batches,
/// half-open range deletes), for the simulator and tests. `sync` has no effect.
public final class InMemoryStore: KeyValueStore {
    /// Per column family, entries sorted by key.
    private let families: Mutex<[[(key: [UInt8], value: [UInt8])]]>

    public init() {
        families = Mutex(Array(repeating: [], count: ColumnFamily.allCases.count))
    }

    /// Index of the first entry whose key is not less than `key`.
    private static func lowerBound(_ entries: [(key: [UInt8], value: [UInt8])], _ key: [UInt8]) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if KeyOrder.less(entries[mid].key, key) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func get(_ cf: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        families.withLock { f in
            let entries = f[cf.index]
            let i = Self.lowerBound(entries, key)
            return i < entries.count && entries[i].key == key ? entries[i].value : nil
        }
    }

    public func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        families.withLock { f in
            for op in batch.ops {
                switch op {
                case .put(let cf, let key, let value):
                    let i = Self.lowerBound(f[cf.index], key)
                    if i < f[cf.index].count && f[cf.index][i].key == key {
                        f[cf.index][i].value = value
                    } else {
                        f[cf.index].insert((key, value), at: i)
                    }
                case .delete(let cf, let key):
                    let i = Self.lowerBound(f[cf.index], key)
                    if i < f[cf.index].count && f[cf.index][i].key == key { f[cf.index].remove(at: i) }
                case .deleteRange(let cf, let from, let to):
                    guard KeyOrder.less(from, to) else { continue }
                    let lo = Self.lowerBound(f[cf.index], from)
                    let hi = Self.lowerBound(f[cf.index], to)
                    if lo < hi { f[cf.index].removeSubrange(lo..<hi) }
                }
            }
        }
    }

    public func iterate(_ cf: ColumnFamily, from start: [UInt8], to end: [UInt8]?,
                        _ visit: (_ key: [UInt8], _ value: [UInt8]) -> Bool) throws(StorageError) {
        // Copy the range out so `visit` runs without the lock (it may call back into the store).
        let slice: [(key: [UInt8], value: [UInt8])] = families.withLock { f in
            let entries = f[cf.index]
            let lo = Self.lowerBound(entries, start)
            let hi = end.map { Self.lowerBound(entries, $0) } ?? entries.count
            return lo < hi ? Array(entries[lo..<hi]) : []
        }
        for e in slice where !visit(e.key, e.value) { return }
    }

    /// Number of entries in `cf` (tests and diagnostics).
    public func count(_ cf: ColumnFamily) -> Int { families.withLock { $0[cf.index].count } }
}
