import NodeCore
import RoutingCore
import Testing
import WRPCommon

@Suite struct ClusterStateTests {
    func spec(_ id: String, weight: Double = 1, url: String = "http://h:1") -> Routing.BackendSpec {
        Routing.BackendSpec(id: id, url: url, weight: weight)
    }

    func record(_ id: String, pool: String = "p", removed: Bool = false, time: UInt64, node: String,
                url: String = "http://h:1") -> ClusterUpdate {
        .backend(BackendRecord(pool: pool, spec: spec(id, url: url), removed: removed, stamp: Stamp(time: time, node: node)))
    }

    // MARK: Stamps and the backend registry

    @Test(arguments: [
        (Stamp(time: 1, node: "b"), Stamp(time: 2, node: "a"), true),
        (Stamp(time: 2, node: "a"), Stamp(time: 2, node: "b"), true),
        (Stamp(time: 2, node: "b"), Stamp(time: 2, node: "a"), false),
        (Stamp(time: 3, node: "a"), Stamp(time: 2, node: "z"), false),
    ])
    func stamps_orderedByTimeThenNode_compareAsExpected(a: Stamp, b: Stamp, less: Bool) {
        #expect((a < b) == less)
    }

    @Test func backendRecords_laterStampArrivesFirst_laterWins() {
        var s = ClusterState(localNode: "x")
        let accepted1 = s.apply(record("b1", time: 20, node: "n1", url: "http://new:1"))
        #expect(accepted1)
        let accepted2 = s.apply(record("b1", time: 10, node: "n2", url: "http://old:1"))
        #expect(!accepted2)
        #expect(s.backend(id: "b1")?.spec.url == "http://new:1")
    }

    @Test func backendRecords_equalTime_higherNodeWins() {
        var s = ClusterState(localNode: "x")
        s.apply(record("b1", time: 10, node: "n2", url: "http://n2:1"))
        let accepted1 = s.apply(record("b1", time: 10, node: "n1", url: "http://n1:1"))
        #expect(!accepted1)
        let accepted2 = s.apply(record("b1", time: 10, node: "n3", url: "http://n3:1"))
        #expect(accepted2)
        #expect(s.backend(id: "b1")?.spec.url == "http://n3:1")
    }

    @Test func backend_removedThenStaleAddReplayed_staysRemoved() {
        var a = ClusterState(localNode: "a")
        let add = a.upsertBackend(pool: "p", spec: spec("b1"), nowMs: 100)
        let remove = a.removeBackend(id: "b1", nowMs: 100)!
        var b = ClusterState(localNode: "b")
        b.apply(remove)
        let accepted = b.apply(add)
        #expect(!accepted)
        #expect(b.backend(id: "b1") == nil)
        #expect(b.backends["b1"]?.removed == true, "the tombstone is kept")
        let removal = a.removeBackend(id: "b1", nowMs: 200)
        #expect(removal == nil, "removing twice is a no-op")
    }

    @Test func backend_readdedAfterRemoval_isLiveAgain() {
        var a = ClusterState(localNode: "a")
        _ = a.upsertBackend(pool: "p", spec: spec("b1"), nowMs: 100)
        _ = a.removeBackend(id: "b1", nowMs: 101)
        let readd = a.upsertBackend(pool: "q", spec: spec("b1"), nowMs: 50)
        var b = ClusterState(localNode: "b")
        b.merge(a)
        #expect(b.backend(id: "b1")?.pool == "q")
        let accepted = b.apply(readd)
        #expect(accepted == false)
    }

    @Test func localWrite_afterSeeingFutureStamp_stampsAheadOfIt() {
        var s = ClusterState(localNode: "a")
        s.apply(record("b1", time: 5_000, node: "z"))
        guard case .backend(let r) = s.upsertBackend(pool: "p", spec: spec("b1", url: "http://mine:1"), nowMs: 1_000) else {
            Issue.record("not a backend update"); return
        }
        #expect(r.stamp == Stamp(time: 5_001, node: "a"))
        #expect(s.backend(id: "b1")?.spec.url == "http://mine:1")
        #expect(s.tick(nowMs: 9_000) == 9_000, "the clock follows the wall clock when it is ahead")
    }

    @Test func sameStampDifferentContents_eitherOrder_sameWinner() {
        let u1 = record("b1", time: 10, node: "n1", url: "http://a:1")
        let u2 = record("b1", removed: true, time: 10, node: "n1", url: "http://a:1")
        var s1 = ClusterState(localNode: "x"), s2 = ClusterState(localNode: "x")
        s1.apply(u1); s1.apply(u2); s2.apply(u2); s2.apply(u1)
        #expect(s1 == s2)
        #expect(s1.backends["b1"]?.removed == true, "a tombstone wins a tie")
    }

