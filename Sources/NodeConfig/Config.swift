import BanditCore
import RoutingCore
import RulesCore
import WRPCommon

/// The whole node configuration (one YAML file; see docs/configuration.md).
///
/// Every field has a default so a minimal file names only pools and backends. Loading is strict:
/// unknown keys and bad values are errors that name the field (`ConfigError`).
public struct Config: Sendable, Equatable {
    public var node = NodeSection()
    public var server = ServerSection()
    public var upstream = UpstreamSection()
    public var health = Routing.HealthSettings()
    public var routing = RoutingSection()
    public var logging = LoggingSection()
    public var cluster = ClusterSection()
    public var pools: [PoolSection] = []
    /// Signal rules narrowing the eligible models (`decisions:`); empty = every model eligible.
    public var decisions: [RulesCore.RuleSpec] = []
    /// How `auto` chooses among eligible models (`bandit:`).
    public var bandit = BanditSettings()

    public init() {}

    public struct NodeSection: Sendable, Equatable {
        /// Unique node id in the cluster. Default: "wrpd-" + hostname is NOT used; default "node-1".
        public var id = "node-1"
        /// HTTP listen address `HOST:PORT`; port 0 picks a free port. Default 127.0.0.1:8080.
        public var http = HostPort(host: "127.0.0.1", port: 8080)
        /// Where durable state and the `ports` file live. Default "data/<id>" (resolved at load).
        public var dataDir: String? = nil
        public init() {}
    }

    public struct ServerSection: Sendable, Equatable {
        /// Request line + headers larger than this → 431. Default 16 KiB.
        public var maxHeaderBytes = 16 * 1024
        /// Request bodies larger than this → 413. Default 8 MiB.
        public var maxBodyBytes = 8 * 1024 * 1024
        /// A request must arrive completely within this time of its first byte → else 408. Default 30 s.
        public var requestTimeout: Nanos = .ms(30_000)
        /// Idle keep-alive connections are closed after this. Default 60 s.
        public var idleTimeout: Nanos = .ms(60_000)
        /// On SIGINT/SIGTERM, in-flight requests get this long to finish. Default 10 s.
        public var shutdownGrace: Nanos = .ms(10_000)
        /// Open client connections above this are refused. Default 10000.
        public var maxConnections = 10_000
        public init() {}
    }

    public struct UpstreamSection: Sendable, Equatable {
        /// TCP connect timeout. Default 1 s.
        public var connectTimeout: Nanos = .ms(1_000)
        /// Time from sending the request to the first response byte. Default 60 s (prefill of long prompts).
        public var firstByteTimeout: Nanos = .ms(60_000)
        /// Whole exchange. Default 600 s (long generations).
        public var totalTimeout: Nanos = .ms(600_000)
        /// Further backends tried when connecting fails or a 5xx arrives before any byte reached the client. Default 2.
        public var maxRetries = 2
        /// Idle keep-alive connections kept per backend. Default 64.
        public var maxIdlePerBackend = 64
        public init() {}
    }

    public struct RoutingSection: Sendable, Equatable {
        /// Prefix block size in bytes of canonical prompt text. Default 256 (≈ 64 tokens).
        public var blockBytes = 256
        /// Seed for routing randomness (tie-breaks, `random`). Default 0 = derived from node id.
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct LoggingSection: Sendable, Equatable {
        /// trace, debug, info, notice, warning, error, critical. Default info.
        public var level = "info"
        public init() {}
    }

    /// Gossip membership and shared state (docs/cluster.md). Without `gossip` the node runs alone.
    public struct ClusterSection: Sendable, Equatable {
        /// UDP and TCP gossip address `HOST:PORT` (port 0 picks one). Default: none (standalone).
        public var gossip: HostPort? = nil
        /// The gossip address peers use to reach this node, when it differs from `gossip` (a
        /// wildcard bind, NAT, container names). Names are resolved by the peers.
        public var advertise: String? = nil
        /// Gossip addresses of existing members to join through.
        public var join: [String] = []
        /// Timer preset: `lan` (memberlist defaults) or `local` (fast, for tests on one machine).
        public var preset = "lan"
        /// Base64 AES keys (16/24/32 bytes); the first seals, all open. Required with `gossip`.
        public var keys: [String] = []
        /// Optional cluster label, authenticated in every packet (keeps clusters apart).
        public var label = ""
        public init() {}
    }

    public struct PoolSection: Sendable, Equatable {
        public var name: String
        /// Models this pool serves (matched against the request's `model`).
        public var models: [String]
        public var policy: Routing.PolicyName = .leastLoaded
        public var params = Routing.PolicyParams()
        public var backends: [Routing.BackendSpec] = []

        public init(name: String, models: [String]) {
            self.name = name
            self.models = models
        }
    }
}

/// `HOST:PORT`.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) { self.host = host; self.port = port }

    /// Parses "HOST:PORT" or ":PORT" (host 0.0.0.0) or "[v6]:PORT".
    public init?(parsing s: String) {
        guard let colon = s.lastIndex(of: ":") else { return nil }
        var h = String(s[..<colon])
        guard let p = Int(s[s.index(after: colon)...]), (0...65535).contains(p) else { return nil }
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        host = h.isEmpty ? "0.0.0.0" : h
        port = p
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A configuration problem, naming the field (`pools[0].backends[1].url`).
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, _ message: String) { self.field = field; self.message = message }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
