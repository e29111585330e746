internal import Foundation
import RoutingCore
import WRPCommon
internal import Yams

/// Reads the node's YAML file (schema and defaults: docs/configuration.md) into a checked `Config`.
///
/// Strict on purpose: a misspelt key or an out-of-range value is an error naming the field
/// (`pools[0].backends[1].wieght: unknown key …`), never a silently kept default — a router that
/// quietly ignores `max_concurency` misbehaves only under load, long after start-up.
///
/// The YAML is composed into `Yams.Node`s and walked by hand rather than decoded with `Codable`,
/// because decoding errors cannot name the full path of an unknown key.
public enum ConfigLoader {
    /// Reads and parses the file at `path`; errors name the file when it cannot be read.
    public static func load(path: String) throws(ConfigError) -> Config {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(field: "", "cannot read config file '\(path)': no such file")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(field: "", "cannot read config file '\(path)': it is a directory")
        }
        guard let data = fm.contents(atPath: path) else {
            throw ConfigError(field: "", "cannot read config file '\(path)': permission denied or unreadable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(field: "", "cannot read config file '\(path)': not UTF-8 text")
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses YAML text; `source` names it in syntax errors (a file path, or "<string>").
    public static func parse(yaml: String, source: String = "<string>") throws(ConfigError) -> Config {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw syntaxError(error, source: source)
        }
        if let root, !root.isNull, root.mapping == nil {
            throw ConfigError(field: "", "\(source): the top level must be a mapping of sections (\(Keys.root.joined(separator: ", ")))")
        }
        let top = try YAMLFields(root, path: "", known: Keys.root)
        var config = Config()
        config.node = try readNode(top.mapping("node", known: Keys.node))
        config.server = try readServer(top.mapping("server", known: Keys.server))
        config.upstream = try readUpstream(top.mapping("upstream", known: Keys.upstream))
        config.health = try readHealth(top.mapping("health", known: Keys.health))
        config.routing = try readRouting(top.mapping("routing", known: Keys.routing))
        config.logging = try readLogging(top.mapping("logging", known: Keys.logging))
        config.cluster = try readCluster(top.mapping("cluster", known: Keys.cluster))
        config.pools = try readPools(top)
        try checkAcrossPools(config.pools)
        config.bandit = try readBandit(top.mapping("bandit", known: ModelChoiceKeys.bandit))
        config.decisions = try readDecisions(top, pools: config.pools)
        return config
    }

    /// Known keys per mapping, in the order the docs list them (and error messages repeat).
    enum Keys {
        static let root = ["node", "server", "upstream", "health", "routing", "logging", "cluster", "pools", "bandit", "decisions"]
        static let cluster = ["gossip", "advertise", "join", "preset", "keys", "label"]
        static let node = ["id", "http", "data_dir"]
        static let server = ["max_header_bytes", "max_body_bytes", "request_timeout_ms", "idle_timeout_ms",
                             "shutdown_grace_ms", "max_connections"]
        static let upstream = ["connect_timeout_ms", "first_byte_timeout_ms", "total_timeout_ms", "max_retries",
                               "max_idle_per_backend"]
        static let health = ["interval_ms", "timeout_ms", "unhealthy_threshold", "healthy_threshold",
                             "eject_after_errors", "eject_base_ms", "eject_max_ms", "scrape_metrics"]
        static let routing = ["block_bytes", "seed"]
        static let logging = ["level"]
        static let pool = ["name", "models", "policy", "backends"]
        static var policy: [String] { ["name"] + Routing.PolicyParams.keys }
        static let backend = ["id", "url", "weight", "max_concurrency", "cost"]
        static let cost = ["input_per_million", "output_per_million"]
    }

    /// Hash rings give a backend `virtual_nodes × weight` points, so an absurd weight would
    /// exhaust memory (or overflow) when the ring is built.
    static let maxWeight = 1_000.0

    // MARK: Sections

    private static func readNode(_ f: YAMLFields) throws(ConfigError) -> Config.NodeSection {
        var n = Config.NodeSection()
        if let id = try f.string("id") {
            if let problem = ConfigRules.nodeIDProblem(id) { throw ConfigError(field: f.field("id"), problem) }
            n.id = id
        }
        if let http = try f.string("http") {
            guard let hp = HostPort(parsing: http) else { throw ConfigError(field: f.field("http"), ConfigRules.listenMessage(http)) }
            n.http = hp
        }
        if let dir = try f.string("data_dir") {
            if let problem = ConfigRules.dataDirProblem(dir) { throw ConfigError(field: f.field("data_dir"), problem) }
            n.dataDir = dir
        }
        n.dataDir = n.dataDir ?? ConfigRules.defaultDataDir(id: n.id)
        return n
    }

    private static func readServer(_ f: YAMLFields) throws(ConfigError) -> Config.ServerSection {
        var s = Config.ServerSection()
        s.maxHeaderBytes = try f.int("max_header_bytes", .positive) ?? s.maxHeaderBytes
        s.maxBodyBytes = try f.int("max_body_bytes", .positive) ?? s.maxBodyBytes
        s.requestTimeout = try f.millis("request_timeout_ms") ?? s.requestTimeout
        s.idleTimeout = try f.millis("idle_timeout_ms") ?? s.idleTimeout
        s.shutdownGrace = try f.millis("shutdown_grace_ms") ?? s.shutdownGrace
        s.maxConnections = try f.int("max_connections", .positive) ?? s.maxConnections
        return s
    }

    private static func readUpstream(_ f: YAMLFields) throws(ConfigError) -> Config.UpstreamSection {
        var u = Config.UpstreamSection()
        u.connectTimeout = try f.millis("connect_timeout_ms") ?? u.connectTimeout
        u.firstByteTimeout = try f.millis("first_byte_timeout_ms") ?? u.firstByteTimeout
        u.totalTimeout = try f.millis("total_timeout_ms") ?? u.totalTimeout
        u.maxRetries = try f.int("max_retries", .nonNegative) ?? u.maxRetries
        u.maxIdlePerBackend = try f.int("max_idle_per_backend", .nonNegative) ?? u.maxIdlePerBackend
        return u
    }

    private static func readHealth(_ f: YAMLFields) throws(ConfigError) -> Routing.HealthSettings {
        var h = Routing.HealthSettings()
        h.interval = try f.millis("interval_ms") ?? h.interval
        h.timeout = try f.millis("timeout_ms") ?? h.timeout
        h.unhealthyThreshold = try f.int("unhealthy_threshold", .positive) ?? h.unhealthyThreshold
        h.healthyThreshold = try f.int("healthy_threshold", .positive) ?? h.healthyThreshold
        h.ejectAfterErrors = try f.int("eject_after_errors", .nonNegative) ?? h.ejectAfterErrors
        h.ejectBase = try f.millis("eject_base_ms") ?? h.ejectBase
        h.ejectMax = try f.millis("eject_max_ms") ?? h.ejectMax
        h.scrapeMetrics = try f.bool("scrape_metrics") ?? h.scrapeMetrics
        // Backoff doubles from eject_base up to eject_max; the other way round it would never grow.
        guard h.ejectMax >= h.ejectBase else {
            throw ConfigError(field: f.field("eject_max_ms"), "must be at least eject_base_ms (\(h.ejectBase / 1_000_000))")
        }
        return h
    }

    private static func readRouting(_ f: YAMLFields) throws(ConfigError) -> Config.RoutingSection {
        var r = Config.RoutingSection()
        r.blockBytes = try f.int("block_bytes", .range(16...65_536, "must be an integer in 16...65536")) ?? r.blockBytes
        r.seed = try f.uint64("seed") ?? r.seed
        return r
    }

    private static func readLogging(_ f: YAMLFields) throws(ConfigError) -> Config.LoggingSection {
        var l = Config.LoggingSection()
        if let level = try f.string("level") {
            guard ConfigRules.logLevels.contains(level) else {
                throw ConfigError(field: f.field("level"), "must be one of \(ConfigRules.logLevels.joined(separator: ", ")) (got '\(level)')")
            }
            l.level = level
        }
        return l
    }

    // MARK: Pools

    private static func readPools(_ top: YAMLFields) throws(ConfigError) -> [Config.PoolSection] {
        guard let node = top.node("pools") else {
            throw ConfigError(field: "pools", "required: list at least one pool with its models and backends")
        }
        guard !node.isNull else { throw ConfigError(field: "pools", "must list at least one pool") }
        let nodes = try top.sequence("pools") ?? []
        guard !nodes.isEmpty else { throw ConfigError(field: "pools", "must list at least one pool") }
        var pools: [Config.PoolSection] = []
        for (i, n) in nodes.enumerated() {
            pools.append(try readPool(n, path: "pools[\(i)]"))
        }
        return pools
    }

    private static func readPool(_ node: Yams.Node, path: String) throws(ConfigError) -> Config.PoolSection {
        let f = try YAMLFields(node, path: path, known: Keys.pool)
        let name = try YAMLFields.string(f.required("name"), field: f.field("name"))
        guard !name.isEmpty else { throw ConfigError(field: f.field("name"), "must be non-empty") }

        guard let modelNodes = try f.sequence("models") else {
            throw ConfigError(field: f.field("models"), "required: list the model names this pool serves")
        }
        guard !modelNodes.isEmpty else { throw ConfigError(field: f.field("models"), "must list at least one model") }
        var models: [String] = []
        for (k, m) in modelNodes.enumerated() {
            let field = "\(f.field("models"))[\(k)]"
            let model = try YAMLFields.string(m, field: field)
            guard !model.isEmpty else { throw ConfigError(field: field, "must be a non-empty model name") }
            // Requests with "model": "auto" ask wrp to choose; a pool serving "auto" would shadow that.
            guard model != "auto" else { throw ConfigError(field: field, "'auto' is reserved (requests use it to let wrp pick the model)") }
            models.append(model)
        }

        var pool = Config.PoolSection(name: name, models: models)
        if let policy = f.node("policy") {
            try readPolicy(policy, field: f.field("policy"), into: &pool)
        }

        guard let backendNodes = try f.sequence("backends") else {
            throw ConfigError(field: f.field("backends"), "required: list at least one backend")
        }
        guard !backendNodes.isEmpty else { throw ConfigError(field: f.field("backends"), "must list at least one backend") }
        for (j, b) in backendNodes.enumerated() {
            pool.backends.append(try readBackend(b, path: "\(f.field("backends"))[\(j)]"))
        }
        return pool
    }

    /// `policy: least_loaded`, or `policy: {name: consistent_hash, prefix_blocks: 2}`. Parameter
    /// keys come from `PolicyParams` itself, so a new tunable needs no change here.
    private static func readPolicy(_ node: Yams.Node, field: String, into pool: inout Config.PoolSection) throws(ConfigError) {
        switch node {
        case .scalar:
            pool.policy = try policyName(YAMLFields.string(node, field: field), field: field)
        case .mapping:
            let p = try YAMLFields(node, path: field, known: Keys.policy)
            pool.policy = try policyName(YAMLFields.string(p.required("name"), field: p.field("name")), field: p.field("name"))
            for (key, value) in p.present where key != "name" {
                let v = try YAMLFields.double(value, field: p.field(key), .any)
                do throws(Routing.PolicyParams.ParamError) {
                    try pool.params.set(key, v)
                } catch {
                    switch error {
                    case .badValue(let message):
                        throw ConfigError(field: p.field(key), message)
                    case .unknownKey(let keys):
                        throw ConfigError(field: p.field(key), YAMLFields.unknownKeyMessage(key, known: ["name"] + keys))
                    }
                }
            }
        case .sequence:
            throw ConfigError(field: field, "must be a policy name or a mapping {name: …, <parameter>: …}")
        }
    }

    private static func policyName(_ s: String, field: String) throws(ConfigError) -> Routing.PolicyName {
        guard let name = Routing.PolicyName(rawValue: s) else {
            throw ConfigError(field: field, Routing.PolicyError.unknown(s).description)
        }
        return name
    }

    private static func readBackend(_ node: Yams.Node, path: String) throws(ConfigError) -> Routing.BackendSpec {
        let f = try YAMLFields(node, path: path, known: Keys.backend)
        let id = try YAMLFields.string(f.required("id"), field: f.field("id"))
        // Backend ids go into response headers and metric labels: same alphabet as node ids.
        if let problem = ConfigRules.nodeIDProblem(id) { throw ConfigError(field: f.field("id"), problem) }
        let rawURL = try YAMLFields.string(f.required("url"), field: f.field("url"))
        let url: String
        switch ConfigRules.normalizedBackendURL(rawURL) {
        case .success(let u): url = u
        case .failure(let e): throw ConfigError(field: f.field("url"), e.message)
        }
        var spec = Routing.BackendSpec(id: id, url: url)
        spec.weight = try f.double("weight", .positive(atMost: maxWeight)) ?? spec.weight
        spec.maxConcurrency = try f.int("max_concurrency", .nonNegative) ?? spec.maxConcurrency
        let cost = try f.mapping("cost", known: Keys.cost)
        spec.costInputPerMillion = try cost.double("input_per_million", .nonNegative) ?? spec.costInputPerMillion
        spec.costOutputPerMillion = try cost.double("output_per_million", .nonNegative) ?? spec.costOutputPerMillion
        return spec
    }

    /// Pool names, backend ids and models must each be unique, or routing would be ambiguous:
    /// a model served by two pools, a backend id naming two servers.
    private static func checkAcrossPools(_ pools: [Config.PoolSection]) throws(ConfigError) {
        var poolIndex: [String: Int] = [:]
        var modelPool: [String: Int] = [:]
        var backendPath: [String: String] = [:]
        for (i, pool) in pools.enumerated() {
            if let first = poolIndex[pool.name] {
                throw ConfigError(field: "pools[\(i)].name", "duplicate pool name '\(pool.name)' (also pools[\(first)].name)")
            }
            poolIndex[pool.name] = i
            for (k, model) in pool.models.enumerated() {
                if let other = modelPool[model] {
                    let field = "pools[\(i)].models[\(k)]"
                    if other == i { throw ConfigError(field: field, "model '\(model)' is listed twice") }
                    throw ConfigError(field: field, "model '\(model)' is already served by pool '\(pools[other].name)' (pools[\(other)]); a model may appear in only one pool")
                }
                modelPool[model] = i
            }
            for (j, backend) in pool.backends.enumerated() {
                let here = "pools[\(i)].backends[\(j)]"
                if let first = backendPath[backend.id] {
                    throw ConfigError(field: here + ".id", "duplicate backend id '\(backend.id)' (also \(first).id); ids must be unique across all pools")
                }
                backendPath[backend.id] = here
            }
        }
    }

    // MARK: Syntax errors

    /// libyaml's problem text plus the position; the rest of `YamlError`'s description (the whole
    /// offending line with a caret) is left out to keep `--check-config` output to one line.
    private static func syntaxError(_ error: any Error, source: String) -> ConfigError {
        guard let y = error as? YamlError else {
            return ConfigError(field: "", "\(source): invalid YAML: \(error)")
        }
        switch y {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "\(source):\(mark.line):\(mark.column): invalid YAML: \(problem)"
            // Yams' wording for a second document reads backwards out of its context.
            if problem == "but found another document" {
                return ConfigError(field: "", message.dropLast(problem.count) + "a second document ('---') was found; the config must be one document")
            }
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return ConfigError(field: "", message)
        case .reader(let problem, let offset, _, _):
            return ConfigError(field: "", "\(source): invalid YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""))
        default:
            return ConfigError(field: "", "\(source): invalid YAML: \(y)")
        }
    }
}
