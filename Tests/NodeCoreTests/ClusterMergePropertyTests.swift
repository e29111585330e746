import NodeCore
import RoutingCore
import Testing
import WRPCommon

/// Property tests: over seeded random update sequences, `apply` and `merge` are order-independent,
/// duplicate-insensitive, commutative, associative and idempotent. Keys, versions and contents are
/// drawn from small sets so that collisions, equal versions with different contents and stale
/// updates are frequent. Every failure message carries its seed.
@Suite struct ClusterMergePropertyTests {
    static let seeds: [UInt64] = Array(1...150)

    /// A random update of any kind.
    static func randomUpdate(_ rng: inout SeededRandom) -> ClusterUpdate {
        func pick<T>(_ xs: [T]) -> T { xs[rng.below(xs.count)] }
        let nodes = ["n0", "n1", "n2"], backends = ["b0", "b1", "b2"], pools = ["p0", "p1"]
        let version = UInt64(1 + rng.below(5))
        switch rng.below(5) {
        case 0:
            let spec = Routing.BackendSpec(id: pick(backends), url: pick(["http://a:1", "http://b:2"]),
                                           weight: pick([1, 2]), maxConcurrency: rng.below(2))
            return .backend(BackendRecord(pool: pick(pools), spec: spec, removed: rng.below(3) == 0,
                                          stamp: Stamp(time: version, node: pick(nodes))))
        case 1:
            return .health(backendID: pick(backends), observer: pick(nodes),
                           HealthObservation(status: pick([.unknown, .healthy, .unhealthy]), version: version))
        case 2:
            var inFlight: [String: Int32] = [:]
            for b in backends where rng.below(2) == 0 { inFlight[b] = Int32(rng.below(3)) }
            return .load(node: pick(nodes), LoadSummary(version: version, inFlight: inFlight, atMs: UInt64(rng.below(3))))
        case 3:
            let targets = rng.below(4) == 0 ? [] : Array(backends.shuffled(using: &rng).prefix(1 + rng.below(3)))
            return .override(prefix: UInt64(rng.below(2)),
                             OwnershipOverride(pool: pick(pools), targets: targets, version: version,
                                               origin: pick(nodes), expiresAtMs: UInt64(rng.below(2)) * 1000))
        default:
            return .owned(namespace: pick(["bandit", "other"]), key: pick(["m0", "m1"]), node: pick(nodes),
                          OwnedEntry(version: version, payload: (0..<rng.below(3)).map { _ in UInt8(rng.below(3)) }))
        }
    }

