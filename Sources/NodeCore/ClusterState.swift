import RoutingCore
import WRPCommon

/// The CRDT-style state every wrpd node gossips (DESIGN.md §5; algorithms.md §5.5, §2.6).
///
/// Five replicated maps, each a join-semilattice (see `ClusterTypes.swift`), so `apply` and
/// `merge` are commutative, associative and idempotent and nodes converge whatever the order,
/// duplication or replay of gossip:
/// 1. backend registry — LWW per backend id by `Stamp`; removal is a tombstone;
/// 2. health — per (backend, observer), the greater version; combined by `health(of:aliveObservers:)`;
/// 3. load summaries — per node, the greater version; read by `peerInFlight(…)`;
/// 4. hot-prefix ownership overrides — versioned LWW per (pool, prefix key);
/// 5. per-node-owned entries — per (namespace, key, node), the greater version.
/// The ring epoch (`ringEpoch(pool:)`) is derived from the registry, not stored.
///
/// Local mutations (`upsertBackend`, `observeHealth`, `publishLoad`, …) stamp the change with the
/// node's hybrid clock, apply it, and return the `ClusterUpdate` for the shell to broadcast.
/// Remote updates go through `apply(_:)`; push-pull exchanges `snapshot()` (or `merge(_:)`).
/// Versions of this node's own entries come from the same hybrid clock (wall ms, kept ahead of
/// everything seen), so after a restart its new entries outrank the ones peers still hold from
/// before it, as long as its wall clock did not step back by more than its downtime.
///
/// Tombstones and GC: removed backends and withdrawn overrides stay as tombstones so that stale
/// copies of the live value lose to them. `gc(olderThanMs:)` drops tombstones (and expired
/// overrides, stale load summaries) older than a bound; choose the bound far beyond the longest
/// partition or downtime (e.g. 24 h): a node that still holds a live copy older than a collected
/// tombstone would resurrect it on its next push-pull.
///
/// Equality (`==`) compares the replicated contents only, not the local node id or clock.
/// Pure: no clocks (callers pass `nowMs`), no I/O.
public struct ClusterState: Sendable {
    /// This node's id: the writer of local mutations.
    public let localNode: String
    /// Hybrid clock (ms): the greatest stamp or version written or seen.
    public private(set) var clockMs: UInt64 = 0

    /// Backend id → record (tombstones included).
    public private(set) var backends: [String: BackendRecord] = [:]
    /// Backend id → observer id → observation.
    public private(set) var health: [String: [String: HealthObservation]] = [:]
    /// Node id → load summary.
    public private(set) var loads: [String: LoadSummary] = [:]
    /// Pool → prefix key → override (tombstones included).
    public private(set) var overrides: [String: [UInt64: OwnershipOverride]] = [:]
    /// (namespace, key) → node id → entry.
    public private(set) var owned: [OwnedKey: [String: OwnedEntry]] = [:]

    public struct OwnedKey: Sendable, Hashable, Comparable {
        public var namespace: String
        public var key: String
        public init(namespace: String, key: String) { self.namespace = namespace; self.key = key }
        public static func < (a: OwnedKey, b: OwnedKey) -> Bool {
            a.namespace != b.namespace ? a.namespace < b.namespace : a.key < b.key
        }
    }

    public init(localNode: String) { self.localNode = localNode }

    // MARK: Hybrid clock

    /// Advances the clock for a local write at wall-clock `nowMs`: max(nowMs, clock + 1).
    public mutating func tick(nowMs: UInt64) -> UInt64 {
        clockMs = max(nowMs, clockMs == .max ? .max : clockMs + 1)
        return clockMs
    }

    @inline(__always)
    mutating func observe(_ t: UInt64) { if t > clockMs { clockMs = t } }

    // MARK: Local mutations (each returns the update to broadcast)

    /// Adds a backend to `pool`, or replaces its spec or pool.
    public mutating func upsertBackend(pool: String, spec: Routing.BackendSpec, nowMs: UInt64) -> ClusterUpdate {
        let r = BackendRecord(pool: pool, spec: spec, removed: false, stamp: Stamp(time: tick(nowMs: nowMs), node: localNode))
        backends[spec.id] = r
        return .backend(r)
    }

    /// Removes a backend (writes a tombstone); nil if it is unknown or already removed.
    public mutating func removeBackend(id: String, nowMs: UInt64) -> ClusterUpdate? {
        guard var r = backends[id], !r.removed else { return nil }
        r.removed = true
        r.stamp = Stamp(time: tick(nowMs: nowMs), node: localNode)
        backends[id] = r
        return .backend(r)
    }

