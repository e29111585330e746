import Testing
import RoutingCore
import WRPCommon
import Workload

/// Behaviour of `Pool.decide`'s fast path (cached eligibility, one-pass fallbacks): it must decide
/// exactly as recomputing everything from the pool's state at every call would.
@Suite struct PoolPerformanceTests {
    static func health() -> Routing.HealthSettings {
        var h = Routing.HealthSettings()
        h.ejectAfterErrors = 2
        h.ejectBase = .ms(50)
        h.ejectMax = .ms(400)
        return h
    }

    /// Eligibility recomputed from the pool's public state, as the original `decide` did.
    static func referenceEligibility(_ p: Routing.Pool, now: Instant) -> (Routing.Eligibility, routable: Int) {
        var e = Routing.Eligibility(capacity: p.backends.count)
        var routable = 0
        for (i, b) in p.backends.enumerated() {
            guard !b.removed, b.health.isRoutable(now: now) else { continue }
            routable += 1
            if b.spec.maxConcurrency == 0 || b.load.inFlight < b.spec.maxConcurrency { e.insert(i) }
        }
        return (e, routable)
    }

    /// The original fallback top-up: repeatedly the least-loaded remaining eligible backend.
    static func referenceFallbacks(_ p: Routing.Pool, _ d: Routing.Decision, given: Routing.IndexList,
                                   eligible: Routing.Eligibility) -> [Int] {
        var out = Array(given)
        let want = min(p.maxFallbacks, Routing.IndexList.capacity)
        while out.count < want {
            var best = -1, bestLoad = Int.max
            for i in 0..<p.backends.count where eligible.contains(i) && i != d.chosen && !out.contains(i) {
                let l = p.backends[i].load.total
                if l < bestLoad { best = i; bestLoad = l }
            }
            if best < 0 { break }
            out.append(best)
        }
        return out
    }

