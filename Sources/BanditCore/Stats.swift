import WRPCommon

/// Namespace for the model-choice bandits: policies, sufficient statistics and their merge.
public enum Bandit {}

extension Bandit {
    /// One arm in one context: the model chosen for a kind of request.
    public struct ArmKey: Hashable, Comparable, Sendable, CustomStringConvertible {
        /// The request context (e.g. the matched rule, or a signal bucket); "*" for none.
        public var context: String
        public var model: String

        public init(context: String, model: String) { self.context = context; self.model = model }

        public static func < (a: ArmKey, b: ArmKey) -> Bool {
            a.context != b.context ? a.context < b.context : a.model < b.model
        }

        public var description: String { "\(context)/\(model)" }
    }

    /// Sufficient statistics of one arm: sums over observations, so entries from several nodes
    /// add up exactly (algorithms.md §5.5). Never includes a prior: the prior is added once,
    /// when a policy reads the global view.
    public struct Suff: Equatable, Sendable {
        /// Observations (a Double so weighted or decayed counts stay possible).
        public var n = 0.0
        public var sumReward = 0.0
        public var sumSquaredReward = 0.0
        /// Σ cost (USD) and Σ latency (ms), for expected cost (budgets) and reports.
        public var sumCost = 0.0
        public var sumLatencyMs = 0.0
        /// Σ x xᵀ (row-major d×d) and Σ r·x over the context features; empty when d = 0.
        public var xx: [Double] = []
        public var xr: [Double] = []

        public init() {}

        public init(dimension d: Int) {
            xx = Array(repeating: 0, count: d * d)
            xr = Array(repeating: 0, count: d)
        }

        public var dimension: Int { xr.count }
        public var meanReward: Double { n > 0 ? sumReward / n : 0 }
        public var meanCost: Double? { n > 0 ? sumCost / n : nil }

        /// Adds one observation. Non-empty features `x` MUST have this entry's dimension (an
        /// entry without linear sums takes `x`'s); empty features update only the scalar sums.
        public mutating func add(reward r: Double, cost: Double, latencyMs: Double, features x: [Double]) {
            n += 1
            sumReward += r
            sumSquaredReward += r * r
            sumCost += cost
            sumLatencyMs += latencyMs
            if x.isEmpty { return }
            if dimension == 0 { xx = Array(repeating: 0, count: x.count * x.count); xr = Array(repeating: 0, count: x.count) }
            precondition(x.count == dimension, "feature dimension \(x.count) != \(dimension)")
            let d = x.count
            for i in 0..<d {
                xr[i] += r * x[i]
                for j in 0..<d { xx[i * d + j] += x[i] * x[j] }
            }
        }

        /// Element-wise sum (dimensions MUST agree unless one side is empty).
        public mutating func add(_ o: Suff) {
            n += o.n
            sumReward += o.sumReward
            sumSquaredReward += o.sumSquaredReward
            sumCost += o.sumCost
            sumLatencyMs += o.sumLatencyMs
            if o.dimension == 0 { return }
            if dimension == 0 { xx = o.xx; xr = o.xr; return }
            precondition(o.dimension == dimension, "merging dimension \(o.dimension) into \(dimension)")
            for i in 0..<xx.count { xx[i] += o.xx[i] }
            for i in 0..<xr.count { xr[i] += o.xr[i] }
        }
    }

    /// One node's own contribution: only `node` writes it, and each change bumps `version`.
    /// Replicas keep, per node, the entry with the highest version (a state-based CRDT:
    /// merge is commutative, associative and idempotent); the global view is prior + Σ entries.
    public struct NodeStats: Equatable, Sendable {
        public var node: String
        public var version: UInt64
        public var stats: [ArmKey: Suff]

        public init(node: String, version: UInt64 = 0, stats: [ArmKey: Suff] = [:]) {
            self.node = node
            self.version = version
            self.stats = stats
        }

        /// Whether `self` wins over `other` for the same node: higher version, and on a tie
        /// (which only a misbehaving writer produces) the larger encoding, so that every replica
        /// picks the same one.
        public func supersedes(_ other: NodeStats) -> Bool {
            if version != other.version { return version > other.version }
            return KeyBytes.less(other.encoded(), encoded())
        }
    }

    /// The replicated map node → entry.
    public struct ClusterStats: Equatable, Sendable {
        public private(set) var entries: [String: NodeStats] = [:]

