import Testing
import FleetSim
import RoutingCore

@Suite struct FleetSimTests {
    func config(_ seed: UInt64) -> Fleet.Config {
        var c = Fleet.Config()
        c.backends = 4
        c.cacheTokens = 40 * 512
        c.prefillTokensPerSecond = 20_000
        c.seed = seed
        return c
    }

    @Test(arguments: [Routing.PolicyName.dualmap, .random, .cacheAware])
    func replay_sameSeed_sameResult(policy: Routing.PolicyName) {
        let t = Fleet.synthetic(conversations: 13, turns: 6, gap: 2, seed: 3)
        let c = config(11)
        let p = c.policyParams(blockTokens: 512)
        let a = Fleet.run(t, policy: policy, params: p, config: c)
        let b = Fleet.run(t, policy: policy, params: p, config: c)
        #expect(a.requests == 78)
        #expect(a.hitRate == b.hitRate && a.ttftP99Ms == b.ttftP99Ms && a.perBackend == b.perBackend && a.reasons == b.reasons)
        #expect(a.hitRate <= 1 && a.oracleHitRate > 0)
    }

    @Test func replay_multiTurnChats_affinityBeatsRoundRobinHitRate() {
        let t = Fleet.synthetic(conversations: 13, turns: 6, gap: 2, seed: 3)
        let c = config(1)
        let p = c.policyParams(blockTokens: 512)
        let rr = Fleet.run(t, policy: .roundRobin, params: p, config: c)
        let dm = Fleet.run(t, policy: .dualmap, params: p, config: c)
        #expect(dm.hitRate > rr.hitRate)
        #expect(dm.hitRate <= dm.oracleHitRate + 1e-9 || dm.hitRate > 0)
    }

    @Test func capacity_search_findsScaleMeetingTarget() {
        let t = Fleet.synthetic(conversations: 8, turns: 4, gap: 4, seed: 5)
        let c = config(1)
        let (cap, r) = Fleet.findCapacity(t, policy: .leastLoaded, params: c.policyParams(blockTokens: 512), config: c, oracle: 0)
        #expect(cap > 0 && r.sloAttainment >= 0.9 && r.effectiveCapacity == cap)
    }
}
