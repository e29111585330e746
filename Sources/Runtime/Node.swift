import Foundation
import HTTP
import LibUV
import Logging
import BanditCore
import MembershipCore
import NodeConfig
import RulesCore
import Storage
import NodeCore
import RoutingCore
import WRPCommon
import Workload

/// A wrpd node: one libuv loop serving the HTTP API, proxying to backends, probing their health.
///
/// Everything runs on the loop thread; the routing decisions themselves live in `Routing.Pool`
/// (pure). This class only moves bytes, keeps timers, and reports events to the pools.
public final class Node {
    public let config: Config
    let logger: Logger
    public let loop: UVLoop
    let nodeID: String
    var server: HTTPServer!
    var pools: [Routing.Pool] = []
    var upstreams: [[UpstreamPool]] = []
    var modelToPool: [String: Int] = [:]
    let metrics = NodeMetrics()
    var parser: WorkloadParser
    var health: HealthChecker!
    var calls: [ObjectIdentifier: ProxyCall] = [:]
    var signals: [UVSignal] = []
    var decisionCounter: UInt64 = 0
    public private(set) var httpAddress: SocketAddress?
    public private(set) var draining = false
    var cluster: ClusterAgent?
    var store: NodeStore?
    var chooser: ModelChooser?
    var housekeepingTimer: UVTimer?
    var lastExpiryMs: UInt64 = 0
    /// Run-time backend records restored from disk (re-announced to the cluster after joining).
    var restoredBackends: [BackendRecord] = []
    var workSplit = WorkSplit(routerNodes: [])
    /// Hot-prefix override versions already gossiped, per pool and prefix key.
    var sentOverrides: [String: [UInt64: UInt64]] = [:]
    let startedAt = Date()

    public init(config: Config, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.nodeID = config.node.id
        self.loop = try UVLoop()
        parser = WorkloadParser(blockBytes: config.routing.blockBytes)
        let seed = config.routing.seed != 0 ? config.routing.seed : Hash64.hash(config.node.id, seed: Hash64.seedA)
        for (pi, p) in config.pools.enumerated() {
            let policy = Routing.makePolicy(p.policy, params: p.params, origin: Node.origin(config.node.id))
            pools.append(Routing.Pool(name: p.name, models: p.models, specs: p.backends, policy: policy,
                                      health: config.health, seed: seed &+ UInt64(pi)))
            upstreams.append(try p.backends.map { try makeUpstream($0) })
            for m in p.models { modelToPool[m] = pi }
        }
        // Rules were validated when the config loaded; compiling again cannot fail.
        let rules = (try? Rules.compile(config.decisions)) ?? .empty
        chooser = ModelChooser(node: config.node.id, settings: config.bandit, rules: rules, seed: seed ^ 0xB4D1)
    }

    /// This node's id as the origin of versioned policy state (hot-prefix overrides).
    static func origin(_ nodeID: String) -> UInt64 { Hash64.hash(nodeID, seed: Hash64.seedA) }

    func makeUpstream(_ spec: Routing.BackendSpec) throws -> UpstreamPool {
        guard let url = BackendURL(spec.url) else {
            throw ConfigError(field: "backends[\(spec.id)].url", "not an http://host:port URL: \(spec.url)")
        }
        return UpstreamPool(loop: loop, url: url, maxIdle: config.upstream.maxIdlePerBackend)
    }

    var now: Instant { Instant(nanoseconds: UVLoop.hrtime()) }