    /// Records this node's probe verdict on a backend; nil if it equals the current one (so the
    /// shell gossips changes only). Pass `.unknown` (or use `retractHealth`) when this node stops
    /// probing the backend, e.g. because `WorkSplit` moved it to other owners.
    public mutating func observeHealth(backendID: String, status: Routing.HealthStatus, nowMs: UInt64) -> ClusterUpdate? {
        if let cur = health[backendID]?[localNode], cur.status == status { return nil }
        if status == .unknown && health[backendID]?[localNode] == nil { return nil }
        let o = HealthObservation(status: status, version: tick(nowMs: nowMs))
        health[backendID, default: [:]][localNode] = o
        return .health(backendID: backendID, observer: localNode, o)
    }

    /// Withdraws this node's observation of a backend (sets it to `.unknown`); nil if none.
    public mutating func retractHealth(backendID: String, nowMs: UInt64) -> ClusterUpdate? {
        observeHealth(backendID: backendID, status: .unknown, nowMs: nowMs)
    }

    /// Publishes this node's in-flight counts (backend id → count), measured at `nowMs`.
    public mutating func publishLoad(inFlight: [String: Int32], nowMs: UInt64) -> ClusterUpdate {
        let s = LoadSummary(version: tick(nowMs: nowMs), inFlight: inFlight, atMs: nowMs)
        loads[localNode] = s
        return .load(node: localNode, s)
    }

    /// Sets (or replaces) the ownership override for `prefix` in `pool`. `targets` MUST be
    /// non-empty (use `clearOverride` to withdraw); `expiresAtMs` 0 = never.
    public mutating func setOverride(pool: String, prefix: UInt64, targets: [String], expiresAtMs: UInt64,
                                     nowMs: UInt64) -> ClusterUpdate {
        precondition(!targets.isEmpty, "override for \(prefix) in \(pool) with no targets: use clearOverride")
        return writeOverride(pool: pool, prefix: prefix, targets: targets, expiresAtMs: expiresAtMs, nowMs: nowMs)
    }

    /// Withdraws the override for `prefix` in `pool` (writes a tombstone); nil if there is none
    /// or it is already a tombstone.
    public mutating func clearOverride(pool: String, prefix: UInt64, nowMs: UInt64) -> ClusterUpdate? {
        guard let cur = overrides[pool]?[prefix], !cur.isTombstone else { return nil }
        return writeOverride(pool: pool, prefix: prefix, targets: [], expiresAtMs: 0, nowMs: nowMs)
    }

    mutating func writeOverride(pool: String, prefix: UInt64, targets: [String], expiresAtMs: UInt64,
                                nowMs: UInt64) -> ClusterUpdate {
        let o = OwnershipOverride(pool: pool, targets: targets, version: tick(nowMs: nowMs), origin: localNode,
                                  expiresAtMs: expiresAtMs)
        overrides[pool, default: [:]][prefix] = o
        return .override(prefix: prefix, o)
    }

    /// Writes this node's entry under (`namespace`, `key`).
    public mutating func putOwned(namespace: String, key: String, payload: [UInt8], nowMs: UInt64) -> ClusterUpdate {
        let e = OwnedEntry(version: tick(nowMs: nowMs), payload: payload)
        owned[OwnedKey(namespace: namespace, key: key), default: [:]][localNode] = e
        return .owned(namespace: namespace, key: key, node: localNode, e)
    }

    // MARK: Replication

    /// Applies an update from any node (including an echo of this node's own); returns whether it
    /// changed the state (false for stale, duplicate or already-superseded updates).
    @discardableResult
    public mutating func apply(_ u: ClusterUpdate) -> Bool {
        switch u {
        case .backend(let r):
            observe(r.stamp.time)
            if let cur = backends[r.id], !r.supersedes(cur) { return false }
            backends[r.id] = r
        case .health(let b, let observer, let o):
            observe(o.version)
            if let cur = health[b]?[observer], !o.supersedes(cur) { return false }
            health[b, default: [:]][observer] = o
        case .load(let node, let s):
            observe(s.version)
            if let cur = loads[node], !s.supersedes(cur) { return false }
            loads[node] = s
        case .override(let prefix, let o):
            observe(o.version)
            if let cur = overrides[o.pool]?[prefix], !o.supersedes(cur) { return false }
            overrides[o.pool, default: [:]][prefix] = o
        case .owned(let ns, let key, let node, let e):
            observe(e.version)
            let k = OwnedKey(namespace: ns, key: key)
            if let cur = owned[k]?[node], !e.supersedes(cur) { return false }
            owned[k, default: [:]][node] = e
        }
        return true
    }