    /// Random operations on a pool; after each decision, the pool must agree with a shadow copy of
    /// the same policy fed the recomputed eligibility, and with the original fallback rule.
    @Test(arguments: [
        (Routing.PolicyName.roundRobin, 5), (.roundRobin, 70), (.roundRobin, 126),
        (.random, 5), (.random, 70), (.random, 200),
        (.leastLoaded, 5), (.leastLoaded, 70), (.leastLoaded, 200),
    ])
    func decide_randomOperations_matchesRecomputation(policy name: Routing.PolicyName, backends n: Int) {
        let params = Routing.PolicyParams()
        var pool = Routing.Pool(name: "p", models: [], specs: specs(n, maxConcurrency: 0),
                                policy: Routing.makePolicy(name, params: params), health: Self.health(), seed: 11)
        var shadow = Routing.makePolicy(name, params: params)
        shadow.rebuild(backends: pool.backends)
        var shadowRng = SeededRandom(seed: 11)
        var rng = SeededRandom(seed: UInt64(n) &* 31 &+ 7)
        var inflight: [Int] = []
        var t: UInt64 = 1_000_000_000
        var nextID = n
        var decisions = 0, failures = 0
        for step in 0..<4000 {
            let op = rng.below(100)
            switch op {
            case 0..<40:
                // Time mostly moves forward, sometimes jumps back (callers' clocks may disagree).
                if rng.below(20) == 0 { t -= min(t, UInt64(rng.below(100_000_000))) } else { t += UInt64(rng.below(20_000_000)) }
                let now = Instant(nanoseconds: t)
                let (ref, routable) = Self.referenceEligibility(pool, now: now)
                let r = pool.decide(workload([1, UInt64(step % 7)]), now: now)
                if routable == 0 {
                    #expect(r == .failure(.noHealthyBackend), "step \(step)")
                    failures += 1
                    continue
                }
                if ref.count == 0 {
                    #expect(r == .failure(.allSaturated), "step \(step)")
                    failures += 1
                    continue
                }
                guard case .success(let d) = r else { Issue.record("step \(step): \(r)"); return }
                var ctx = Routing.Context(now: now, rng: shadowRng)
                let sd = shadow.choose(workload([1, UInt64(step % 7)]), backends: pool.backends, eligible: ref, context: &ctx)
                shadowRng = ctx.rng
                #expect(d.chosen == sd.chosen, "step \(step): pool chose \(d.chosen), recomputation \(sd.chosen)")
                #expect(ref.contains(d.chosen), "step \(step): chose ineligible \(d.chosen)")
                #expect(Array(d.fallbacks) == Self.referenceFallbacks(pool, d, given: sd.fallbacks, eligible: ref), "step \(step)")
                decisions += 1
                pool.requestStarted(backend: d.chosen, promptTokens: 100)
                inflight.append(d.chosen)
            case 40..<70:
                guard !inflight.isEmpty else { continue }
                let b = inflight.remove(at: rng.below(inflight.count))
                _ = pool.requestFinished(backend: b, promptTokens: 100, sawFirstToken: rng.below(2) == 0,
                                         success: rng.below(8) != 0, cachedTokens: nil, workload: nil,
                                         now: Instant(nanoseconds: t))
            case 70..<80:
                _ = pool.probeResult(backend: rng.below(pool.backends.count), success: rng.below(3) != 0, now: Instant(nanoseconds: t))
            case 80..<88:
                // New max concurrency for a live backend (0 = unlimited), possibly below its in-flight.
                let i = rng.below(pool.backends.count)
                guard !pool.backends[i].removed else { continue }
                var s = pool.backends[i].spec
                s.maxConcurrency = rng.below(4)
                pool.upsert(s)
                shadow.rebuild(backends: pool.backends)
            case 88..<93:
                pool.setPeerInFlight(backend: rng.below(pool.backends.count), rng.below(5))
            case 93..<96:
                let i = rng.below(pool.backends.count)
                if pool.remove(id: pool.backends[i].spec.id) { shadow.rebuild(backends: pool.backends) }
            default:
                pool.upsert(Routing.BackendSpec(id: "b-\(nextID)", url: "http://b-\(nextID)", maxConcurrency: rng.below(3)))
                nextID += 1
                shadow.rebuild(backends: pool.backends)
            }
        }
        #expect(decisions > 500, "too few successful decisions (\(decisions), \(failures) failures) to mean much")
    }

    @Test func ejection_expires_backendEligibleAgainWithoutAnyOtherCall() {
        var pool = Routing.Pool(name: "p", models: [], specs: specs(2), policy: Routing.RoundRobinPolicy(),
                                health: Self.health(), seed: 1)
        let t0 = Instant.s(10)
        // Cache the all-eligible set first, then eject backend 1 (two errors).
        _ = pool.decide(workload([1]), now: t0)
        pool.requestStarted(backend: 1, promptTokens: 10)
        pool.requestStarted(backend: 1, promptTokens: 10)
        _ = pool.requestFinished(backend: 1, promptTokens: 10, sawFirstToken: true, success: false, cachedTokens: nil, workload: nil, now: t0)
        let change = pool.requestFinished(backend: 1, promptTokens: 10, sawFirstToken: true, success: false, cachedTokens: nil, workload: nil, now: t0)
        #expect(change == .ejected(until: t0 + .ms(50)))
        for k in 0..<10 {
            guard case .success(let d) = pool.decide(workload([1]), now: t0 + .ms(UInt64(k))) else { Issue.record("no decision"); return }
            #expect(d.chosen == 0)
            #expect(d.fallbacks.count == 0)
        }
        var seen: Set<Int> = []
        for k in 0..<4 {
            guard case .success(let d) = pool.decide(workload([1]), now: t0 + .ms(50 + UInt64(k))) else { Issue.record("no decision"); return }
            seen.insert(d.chosen)
        }
        #expect(seen == [0, 1])
        // Back in time, inside the ejection: excluded again.
        guard case .success(let d) = pool.decide(workload([1]), now: t0 + .ms(1)) else { Issue.record("no decision"); return }
        #expect(d.chosen == 0)
    }

