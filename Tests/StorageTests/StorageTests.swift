import Foundation
import Storage
import Synchronization
import Testing
import WRPCommon

/// A fresh directory under the system temp dir, removed by `body`'s caller via `defer`.
func withTempDir<T>(_ body: (String) throws -> T) rethrows -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("wrp-storage-\(UInt64.random(in: 0...UInt64.max))").path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir + "/db")
}

func dump(_ s: any KeyValueStore) throws -> [ColumnFamily: [[UInt8]: [UInt8]]] {
    var out: [ColumnFamily: [[UInt8]: [UInt8]]] = [:]
    for cf in ColumnFamily.allCases {
        var m: [[UInt8]: [UInt8]] = [:]
        var last: [UInt8]? = nil
        try s.iterate(cf, from: [], to: nil) { k, v in
            if let l = last { #expect(KeyOrder.less(l, k), "keys out of order") }
            last = k
            m[k] = v
            return true
        }
        out[cf] = m
    }
    return out
}

/// Keys from a tiny alphabet with edge bytes, so operations collide and ranges matter.
func randomKey(_ r: inout SeededRandom) -> [UInt8] {
    let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x62, 0xFF]
    return (0..<r.below(4)).map { _ in alphabet[r.below(alphabet.count)] }
}

@Test(arguments: [1, 2, 3, 4] as [UInt64])
func randomOperations_rocksAndMemory_agree(seed: UInt64) throws {
    try withTempDir { path in
        let rocks = try RocksStore(path: path)
        let memory = InMemoryStore()
        var r = SeededRandom(seed: seed)
        let cfs = ColumnFamily.allCases
        for step in 0..<400 {
            let cf = cfs[r.below(2)]  // two families keep collisions frequent; others stay empty
            switch r.below(6) {
            case 0, 1:
                let k = randomKey(&r), v = (0..<r.below(3)).map { _ in UInt8(r.below(256)) }
                try rocks.put(cf, k, v); try memory.put(cf, k, v)
            case 2:
                let k = randomKey(&r)
                try rocks.delete(cf, k); try memory.delete(cf, k)
            case 3:
                var b = WriteBatch()
                for _ in 0..<r.below(5) {
                    switch r.below(3) {
                    case 0: b.put(cfs[r.below(3)], randomKey(&r), [UInt8(step & 0xFF)])
                    case 1: b.delete(cfs[r.below(3)], randomKey(&r))
                    default: b.deleteRange(cfs[r.below(3)], from: randomKey(&r), to: randomKey(&r))
                    }
                }
                let sync = r.below(2) == 0
                try rocks.write(b, sync: sync); try memory.write(b, sync: sync)
            case 4:
                let k = randomKey(&r)
                #expect(try rocks.get(cf, k) == memory.get(cf, k), "seed \(seed) step \(step) get \(k)")
            default:
                let p = randomKey(&r)
                let a = try rocks.scan(cf, prefix: p).map { [$0.key, $0.value] }
                let b = try memory.scan(cf, prefix: p).map { [$0.key, $0.value] }
                #expect(a == b, "seed \(seed) step \(step) scan \(p)")
            }
        }
        #expect(try dump(rocks) == dump(memory), "seed \(seed)")
        rocks.close()
    }
}

@Test func scan_limitAndPrefixEdges_respectBounds() throws {
    let s = InMemoryStore()
    for k: [UInt8] in [[1], [1, 0], [1, 0xFF], [1, 0xFF, 0xFF], [2]] { try s.put(.meta, k, k) }
    #expect(try s.scan(.meta, prefix: [1]).count == 4)
    #expect(try s.scan(.meta, prefix: [1, 0xFF]).count == 2)
    #expect(try s.scan(.meta, prefix: [1], limit: 2).map(\.key) == [[1], [1, 0]])
    #expect(try s.scan(.meta, prefix: []).count == 5)
    #expect(KeyOrder.prefixEnd([0xFF, 0xFF]) == nil)
    #expect(KeyOrder.prefixEnd([1, 0xFF]) == [2])
}