    /// Applies updates in order; returns those that changed the state (for the shell to react to,
    /// e.g. rebuild a pool when a backend record changed).
    @discardableResult
    public mutating func apply(contentsOf updates: some Sequence<ClusterUpdate>) -> [ClusterUpdate] {
        var changed: [ClusterUpdate] = []
        for u in updates where apply(u) { changed.append(u) }
        return changed
    }

    /// Push-pull: merges another node's full state; returns the updates that changed this one.
    @discardableResult
    public mutating func merge(_ other: ClusterState) -> [ClusterUpdate] {
        apply(contentsOf: other.snapshot())
    }

    /// Every entry as an update, in a deterministic order (registry, health, load, overrides,
    /// owned; each sorted by key), so push-pull state encodes as a list of `ClusterUpdate`.
    /// Applying it to an empty state reproduces this one.
    public func snapshot() -> [ClusterUpdate] {
        var out: [ClusterUpdate] = []
        for id in backends.keys.sorted() { out.append(.backend(backends[id]!)) }
        for b in health.keys.sorted() {
            let byObserver = health[b]!
            for o in byObserver.keys.sorted() { out.append(.health(backendID: b, observer: o, byObserver[o]!)) }
        }
        for n in loads.keys.sorted() { out.append(.load(node: n, loads[n]!)) }
        for p in overrides.keys.sorted() {
            let byPrefix = overrides[p]!
            for k in byPrefix.keys.sorted() { out.append(.override(prefix: k, byPrefix[k]!)) }
        }
        for k in owned.keys.sorted() {
            let byNode = owned[k]!
            for n in byNode.keys.sorted() {
                out.append(.owned(namespace: k.namespace, key: k.key, node: n, byNode[n]!))
            }
        }
        return out
    }

    /// Number of entries `snapshot()` would return.
    public var entryCount: Int {
        backends.count + health.values.reduce(0) { $0 + $1.count } + loads.count
            + overrides.values.reduce(0) { $0 + $1.count } + owned.values.reduce(0) { $0 + $1.count }
    }

    // MARK: Queries

    /// The live (not removed) record for a backend.
    public func backend(id: String) -> BackendRecord? {
        guard let r = backends[id], !r.removed else { return nil }
        return r
    }

    /// Pools with at least one live backend, sorted.
    public var pools: [String] {
        Set(backends.values.lazy.filter { !$0.removed }.map(\.pool)).sorted()
    }

    /// Live backends of `pool`, sorted by id.
    public func liveBackends(pool: String) -> [BackendRecord] {
        backends.values.filter { !$0.removed && $0.pool == pool }.sorted { $0.id < $1.id }
    }

    /// The cluster's view of a backend's health, from the observations of `aliveObservers`
    /// (pass the alive members; observers not in it are ignored, so a dead node's last verdict
    /// does not linger):
    /// - `.unknown` observations (retracted) are ignored;
    /// - none left → `.unknown` (routable, as for a backend no probe has answered yet);
    /// - any `.healthy` → `.healthy`: one node reaching it proves it serves, and a partition
    ///   between one owner and the backend must not eject it cluster-wide;
    /// - otherwise every informed observer says `.unhealthy` → `.unhealthy`.
    public func health(of backendID: String, aliveObservers: Set<String>) -> Routing.HealthStatus {
        guard let byObserver = health[backendID] else { return .unknown }
        var sawUnhealthy = false
        for (observer, o) in byObserver where aliveObservers.contains(observer) {
            switch o.status {
            case .healthy: return .healthy
            case .unhealthy: sawUnhealthy = true
            case .unknown: break
            }
        }
        return sawUnhealthy ? .unhealthy : .unknown
    }

    /// Whether a summary from `node` counts at wall-clock `nowMs`: not `excluding`, alive, and at
    /// most `maxAgeMs` old (one from the future, by clock skew, counts).
    @inline(__always)
    func counts(_ node: String, _ s: LoadSummary, excluding: String, aliveNodes: Set<String>,
                nowMs: UInt64, maxAgeMs: UInt64) -> Bool {
        node != excluding && aliveNodes.contains(node) && (s.atMs >= nowMs || nowMs - s.atMs <= maxAgeMs)
    }

    /// Sum of other nodes' in-flight requests to `backend`: summaries from `excluding` (this
    /// node), from nodes not in `aliveNodes`, and older than `maxAgeMs` at `nowMs` are ignored.
    public func peerInFlight(backend: String, excluding: String, aliveNodes: Set<String>,
                             nowMs: UInt64, maxAgeMs: UInt64) -> Int {
        var sum = 0
        for (node, s) in loads where counts(node, s, excluding: excluding, aliveNodes: aliveNodes, nowMs: nowMs, maxAgeMs: maxAgeMs) {
            sum += Int(s.inFlight[backend] ?? 0)
        }
        return sum
    }

