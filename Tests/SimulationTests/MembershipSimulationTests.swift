import Testing
import MembershipCore
import Simulation
import WRPCommon

/// Cluster-level properties of SWIM + Lifeguard on the deterministic simulator. Every expectation
/// message carries the seed; re-run with the same seed to replay a failure exactly.
/// Figures are printed (`[membership-sim] …`) for docs/cluster.md.
@Suite struct MembershipSimulationTests {
    func seconds(_ n: Nanos) -> String {
        let ms = Double(n) / 1e6
        return "\((ms / 10).rounded() / 100) s"
    }

    @Test func thousandNodes_userBroadcast_reaches999PermilleWithin2s() {
        let seed: UInt64 = 1_000
        let sim = ClusterSimulator(nodes: 1_000, settings: .lan, network: .lan, seed: seed)
        sim.run(for: .seconds(2))
        sim.resetCounters()
        let start = sim.now
        sim.broadcast(from: "n0", key: "update-1", payload: Array(repeating: 0xAB, count: 64))
        let reached = sim.runUntil(deadline: start + .seconds(10), step: .ms(20)) {
            sim.deliveredFraction("update-1") >= 0.999
        }
        let t999 = sim.timeToDeliver("update-1", fraction: 0.999)
        let t99 = sim.timeToDeliver("update-1", fraction: 0.99)
        // Let the broadcast finish its retransmissions, then measure bandwidth over the window.
        sim.run(until: start + .seconds(5))
        let all = sim.deliveredFraction("update-1")
        print("[membership-sim] n=1000 lan: 99% in \(t99.map(seconds) ?? "never"), 99.9% in \(t999.map(seconds) ?? "never"), final \(all); UDP per node mean \(Int(sim.meanUDPBytesPerSecond)) B/s, max \(Int(sim.maxUDPBytesPerSecond)) B/s over 5 s incl. probes; largest packet \(sim.largestPacket) B; events \(sim.eventsProcessed) (seed \(seed))")
        #expect(reached != nil, "99.9% not reached within 10 s, got \(sim.deliveredFraction("update-1")) (seed \(seed))")
        #expect((t999 ?? .max) <= .seconds(2), "99.9% took \(t999.map(seconds) ?? "never") (seed \(seed))")
        #expect(sim.oversizedPackets == 0, "\(sim.oversizedPackets) packets over 1400 B (seed \(seed))")
        #expect(sim.falseDeadPairs == 0, "false dead in a healthy cluster (seed \(seed))")
    }

    @Test func thousandNodes_killedNode_declaredDeadByAllAlive() {
        let seed: UInt64 = 2_000
        let sim = ClusterSimulator(nodes: 1_000, settings: .lan, network: .lan, seed: seed)
        sim.run(for: .seconds(2))
        sim.watch("n500")
        sim.kill("n500")
        let killedAt = sim.now
        let bounds = Membership.Settings.lan.suspicionBounds(nodes: 1_000)
        let done = sim.runUntil(deadline: killedAt + bounds.max + .seconds(10), step: .ms(100)) {
            sim.allUpNodes(see: "n500", as: .dead)
        }
        let delays = sim.detectionDelays(of: "n500", since: killedAt)
        let first = delays.first ?? 0, last = delays.last ?? 0
        print("[membership-sim] n=1000 lan kill: first dead report after \(seconds(first)), all \(delays.count) alive nodes after \(seconds(last)) (suspicion min \(seconds(bounds.min)), max \(seconds(bounds.max))) (seed \(seed))")
        #expect(done != nil, "only \(sim.observers(of: "n500", withStatus: .dead)) of 999 see n500 dead (seed \(seed))")
        #expect(last <= bounds.min + .seconds(5), "detection took \(seconds(last)) (seed \(seed))")
        #expect(sim.falseDeadPairs == 0, "a live node was declared dead (seed \(seed))")
    }

    @Test func fiftyNodes_tenPercentLossTenMinutes_noFalseDead() {
        let seed: UInt64 = 3_000
        let sim = ClusterSimulator(nodes: 50, settings: .lan,
                                   network: NetworkConditions(minDelay: .ms(1), maxDelay: .ms(10), loss: 0.10),
                                   seed: seed)
        for id in sim.ids { sim.watch(id) }
        sim.run(for: .seconds(600))
        var falseDead = 0
        for id in sim.ids { falseDead += sim.detectionDelays(of: id, since: .zero).count }
        var refutes = 0, failed = 0, probes = 0, corrections = 0, verifications = 0
        for id in sim.ids {
            let s = sim.instance(id).stats
            refutes += s.refutes; failed += s.failedProbes; probes += s.probes
            corrections += s.staleCorrections; verifications += s.verificationProbes
        }
        print("[membership-sim] n=50 lan 10% loss 600 s: \(probes) probes, \(failed) failed, \(refutes) refutations, \(corrections) stale corrections, \(verifications) verification probes, \(falseDead) false dead; UDP per node \(Int(sim.meanUDPBytesPerSecond)) B/s (seed \(seed))")
        #expect(falseDead == 0, "\(falseDead) dead reports about live nodes (seed \(seed))")
        #expect(sim.falseDeadPairs == 0, "a live node is dead in some view at the end (seed \(seed))")
    }

