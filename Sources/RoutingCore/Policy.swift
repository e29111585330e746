import WRPCommon
import Workload

extension Routing {
    /// Why a backend was chosen; rendered as `reason` in `/v1/route` answers and metrics.
    public struct Reason: RawRepresentable, Sendable, Equatable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let roundRobin = Reason(rawValue: "round_robin")
        public static let random = Reason(rawValue: "random")
        public static let leastLoaded = Reason(rawValue: "least_loaded")
        public static let ringOwner = Reason(rawValue: "ring_owner")
        public static let ringSuccessor = Reason(rawValue: "ring_successor")
        public static let saturatedFallback = Reason(rawValue: "saturated_fallback")
        /// DualMap: the candidate with more expected cached prefix.
        public static let dualmapCache = Reason(rawValue: "dualmap_cache")
        /// DualMap: equal expected cache; the candidate with the lower predicted TTFT.
        public static let dualmapLoad = Reason(rawValue: "dualmap_load")
        /// DualMap: the cache-preferred candidate would miss the TTFT SLO; the other one.
        public static let dualmapSLO = Reason(rawValue: "dualmap_slo_switch")
        /// A hot prefix's ownership override.
        public static let hotOverride = Reason(rawValue: "hot_prefix_override")
        /// cache_aware: prefix match above the threshold.
        public static let cacheHit = Reason(rawValue: "cache_hit")
        /// cache_aware: no good match; least loaded.
        public static let cacheMiss = Reason(rawValue: "cache_miss")
        /// cache_aware: loads past the balance thresholds; least loaded.
        public static let imbalanced = Reason(rawValue: "imbalanced")
        /// weighted_scorer: highest weighted score.
        public static let weightedScore = Reason(rawValue: "weighted_score")
    }

    /// Up to four backend indices, inline (no allocation on the request path).
    public struct IndexList: Sendable, Equatable, Sequence {
        public private(set) var count = 0
        var a = 0, b = 0, c = 0, d = 0
        public static let capacity = 4

        public init() {}
        public init(_ xs: [Int]) { for x in xs { append(x) } }

        public mutating func append(_ x: Int) {
            switch count {
            case 0: a = x
            case 1: b = x
            case 2: c = x
            case 3: d = x
            default: return
            }
            count += 1
        }

        public subscript(i: Int) -> Int {
            precondition(i < count, "IndexList index \(i) out of range \(count)")
            switch i { case 0: return a; case 1: return b; case 2: return c; default: return d }
        }

        public func contains(_ x: Int) -> Bool {
            for i in 0..<count where self[i] == x { return true }
            return false
        }

        public var isFull: Bool { count == IndexList.capacity }

        public func makeIterator() -> AnyIterator<Int> {
            var i = 0
            let s = self
            return AnyIterator { defer { i += 1 }; return i < s.count ? s[i] : nil }
        }
    }

    /// A routing decision: where to send, where to retry, and why.
    public struct Decision: Sendable, Equatable {
        public var chosen: Int
        /// Retry order after `chosen` (bounded; filled by the pool if the policy gives fewer).
        public var fallbacks = IndexList()
        /// The candidates the policy weighed (e.g. DualMap's two ring owners).
        public var candidates = IndexList()
        public var reason: Reason

        public init(chosen: Int, reason: Reason, candidates: IndexList = IndexList(), fallbacks: IndexList = IndexList()) {
            self.chosen = chosen
            self.reason = reason
            self.candidates = candidates
            self.fallbacks = fallbacks
        }
    }

    /// Which backends may take a request now (healthy, not ejected, under max concurrency).
    public struct Eligibility {
        public var set: SmallBitSet
        public private(set) var count = 0

        public init(capacity: Int) { set = SmallBitSet(count: capacity) }

        @inline(__always) public func contains(_ i: Int) -> Bool { set.contains(i) }
        @inline(__always) public mutating func insert(_ i: Int) { set.insert(i); count += 1 }
    }

    /// What a policy needs besides the request: the time and the pool's seeded generator.
    public struct Context {
        public var now: Instant
        public var rng: SeededRandom

        public init(now: Instant, rng: SeededRandom) { self.now = now; self.rng = rng }
    }

    /// Something that happened to a routed request, for policies that learn (TTFT model,
    /// cache-aware trees, hot-prefix sketches).
    public enum Outcome: Sendable {
        /// The first response byte arrived after `ttft`.
        case firstToken(backend: Int, promptTokens: Int, ttft: Nanos)
        /// The request ended (`cachedTokens` from `usage.prompt_tokens_details` when reported).
        case finished(backend: Int, success: Bool, cachedTokens: Int?)
    }

    /// A routing policy: a pure state machine over a pool's backends.
    ///
    /// `rebuild` is called whenever the backend set or weights change (indices are stable: removed
    /// backends keep their index and are never eligible). `choose` MUST return an eligible index.
    public protocol Policy: Sendable {
        var name: PolicyName { get }
        mutating func rebuild(backends: [Backend])
        mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision
        mutating func observe(_ outcome: Outcome, workload: Workload?, backends: [Backend], now: Instant)
    }

    /// Policy names as written in config (`pools[].policy.name`).
    public enum PolicyName: String, Sendable, CaseIterable {
        case roundRobin = "round_robin"
        case random
        case leastLoaded = "least_loaded"
        case consistentHash = "consistent_hash"
        case dualmap
        case cacheAware = "cache_aware"
        case weightedScorer = "weighted_scorer"
    }

    /// Tunables shared by the policies; each documents its default.
    public struct PolicyParams: Sendable, Equatable {
        /// Blocks of prefix that form the affinity key (consistent_hash). Default 2: the first block
        /// is often a shared system prompt, which alone would send everything to one backend.
        public var prefixBlocks = 2
        /// Virtual nodes per unit of weight on hash rings. Default 160.
        public var virtualNodes = 160
        /// Tokens per prefix block (dualmap, cache_aware, weighted_scorer). Default 64 (256 bytes).
        public var blockTokens = 64
        /// TTFT SLO in ms (dualmap's switch). Default 5000.
        public var sloTTFTMs = 5000.0
        /// Prior prefill rate, tokens/s per backend, before TTFTs are observed (dualmap). Default 12000.
        public var prefillTokensPerSecond = 12_000.0
        /// EWMA weight of one observed TTFT in the learned prefill rate (dualmap). Default 0.1.
        public var ttftAlpha = 0.1
        /// DualMap treats two candidates' expected hit ratios as equal (→ lower predicted TTFT)
        /// when they differ by at most this fraction of the prompt. Default 0.1.
        public var cacheTieRatio = 0.1
        /// Longest key, in blocks, adaptive lengthening may reach (dualmap). Default 16.
        public var maxKeyBlocks = 16
        /// A prefix is hot when its traffic share exceeds hot_share / n (dualmap). Default 2.
        public var hotShare = 2.0
        /// Hot-prefix window in ms (dualmap). Default 10000.
        public var hotWindowMs = 10_000.0
        /// Entries (blocks) of the approximate prefix index shared by a pool's backends. Default
        /// 262144 (16M tokens at 64-token blocks, like sglang-router's 2^26-character tree).
        public var indexBlocks = 262_144
        /// cache_aware: route to the matched backend when match rate exceeds this. Default 0.5.
        public var cacheThreshold = 0.5
        /// cache_aware: imbalanced when max − min in-flight > abs AND max > min × rel. Defaults 32, 1.1.
        public var balanceAbsThreshold = 32.0
        public var balanceRelThreshold = 1.1
        /// weighted_scorer weights (llm-d defaults 3 / 2 / 2).
        public var prefixWeight = 3.0
        public var queueWeight = 2.0
        public var kvUsageWeight = 2.0

        public init() {}

        /// Sets the tunable named `key` (the YAML key under `pools[].policy`), so config loading
        /// needs no list of its own. Throws a message (without the field path) for unknown keys
        /// or bad values.
        public mutating func set(_ key: String, _ value: Double) throws(ParamError) {
            switch key {
            case "prefix_blocks":
                guard value >= 1, value <= 1024, value == value.rounded() else { throw .badValue("must be an integer in 1...1024") }
                prefixBlocks = Int(value)
            case "virtual_nodes":
                guard value >= 1, value <= 10_000, value == value.rounded() else { throw .badValue("must be an integer in 1...10000") }
                virtualNodes = Int(value)
            case "block_tokens":
                guard value >= 1, value <= 1_048_576, value == value.rounded() else { throw .badValue("must be an integer in 1...1048576") }
                blockTokens = Int(value)
            case "slo_ttft_ms":
                guard value > 0, value <= 3_600_000 else { throw .badValue("must be in (0, 3600000]") }
                sloTTFTMs = value
            case "prefill_tokens_per_s":
                guard value > 0, value.isFinite else { throw .badValue("must be > 0") }
                prefillTokensPerSecond = value
            case "ttft_alpha":
                guard value > 0, value <= 1 else { throw .badValue("must be in (0, 1]") }
                ttftAlpha = value
            case "cache_tie_ratio":
                guard value >= 0, value <= 1 else { throw .badValue("must be in [0, 1]") }
                cacheTieRatio = value
            case "max_key_blocks":
                guard value >= 1, value <= 4096, value == value.rounded() else { throw .badValue("must be an integer in 1...4096") }
                maxKeyBlocks = Int(value)
            case "hot_share":
                guard value > 0, value.isFinite else { throw .badValue("must be > 0") }
                hotShare = value
            case "hot_window_ms":
                guard value >= 1, value.isFinite else { throw .badValue("must be ≥ 1") }
                hotWindowMs = value
            case "index_blocks":
                guard value >= 1, value <= 268_435_456, value == value.rounded() else { throw .badValue("must be an integer in 1...268435456") }
                indexBlocks = Int(value)
            case "cache_threshold":
                guard value >= 0, value <= 1 else { throw .badValue("must be in [0, 1]") }
                cacheThreshold = value
            case "balance_abs_threshold":
                guard value >= 0, value.isFinite else { throw .badValue("must be ≥ 0") }
                balanceAbsThreshold = value
            case "balance_rel_threshold":
                guard value >= 1, value.isFinite else { throw .badValue("must be ≥ 1") }
                balanceRelThreshold = value
            case "prefix_weight", "queue_weight", "kv_usage_weight":
                guard value >= 0, value.isFinite else { throw .badValue("must be ≥ 0") }
                if key == "prefix_weight" { prefixWeight = value } else if key == "queue_weight" { queueWeight = value } else { kvUsageWeight = value }
            default:
                throw .unknownKey(Self.keys)
            }
        }

        /// Every key `set` accepts.
        public static let keys = ["prefix_blocks", "virtual_nodes", "block_tokens", "slo_ttft_ms", "prefill_tokens_per_s",
                                  "ttft_alpha", "cache_tie_ratio", "max_key_blocks", "hot_share", "hot_window_ms", "index_blocks",
                                  "cache_threshold", "balance_abs_threshold", "balance_rel_threshold",
                                  "prefix_weight", "queue_weight", "kv_usage_weight"]

        public enum ParamError: Error, Equatable {
            case unknownKey([String])
            case badValue(String)
        }
    }
}

