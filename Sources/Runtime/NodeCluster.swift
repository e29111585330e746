import Foundation
import HTTP
import LibUV
import Logging
import MembershipCore
import NodeCore
import RoutingCore
import WRPCommon

/// How the node reacts to the cluster: members coming and going, and shared state arriving.
extension Node {
    /// Whether this node probes and scrapes `backendID` (its owner on the ring of router nodes,
    /// or the only node).
    func isHealthOwner(of backendID: String) -> Bool {
        guard cluster != nil else { return true }
        return workSplit.isOwner(nodeID, of: backendID)
    }

    func memberChanged(_ m: Membership.Member) {
        if m.id != nodeID {
            let level: Logger.Level = (m.status == .dead || m.status == .suspect) ? .warning : .info
            logger.log(level: level, "member changed", metadata: ["member": "\(m.id)", "status": "\(m.status.rawValue)",
                                                                  "incarnation": "\(m.incarnation)", "address": "\(m.address)"])
        }
        guard let agent = cluster else { return }
        if m.id != nodeID { store?.saveMember(m) }
        let alive = agent.aliveMemberIDs.union([nodeID]).sorted()
        if alive != workSplit.nodes {
            let before = workSplit
            workSplit = WorkSplit(routerNodes: alive)
            // Backends this node no longer owns: withdraw its health observation so the new
            // owners' view decides.
            var retractions: [ClusterUpdate] = []
            for p in pools {
                for b in p.backends where !b.removed && before.isOwner(nodeID, of: b.spec.id) && !workSplit.isOwner(nodeID, of: b.spec.id) {
                    if let u = agent.state.retractHealth(backendID: b.spec.id, nowMs: ClusterAgent.wallMs) { retractions.append(u) }
                }
            }
            if !retractions.isEmpty { agent.broadcast(retractions) }
            refreshSharedHealth()
            health?.probeOwned()
        }
        refreshPeerLoad()
    }

    func clusterStateChanged(_ updates: [ClusterUpdate]) {
        var health = false, load = false
        for u in updates {
            switch u {
            case .backend(let r):
                applyBackendRecord(r)
                store?.saveBackend(r)
            case .health: health = true
            case .load: load = true
            case .override(let prefix, let o): applyRemoteOverride(prefix: prefix, o)
            case .owned(let ns, let key, let node, let e):
                if ns == ModelChooser.namespace { mergeRemoteBandit(node: node, e) }
                if ns == Node.scrapeNamespace && node != nodeID { applyRemoteScrape(backendID: key, e) }
            }
        }
        if health { refreshSharedHealth() }
        if load { refreshPeerLoad() }
    }

    /// A backend added or removed anywhere in the cluster.
    func applyBackendRecord(_ r: BackendRecord) {
        if r.removed {
            for pi in pools.indices {
                if let bi = pools[pi].index(of: r.spec.id) {
                    pools[pi].remove(id: r.spec.id)
                    upstreams[pi][bi].closeAll()
                    logger.notice("backend removed (cluster)", metadata: ["backend": "\(r.spec.id)", "by": "\(r.stamp.node)"])
                }
            }
            return
        }
        guard let pi = pools.firstIndex(where: { $0.name == r.pool }), let url = BackendURL(r.spec.url) else {
            logger.warning("ignoring backend for unknown pool or bad url", metadata: ["backend": "\(r.spec.id)", "pool": "\(r.pool)"])
            return
        }
        installBackend(pool: pi, spec: r.spec, url: url)
        logger.notice("backend added (cluster)", metadata: ["backend": "\(r.spec.id)", "pool": "\(r.pool)", "by": "\(r.stamp.node)"])
    }

    /// Adds or updates a backend in a local pool, with its upstream connection pool.
    @discardableResult
    func installBackend(pool pi: Int, spec: Routing.BackendSpec, url: BackendURL) -> Int {
        let idx = pools[pi].upsert(spec)
        if idx >= upstreams[pi].count {
            upstreams[pi].append(UpstreamPool(loop: loop, url: url, maxIdle: config.upstream.maxIdlePerBackend))
        } else if upstreams[pi][idx].url != url {
            upstreams[pi][idx].closeAll()
            upstreams[pi][idx] = UpstreamPool(loop: loop, url: url, maxIdle: config.upstream.maxIdlePerBackend)
        }
        health?.probeSoon(pool: pi, backend: idx)
        return idx
    }

    /// Backends this node does not own take the status their owners report.
    func refreshSharedHealth() {
        guard let agent = cluster else { return }
        let observers = agent.aliveMemberIDs.union([nodeID])
        for pi in pools.indices {
            for bi in pools[pi].backends.indices where !pools[pi].backends[bi].removed {
                let id = pools[pi].backends[bi].spec.id
                guard !isHealthOwner(of: id) else { continue }
                let s = agent.state.health(of: id, aliveObservers: observers)
                if let change = pools[pi].adoptHealth(backend: bi, status: s) { healthChanged(pool: pi, backend: bi, change) }
            }
        }
    }

    /// Peers' in-flight counts feed the policies' load view.
    func refreshPeerLoad() {
        guard let agent = cluster else { return }
        let alive = agent.aliveMemberIDs
        let byBackend = agent.state.peerInFlightByBackend(excluding: nodeID, aliveNodes: alive, nowMs: ClusterAgent.wallMs,
                                                          maxAgeMs: 5_000)
        for pi in pools.indices {
            for bi in pools[pi].backends.indices {
                let n = byBackend[pools[pi].backends[bi].spec.id] ?? 0
                if pools[pi].backends[bi].load.peerInFlight != n { pools[pi].setPeerInFlight(backend: bi, n) }
            }
        }
    }

