import Foundation
import Testing
import RoutingCore
import WRPCommon

@Suite struct HotPrefixTests {
    /// A Zipf-ish stream over 500 keys.
    func stream(_ n: Int, seed: UInt64) -> [UInt64] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt64(Int(pow(rng.unit(), 3) * 500)) }
    }

    func sketch(_ xs: [UInt64], k: Int = 32) -> Routing.SpaceSaving {
        var s = Routing.SpaceSaving(capacity: k)
        for x in xs { s.add(x) }
        return s
    }

    func counts(_ xs: [UInt64]) -> [UInt64: UInt64] { xs.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    @Test(arguments: [1, 2, 3])
    func spaceSaving_stream_boundsHoldAndHeavyItemsTracked(seed: UInt64) {
        let xs = stream(5_000, seed: seed)
        let s = sketch(xs)
        let truth = counts(xs)
        let bound = UInt64(xs.count / 32)
        for it in s.sortedItems() {
            let t = truth[it.key] ?? 0
            #expect(it.count >= t && it.count - t <= bound && it.lowerBound <= t)
        }
        for (k, t) in truth where t > bound { #expect(s.estimate(k).lower > 0, "heavy key \(k) (\(t)) untracked") }
    }

    @Test(arguments: [1, 2, 3])
    func spaceSaving_merge_commutativeWithinCombinedBound(seed: UInt64) {
        let a = stream(3_000, seed: seed), b = stream(2_000, seed: seed + 100).map { $0 + 50 }
        let sa = sketch(a), sb = sketch(b)
        let ab = sa.merged(with: sb), ba = sb.merged(with: sa)
        #expect(ab == ba)
        #expect(ab.total == 5_000)
        let truth = counts(a + b)
        let bound = UInt64(5_000 / 32)
        for it in ab.sortedItems() {
            let t = truth[it.key] ?? 0
            #expect(it.count >= t && it.count - t <= bound, "key \(it.key): est \(it.count) true \(t)")
        }
        for (k, t) in truth where t > bound { #expect(ab.estimate(k).upper >= t) }
    }

    @Test func spaceSaving_mergeWithEmpty_isIdentity() {
        let s = sketch(stream(1_000, seed: 7))
        #expect(s.merged(with: Routing.SpaceSaving(capacity: 32)) == s)
    }

    @Test func overrides_lww_higherVersionThenOriginWins() {
        var h = Routing.HotPrefixes(origin: 1)
        let a = Routing.PrefixOverride(backends: Routing.IndexList([1, 2, 3]), version: 4, origin: 1)
        let b = Routing.PrefixOverride(backends: Routing.IndexList([4, 5, 6]), version: 4, origin: 2)
        let c = Routing.PrefixOverride(backends: Routing.IndexList(), version: 5, origin: 1)
        // Any order of delivery, with duplicates, ends in the same state.
        for order in [[a, b, c], [c, b, a], [b, a, c, b], [c, a, a, b]] {
            var x = h
            for o in order { x.apply(remote: o, key: 42) }
            #expect(x.overrides[42] == c)
            #expect(x.override(for: 42) == nil, "a tombstone is not live")
            #expect(x.clock == 5)
        }
        h.apply(remote: a, key: 1)
        h.apply(remote: b, key: 1)
        #expect(h.override(for: 1) == b)
    }

    @Test func window_hotSplitKey_overrideThenTombstoneWhenCold() {
        var s = Routing.HotPrefixes.Settings()
        s.window = .seconds(1)
        s.minWindowRequests = 10
        s.overrideIdleWindows = 2
        var h = Routing.HotPrefixes(settings: s, origin: 3)
        var t = 0.0
        func window(_ keys: [UInt64]) {
            for k in keys { h.record(k, now: .s(t)); t += 0.05 }
            t += 1
            #expect(h.windowDue(now: .s(t)))
            h.closeWindow(now: .s(t), members: 8) { _, wanted in Routing.IndexList(Array(0..<wanted)) }
        }
        let hot = [UInt64](repeating: 77, count: 30) + (0..<10).map { UInt64(1_000 + $0) }
        window(hot)
        #expect(h.isSplit(77) && h.override(for: 77) == nil)
        window(hot)  // still hot as a leaf after splitting: override
        let o = h.override(for: 77)
        #expect(o != nil && o!.version == 1 && o!.origin == 3 && o!.backends.count >= 3)
        window(hot)  // unchanged: no new version
        #expect(h.override(for: 77)?.version == 1)
        let cold = (0..<40).map { UInt64(5_000 + $0) }
        window(cold); window(cold)
        #expect(h.override(for: 77) == nil)
        #expect(h.overrides[77]?.isTombstone == true && h.overrides[77]!.version == 2)
        #expect(!h.isSplit(77), "cooled split keys merge back")
    }
}
