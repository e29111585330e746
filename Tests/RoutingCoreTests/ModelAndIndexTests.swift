import Testing
@testable import RoutingCore
import WRPCommon

@Suite struct ModelAndIndexTests {
    @Test func ttft_observedSlowerBackend_learnsRateAndPredictsQueue() {
        var m = Routing.TTFTModel(prefillTokensPerSecond: 10_000, alpha: 0.2)
        m.resize(2)
        #expect(abs(m.predict(backend: 0, uncachedTokens: 10_000) - 1.0) < 1e-9)
        // Backend 1 really runs at 5k tok/s: each lone 5k-token request takes 1 s.
        for _ in 0..<40 {
            m.dispatched(backend: 1, uncachedTokens: 5_000)
            m.firstToken(backend: 1, ttft: .seconds(1))
        }
        #expect(abs(m.secondsPerToken[1] - 1.0 / 5_000) / (1.0 / 5_000) < 0.05)
        // Queued work counts: two 5k requests ahead → ~3 s for a third.
        m.dispatched(backend: 1, uncachedTokens: 5_000)
        m.dispatched(backend: 1, uncachedTokens: 5_000)
        #expect(abs(m.predict(backend: 1, uncachedTokens: 5_000) - 3.0) < 0.2)
        #expect(m.pendingTokens(1) == 10_000)
        m.finished(backend: 1, inFlight: 0)
        #expect(m.pendingTokens(1) == 0, "finished requests cannot still be prefilling")
    }

    @Test func index_insertAndMatch_perTenantAndBounded() {
        var ix = Routing.PrefixIndex(capacity: 8)
        let a = workload([1, 2, 3, 4]).blockHashes
        let b = workload([1, 2, 9]).blockHashes
        ix.insert(a, tenant: 0)
        ix.insert(b, tenant: 1)
        #expect(ix.matchedBlocks(a, tenant: 0) == 4)
        #expect(ix.matchedBlocks(a, tenant: 1) == 2)
        #expect(ix.matchedBlocks(b, tenant: 1) == 3)
        let (m, t) = ix.deepestMatch(workload([1, 2, 3, 7]).blockHashes)
        #expect(m == 3 && t.mostRecent == 0)
        ix.insert(workload([50, 51, 52, 53, 54]).blockHashes, tenant: 2)
        #expect(ix.count == 8)
        #expect(ix.matchedBlocks(a, tenant: 0) < 4, "LRU evicted tails first")
    }
}

@Suite struct RingJumpTests {
    @Test(arguments: [1, 8, 64, 512])
    func jumpTable_randomKeys_sameSlotAsBinarySearch(n: Int) {
        var ring = Routing.HashRing(seed: Hash64.seedB)
        ring.rebuild(members: (0..<n).map { (id: "b-\($0)", weight: 1.0) })
        let jump = Routing.RingJump(ring)
        var rng = SeededRandom(seed: UInt64(n))
        for _ in 0..<5_000 {
            let h = rng.next()
            #expect(jump.slot(ring, for: h) == ring.slot(for: h))
        }
        #expect(jump.slot(ring, for: UInt64.max) == ring.slot(for: UInt64.max))
        #expect(jump.slot(ring, for: 0) == ring.slot(for: 0))
    }

    @Test func index_heavyChurn_staysBoundedAndConsistent() {
        var ix = Routing.PrefixIndex(capacity: 3_000)
        var rng = SeededRandom(seed: 1)
        for k in 0..<2_000 {
            let ids = (0..<8).map { _ in UInt64(rng.below(20_000)) }
            ix.insert(workload([UInt64(k)] + ids).blockHashes, tenant: k % 5)
        }
        #expect(ix.count == 3_000)
        let w = workload([1, 2, 3]).blockHashes
        ix.insert(w, tenant: 4)
        #expect(ix.matchedBlocks(w, tenant: 4) == 3)
    }
}