    @Test func saturation_transitions_updateEligibility() {
        var pool = Routing.Pool(name: "p", models: [], specs: specs(2, maxConcurrency: 1), policy: Routing.LeastLoadedPolicy(),
                                health: Self.health(), seed: 1)
        pool.requestStarted(backend: 0, promptTokens: 10)
        guard case .success(let d) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d.chosen == 1)
        #expect(d.fallbacks.count == 0)
        pool.requestStarted(backend: 1, promptTokens: 10)
        #expect(pool.decide(workload([1]), now: .zero) == .failure(.allSaturated))
        _ = pool.requestFinished(backend: 0, promptTokens: 10, sawFirstToken: true, success: true, cachedTokens: nil, workload: nil, now: .zero)
        guard case .success(let d2) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d2.chosen == 0)
        // Raising the limit makes backend 1 eligible again.
        pool.upsert(Routing.BackendSpec(id: "b-1", url: "http://b-1", maxConcurrency: 2))
        guard case .success(let d3) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(Set([d3.chosen] + Array(d3.fallbacks)) == [0, 1])
    }

    @Test func unhealthy_allBackends_noHealthyBackendUntilProbesRecover() {
        var pool = Routing.Pool(name: "p", models: [], specs: specs(3), policy: Routing.RoundRobinPolicy(),
                                health: Self.health(), seed: 1)
        _ = pool.decide(workload([1]), now: .zero)
        for b in 0..<3 { for _ in 0..<3 { _ = pool.probeResult(backend: b, success: false, now: .zero) } }
        #expect(pool.decide(workload([1]), now: .zero) == .failure(.noHealthyBackend))
        for _ in 0..<2 { _ = pool.probeResult(backend: 2, success: true, now: .zero) }
        guard case .success(let d) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d.chosen == 2)
        pool.remove(id: "b-2")
        #expect(pool.decide(workload([1]), now: .zero) == .failure(.noHealthyBackend))
    }

    /// Fallbacks are the least-loaded other backends, ties to the lower index, in every word of
    /// the bit set (indices past 128 live out of line).
    @Test func fallbacks_largePool_leastLoadedAcrossBitSetWords() {
        var pool = Routing.Pool(name: "p", models: [], specs: specs(300), policy: Routing.RoundRobinPolicy(),
                                health: Self.health(), seed: 1)
        pool.maxFallbacks = 4
        for i in 0..<300 { for _ in 0..<(2 + i % 3) { pool.requestStarted(backend: i, promptTokens: 1) } }
        // In flight: 2 + i % 3. Backend 290 drops to 0, 70 to 1, 140 to 2 (+ 1 from a peer = 3).
        for (i, k) in [(290, 4), (140, 2), (70, 2)] {
            for _ in 0..<k {
                _ = pool.requestFinished(backend: i, promptTokens: 1, sawFirstToken: true, success: true, cachedTokens: nil, workload: nil, now: .zero)
            }
        }
        pool.setPeerInFlight(backend: 140, 1)
        let loads = pool.backends.map(\.load.total)
        guard case .success(let d) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d.chosen == 0)
        let expected = (1..<300).sorted { (loads[$0], $0) < (loads[$1], $1) }.prefix(4)
        #expect(Array(d.fallbacks) == Array(expected))
        #expect(Array(d.fallbacks) == [290, 70, 3, 6])
    }

    /// More fallbacks asked than a decision can carry: capped at `IndexList.capacity`.
    @Test func fallbacks_maxFallbacksAboveCapacity_cappedAndTerminates() {
        var pool = Routing.Pool(name: "p", models: [], specs: specs(10), policy: Routing.RoundRobinPolicy(),
                                health: Self.health(), seed: 1)
        pool.maxFallbacks = 9
        guard case .success(let d) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d.fallbacks.count == Routing.IndexList.capacity)
        #expect(Array(d.fallbacks) == [1, 2, 3, 4])
        pool.maxFallbacks = 0
        guard case .success(let d2) = pool.decide(workload([1]), now: .zero) else { Issue.record("no decision"); return }
        #expect(d2.fallbacks.count == 0)
    }
}