    /// Gossips the hot-prefix overrides this node's policies created or changed since last time.
    func syncOverrides() {
        guard let agent = cluster else { return }
        let me = Node.origin(nodeID)
        var updates: [ClusterUpdate] = []
        for pi in pools.indices {
            let pool = pools[pi]
            for (key, o) in pool.policy.ownershipOverrides where o.origin == me {
                guard sentOverrides[pool.name]?[key] != o.version else { continue }
                sentOverrides[pool.name, default: [:]][key] = o.version
                let targets = o.backends.map { pool.backends[$0].spec.id }
                let u = ClusterUpdate.override(prefix: key, OwnershipOverride(pool: pool.name, targets: targets, version: o.version,
                                                                              origin: nodeID, expiresAtMs: 0))
                _ = agent.state.apply(u)
                updates.append(u)
            }
        }
        if !updates.isEmpty { agent.broadcast(updates) }
    }

    func applyRemoteOverride(prefix: UInt64, _ o: OwnershipOverride) {
        guard o.origin != nodeID, let pi = pools.firstIndex(where: { $0.name == o.pool }) else { return }
        var list = Routing.IndexList()
        for id in o.targets { if let i = pools[pi].index(of: id) { list.append(i) } }
        // A live override whose backends are all unknown here is ignored rather than read as a tombstone.
        if list.count == 0 && !o.targets.isEmpty { return }
        pools[pi].applyOverride(Routing.PrefixOverride(backends: list, version: o.version, origin: Node.origin(o.origin)), key: prefix)
    }

    static let scrapeNamespace = "scrape"

    /// Shares an owned backend's scraped vLLM gauges, so non-owner nodes' policies see them too.
    func publishScraped(backendID: String, _ m: Routing.ScrapedMetrics) {
        guard let agent = cluster, !m.isEmpty else { return }
        let payload = Array("\(m.waiting ?? -1) \(m.running ?? -1) \(m.kvUsage ?? -1)".utf8)
        let mine = agent.state.ownedEntries(namespace: Node.scrapeNamespace, key: backendID).first { $0.node == nodeID }
        if mine?.entry.payload == payload { return }
        agent.broadcast([agent.state.putOwned(namespace: Node.scrapeNamespace, key: backendID, payload: payload, nowMs: ClusterAgent.wallMs)])
    }

    /// An owner's scrape of a backend this node does not probe.
    func applyRemoteScrape(backendID: String, _ e: OwnedEntry) {
        guard !isHealthOwner(of: backendID) else { return }
        let parts = String(decoding: e.payload, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, let w = Int(parts[0]), let r = Int(parts[1]), let kv = Double(parts[2]) else { return }
        for pi in pools.indices {
            if let bi = pools[pi].index(of: backendID) {
                pools[pi].setScraped(backend: bi, waiting: w < 0 ? nil : w, running: r < 0 ? nil : r, kvUsage: kv < 0 ? nil : kv)
            }
        }
    }

    /// Publishes a probe-driven status change of an owned backend.
    func publishHealth(backendID: String, status: Routing.HealthStatus) {
        guard let agent = cluster, let u = agent.state.observeHealth(backendID: backendID, status: status, nowMs: ClusterAgent.wallMs) else { return }
        agent.broadcast([u])
    }

    // MARK: endpoints

    func adminMembers(_ ex: HTTPExchange) {
        var j = JSONWriter(capacity: 512)
        let members: [Membership.Member] = cluster?.membership.members
            ?? [Membership.Member(id: nodeID, address: "", status: .alive, incarnation: 0)]
        j.object { j in
            j.key("node"); j.string(nodeID)
            j.key("members")
            j.array { j in
                for m in members {
                    j.object { j in
                        j.key("id"); j.string(m.id)
                        j.key("address"); j.string(m.address)
                        j.key("status"); j.string(m.status.rawValue)
                        j.key("incarnation"); j.uint64(m.incarnation)
                    }
                }
            }
        }
        respondJSON(ex, .admin, 200, j.bytes)
    }

    func adminRing(_ ex: HTTPExchange) {
        var j = JSONWriter(capacity: 1024)
        j.object { j in
            j.key("node"); j.string(nodeID)
            j.key("router_nodes"); j.array { j in for n in workSplit.nodes { j.string(n) } }
            j.key("pools")
            j.array { j in
                for p in pools {
                    let live = p.backends.filter { !$0.removed }
                    j.object { j in
                        j.key("name"); j.string(p.name)
                        j.key("policy"); j.string(p.policy.name.rawValue)
                        j.key("epoch"); j.string(String(Node.ringEpoch(live.map(\.spec)), radix: 16))
                        j.key("backends")
                        j.array { j in
                            for b in live {
                                j.object { j in
                                    j.key("id"); j.string(b.spec.id)
                                    j.key("weight"); j.double(b.spec.weight)
                                    j.key("owners"); j.array { j in for o in workSplit.owners(of: b.spec.id) { j.string(o) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        respondJSON(ex, .admin, 200, j.bytes)
    }

    /// Digest of a pool's live backend set (id, url, weight): equal on nodes that route on the
    /// same rings.
    static func ringEpoch(_ specs: [Routing.BackendSpec]) -> UInt64 {
        var h: UInt64 = Hash64.seedB
        for s in specs.sorted(by: { $0.id < $1.id }) {
            h = Hash64.combine(h, Hash64.hash(s.id + "|" + s.url + "|" + String(s.weight), seed: Hash64.seedA))
        }
        return h
    }

    /// `POST /admin/drain`: stop taking requests, leave the cluster, finish in-flight, exit.
    func drain(_ ex: HTTPExchange) {
        simple(ex, .admin, 202, #"{"status":"draining"}"#)
        logger.notice("drain requested", metadata: ["node.id": "\(nodeID)"])
        shutdown()
    }
}