    /// Binds the HTTP port, writes `<data-dir>/ports`, starts probes and signal handling.
    public func start() throws {
        let dataDir = config.node.dataDir ?? "data/\(nodeID)"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let store = try NodeStore(path: dataDir + "/db", loop: loop, logger: logger)
        self.store = store
        // Wall-clock milliseconds as the floor of the incarnation: a restarted node comes back
        // with a higher one than it had even if its data dir was lost.
        let incarnation = try store.claimIdentity(nodeID: nodeID, floor: ClusterAgent.wallMs)
        restoreDurableState(store)
        var s = HTTPServerSettings()
        s.maxHeaderBytes = config.server.maxHeaderBytes
        s.maxBodyBytes = config.server.maxBodyBytes
        s.requestTimeoutMs = config.server.requestTimeout / 1_000_000
        s.idleTimeoutMs = config.server.idleTimeout / 1_000_000
        s.maxConnections = config.server.maxConnections
        let server = HTTPServer(loop: loop, settings: s) { [unowned self] ex in self.handle(ex) }
        server.onProtocolError = { [unowned self] status in self.metrics.protocolErrors[status, default: 0] &+= 1 }
        self.server = server
        let http = config.node.http
        let addr: SocketAddress
        do {
            addr = try server.listen(host: http.host, port: http.port)
        } catch {
            throw NodeError.bind("cannot listen on \(http): \(error.message)")
        }
        httpAddress = addr
        logger.info("listening", metadata: ["http": "\(addr)", "node.id": "\(nodeID)",
                                            "pools": "\(pools.map(\.name).joined(separator: ","))"])
        workSplit = WorkSplit(routerNodes: [nodeID])
        if let g = config.cluster.gossip {
            var cc = config.cluster
            // Last known members are extra seeds: a restarted node finds the cluster even when
            // its configured seeds are gone.
            for a in store.knownMemberAddresses(excluding: nodeID) where !cc.join.contains(a) { cc.join.append(a) }
            let agent = try ClusterAgent(node: self, config: cc, gossip: g, incarnation: incarnation,
                                         meta: Array("\(addr)".utf8), logger: logger)
            cluster = agent
            for r in restoredBackends { _ = agent.state.apply(.backend(r)) }
            if let chooser { _ = agent.state.putOwned(namespace: ModelChooser.namespace, key: ModelChooser.statsKey,
                                                      payload: chooser.learner.own.encoded(), nowMs: ClusterAgent.wallMs) }
            logger.info("gossip listening", metadata: ["gossip": "\(agent.address)", "join": "\(config.cluster.join.joined(separator: ","))"])
            agent.start()
        }
        // Written once every port is bound: readers wait for the file, not for its lines.
        try writePortsFile(http: addr, gossip: cluster?.address)
        health = HealthChecker(node: self)
        health.start()
        let housekeeping = UVTimer(loop: loop)
        housekeeping.start(afterMs: 1_000, repeatMs: 1_000) { [unowned self] in self.housekeeping() }
        housekeeping.unref()
        housekeepingTimer = housekeeping
        for sig in [SIGINT, SIGTERM] {
            signals.append(try UVSignal(loop: loop, signal: sig) { [unowned self] s in
                self.logger.notice("signal received; draining", metadata: ["signal": "\(s)"])
                self.shutdown()
            })
        }
    }

    public enum NodeError: Error, CustomStringConvertible {
        case bind(String)
        case dataDir(String)
        case config(String)
        public var description: String {
            switch self { case .bind(let m), .dataDir(let m), .config(let m): return m }
        }
    }

