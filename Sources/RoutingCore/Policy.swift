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
    }

    /// Tunables shared by the policies; each documents its default.
    public struct PolicyParams: Sendable, Equatable {
        /// Blocks of prefix that form the affinity key (consistent_hash). Default 2: the first block
        /// is often a shared system prompt, which alone would send everything to one backend.
        public var prefixBlocks = 2
        /// Virtual nodes per unit of weight on hash rings. Default 160.
        public var virtualNodes = 160

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
            default:
                throw .unknownKey(Self.keys)
            }
        }

        /// Every key `set` accepts.
        public static let keys = ["prefix_blocks", "virtual_nodes"]

        public enum ParamError: Error, Equatable {
            case unknownKey([String])
            case badValue(String)
        }
    }
}

extension Routing.Policy {
    public mutating func observe(_ outcome: Routing.Outcome, workload: Workload?, backends: [Routing.Backend], now: Instant) {}
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

    public static func makePolicy(_ name: PolicyName, params: PolicyParams) -> any Policy {
        switch name {
        case .roundRobin: return RoundRobinPolicy()
        case .random: return RandomPolicy()
        case .leastLoaded: return LeastLoadedPolicy()
        case .consistentHash: return ConsistentHashPolicy(params: params)
        }
    }
}