extension Routing.Policy {
    public mutating func observe(_ outcome: Routing.Outcome, workload: Workload?, backends: [Routing.Backend], now: Instant) {}

    /// Hot-prefix ownership overrides this policy holds (live and tombstones), by prefix key;
    /// the node gossips the ones it originated. Policies without overrides have none.
    public var ownershipOverrides: [UInt64: Routing.PrefixOverride] { [:] }

    /// Applies a peer's override; returns whether it changed anything.
    public mutating func applyOverride(_ o: Routing.PrefixOverride, key: UInt64) -> Bool { false }
}

extension Routing {
    public enum PolicyError: Error, Equatable, CustomStringConvertible {
        case unknown(String)
        public var description: String {
            switch self {
            case .unknown(let n):
                return "unknown routing policy '\(n)' (known: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")))"
            }
        }
    }

    /// - Parameter origin: identifies this node in versioned state the policy shares (hot-prefix
    ///   overrides); e.g. a hash of the node id.
    public static func makePolicy(_ name: PolicyName, params: PolicyParams, origin: UInt64 = 0) -> any Policy {
        switch name {
        case .roundRobin: return RoundRobinPolicy()
        case .random: return RandomPolicy()
        case .leastLoaded: return LeastLoadedPolicy()
        case .consistentHash: return ConsistentHashPolicy(params: params)
        case .dualmap: return DualMapPolicy(params: params, origin: origin)
        case .cacheAware: return CacheAwarePolicy(params: params)
        case .weightedScorer: return WeightedScorerPolicy(params: params)
        }
    }
}