    // MARK: Health

    @Test(arguments: [
        ([String: Routing.HealthStatus](), Set(["a", "b"]), Routing.HealthStatus.unknown),
        (["a": .unhealthy, "b": .unhealthy], Set(["a", "b"]), .unhealthy),
        (["a": .unhealthy, "b": .healthy], Set(["a", "b"]), .healthy),
        (["a": .unhealthy, "b": .healthy], Set(["a"]), .unhealthy),
        (["a": .unhealthy, "b": .unknown], Set(["a", "b"]), .unhealthy),
        (["a": .unknown], Set(["a"]), .unknown),
        (["a": .healthy], Set(["b"]), .unknown),
    ])
    func health_observations_combineByRule(observed: [String: Routing.HealthStatus], alive: Set<String>,
                                           expected: Routing.HealthStatus) {
        var s = ClusterState(localNode: "x")
        for (observer, status) in observed {
            s.apply(.health(backendID: "b1", observer: observer, HealthObservation(status: status, version: 1)))
        }
        #expect(s.health(of: "b1", aliveObservers: alive) == expected)
    }

    @Test func health_eachObserverOwnsItsEntry_higherVersionWins() {
        var s = ClusterState(localNode: "x")
        s.apply(.health(backendID: "b1", observer: "a", HealthObservation(status: .unhealthy, version: 5)))
        let accepted1 = s.apply(.health(backendID: "b1", observer: "a", HealthObservation(status: .healthy, version: 4)))
        #expect(!accepted1)
        let accepted2 = s.apply(.health(backendID: "b1", observer: "b", HealthObservation(status: .unhealthy, version: 1)))
        #expect(accepted2,
                "another observer's entry is independent of a's version")
        #expect(s.health(of: "b1", aliveObservers: ["a", "b"]) == .unhealthy)
        let accepted3 = s.apply(.health(backendID: "b1", observer: "a", HealthObservation(status: .healthy, version: 6)))
        #expect(accepted3)
        #expect(s.health(of: "b1", aliveObservers: ["a", "b"]) == .healthy)
    }

    @Test func observeHealth_unchangedStatus_returnsNil_retractReturnsUnknown() {
        var s = ClusterState(localNode: "a")
        let retraction = s.retractHealth(backendID: "b1", nowMs: 1)
        #expect(retraction == nil, "nothing to retract")
        let observation1 = s.observeHealth(backendID: "b1", status: .healthy, nowMs: 10)
        #expect(observation1 != nil)
        let observation2 = s.observeHealth(backendID: "b1", status: .healthy, nowMs: 11)
        #expect(observation2 == nil)
        let observation3 = s.observeHealth(backendID: "b1", status: .unhealthy, nowMs: 12)
        #expect(observation3 != nil)
        guard case .health(_, "a", let o)? = s.retractHealth(backendID: "b1", nowMs: 13) else {
            Issue.record("no retraction"); return
        }
        #expect(o.status == .unknown && o.version == 13)
        #expect(s.health(of: "b1", aliveObservers: ["a"]) == .unknown)
    }

    // MARK: Load summaries

    @Test func peerInFlight_freshAliveAndNotSelf_areSummed() {
        var s = ClusterState(localNode: "self")
        s.apply(.load(node: "self", LoadSummary(version: 1, inFlight: ["b1": 100], atMs: 10_000)))
        s.apply(.load(node: "n1", LoadSummary(version: 1, inFlight: ["b1": 3, "b2": 1], atMs: 9_500)))
        s.apply(.load(node: "n2", LoadSummary(version: 1, inFlight: ["b1": 4], atMs: 7_000)))   // stale
        s.apply(.load(node: "n3", LoadSummary(version: 1, inFlight: ["b1": 5], atMs: 10_000)))  // not alive
        s.apply(.load(node: "n4", LoadSummary(version: 1, inFlight: ["b1": 6], atMs: 10_200)))  // clock skew
        let alive: Set<String> = ["self", "n1", "n2", "n4"]
        #expect(s.peerInFlight(backend: "b1", excluding: "self", aliveNodes: alive, nowMs: 10_000, maxAgeMs: 2_000) == 9)
        #expect(s.peerInFlight(backend: "b2", excluding: "self", aliveNodes: alive, nowMs: 10_000, maxAgeMs: 2_000) == 1)
        #expect(s.peerInFlight(backend: "b9", excluding: "self", aliveNodes: alive, nowMs: 10_000, maxAgeMs: 2_000) == 0)
        #expect(s.peerInFlight(backend: "b1", excluding: "self", aliveNodes: alive, nowMs: 10_000, maxAgeMs: 5_000) == 13)
        #expect(s.peerInFlightByBackend(excluding: "self", aliveNodes: alive, nowMs: 10_000, maxAgeMs: 2_000) == ["b1": 9, "b2": 1])
    }

    @Test func loadSummary_olderVersion_isIgnored() {
        var s = ClusterState(localNode: "x")
        s.apply(.load(node: "n1", LoadSummary(version: 7, inFlight: ["b1": 2], atMs: 100)))
        let accepted = s.apply(.load(node: "n1", LoadSummary(version: 6, inFlight: ["b1": 9], atMs: 200)))
        #expect(!accepted)
        #expect(s.loads["n1"]?.inFlight == ["b1": 2])
    }

    @Test func publishLoad_afterRestart_outranksPreRestartSummary() {
        var before = ClusterState(localNode: "a")
        let old = before.publishLoad(inFlight: ["b1": 9], nowMs: 5_000)
        var restarted = ClusterState(localNode: "a")
        restarted.apply(old)   // learned back from a peer
        let fresh = restarted.publishLoad(inFlight: ["b1": 1], nowMs: 4_000)   // wall clock stepped back
        var peer = ClusterState(localNode: "p")
        peer.apply(fresh); peer.apply(old)
        #expect(peer.loads["a"]?.inFlight == ["b1": 1])
    }

    // MARK: Ring epoch

    @Test func ringEpoch_sameSetAddedInAnyOrderOrByAnyNode_isEqual() {
        var a = ClusterState(localNode: "a"), b = ClusterState(localNode: "b")
        for id in ["b1", "b2", "b3"] { _ = a.upsertBackend(pool: "p", spec: spec(id), nowMs: 10) }
        for id in ["b3", "b1", "b2"] { _ = b.upsertBackend(pool: "p", spec: spec(id, url: "http://other:2"), nowMs: 99) }
        #expect(a.ringEpoch(pool: "p") == b.ringEpoch(pool: "p"))
        _ = b.upsertBackend(pool: "p", spec: spec("b4"), nowMs: 100)
        _ = b.removeBackend(id: "b4", nowMs: 101)
        #expect(a.ringEpoch(pool: "p") == b.ringEpoch(pool: "p"), "removed backends are not in the set")
    }

    @Test func ringEpoch_differentSets_differ() {
        var s = ClusterState(localNode: "a")
        var seen: Set<UInt64> = [s.ringEpoch(pool: "p")]
        _ = s.upsertBackend(pool: "p", spec: spec("b1"), nowMs: 1); seen.insert(s.ringEpoch(pool: "p"))
        _ = s.upsertBackend(pool: "p", spec: spec("b2"), nowMs: 2); seen.insert(s.ringEpoch(pool: "p"))
        _ = s.upsertBackend(pool: "p", spec: spec("b2", weight: 2), nowMs: 3); seen.insert(s.ringEpoch(pool: "p"))
        _ = s.removeBackend(id: "b1", nowMs: 4); seen.insert(s.ringEpoch(pool: "p"))
        _ = s.upsertBackend(pool: "q", spec: spec("b1"), nowMs: 5)
        #expect(seen.count == 5)
        #expect(s.ringEpoch(pool: "q") != s.ringEpoch(pool: "p"))
        #expect(s.ringEpochs().keys.sorted() == ["p", "q"])
        #expect(s.pools == ["p", "q"])
    }

    // MARK: Ownership overrides

    func override(_ targets: [String], version: UInt64, origin: String, expires: UInt64 = 0) -> ClusterUpdate {
        .override(prefix: 42, OwnershipOverride(pool: "p", targets: targets, version: version, origin: origin, expiresAtMs: expires))
    }

    @Test func overrides_higherVersionWins_tieGoesToHigherOrigin() {
        var s = ClusterState(localNode: "x")
        s.apply(override(["b1", "b2", "b3"], version: 5, origin: "n1"))
        let accepted1 = s.apply(override(["b4"], version: 4, origin: "n9"))
        #expect(!accepted1)
        let accepted2 = s.apply(override(["b4"], version: 5, origin: "n0"))
        #expect(!accepted2)
        let accepted3 = s.apply(override(["b5", "b6", "b7"], version: 5, origin: "n2"))
        #expect(accepted3)
        #expect(s.override(pool: "p", prefix: 42, nowMs: 0)?.targets == ["b5", "b6", "b7"])
        let accepted4 = s.apply(override([], version: 6, origin: "n0"))
        #expect(accepted4)
        #expect(s.override(pool: "p", prefix: 42, nowMs: 0) == nil, "a tombstone hides it")
        let accepted5 = s.apply(override(["b1"], version: 5, origin: "n9"))
        #expect(!accepted5, "a stale override does not resurrect it")
    }

    @Test func override_expired_isNotLive() {
        var s = ClusterState(localNode: "x")
        s.apply(override(["b1", "b2", "b3"], version: 1, origin: "n1", expires: 1_000))
        #expect(s.override(pool: "p", prefix: 42, nowMs: 999) != nil)
        #expect(s.override(pool: "p", prefix: 42, nowMs: 1_000) == nil)
        #expect(s.liveOverrides(pool: "p", nowMs: 999).keys.sorted() == [42])
        #expect(s.override(pool: "other", prefix: 42, nowMs: 0) == nil, "overrides are per pool")
    }

    @Test func setOverride_afterRemoteHigherVersion_winsOverIt() {
        var s = ClusterState(localNode: "a")
        s.apply(override(["b1"], version: 50_000, origin: "z"))
        guard case .override(42, let o) = s.setOverride(pool: "p", prefix: 42, targets: ["b2"], expiresAtMs: 0, nowMs: 10) else {
            Issue.record("not an override update"); return
        }
        #expect(o.version == 50_001 && o.origin == "a")
        #expect(s.override(pool: "p", prefix: 42, nowMs: 0)?.targets == ["b2"])
        let clearing1 = s.clearOverride(pool: "p", prefix: 42, nowMs: 11)
        #expect(clearing1 != nil)
        let clearing2 = s.clearOverride(pool: "p", prefix: 42, nowMs: 12)
        #expect(clearing2 == nil)
    }

    // MARK: Owned entries

    @Test func ownedEntries_maxVersionPerNode_allNodesListed() {
        var s = ClusterState(localNode: "n0")
        s.apply(.owned(namespace: "bandit", key: "m", node: "n2", OwnedEntry(version: 3, payload: [3])))
        s.apply(.owned(namespace: "bandit", key: "m", node: "n1", OwnedEntry(version: 9, payload: [9])))
        let accepted1 = s.apply(.owned(namespace: "bandit", key: "m", node: "n1", OwnedEntry(version: 8, payload: [8])))
        #expect(!accepted1)
        let accepted2 = s.apply(.owned(namespace: "bandit", key: "m", node: "n2", OwnedEntry(version: 4, payload: [4])))
        #expect(accepted2)
        _ = s.putOwned(namespace: "bandit", key: "m", payload: [0], nowMs: 1)
        _ = s.putOwned(namespace: "bandit", key: "other", payload: [7], nowMs: 2)
        _ = s.putOwned(namespace: "x", key: "m", payload: [6], nowMs: 3)
        #expect(s.entries(namespace: "bandit", key: "m").map(\.payload) == [[0], [9], [4]])
        #expect(s.ownedEntries(namespace: "bandit", key: "m").map(\.node) == ["n0", "n1", "n2"])
        #expect(s.entries(namespace: "none", key: "m").isEmpty)
        #expect(s.keys(namespace: "bandit") == ["m", "other"])
    }

    // MARK: GC

    @Test func gc_dropsOldTombstonesAndStaleEntries_keepsLiveOnes() {
        var s = ClusterState(localNode: "a")
        _ = s.upsertBackend(pool: "p", spec: spec("live"), nowMs: 100)
        _ = s.upsertBackend(pool: "p", spec: spec("gone"), nowMs: 100)
        _ = s.removeBackend(id: "gone", nowMs: 200)
        _ = s.observeHealth(backendID: "gone", status: .unhealthy, nowMs: 201)
        _ = s.observeHealth(backendID: "live", status: .healthy, nowMs: 202)
        _ = s.setOverride(pool: "p", prefix: 1, targets: ["live"], expiresAtMs: 300, nowMs: 203)
        _ = s.setOverride(pool: "p", prefix: 2, targets: ["live"], expiresAtMs: 0, nowMs: 204)
        _ = s.publishLoad(inFlight: ["live": 1], nowMs: 205)
        _ = s.putOwned(namespace: "bandit", key: "m", payload: [1], nowMs: 206)
        let dropped1 = s.gc(olderThanMs: 150)
        #expect(dropped1 == 0)
        let dropped2 = s.gc(olderThanMs: 10_000)
        #expect(dropped2 == 4)   // tombstone + its health, expired override, load
        #expect(s.backends.keys.sorted() == ["live"])
        #expect(s.health(of: "live", aliveObservers: ["a"]) == .healthy)
        #expect(s.liveOverrides(pool: "p", nowMs: 0).keys.sorted() == [2])
        #expect(s.loads.isEmpty)
        #expect(s.entries(namespace: "bandit", key: "m").count == 1)
    }
}