    @Test func twentyNodes_partitionHealed_membershipConverges() {
        let seed: UInt64 = 4_000
        let sim = ClusterSimulator(nodes: 20, settings: .local, seed: seed)
        sim.run(for: .seconds(2))
        let a = (0..<10).map { "n\($0)" }, b = (10..<20).map { "n\($0)" }
        sim.partition(a, b)
        let split = sim.runUntil(deadline: sim.now + .seconds(30), step: .ms(100)) {
            b.allSatisfy { sim.view(of: "n0", at: $0)?.status == .dead }
                && a.allSatisfy { sim.view(of: "n19", at: $0)?.status == .dead }
        }
        #expect(split != nil, "sides did not declare each other dead (seed \(seed))")
        // Longer than gossip-to-the-dead: only reconnect and push-pull can heal now.
        sim.run(for: .seconds(10))
        sim.heal()
        let healedAt = sim.now
        let converged = sim.runUntil(deadline: healedAt + .seconds(60), step: .ms(100)) { sim.converged }
        print("[membership-sim] n=20 local partition 10|10: healed and converged after \(converged.map { seconds($0 - healedAt) } ?? "never") (seed \(seed))")
        #expect(converged != nil, "\(sim.disagreements) disagreements 60 s after heal (seed \(seed))")
    }

    @Test(arguments: [(UInt64(1), "persisted incarnation + 1"), (UInt64(0), "same incarnation, refutes")])
    func restartedNode_rejoins_aliveEverywhere(incarnation: UInt64, label: String) {
        let seed: UInt64 = 5_000 + incarnation
        let sim = ClusterSimulator(nodes: 20, settings: .local, seed: seed)
        sim.run(for: .seconds(2))
        sim.kill("n7")
        let dead = sim.runUntil(deadline: sim.now + .seconds(20), step: .ms(100)) { sim.allUpNodes(see: "n7", as: .dead) }
        #expect(dead != nil, "n7 not declared dead (seed \(seed))")
        sim.restart("n7", incarnation: incarnation)
        let restartedAt = sim.now
        let alive = sim.runUntil(deadline: restartedAt + .seconds(20), step: .ms(50)) {
            sim.allUpNodes(see: "n7", as: .alive) && sim.converged
        }
        let inc = sim.instance("n7").incarnation
        print("[membership-sim] n=20 local restart (\(label)): alive everywhere after \(alive.map { seconds($0 - restartedAt) } ?? "never"), incarnation \(inc) (seed \(seed))")
        #expect(alive != nil, "n7 alive at \(sim.observers(of: "n7", withStatus: .alive)) of 19 (seed \(seed))")
        #expect(inc >= 1, "n7 incarnation \(inc) (seed \(seed))")
    }

    @Test func gracefulLeave_twentyNodes_leftEverywhereNotDead() {
        let seed: UInt64 = 6_000
        let sim = ClusterSimulator(nodes: 20, settings: .local, seed: seed)
        sim.run(for: .seconds(2))
        sim.leave("n3")
        sim.run(for: .seconds(1))
        sim.kill("n3")
        let left = sim.runUntil(deadline: sim.now + .seconds(10), step: .ms(50)) { sim.allUpNodes(see: "n3", as: .left) }
        sim.run(for: .seconds(10))
        #expect(left != nil, "n3 left at \(sim.observers(of: "n3", withStatus: .left)) of 19 (seed \(seed))")
        #expect(sim.allUpNodes(see: "n3", as: .left), "n3 not left everywhere after 10 s more (seed \(seed))")
    }

    @Test func fiftyNodes_joinThroughOneSeedWithJitterAndDuplication_converges() {
        let seed: UInt64 = 7_000
        let sim = ClusterSimulator(nodes: 50, settings: .local,
                                   network: NetworkConditions(minDelay: .ms(1), maxDelay: .ms(20), loss: 0.02, duplication: 0.05),
                                   seed: seed, formation: .join)
        let done = sim.runUntil(deadline: .milliseconds(30_000), step: .ms(100)) { sim.converged }
        print("[membership-sim] n=50 local join via one seed (1–20 ms, 2% loss, 5% dup): converged after \(done.map { seconds($0.nanoseconds) } ?? "never") (seed \(seed))")
        #expect(done != nil, "\(sim.disagreements) disagreements after 30 s (seed \(seed))")
    }

    @Test func pausedNode_declaredDeadThenResumed_refutesAndIsAliveEverywhere() {
        let seed: UInt64 = 8_000
        let sim = ClusterSimulator(nodes: 20, settings: .local, seed: seed)
        sim.run(for: .seconds(2))
        sim.pause("n4")
        let dead = sim.runUntil(deadline: sim.now + .seconds(20), step: .ms(100)) { sim.allUpNodes(see: "n4", as: .dead) }
        #expect(dead != nil, "paused n4 not declared dead (seed \(seed))")
        sim.resume("n4")
        let alive = sim.runUntil(deadline: sim.now + .seconds(20), step: .ms(50)) { sim.converged }
        #expect(alive != nil, "n4 alive at \(sim.observers(of: "n4", withStatus: .alive)) of 19 after resume (seed \(seed))")
        #expect(sim.instance("n4").stats.refutes >= 1, "n4 never refuted (seed \(seed))")
    }
}