    static func updates(seed: UInt64, count: Int = 60) -> [ClusterUpdate] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in randomUpdate(&rng) }
    }

    static func state(_ us: some Sequence<ClusterUpdate>, node: String = "x") -> ClusterState {
        var s = ClusterState(localNode: node)
        s.apply(contentsOf: us)
        return s
    }

    static func merged(_ a: ClusterState, _ b: ClusterState) -> ClusterState {
        var r = a
        r.merge(b)
        return r
    }

    /// Expects equal states; on failure reports the seed and the first differing entry rather
    /// than dumping both states.
    static func expectSame(_ a: ClusterState, _ b: ClusterState, _ context: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let same = a == b
        guard !same else { return }
        let sa = a.snapshot(), sb = b.snapshot()
        let i = zip(sa, sb).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(sa.count, sb.count)
        let left = i < sa.count ? "\(sa[i])" : "nothing", right = i < sb.count ? "\(sb[i])" : "nothing"
        #expect(same, "\(context): entry \(i) differs: \(left) vs \(right)", sourceLocation: sourceLocation)
    }

    @Test(arguments: seeds)
    func updates_shuffledAndDuplicated_convergeToSameState(seed: UInt64) {
        let us = Self.updates(seed: seed)
        let reference = Self.state(us)
        var rng = SeededRandom(seed: seed ^ 0xABCD)
        for _ in 0..<3 {
            var delivered = us
            for _ in 0..<rng.below(us.count) { delivered.append(us[rng.below(us.count)]) }
            delivered.shuffle(using: &rng)
            Self.expectSame(Self.state(delivered, node: "y"), reference, "seed \(seed)")
        }
    }

    @Test(arguments: seeds)
    func states_mergedEitherWay_areEqual(seed: UInt64) {
        let us = Self.updates(seed: seed)
        let a = Self.state(us.prefix(40)), b = Self.state(us.suffix(40))   // overlapping
        Self.expectSame(Self.merged(a, b), Self.merged(b, a), "seed \(seed)")
        Self.expectSame(Self.merged(a, b), Self.state(us), "seed \(seed): merge vs applying every update")
    }

    @Test(arguments: seeds)
    func states_mergedInEitherGrouping_areEqual(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var parts: [[ClusterUpdate]] = [[], [], []]
        for u in Self.updates(seed: seed) { parts[rng.below(3)].append(u) }
        let (a, b, c) = (Self.state(parts[0]), Self.state(parts[1]), Self.state(parts[2]))
        Self.expectSame(Self.merged(Self.merged(a, b), c), Self.merged(a, Self.merged(b, c)), "seed \(seed)")
    }

    @Test(arguments: seeds)
    func state_mergedWithItselfOrReapplied_isUnchanged(seed: UInt64) {
        let us = Self.updates(seed: seed)
        var s = Self.state(us)
        let before = s
        let changes = s.merge(before)
        #expect(changes.isEmpty, "seed \(seed)")
        Self.expectSame(s, before, "seed \(seed)")
        for u in us {
            let accepted = s.apply(u)
            #expect(!accepted, "seed \(seed): reapplying \(u) changed the state")
        }
        Self.expectSame(s, before, "seed \(seed)")
    }

    @Test(arguments: seeds)
    func snapshot_appliedToEmptyState_reproducesState(seed: UInt64) {
        let s = Self.state(Self.updates(seed: seed))
        let snap = s.snapshot()
        #expect(snap.count == s.entryCount, "seed \(seed)")
        Self.expectSame(Self.state(snap, node: "z"), s, "seed \(seed)")
        Self.expectSame(Self.state(snap.reversed()), s, "seed \(seed)")
        let again = Self.state(snap).snapshot() == snap
        #expect(again, "seed \(seed): snapshot order is not deterministic")
    }

    /// Three nodes make random local mutations and gossip them with random reordering, loss
    /// (repaired by a final push-pull) and duplication: all end equal.
    @Test(arguments: Array<UInt64>(1...40))
    func localMutations_gossipedOutOfOrder_converge(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let ids = ["n0", "n1", "n2"]
        var nodes = ids.map { ClusterState(localNode: $0) }
        var inboxes: [[ClusterUpdate]] = [[], [], []]
        var now: UInt64 = 1_000
        for _ in 0..<80 {
            now += UInt64(rng.below(3))
            let i = rng.below(3)
            let backend = "b\(rng.below(4))"
            var u: ClusterUpdate?
            switch rng.below(7) {
            case 0: u = nodes[i].upsertBackend(pool: "p\(rng.below(2))", spec: .init(id: backend, url: "http://h:\(rng.below(9))"), nowMs: now)
            case 1: u = nodes[i].removeBackend(id: backend, nowMs: now)
            case 2: u = nodes[i].observeHealth(backendID: backend, status: [.healthy, .unhealthy][rng.below(2)], nowMs: now)
            case 3: u = nodes[i].publishLoad(inFlight: [backend: Int32(rng.below(5))], nowMs: now)
            case 4: u = nodes[i].setOverride(pool: "p0", prefix: UInt64(rng.below(2)), targets: [backend], expiresAtMs: 0, nowMs: now)
            case 5: u = nodes[i].clearOverride(pool: "p0", prefix: UInt64(rng.below(2)), nowMs: now)
            default: u = nodes[i].putOwned(namespace: "bandit", key: "m", payload: [UInt8(rng.below(256))], nowMs: now)
            }
            if let u {
                for j in 0..<3 where j != i && rng.below(10) != 0 {
                    inboxes[j].insert(u, at: rng.below(inboxes[j].count + 1))
                    if rng.below(5) == 0 { inboxes[j].append(u) }
                }
            }
            // Deliver part of one inbox, out of order.
            let j = rng.below(3)
            let k = rng.below(inboxes[j].count + 1)
            nodes[j].apply(contentsOf: inboxes[j].prefix(k))
            inboxes[j].removeFirst(k)
        }
        for j in 0..<3 { nodes[j].apply(contentsOf: inboxes[j].shuffled(using: &rng)) }
        // Push-pull repairs the lost updates.
        nodes[0].merge(nodes[1]); nodes[0].merge(nodes[2])
        nodes[1].merge(nodes[0]); nodes[2].merge(nodes[0])
        Self.expectSame(nodes[0], nodes[1], "seed \(seed)")
        Self.expectSame(nodes[1], nodes[2], "seed \(seed)")
        #expect(nodes.allSatisfy { $0.ringEpochs() == nodes[0].ringEpochs() }, "seed \(seed)")
    }
}
