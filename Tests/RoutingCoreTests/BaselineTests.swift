import Testing
import RoutingCore
import WRPCommon
import Workload

@Suite struct BaselineTests {
    func pool(_ n: Int, _ name: Routing.PolicyName, maxConcurrency: Int = 0,
              _ edit: (inout Routing.PolicyParams) -> Void = { _ in }) -> Routing.Pool {
        Routing.Pool(name: "p", models: [], specs: specs(n, maxConcurrency: maxConcurrency),
                     policy: Routing.makePolicy(name, params: params(edit)), health: Routing.HealthSettings(), seed: 1)
    }

    func chosen(_ p: inout Routing.Pool, _ w: Workload = workload([1, 2])) -> Int {
        guard case .success(let d) = p.decide(w, now: .zero) else { Issue.record("no decision"); return -1 }
        return d.chosen
    }

    @Test func roundRobin_fourBackends_cyclesInOrder() {
        var p = pool(4, .roundRobin)
        var seq: [Int] = []
        for _ in 0..<8 { seq.append(chosen(&p)) }
        #expect(seq == [0, 1, 2, 3, 0, 1, 2, 3])
    }

    @Test func leastLoaded_unevenLoad_picksMinimum() {
        var p = pool(3, .leastLoaded)
        for (b, n) in [(0, 3), (1, 1), (2, 2)] { for _ in 0..<n { p.requestStarted(backend: b, promptTokens: 10) } }
        let c = chosen(&p)
        #expect(c == 1)
    }

    @Test(arguments: Routing.PolicyName.allCases)
    func anyPolicy_saturatedBackends_neverChosen(name: Routing.PolicyName) {
        var p = pool(4, name, maxConcurrency: 1)
        p.requestStarted(backend: 0, promptTokens: 10)
        p.requestStarted(backend: 2, promptTokens: 10)
        for k in 0..<50 {
            let c = chosen(&p, workload([1, UInt64(k % 3)]))
            #expect(c == 1 || c == 3, "\(name.rawValue) chose saturated \(c)")
        }
    }

    @Test func pool_allUnhealthy_noHealthyBackend() {
        var p = pool(2, .dualmap)
        for b in 0..<2 { for _ in 0..<3 { _ = p.probeResult(backend: b, success: false, now: .zero) } }
        #expect(p.decide(workload([1]), now: .zero) == .failure(.noHealthyBackend))
    }

    @Test func pool_allAtMaxConcurrency_allSaturated() {
        var p = pool(2, .dualmap, maxConcurrency: 1)
        p.requestStarted(backend: 0, promptTokens: 1)
        p.requestStarted(backend: 1, promptTokens: 1)
        #expect(p.decide(workload([1]), now: .zero) == .failure(.allSaturated))
    }

    @Test(arguments: Routing.PolicyName.allCases)
    func pool_anyPolicy_fallbacksDistinctFromChosen(name: Routing.PolicyName) {
        var p = pool(5, name)
        for k in 0..<30 {
            guard case .success(let d) = p.decide(workload([9, UInt64(k)]), now: .zero) else { Issue.record("failed"); continue }
            let all = [d.chosen] + Array(d.fallbacks)
            #expect(Set(all).count == all.count && d.fallbacks.count == 2)
        }
    }

    @Test func cacheAware_matchAboveThreshold_sticksToTenant() {
        var p = pool(4, .cacheAware)
        let first = chosen(&p, workload([1, 2, 3, 4]))
        for _ in 0..<5 { let c = chosen(&p, workload([1, 2, 3, 4])); #expect(c == first) }
        // 3 of 4 blocks match (0.75 > 0.5): same tenant.
        let c = chosen(&p, workload([1, 2, 3, 99]))
        #expect(c == first)
    }

    @Test func cacheAware_matchBelowThreshold_goesLeastLoaded() {
        var p = pool(4, .cacheAware)
        let first = chosen(&p, workload([1, 2, 3, 4]))
        p.requestStarted(backend: first, promptTokens: 1)
        // 1 of 4 blocks match (0.25): a miss, and the tenant is the only loaded backend.
        guard case .success(let d) = p.decide(workload([1, 7, 8, 9]), now: .zero) else { Issue.record("failed"); return }
        #expect(d.reason == .cacheMiss && d.chosen != first)
    }

    @Test func cacheAware_imbalancePastAbsAndRel_overridesCacheHit() {
        var p = pool(2, .cacheAware)
        let first = chosen(&p, workload([1, 2, 3, 4]))
        for _ in 0..<33 { p.requestStarted(backend: first, promptTokens: 1) }
        guard case .success(let d) = p.decide(workload([1, 2, 3, 4]), now: .zero) else { Issue.record("failed"); return }
        #expect(d.reason == .imbalanced && d.chosen != first)
        // 32 apart is not past the absolute threshold: the hit wins again.
        var q = pool(2, .cacheAware)
        let f2 = chosen(&q, workload([1, 2, 3, 4]))
        for _ in 0..<32 { q.requestStarted(backend: f2, promptTokens: 1) }
        guard case .success(let d2) = q.decide(workload([1, 2, 3, 4]), now: .zero) else { Issue.record("failed"); return }
        #expect(d2.reason == .cacheHit && d2.chosen == f2)
    }

    @Test func weightedScorer_prefixVersusQueueAndKV_weightsDecide() {
        var p = pool(2, .weightedScorer)
        let first = chosen(&p, workload([1, 2, 3, 4]))
        let other = 1 - first
        // Equal queues and KV: prefix (3 × 1.0) wins.
        let c1 = chosen(&p, workload([1, 2, 3, 4]))
        #expect(c1 == first)
        // Cached backend has the longest queue and a full KV cache: 3 < 2 + 2.
        p.setScraped(backend: first, waiting: 5, running: 10, kvUsage: 1.0)
        p.setScraped(backend: other, waiting: 0, running: 1, kvUsage: 0.0)
        let c2 = chosen(&p, workload([1, 2, 3, 4]))
        #expect(c2 == other)
    }
}

extension Routing.Decision: CustomTestStringConvertible {
    public var testDescription: String { "\(chosen) (\(reason.rawValue))" }
}
