import Testing
import RoutingCore
import WRPCommon
import Workload

@Suite struct DualMapTests {
    func policy(_ n: Int, _ edit: (inout Routing.PolicyParams) -> Void = { _ in }) -> Routing.DualMapPolicy {
        var p = Routing.DualMapPolicy(params: params(edit))
        p.rebuild(backends: backends(n))
        return p
    }

    @Test(arguments: [2, 3, 8, 64])
    func pair_anyKey_twoDistinctCandidates(n: Int) {
        let p = policy(n)
        var rng = SeededRandom(seed: 1)
        for _ in 0..<2_000 {
            let (a, b) = p.pair(of: rng.next(), eligible: allEligible(n))
            #expect(a >= 0 && b >= 0 && a != b)
        }
    }

    @Test func pair_ownerIneligible_bothCandidatesEligibleAndDistinct() {
        let p = policy(8)
        var e = Routing.Eligibility(capacity: 8)
        for i in [1, 4, 6] { e.insert(i) }
        var rng = SeededRandom(seed: 2)
        for _ in 0..<500 {
            let (a, b) = p.pair(of: rng.next(), eligible: e)
            #expect(e.contains(a) && e.contains(b) && a != b)
        }
    }

    @Test func pair_addingBackend_keysKeepOrGainOnlyNewMember() {
        let before = policy(8)
        var after = Routing.DualMapPolicy(params: params())
        after.rebuild(backends: backends(9))
        var rng = SeededRandom(seed: 5)
        var changed = 0
        for _ in 0..<5_000 {
            let k = rng.next()
            let (a1, b1) = before.pair(of: k, eligible: allEligible(8))
            let (a2, b2) = after.pair(of: k, eligible: allEligible(9))
            if (a1, b1) != (a2, b2) {
                changed += 1
                #expect(a2 == 8 || b2 == 8 || a1 == b2 || b1 == a2, "pair changed without the new member")
            }
        }
        #expect(changed < 5_000 * 35 / 100)
    }

    @Test func choose_samePrefix_staysOnCachedCandidateUntilSLOThenSwitches() {
        // 1000 tok/s and a 5 s SLO: the cached candidate overflows after ~5 requests of 1024 uncached tokens.
        var p = policy(8) { $0.prefillTokensPerSecond = 1_000 }
        let bs = backends(8)
        var ctx = Routing.Context(now: .zero, rng: SeededRandom(seed: 1))
        let first = p.choose(workload([1, 2, 100, 101]), backends: bs, eligible: allEligible(8), context: &ctx)
        #expect(first.reason == .dualmapLoad)
        #expect(first.candidates.count == 2)
        var reasons: [Routing.Reason] = []
        var chosen: [Int] = []
        for k in 0..<8 {
            let d = p.choose(workload([1, 2, UInt64(200 + 2 * k), UInt64(201 + 2 * k)]), backends: bs, eligible: allEligible(8), context: &ctx)
            #expect(d.candidates == first.candidates)
            reasons.append(d.reason); chosen.append(d.chosen)
        }
        #expect(reasons[0] == .dualmapCache && chosen[0] == first.chosen)
        let switchAt = reasons.firstIndex(of: .dualmapSLO)
        #expect(switchAt != nil, "no SLO switch in \(reasons)")
        if let s = switchAt { #expect(chosen[s] != first.chosen) }
    }

    @Test func choose_equalCacheAndLoad_tieBrokenRandomlyAcrossPair() {
        let p = policy(8)
        let bs = backends(8)
        var ctx = Routing.Context(now: .zero, rng: SeededRandom(seed: 4))
        var seen = Set<Int>()
        for k in 0..<40 {
            var fresh = p
            let d = fresh.choose(workload([7, 8, UInt64(1_000 + k)]), backends: bs, eligible: allEligible(8), context: &ctx)
            seen.insert(d.chosen)
        }
        #expect(seen.count == 2)
    }

    @Test func routingKey_prefixAboveTwoOverN_lengthensByOneBlock() {
        var p = policy(8)
        let bs = backends(8)
        var ctx = Routing.Context(now: .zero, rng: SeededRandom(seed: 1))
        // 60 requests in 12 s, all sharing blocks [0, 1]: one prefix holds 100% > 2/8 of the traffic.
        for k in 0..<60 {
            ctx.now = .s(Double(k) * 0.2)
            _ = p.choose(workload([0, 1, UInt64(10 + k), 99]), backends: bs, eligible: allEligible(8), context: &ctx)
        }
        let w = workload([0, 1, 5_000, 99])
        #expect(p.hot.isSplit(w.blockHashes[1]))
        #expect(p.routingKey(for: w).blocks == 3)
        // Short prompts with a cold prefix keep the default key.
        #expect(p.routingKey(for: workload([42, 43, 44])).blocks == 2)
        // And the split spreads the prefix's traffic over more than one pair.
        var used = Set<Int>()
        for k in 0..<64 {
            ctx.now = .s(13 + Double(k) * 0.01)
            used.insert(p.choose(workload([0, 1, UInt64(20_000 + k)]), backends: bs, eligible: allEligible(8), context: &ctx).chosen)
        }
        #expect(used.count > 2)
    }

    @Test func hotPrefix_unsplittable_getsVersionedOverrideOverThreeOrMore() {
        var p = policy(8)
        let bs = backends(8)
        var ctx = Routing.Context(now: .zero, rng: SeededRandom(seed: 1))
        let w = workload([0, 1])  // identical 2-block prompts: nothing to lengthen by beyond the tail
        var reasons: [Routing.Reason: Int] = [:]
        var used = Set<Int>()
        for k in 0..<200 {
            ctx.now = .s(Double(k) * 0.25)
            let d = p.choose(w, backends: bs, eligible: allEligible(8), context: &ctx)
            reasons[d.reason, default: 0] += 1
            if d.reason == .hotOverride { used.insert(d.chosen); #expect(d.candidates.count >= 3) }
        }
        let key = p.routingKey(for: w).key
        let o = p.hot.override(for: key)
        #expect(o != nil && o!.version >= 1 && o!.backends.count >= 3)
        #expect((reasons[.hotOverride] ?? 0) > 0)
        // LWW: an older remote version loses, a newer one wins.
        let stale = Routing.PrefixOverride(backends: Routing.IndexList([0]), version: 0, origin: 9)
        let appliedStale = p.applyOverride(stale, key: key)
        #expect(!appliedStale)
        let newer = Routing.PrefixOverride(backends: Routing.IndexList([5, 6, 7]), version: o!.version + 1, origin: 9)
        let appliedNewer = p.applyOverride(newer, key: key)
        #expect(appliedNewer)
        #expect(p.hot.override(for: key)?.backends == Routing.IndexList([5, 6, 7]))
        #expect(p.hot.clock >= newer.version)
    }
}