        public init() {}
        public init(_ entries: [NodeStats]) { for e in entries { _ = merge(e) } }

        /// Keeps `entry` when it supersedes what is held for its node; returns whether it did.
        @discardableResult
        public mutating func merge(_ entry: NodeStats) -> Bool {
            if let held = entries[entry.node], !entry.supersedes(held) { return false }
            entries[entry.node] = entry
            return true
        }

        /// Merges every entry of `other`.
        public mutating func merge(_ other: ClusterStats) {
            for e in other.entries.values { merge(e) }
        }

        public func merged(with other: ClusterStats) -> ClusterStats {
            var m = self
            m.merge(other)
            return m
        }

        /// Σ over entries (no prior), summed in node order so every replica gets the same bits.
        public func total() -> [ArmKey: Suff] {
            var out: [ArmKey: Suff] = [:]
            for node in entries.keys.sorted() {
                for (k, s) in entries[node]!.stats { out[k, default: Suff()].add(s) }
            }
            return out
        }
    }
}

/// Bytewise comparison used for deterministic tie-breaks.
enum KeyBytes {
    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        for i in 0..<min(a.count, b.count) where a[i] != b[i] { return a[i] < b[i] }
        return a.count < b.count
    }
}

// MARK: Encoding (persistence in RocksDB and gossip payloads)

extension Bandit.NodeStats {
    public enum DecodeError: Error, Equatable, Sendable { case truncated, badMagic, badDimension }

    static let magic: UInt8 = 0xB1

    /// A self-contained binary form: magic, node, version, then arms in key order (so equal
    /// entries encode to equal bytes). Little-endian; doubles as IEEE-754 bit patterns.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.magic]
        Self.putString(node, &out)
        Self.putU64(version, &out)
        Self.putU64(UInt64(stats.count), &out)
        for key in stats.keys.sorted() {
            let s = stats[key]!
            Self.putString(key.context, &out)
            Self.putString(key.model, &out)
            for v in [s.n, s.sumReward, s.sumSquaredReward, s.sumCost, s.sumLatencyMs] { Self.putU64(v.bitPattern, &out) }
            Self.putU64(UInt64(s.dimension), &out)
            for v in s.xx { Self.putU64(v.bitPattern, &out) }
            for v in s.xr { Self.putU64(v.bitPattern, &out) }
        }
        return out
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = Reader(bytes: bytes)
        guard try r.byte() == Self.magic else { throw .badMagic }
        let node = try r.string()
        let version = try r.u64()
        let count = try r.u64()
        guard count <= UInt64(bytes.count) else { throw .truncated }
        var stats: [Bandit.ArmKey: Bandit.Suff] = [:]
        for _ in 0..<count {
            let key = Bandit.ArmKey(context: try r.string(), model: try r.string())
            var s = Bandit.Suff()
            s.n = try r.double(); s.sumReward = try r.double(); s.sumSquaredReward = try r.double()
            s.sumCost = try r.double(); s.sumLatencyMs = try r.double()
            let d = try r.u64()
            guard d <= 64 else { throw .badDimension }
            s.xx = try (0..<(d * d)).map { _ throws(DecodeError) in try r.double() }
            s.xr = try (0..<d).map { _ throws(DecodeError) in try r.double() }
            stats[key] = s
        }
        guard r.pos == bytes.count else { throw .truncated }
        self.init(node: node, version: version, stats: stats)
    }

    static func putU64(_ v: UInt64, _ out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    static func putString(_ s: String, _ out: inout [UInt8]) {
        let u = Array(s.utf8)
        putU64(UInt64(u.count), &out)
        out.append(contentsOf: u)
    }

    struct Reader {
        let bytes: [UInt8]
        var pos = 0

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard pos < bytes.count else { throw .truncated }
            pos += 1
            return bytes[pos - 1]
        }

        mutating func u64() throws(DecodeError) -> UInt64 {
            guard pos + 8 <= bytes.count else { throw .truncated }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            return v
        }

        mutating func double() throws(DecodeError) -> Double { Double(bitPattern: try u64()) }

        mutating func string() throws(DecodeError) -> String {
            let n = try u64()
            guard n <= UInt64(bytes.count - pos) else { throw .truncated }
            let s = String(decoding: bytes[pos..<(pos + Int(n))], as: UTF8.self)
            pos += Int(n)
            return s
        }
    }
}