@Test func reopen_afterClose_keepsDataInEveryFamily() throws {
    try withTempDir { path in
        do {
            let s = try RocksStore(path: path)
            for cf in ColumnFamily.allCases { try s.put(cf, Array(cf.rawValue.utf8), [7, 7], sync: true) }
            s.close()
        }
        let s = try RocksStore(path: path)
        for cf in ColumnFamily.allCases { #expect(try s.get(cf, Array(cf.rawValue.utf8)) == [7, 7]) }
        #expect(try s.get(.meta, Array("bandit".utf8)) == nil)
        s.close()
        #expect(throws: StorageError.closed) { try s.get(.meta, [1]) }
    }
}

@Test func secondOpen_sameDir_failsWithLockedMessage() throws {
    try withTempDir { path in
        let first = try RocksStore(path: path)
        do throws(StorageError) {
            _ = try RocksStore(path: path)
            Issue.record("second open succeeded")
        } catch {
            guard case .locked = error else { Issue.record("expected .locked, got \(error)"); return }
            #expect(error.description.hasPrefix("data dir \(path) is locked: is another wrpd running?"))
        }
        first.close()
        // Once released, the dir opens again.
        let again = try RocksStore(path: path)
        again.close()
    }
}

@Test func expire_timestampKeys_removesOnlyOlderEntries() throws {
    try withTempDir { path in
        let rocks = try RocksStore(path: path)
        let memory = InMemoryStore()
        for store in [rocks as any KeyValueStore, memory] {
            for t: UInt64 in [5, 100, 999, 1_000, 1_001, 1 << 40] {
                try store.put(.decisions, TimestampKey.make(timestamp: t, suffix: [1, 2]), [UInt8(t & 0xFF)])
            }
            try store.put(.meta, [0], [1])
            try store.expire(.decisions, before: 1_000)
            let left = try store.scan(.decisions, prefix: []).map { TimestampKey.timestamp(of: $0.key)! }
            #expect(left == [1_000, 1_001, 1 << 40])
            #expect(try store.get(.meta, [0]) == [1])
        }
        try rocks.compact(.decisions)
        rocks.close()
    }
}

@Test func durableWriter_manyBatches_completeInOrderAndSurviveReopen() throws {
    try withTempDir { path in
        let store = try RocksStore(path: path)
        let writer = DurableWriter(store: store)
        let done = Mutex<[Int]>([])
        let n = 200
        for i in 0..<n {
            var b = WriteBatch()
            b.put(.decisions, TimestampKey.make(timestamp: UInt64(i), suffix: []), [UInt8(i & 0xFF)])
            writer.submit(b) { result in
                if case .failure(let e) = result { Issue.record("batch \(i) failed: \(e)") }
                done.withLock { $0.append(i) }
            }
        }
        writer.close()
        #expect(done.withLock { $0 } == Array(0..<n))
        let counts = writer.counts
        #expect(counts.batches == n)
        #expect(counts.groups <= n)
        writer.submit(WriteBatch()) { result in
            guard case .failure(.closed) = result else { Issue.record("expected .closed"); return }
        }
        store.close()

        let reopened = try RocksStore(path: path)
        #expect(try reopened.scan(.decisions, prefix: []).count == n)
        #expect(try reopened.get(.decisions, TimestampKey.make(timestamp: 199, suffix: [])) == [199])
        reopened.close()
    }
}

@Test func durableWriter_inMemoryStore_groupCommitsWhileBusy() throws {
    let store = InMemoryStore()
    let writer = DurableWriter(store: store)
    let done = Mutex(0)
    for i in 0..<1_000 {
        var b = WriteBatch()
        b.put(.bandit, Array("k\(i)".utf8), [1])
        writer.submit(b) { _ in done.withLock { $0 += 1 } }
    }
    writer.close()
    #expect(done.withLock { $0 } == 1_000)
    #expect(store.count(.bandit) == 1_000)
}
