import WRPCommon

/// Namespace for the routing core: pools, backends, health, policies. Pure: no I/O, no clock.
public enum Routing {}

extension Routing {
    /// Static description of one backend, from config or `POST /admin/backends`.
    public struct BackendSpec: Sendable, Equatable, Hashable {
        public var id: String
        /// Base URL, `http://host:port` (no path).
        public var url: String
        /// Relative capacity; scales virtual nodes on hash rings. Default 1.
        public var weight: Double
        /// Most requests this node sends to it at once; 0 = unlimited.
        public var maxConcurrency: Int
        /// Price per million input / output tokens (for cost-aware choice and reports).
        public var costInputPerMillion: Double
        public var costOutputPerMillion: Double

        public init(id: String, url: String, weight: Double = 1, maxConcurrency: Int = 0,
                    costInputPerMillion: Double = 0, costOutputPerMillion: Double = 0) {
            self.id = id; self.url = url; self.weight = weight; self.maxConcurrency = maxConcurrency
            self.costInputPerMillion = costInputPerMillion; self.costOutputPerMillion = costOutputPerMillion
        }
    }

    /// Live load of one backend, as known to this node.
    public struct BackendLoad: Sendable, Equatable {
        /// Requests this node has sent and not yet seen finish (exact, updated as they start/end).
        public var inFlight = 0
        /// Sum of peers' in-flight counts for this backend (from gossip; 0 on a single node).
        public var peerInFlight = 0
        /// Prompt tokens this node sent whose first token has not arrived yet (TTFT model input).
        public var pendingPrefillTokens = 0
        /// Scraped from the backend's `/metrics` when it has vLLM's gauges; nil otherwise.
        public var scrapedWaiting: Int?
        public var scrapedRunning: Int?
        public var scrapedKVUsage: Double?

        public init() {}

        /// The number policies compare: live in-flight from every node.
        @inline(__always) public var total: Int { inFlight + peerInFlight }
    }

    /// One backend as the router sees it: spec, health, load.
    public struct Backend: Sendable {
        public var spec: BackendSpec
        public var health: BackendHealth
        public var load = BackendLoad()
        /// Removed backends keep their index (in-flight requests refer to it) but take no traffic.
        public var removed = false

        public init(spec: BackendSpec, health: BackendHealth) {
            self.spec = spec
            self.health = health
        }
    }
}