    /// `peerInFlight` for every backend at once (backend id → sum; absent = 0), for refreshing
    /// all pools' `BackendLoad.peerInFlight` in one pass.
    public func peerInFlightByBackend(excluding: String, aliveNodes: Set<String>,
                                      nowMs: UInt64, maxAgeMs: UInt64) -> [String: Int] {
        var out: [String: Int] = [:]
        for (node, s) in loads where counts(node, s, excluding: excluding, aliveNodes: aliveNodes, nowMs: nowMs, maxAgeMs: maxAgeMs) {
            for (b, c) in s.inFlight { out[b, default: 0] += Int(c) }
        }
        return out
    }

    /// Digest of `pool`'s live backend set: Hash64 over the backends sorted by id, each as (id,
    /// weight) — the inputs of its hash rings. Equal sets give equal epochs on every node;
    /// adding, removing or reweighting a backend changes it (up to 64-bit collisions). An empty
    /// pool has a fixed epoch.
    public func ringEpoch(pool: String) -> UInt64 {
        let live = liveBackends(pool: pool)
        var h = Hash64.combine(Hash64.seedA, UInt64(live.count))
        for r in live {
            h = Hash64.combine(h, Hash64.hash(r.id, seed: Hash64.seedB))
            h = Hash64.combine(h, r.spec.weight.bitPattern)
        }
        return h
    }

    /// `ringEpoch(pool:)` for every pool with live backends.
    public func ringEpochs() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for p in pools { out[p] = ringEpoch(pool: p) }
        return out
    }

    /// The override routing `prefix` in `pool` at wall-clock `nowMs`, if live.
    public func override(pool: String, prefix: UInt64, nowMs: UInt64) -> OwnershipOverride? {
        guard let o = overrides[pool]?[prefix], o.isLive(nowMs: nowMs) else { return nil }
        return o
    }

    /// Live overrides of `pool` at `nowMs`: prefix key → override.
    public func liveOverrides(pool: String, nowMs: UInt64) -> [UInt64: OwnershipOverride] {
        (overrides[pool] ?? [:]).filter { $0.value.isLive(nowMs: nowMs) }
    }

    /// Every node's entry under (`namespace`, `key`), sorted by node id (so floating-point sums
    /// over them are the same on every node). Global view = prior + Σ entries.
    public func entries(namespace: String, key: String) -> [OwnedEntry] {
        ownedEntries(namespace: namespace, key: key).map(\.entry)
    }

    /// `entries(namespace:key:)` with each entry's owner.
    public func ownedEntries(namespace: String, key: String) -> [(node: String, entry: OwnedEntry)] {
        guard let byNode = owned[OwnedKey(namespace: namespace, key: key)] else { return [] }
        return byNode.keys.sorted().map { ($0, byNode[$0]!) }
    }

    /// Keys with entries in `namespace`, sorted.
    public func keys(namespace: String) -> [String] {
        owned.keys.filter { $0.namespace == namespace }.map(\.key).sorted()
    }

    // MARK: Garbage collection

    /// Drops, as of wall-clock `olderThanMs`: backend tombstones stamped before it (and their
    /// health observations), override tombstones written before it and overrides expired before
    /// it, and load summaries measured before it. Live records, health of live backends and
    /// owned entries are kept (departed nodes' bandit evidence stays valid, §5.5). Not a CRDT
    /// operation: see the type's overview for choosing the bound. Returns how many entries it dropped.
    @discardableResult
    public mutating func gc(olderThanMs t: UInt64) -> Int {
        var dropped = 0
        for (id, r) in backends where r.removed && r.stamp.time < t {
            backends[id] = nil
            dropped += 1 + (health.removeValue(forKey: id)?.count ?? 0)
        }
        for (pool, byPrefix) in overrides {
            let kept = byPrefix.filter { _, o in
                !((o.isTombstone && o.version < t) || (o.expiresAtMs != 0 && o.expiresAtMs < t))
            }
            dropped += byPrefix.count - kept.count
            overrides[pool] = kept.isEmpty ? nil : kept
        }
        for (node, s) in loads where s.atMs < t {
            loads[node] = nil
            dropped += 1
        }
        return dropped
    }
}

extension ClusterState: Equatable {
    public static func == (a: ClusterState, b: ClusterState) -> Bool {
        a.backends == b.backends && a.health == b.health && a.loads == b.loads
            && a.overrides == b.overrides && a.owned == b.owned
    }
}
