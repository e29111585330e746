import RoutingCore
import WRPCommon

// The replicated values every wrpd node gossips (DESIGN.md §5, algorithms.md §5.5).
//
// Every type here is a register merged by "keep the greater", under a *total* order: the primary
// key (stamp or version) and then, for the pathological case of two different values carrying
// the same stamp or version, a deterministic comparison of their contents. A total order makes
// each merge a join-semilattice — commutative, associative, idempotent — so gossip may reorder,
// duplicate and replay updates freely and every node converges to the same state.
//
// Wire shape (for proto/wire/v1): every field is a String, UInt64, Int32, Bool, Double, bytes, an
// enum, a map<string, int32> or a repeated nested message; the field comments are the schema docs.

/// A hybrid logical timestamp for last-writer-wins registers, ordered by (`time`, `node`).
///
/// `time` is milliseconds: `max(local wall clock ms, highest time seen + 1)` (see
/// `ClusterState.tick(nowMs:)`), so it tracks the wall clock while staying monotonic and ahead of
/// every stamp the node has observed (Lamport). `node` breaks ties deterministically; two stamps
/// from the same node never tie because its clock strictly increases.
public struct Stamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Hybrid time, ms since the Unix epoch (wire: uint64).
    public var time: UInt64
    /// Id of the node that wrote the value (wire: string).
    public var node: String

    public init(time: UInt64, node: String) { self.time = time; self.node = node }

    public static func < (a: Stamp, b: Stamp) -> Bool {
        a.time != b.time ? a.time < b.time : a.node < b.node
    }

    public var description: String { "\(time)@\(node)" }
}

/// One backend in the cluster registry: last-writer-wins per backend id (`spec.id`).
///
/// Removal writes a tombstone (`removed = true`, newer stamp) rather than deleting the entry, so a
/// delayed or replayed older "add" cannot resurrect the backend; re-adding it later writes a newer
/// live record. Tombstones are dropped only by `ClusterState.gc(olderThanMs:)`.
public struct BackendRecord: Sendable, Equatable {
    /// Pool the backend serves in (wire: string).
    public var pool: String
    /// The backend (wire: nested message — id string, url string, weight double,
    /// max_concurrency int32, cost_input_per_million double, cost_output_per_million double).
    /// `spec.id` is the registry key.
    public var spec: Routing.BackendSpec
    /// A tombstone: the backend was removed (wire: bool).
    public var removed: Bool
    /// Who wrote this version, when (wire: time uint64 + node string).
    public var stamp: Stamp

    public init(pool: String, spec: Routing.BackendSpec, removed: Bool = false, stamp: Stamp) {
        self.pool = pool; self.spec = spec; self.removed = removed; self.stamp = stamp
    }

    /// The registry key.
    @inline(__always) public var id: String { spec.id }

    /// Whether `self` wins over `other` for the same id: the greater stamp; on equal stamps
    /// (only possible from a misbehaving writer) a tombstone, then the greater contents.
    public func supersedes(_ other: BackendRecord) -> Bool {
        if stamp != other.stamp { return stamp > other.stamp }
        return Order.chain([
            Order.compare(removed ? 1 : 0, other.removed ? 1 : 0),
            Order.compare(pool, other.pool),
            Order.compare(spec, other.spec),
        ]) > 0
    }
}

/// One observer's view of one backend's health; each observer writes only its own entries.
/// Merge: the greater `version` (then the worse status on a tie).
public struct HealthObservation: Sendable, Equatable {
    /// `.unknown` retracts the observation (the observer stopped probing this backend)
    /// (wire: enum UNKNOWN = 0, HEALTHY = 1, UNHEALTHY = 2).
    public var status: Routing.HealthStatus
    /// The observer's hybrid clock (ms) when it wrote this (wire: uint64).
    public var version: UInt64

    public init(status: Routing.HealthStatus, version: UInt64) { self.status = status; self.version = version }

    public func supersedes(_ other: HealthObservation) -> Bool {
        version != other.version ? version > other.version : status.rank > other.status.rank
    }
}

extension Routing.HealthStatus {
    /// Wire number and tie-break rank: unknown 0, healthy 1, unhealthy 2.
    public var rank: Int32 {
        switch self {
        case .unknown: 0
        case .healthy: 1
        case .unhealthy: 2
        }
    }

    /// The status for a wire number; unrecognised numbers read as `.unknown`.
    public init(rank: Int32) {
        switch rank {
        case 1: self = .healthy
        case 2: self = .unhealthy
        default: self = .unknown
        }
    }
}

/// One node's load summary: its own in-flight requests per backend. Each node writes only its own;
/// merge: the greater `version`.
public struct LoadSummary: Sendable, Equatable {
    /// The node's hybrid clock (ms) when it wrote this (wire: uint64).
    public var version: UInt64
    /// Backend id → requests this node has in flight to it; backends at 0 MAY be omitted
    /// (wire: map<string, int32>, or a repeated {backend_id, count} message).
    public var inFlight: [String: Int32]
    /// The node's wall clock (ms) when it measured; readers drop summaries older than their
    /// freshness bound. Assumes node clocks agree to well within that bound (NTP) (wire: uint64).
    public var atMs: UInt64

    public init(version: UInt64, inFlight: [String: Int32], atMs: UInt64) {
        self.version = version; self.inFlight = inFlight; self.atMs = atMs
    }

