import Testing
import SimCore
import WRPCommon

/// The obvious LRU: an array ordered most recent first.
struct ReferenceLRU {
    let capacity: Int
    var order: [UInt64] = []

    func matchedPrefix(_ hashes: [UInt64]) -> Int { hashes.prefix { order.contains($0) }.count }

    mutating func touch(_ h: UInt64) {
        guard capacity > 0 else { return }
        if let i = order.firstIndex(of: h) { order.remove(at: i) } else if order.count == capacity { order.removeLast() }
        order.insert(h, at: 0)
    }

    mutating func access(_ hashes: [UInt64]) -> Int {
        let m = matchedPrefix(hashes)
        for h in hashes.reversed() { touch(h) }
        return m
    }
}

@Suite struct PrefixCacheTests {
    @Test func full_insertingNewBlock_evictsLeastRecentlyUsed() {
        var c = PrefixCache(capacityBlocks: 3)
        for h: UInt64 in [1, 2, 3] { c.touch(h) }
        c.touch(1)  // order now 1, 3, 2
        c.touch(4)
        #expect(!c.contains(2))
        #expect(c.contains(1) && c.contains(3) && c.contains(4))
        c.touch(5)
        #expect(!c.contains(3))
        c.touch(6)
        #expect(!c.contains(1))
        #expect(c.count == 3)
    }

    @Test(arguments: [1, 2, 5, 64])
    func manyInsertions_countNeverExceedsCapacity(_ capacity: Int) {
        var c = PrefixCache(capacityBlocks: capacity)
        for h in 0..<UInt64(capacity * 5) {
            c.touch(h)
            #expect(c.count <= capacity)
        }
        #expect(c.count == capacity)
        #expect(c.usage == 1.0)
        // Exactly the most recent `capacity` keys survive.
        for h in 0..<UInt64(capacity * 5) { #expect(c.contains(h) == (h >= UInt64(capacity * 4))) }
    }

    @Test(arguments: [
        ([1, 2, 3, 4] as [UInt64], 2), ([1, 2], 2), ([5, 1, 2], 0), ([2, 4], 2), ([], 0), ([1, 1, 1], 3), ([3], 0),
    ])
    func hashes_matchedPrefix_stopsAtFirstMiss(_ hashes: [UInt64], _ expected: Int) {
        var c = PrefixCache(capacityBlocks: 10)
        for h: UInt64 in [1, 2, 4] { c.touch(h) }
        #expect(c.matchedPrefix(hashes) == expected)
    }

    @Test func matchedPrefix_doesNotChangeRecency() {
        var c = PrefixCache(capacityBlocks: 2)
        c.touch(1); c.touch(2)
        #expect(c.matchedPrefix([1]) == 1)
        c.touch(3)
        #expect(!c.contains(1), "matchedPrefix refreshed block 1")
        #expect(c.contains(2) && c.contains(3))
    }

    @Test func access_returnsPriorMatchThenCachesAllBlocks() {
        var c = PrefixCache(capacityBlocks: 10)
        let matches = [c.access([1, 2, 3]), c.access([1, 2, 3]), c.access([1, 2, 9, 3])]
        #expect(matches == [0, 3, 2])
        #expect(c.count == 4)
    }

    @Test func access_touchesTailFirst_soHeadsSurviveEviction() {
        var c = PrefixCache(capacityBlocks: 4)
        c.access([10, 11, 12])
        c.access([20, 21])  // needs one slot: the LRU is 12, the first prompt's tail
        #expect(!c.contains(12))
        #expect(c.contains(10) && c.contains(11))
        c.access([30])      // next LRU is 11
        #expect(!c.contains(11))
        #expect(c.contains(10))
        #expect(c.matchedPrefix([10, 11, 12]) == 1)
    }

    @Test func capacityZero_cachesNothing() {
        var c = PrefixCache(capacityBlocks: 0)
        c.touch(1)
        let matches = [c.access([1, 2, 3]), c.access([1, 2, 3])]
        #expect(matches == [0, 0])
        #expect(c.count == 0 && !c.contains(1))
        #expect(c.usage == 0)
    }

    @Test func removeAll_emptiesAndCacheStillWorks() {
        var c = PrefixCache(capacityBlocks: 3)
        c.access([1, 2, 3])
        c.removeAll()
        #expect(c.count == 0 && !c.contains(1))
        c.access([4, 5, 6, 7])
        #expect(c.count == 3)
        #expect(c.contains(4) && c.contains(5) && c.contains(6) && !c.contains(7))
    }

    @Test func usage_isFractionOfCapacity() {
        var c = PrefixCache(capacityBlocks: 4)
        c.access([1])
        #expect(c.usage == 0.25)
        c.access([2, 3])
        #expect(c.usage == 0.75)
    }

    @Test(arguments: 0..<40)
    func randomOperations_matchReferenceLRU(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let capacity = rng.below(9)
        let universe = UInt64(2 + rng.below(20))
        var c = PrefixCache(capacityBlocks: capacity)
        var ref = ReferenceLRU(capacity: capacity)
        for step in 0..<300 {
            let hashes = (0..<rng.below(6)).map { _ in UInt64(rng.below(Int(universe))) }
            switch rng.below(4) {
            case 0:
                if let h = hashes.first { c.touch(h); ref.touch(h) }
            case 1:
                #expect(c.matchedPrefix(hashes) == ref.matchedPrefix(hashes), "seed \(seed) step \(step)")
            default:
                let got = c.access(hashes), want = ref.access(hashes)
                #expect(got == want, "seed \(seed) step \(step): access(\(hashes))")
            }
            #expect(c.count == ref.order.count, "seed \(seed) step \(step)")
            #expect(c.count <= capacity)
            for h in 0..<universe where c.contains(h) != ref.order.contains(h) {
                Issue.record("seed \(seed) step \(step): block \(h) cached \(c.contains(h)), reference \(ref.order)")
                return
            }
        }
    }
}
