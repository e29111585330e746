import Testing
import RoutingCore
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