    public func supersedes(_ other: LoadSummary) -> Bool {
        if version != other.version { return version > other.version }
        if atMs != other.atMs { return atMs > other.atMs }
        return Order.compare(inFlight, other.inFlight) > 0
    }
}

/// A hot-prefix ownership override as the cluster shares it: while live, requests in `pool` whose
/// routing key is the override's prefix key choose among `targets` instead of their DualMap pair
/// (the cluster-wide form of `Routing.PrefixOverride`, which holds pool-local backend indices and
/// a numeric origin; the shell converts with `Routing.Pool.index(of:)`).
///
/// Versioned LWW per (pool, prefix key): the greater `version`, then the greater `origin` id.
/// Empty `targets` is a tombstone (the prefix cooled down).
public struct OwnershipOverride: Sendable, Equatable {
    /// Pool whose routing it overrides (wire: string). Part of the key.
    public var pool: String
    /// Backend ids to spread the prefix over; empty = tombstone (wire: repeated string).
    public var targets: [String]
    /// Writer's hybrid clock (ms); higher wins (wire: uint64).
    public var version: UInt64
    /// Id of the node that wrote it; breaks version ties (wire: string).
    public var origin: String
    /// Wall-clock ms after which readers ignore it even without a tombstone, so an override whose
    /// writer died does not live forever; 0 = never expires (wire: uint64).
    public var expiresAtMs: UInt64

    public init(pool: String, targets: [String], version: UInt64, origin: String, expiresAtMs: UInt64) {
        self.pool = pool; self.targets = targets; self.version = version; self.origin = origin
        self.expiresAtMs = expiresAtMs
    }

    @inline(__always) public var isTombstone: Bool { targets.isEmpty }

    /// Whether it routes at wall-clock `nowMs`: not a tombstone and not expired.
    @inline(__always)
    public func isLive(nowMs: UInt64) -> Bool { !targets.isEmpty && (expiresAtMs == 0 || nowMs < expiresAtMs) }

    public func supersedes(_ other: OwnershipOverride) -> Bool {
        if version != other.version { return version > other.version }
        if origin != other.origin { return origin > other.origin }
        return Order.chain([
            Order.compare(expiresAtMs, other.expiresAtMs),
            Order.compare(pool, other.pool),
            Order.compare(targets, other.targets),
        ]) > 0
    }
}

/// A generic per-node-owned entry (algorithms.md §5.5): only node `node` writes the entry at
/// (namespace, key, node), with increasing versions; merge = the greater version. The bandit layer
/// stores each node's sufficient-statistic deltas here and computes global = prior + Σ entries.
public struct OwnedEntry: Sendable, Equatable {
    /// The owner's hybrid clock (ms) when it wrote this (wire: uint64).
    public var version: UInt64
    /// Opaque to the cluster state; encoded by the owning layer (wire: bytes).
    public var payload: [UInt8]

    public init(version: UInt64, payload: [UInt8]) { self.version = version; self.payload = payload }

    public func supersedes(_ other: OwnedEntry) -> Bool {
        version != other.version ? version > other.version : Order.compare(payload, other.payload) > 0
    }
}

/// One replicated change: the unit of gossip, and (as `ClusterState.snapshot()`) of push-pull.
///
/// Each case carries its full key, so an update is self-contained. Suggested wire form: a message
/// with a `oneof` of one nested message per case, fields as documented on the payload types.
/// The ring epoch (`ClusterState.ringEpoch(pool:)`) is derived from the registry and has no case.
public enum ClusterUpdate: Sendable, Equatable {
    /// Backend registry entry, keyed by `record.spec.id`.
    case backend(BackendRecord)
    /// Observer `observer`'s view of backend `backendID`.
    case health(backendID: String, observer: String, HealthObservation)
    /// Node `node`'s load summary.
    case load(node: String, LoadSummary)
    /// Ownership override for routing key `prefix` in `override.pool`.
    case override(prefix: UInt64, OwnershipOverride)
    /// Node `node`'s entry under (`namespace`, `key`).
    case owned(namespace: String, key: String, node: String, OwnedEntry)
}

/// Deterministic three-way comparisons for the content tie-breaks above.
enum Order {
    @inline(__always)
    static func compare<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a == b ? 0 : 1) }

    /// The first non-zero comparison.
    static func chain(_ cs: [Int]) -> Int { cs.first { $0 != 0 } ?? 0 }

    static func compare<T: Comparable>(_ a: [T], _ b: [T]) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return compare(a.count, b.count)
    }

    static func compare(_ a: [String: Int32], _ b: [String: Int32]) -> Int {
        let sa = a.sorted { $0.key < $1.key }, sb = b.sorted { $0.key < $1.key }
        for (x, y) in zip(sa, sb) {
            if x.key != y.key { return x.key < y.key ? -1 : 1 }
            if x.value != y.value { return x.value < y.value ? -1 : 1 }
        }
        return compare(sa.count, sb.count)
    }

    /// Doubles compare by bit pattern: total, and stable across nodes.
    static func compare(_ a: Routing.BackendSpec, _ b: Routing.BackendSpec) -> Int {
        chain([
            compare(a.id, b.id),
            compare(a.url, b.url),
            compare(a.weight.bitPattern, b.weight.bitPattern),
            compare(a.maxConcurrency, b.maxConcurrency),
            compare(a.costInputPerMillion.bitPattern, b.costInputPerMillion.bitPattern),
            compare(a.costOutputPerMillion.bitPattern, b.costOutputPerMillion.bitPattern),
        ])
    }
}