    func writePortsFile(http: SocketAddress, gossip: String? = nil) throws {
        let dir = config.node.dataDir ?? "data/\(nodeID)"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var text = "http=\(http)\n"
            if let gossip { text += "gossip=\(gossip)\n" }
            let tmp = dir + "/ports.tmp"
            try text.write(toFile: tmp, atomically: false, encoding: .utf8)
            _ = rename(tmp, dir + "/ports")
        } catch {
            throw NodeError.dataDir("cannot write \(dir)/ports: \(error.localizedDescription)")
        }
    }

    /// Runs the loop until shutdown completes.
    public func run() { loop.run() }

    /// Stops accepting, lets in-flight requests finish within the grace period, then stops.
    public func shutdown() {
        guard !draining else { return }
        draining = true
        health?.stop()
        for s in signals { s.close() }
        signals.removeAll()
        if let agent = cluster {
            // Leave first (peers mark us `left`, not dead), then drain the HTTP side.
            agent.leave(gossipMs: 500) { [unowned self] in self.drainHTTP() }
        } else {
            drainHTTP()
        }
    }

    func drainHTTP() {
        server.shutdown(graceMs: config.server.shutdownGrace / 1_000_000) { [unowned self] in
            for call in Array(self.calls.values) { call.clientGone() }
            for ups in self.upstreams { for u in ups { u.closeAll() } }
            self.flushBanditStats()
            self.housekeepingTimer?.close()
            self.store?.close()
            self.logger.notice("stopped", metadata: ["node.id": "\(self.nodeID)"])
            self.loop.stop()
        }
    }

    // MARK: dispatch

    func handle(_ ex: HTTPExchange) {
        let r = ex.request
        switch r.method {
        case .post:
            if r.pathIs("/v1/chat/completions") { return proxy(ex, kind: .chat, route: .chatCompletions) }
            if r.pathIs("/v1/completions") { return proxy(ex, kind: .completion, route: .completions) }
            if r.pathIs("/v1/route") { return routeOnly(ex) }
            if r.pathIs("/admin/backends") { return addBackend(ex) }
            if r.pathIs("/admin/drain") { return drain(ex) }
            if r.pathIs("/v1/feedback") { return feedback(ex) }
        case .get:
            if r.pathIs("/healthz") { return simple(ex, .healthz, 200, #"{"status":"ok"}"#) }
            if r.pathIs("/readyz") { return readyz(ex) }
            if r.pathIs("/metrics") { return renderMetrics(ex) }
            if r.pathIs("/v1/models") { return models(ex) }
            if r.pathIs("/admin/pools") { return adminPools(ex) }
            if r.pathIs("/admin/members") { return adminMembers(ex) }
            if r.pathIs("/admin/ring") { return adminRing(ex) }
            if r.pathIs("/admin/bandit") { return adminBandit(ex) }
        case .delete:
            if let id = r.pathSuffix(after: "/admin/backends/") { return removeBackend(ex, id: id) }
        default: break
        }
        let allowed = allowedMethods(r)
        if let allowed {
            answerError(ex, .other, 405, "method not allowed for \(r.path); use \(allowed)", "invalid_request_error",
                        "method_not_allowed", extra: [("allow", allowed)])
        } else {
            answerError(ex, .other, 404, "no route for \(r.path)", "invalid_request_error", "not_found")
        }
    }

    func allowedMethods(_ r: HTTPRequest) -> String? {
        for p: StaticString in ["/v1/chat/completions", "/v1/completions", "/v1/route", "/v1/feedback"] where r.pathIs(p) { return "POST" }
        for p: StaticString in ["/healthz", "/readyz", "/metrics", "/v1/models", "/admin/pools", "/admin/members", "/admin/ring", "/admin/bandit"]
            where r.pathIs(p) { return "GET" }
        if r.pathIs("/admin/backends") || r.pathIs("/admin/drain") { return "POST" }
        if r.pathSuffix(after: "/admin/backends/") != nil { return "DELETE" }
        return nil
    }

    func simple(_ ex: HTTPExchange, _ route: RouteLabel, _ status: Int, _ body: String) {
        respondJSON(ex, route, status, Array(body.utf8))
    }

    /// Answers with a JSON body and counts the request.
    func respondJSON(_ ex: HTTPExchange, _ route: RouteLabel, _ status: Int, _ body: [UInt8]) {
        ex.respond(status: status, body: body)
        metrics.request(route: route, status: status, backend: "", seconds: Double(UVLoop.hrtime() &- ex.receivedAtNs) / 1e9)
    }

    func answerError(_ ex: HTTPExchange, _ route: RouteLabel, _ status: Int, _ message: String, _ type: String, _ code: String,
                     extra: [(StaticString, String)] = []) {
        var headers = extra
        headers.append(("x-wrp-node", nodeID))
        ex.respondError(status: status, message: message, type: type, code: code, extraHeaders: headers)
        metrics.request(route: route, status: status, backend: "", seconds: Double(UVLoop.hrtime() &- ex.receivedAtNs) / 1e9)
    }

    // MARK: routing

    /// Parses the body, picks the pool and a backend; on failure answers the client and returns nil.
    /// A routed request: where it goes, and for `auto` the chosen model and rewritten body.
    struct Routed {
        var pool: Int
        var workload: Workload
        var decision: Routing.Decision
        var decisionID: String
        /// The body to forward when it differs from the client's (`auto` → a real model).
        var body: [UInt8]?
        /// Set when the bandit chose the model.
        var choice: ChoiceRecord?
    }

    func decide(_ ex: HTTPExchange, kind: RequestKind, route: RouteLabel) -> Routed? {
        if draining {
            answerError(ex, route, 503, "node is draining", "server_error", "draining")
            return nil
        }
        var w: Workload
        do {
            w = try parser.parse(ex.request.body, kind: kind)
        } catch {
            answerError(ex, route, 400, error.description, "invalid_request_error", "invalid_body")
            return nil
        }
        let pi: Int
        var decisionID: String? = nil
        var body: [UInt8]? = nil
        var choice: ChoiceRecord? = nil
        if w.model == "auto" {
            let headers = ex.request.headers
            let budget = headers.value("x-wrp-max-cost").flatMap(Double.init)
            guard let (model, id, record) = chooseModel(w, body: ex.request.body, kind: kind, tier: headers.value("x-wrp-tier"), budget: budget),
                  let p = modelToPool[model] else {
                answerError(ex, route, 503, "no eligible model for this request", "server_error", "no_eligible_model")
                return nil
            }
            pi = p
            decisionID = id
            choice = record
            // The backend must see the model it serves; prefix hashes are seeded by that model too.
            if let rewritten = Node.replacingModel(in: ex.request.body, with: model),
               let rw = try? parser.parse(rewritten, kind: kind) {
                body = rewritten
                w = rw
            }
        } else if let m = w.model {
            guard let p = modelToPool[m] else {
                answerError(ex, route, 404, "model '\(m)' is not served by any pool (see GET /v1/models)",
                            "invalid_request_error", "model_not_found")
                return nil
            }
            pi = p
        } else {
            pi = 0
        }
        let t0 = UVLoop.hrtime()
        let result = pools[pi].decide(w, now: now)
        metrics.decisionTime.observe(Double(UVLoop.hrtime() &- t0) / 1e9)
        switch result {
        case .success(let d):
            metrics.decisions[d.reason.rawValue, default: 0] &+= 1
            return Routed(pool: pi, workload: w, decision: d, decisionID: decisionID ?? makeDecisionID(atMs: ClusterAgent.wallMs),
                          body: body, choice: choice)
        case .failure(.noHealthyBackend):
            answerError(ex, route, 503, "no healthy backend in pool '\(pools[pi].name)'", "server_error", "no_healthy_backend")
        case .failure(.allSaturated):
            answerError(ex, route, 503, "every backend in pool '\(pools[pi].name)' is at its max concurrency",
                        "server_error", "backends_saturated", extra: [("retry-after", "1")])
        }
        return nil
    }

    func proxy(_ ex: HTTPExchange, kind: RequestKind, route: RouteLabel) {
        guard let r = decide(ex, kind: kind, route: route) else { return }
        let call = ProxyCall(node: self, exchange: ex, route: route, poolIndex: r.pool, workload: r.workload, decision: r.decision,
                             decisionID: r.decisionID, body: r.body, learned: r.choice != nil,
                             maxAttempts: config.upstream.maxRetries + 1)
        calls[ObjectIdentifier(call)] = call
        call.start()
    }

    func finished(_ call: ProxyCall, route: RouteLabel, status: Int, backend: String) {
        calls[ObjectIdentifier(call)] = nil
        metrics.request(route: route, status: status, backend: backend,
                        seconds: Double(UVLoop.hrtime() &- call.exchange.receivedAtNs) / 1e9)
    }

    func routeOnly(_ ex: HTTPExchange) {
        guard let r = decide(ex, kind: ex.request.body.isEmpty ? .chat : detectKind(ex.request.body), route: .route) else { return }
        let (pi, w, d) = (r.pool, r.workload, r.decision)
        let pool = pools[pi]
        let b = pool.backends[d.chosen].spec
        var j = JSONWriter(capacity: 512)
        j.object { j in
            j.key("decision_id"); j.string(r.decisionID)
            j.key("backend")
            j.object { j in
                j.key("id"); j.string(b.id)
                j.key("url"); j.string(b.url)
                j.key("pool"); j.string(pool.name)
                j.key("model"); j.string(w.model.flatMap { $0 == "auto" ? nil : $0 } ?? pool.models.first ?? "")
            }
            if let c = r.choice {
                j.key("model_choice")
                j.object { j in
                    j.key("context"); j.string(c.context)
                    j.key("model"); j.string(c.model)
                    j.key("policy"); j.string(chooser?.learner.settings.policy.rawValue ?? "")
                }
            }
            j.key("policy"); j.string(pool.policy.name.rawValue)
            j.key("reason"); j.string(d.reason.rawValue)
            j.key("candidates")
            j.array { j in for c in d.candidates { j.string(pool.backends[c].spec.id) } ; if d.candidates.count == 0 { j.string(b.id) } }
            j.key("fallbacks")
            j.array { j in for f in d.fallbacks { j.string(pool.backends[f].spec.id) } }
            j.key("prefix_blocks"); j.int(w.blockHashes.count)
            j.key("prompt_tokens_estimate"); j.int(w.estimatedPromptTokens)
        }
        ex.respond(status: 200, body: j.bytes, extraHeaders: [("x-wrp-node", nodeID)])
        metrics.request(route: .route, status: 200, backend: b.id, seconds: Double(UVLoop.hrtime() &- ex.receivedAtNs) / 1e9)
    }

    /// `/v1/route` accepts either body shape: `messages` means chat, otherwise completion.
    func detectKind(_ body: [UInt8]) -> RequestKind {
        let key = Array("\"messages\"".utf8)
        if body.count >= key.count {
            for i in 0...(body.count - key.count) where body[i] == key[0] && body[i..<(i + key.count)].elementsEqual(key) {
                return .chat
            }
        }
        return .completion
    }

    // MARK: health events

    func healthChanged(pool pi: Int, backend bi: Int, _ change: Routing.BackendHealth.Change) {
        let id = pools[pi].backends[bi].spec.id
        switch change {
        case .becameHealthy:
            metrics.healthTransitions["healthy", default: 0] &+= 1
            logger.info("backend healthy", metadata: ["backend": "\(id)", "pool": "\(pools[pi].name)"])
        case .becameUnhealthy:
            metrics.healthTransitions["unhealthy", default: 0] &+= 1
            upstreams[pi][bi].closeAll()
            logger.warning("backend unhealthy", metadata: ["backend": "\(id)", "pool": "\(pools[pi].name)"])
        case .ejected(let until):
            metrics.healthTransitions["ejected", default: 0] &+= 1
            upstreams[pi][bi].closeAll()
            logger.warning("backend ejected after consecutive errors",
                           metadata: ["backend": "\(id)", "for_ms": "\((until - now) / 1_000_000)"])
        }
    }
}
