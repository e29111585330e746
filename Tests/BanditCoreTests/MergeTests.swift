import BanditCore
import Testing
import WRPCommon

/// Random entries over few nodes and versions, so merges collide (including equal versions
/// with different contents, which only the tie-break orders).
func randomEntry(_ r: inout SeededRandom) -> Bandit.NodeStats {
    var e = Bandit.NodeStats(node: "n\(r.below(3))", version: UInt64(r.below(4)))
    for _ in 0..<r.below(3) {
        var s = Bandit.Suff()
        for _ in 0..<(1 + r.below(3)) {
            s.add(reward: Double(r.below(5)) / 4, cost: Double(r.below(3)) / 100, latencyMs: Double(r.below(100)),
                  features: r.below(2) == 0 ? [] : [1, Double(r.below(3))])
        }
        e.stats[Bandit.ArmKey(context: ["a", "b"][r.below(2)], model: ["x", "y"][r.below(2)])] = s
    }
    return e
}

func randomCluster(_ r: inout SeededRandom) -> Bandit.ClusterStats {
    Bandit.ClusterStats((0..<r.below(5)).map { _ in randomEntry(&r) })
}

@Test func merge_randomStates_isCommutativeAssociativeIdempotent() {
    for seed in UInt64(1)...300 {
        var r = SeededRandom(seed: seed)
        let a = randomCluster(&r), b = randomCluster(&r), c = randomCluster(&r)
        #expect(a.merged(with: b) == b.merged(with: a), "commutativity, seed \(seed)")
        #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)), "associativity, seed \(seed)")
        #expect(a.merged(with: a) == a, "idempotence, seed \(seed)")
        #expect(a.merged(with: b).merged(with: b) == a.merged(with: b), "re-delivery, seed \(seed)")
    }
}

@Test func merge_anyDeliveryOrder_givesSameGlobalTotals() {
    for seed in UInt64(1)...100 {
        var r = SeededRandom(seed: seed)
        let entries = (0..<6).map { _ in randomEntry(&r) }
        var forward = Bandit.ClusterStats(), backward = Bandit.ClusterStats()
        for e in entries { forward.merge(e) }
        for e in entries.reversed() { backward.merge(e); backward.merge(e) }
        #expect(forward.total() == backward.total(), "seed \(seed)")
    }
}

@Test func total_isSumOfPerNodeEntries_withoutPrior() {
    var a = Bandit.Learner(node: "a"), b = Bandit.Learner(node: "b")
    a.record(context: "*", model: "m", reward: 1, cost: 0.1)
    b.record(context: "*", model: "m", reward: 0, cost: 0.3)
    b.record(context: "*", model: "m", reward: 1, cost: 0.2)
    a.merge(b.own)
    let s = a.stats(Bandit.ArmKey(context: "*", model: "m"))
    #expect(s.n == 3 && s.sumReward == 2)
    #expect(abs(s.sumCost - 0.6) < 1e-12)
    // An older entry from b changes nothing.
    var old = b.own
    old.version = 1
    old.stats = [:]
    let changed = a.merge(old)
    #expect(!changed)
    #expect(a.stats(Bandit.ArmKey(context: "*", model: "m")).n == 3)
}

@Test func encoding_roundTrips_andRejectsGarbage() throws {
    var r = SeededRandom(seed: 11)
    for _ in 0..<50 {
        let e = randomEntry(&r)
        #expect(try Bandit.NodeStats(decoding: e.encoded()) == e)
    }
    let bytes = randomEntry(&r).encoded()
    for cut in 0..<bytes.count {
        #expect(throws: Bandit.NodeStats.DecodeError.self) { try Bandit.NodeStats(decoding: Array(bytes[0..<cut])) }
    }
    #expect(throws: Bandit.NodeStats.DecodeError.badMagic) { try Bandit.NodeStats(decoding: [0, 1, 2]) }
}
