import Foundation
import HTTP
import NodeCore
import LibUV
import RoutingCore
import WRPCommon

/// Read-mostly endpoints: readiness, models, pools, metrics, and run-time backend changes.
extension Node {
    var isReady: Bool {
        guard !draining else { return false }
        // A node told to join is not ready until it has found another member.
        if let agent = cluster, !config.cluster.join.isEmpty, agent.membership.liveCount < 2 { return false }
        return pools.contains { p in p.backends.contains { !$0.removed && $0.health.status == .healthy } }
    }

    func readyz(_ ex: HTTPExchange) {
        if isReady {
            simple(ex, .readyz, 200, #"{"status":"ready"}"#)
        } else {
            answerError(ex, .readyz, 503, draining ? "node is draining" : "no backend has passed a health check yet",
                        "server_error", "not_ready")
        }
    }

    func models(_ ex: HTTPExchange) {
        var j = JSONWriter(capacity: 256)
        let created = Int(startedAt.timeIntervalSince1970)
        j.object { j in
            j.key("object"); j.string("list")
            j.key("data")
            j.array { j in
                for p in pools {
                    for m in p.models {
                        j.object { j in
                            j.key("id"); j.string(m)
                            j.key("object"); j.string("model")
                            j.key("created"); j.int(created)
                            j.key("owned_by"); j.string("wrp")
                            j.key("pool"); j.string(p.name)
                        }
                    }
                }
            }
        }
        respondJSON(ex, .models, 200, j.bytes)
    }

    func adminPools(_ ex: HTTPExchange) {
        let t = now
        var j = JSONWriter(capacity: 1024)
        j.object { j in
            j.key("node"); j.string(nodeID)
            j.key("pools")
            j.array { j in
                for p in pools {
                    j.object { j in
                        j.key("name"); j.string(p.name)
                        j.key("models"); j.array { j in for m in p.models { j.string(m) } }
                        j.key("policy"); j.string(p.policy.name.rawValue)
                        j.key("backends")
                        j.array { j in
                            for b in p.backends where !b.removed {
                                j.object { j in
                                    j.key("id"); j.string(b.spec.id)
                                    j.key("url"); j.string(b.spec.url)
                                    j.key("weight"); j.double(b.spec.weight)
                                    j.key("max_concurrency"); j.int(b.spec.maxConcurrency)
                                    j.key("health"); j.string(b.health.status.rawValue)
                                    j.key("ejected"); j.bool(b.health.isEjected(now: t))
                                    j.key("routable"); j.bool(b.health.isRoutable(now: t))
                                    j.key("in_flight"); j.int(b.load.inFlight)
                                    j.key("peer_in_flight"); j.int(b.load.peerInFlight)
                                    j.key("waiting"); if let v = b.load.scrapedWaiting { j.int(v) } else { j.null() }
                                    j.key("running"); if let v = b.load.scrapedRunning { j.int(v) } else { j.null() }
                                    j.key("kv_cache_usage"); if let v = b.load.scrapedKVUsage { j.double(v) } else { j.null() }
                                    j.key("cost"); j.object { j in
                                        j.key("input_per_million"); j.double(b.spec.costInputPerMillion)
                                        j.key("output_per_million"); j.double(b.spec.costOutputPerMillion)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        respondJSON(ex, .admin, 200, j.bytes)
    }

    /// `POST /admin/backends {"pool","id","url","weight"?,"max_concurrency"?}` adds (or updates) a backend.
    func addBackend(_ ex: HTTPExchange) {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(ex.request.body))) as? [String: Any] else {
            return answerError(ex, .admin, 400, "body must be a JSON object", "invalid_request_error", "invalid_body")
        }
        guard let id = obj["id"] as? String, !id.isEmpty, let url = obj["url"] as? String else {
            return answerError(ex, .admin, 400, "fields 'id' and 'url' are required strings", "invalid_request_error", "invalid_body")
        }
        guard let parsed = BackendURL(url) else {
            return answerError(ex, .admin, 400, "url must be http://host:port", "invalid_request_error", "invalid_url")
        }
        let poolName = obj["pool"] as? String ?? pools[0].name
        guard let pi = pools.firstIndex(where: { $0.name == poolName }) else {
            return answerError(ex, .admin, 404, "no pool named '\(poolName)'", "invalid_request_error", "pool_not_found")
        }
        let weight = (obj["weight"] as? NSNumber)?.doubleValue ?? 1
        let maxC = (obj["max_concurrency"] as? NSNumber)?.intValue ?? 0
        guard weight > 0, maxC >= 0 else {
            return answerError(ex, .admin, 400, "weight must be > 0 and max_concurrency ≥ 0", "invalid_request_error", "invalid_body")
        }
        for (i, p) in pools.enumerated() where i != pi && p.index(of: id) != nil {
            return answerError(ex, .admin, 409, "backend '\(id)' already exists in pool '\(p.name)'", "invalid_request_error", "conflict")
        }
        let spec = Routing.BackendSpec(id: id, url: url, weight: weight, maxConcurrency: maxC,
                                       costInputPerMillion: (obj["cost_input_per_million"] as? NSNumber)?.doubleValue ?? 0,
                                       costOutputPerMillion: (obj["cost_output_per_million"] as? NSNumber)?.doubleValue ?? 0)
        let existed = pools[pi].index(of: id)
        installBackend(pool: pi, spec: spec, url: parsed)
        let record: BackendRecord
        if let agent = cluster {
            let u = agent.state.upsertBackend(pool: poolName, spec: spec, nowMs: ClusterAgent.wallMs)
            agent.broadcast([u])
            guard case .backend(let r) = u else { preconditionFailure("upsertBackend returned \(u)") }
            record = r
        } else {
            record = BackendRecord(pool: poolName, spec: spec, stamp: Stamp(time: ClusterAgent.wallMs, node: nodeID))
        }
        store?.saveBackend(record)
        logger.notice("backend added", metadata: ["backend": "\(id)", "pool": "\(poolName)", "url": "\(url)"])
        simple(ex, .admin, existed == nil ? 201 : 200, #"{"status":"ok"}"#)
    }

    func removeBackend(_ ex: HTTPExchange, id: String) {
        for pi in pools.indices {
            if let bi = pools[pi].index(of: id) {
                pools[pi].remove(id: id)
                upstreams[pi][bi].closeAll()
                let spec = pools[pi].backends[bi].spec
                var tombstone = BackendRecord(pool: pools[pi].name, spec: spec, removed: true,
                                              stamp: Stamp(time: ClusterAgent.wallMs, node: nodeID))
                if let agent = cluster {
                    // Backends from config are not in the registry yet: enter them first, so the
                    // tombstone supersedes something and no peer keeps routing to it.
                    if agent.state.backend(id: id) == nil {
                        _ = agent.state.upsertBackend(pool: pools[pi].name, spec: spec, nowMs: ClusterAgent.wallMs)
                    }
                    if let u = agent.state.removeBackend(id: id, nowMs: ClusterAgent.wallMs), case .backend(let r) = u {
                        agent.broadcast([u])
                        tombstone = r
                    }
                }
                store?.saveBackend(tombstone)
                logger.notice("backend removed", metadata: ["backend": "\(id)"])
                return simple(ex, .admin, 200, #"{"status":"ok"}"#)
            }
        }
        answerError(ex, .admin, 404, "no backend '\(id)'", "invalid_request_error", "backend_not_found")
    }

    func renderMetrics(_ ex: HTTPExchange) {
        var out = ""
        out.reserveCapacity(8192)
        let m = metrics
        let esc = NodeMetrics.escape
        out += "# HELP wrp_requests_total Requests answered, by route, status and backend.\n# TYPE wrp_requests_total counter\n"
        for (k, v) in m.requests.sorted(by: { ($0.key.route, $0.key.status, $0.key.backend) < ($1.key.route, $1.key.status, $1.key.backend) }) {
            out += "wrp_requests_total{route=\"\(RouteLabel(rawValue: k.route)!.name)\",status=\"\(k.status)\",backend=\"\(esc(k.backend))\"} \(v)\n"
        }
        out += "# HELP wrp_request_duration_seconds Time from request received to response complete.\n# TYPE wrp_request_duration_seconds histogram\n"
        for r in RouteLabel.allCases where m.requestDuration[r.rawValue].count > 0 {
            m.requestDuration[r.rawValue].render(name: "wrp_request_duration_seconds", labels: "route=\"\(r.name)\"", into: &out)
        }
        out += "# HELP wrp_upstream_ttfb_seconds Time from sending a request upstream to its first response body byte.\n# TYPE wrp_upstream_ttfb_seconds histogram\n"
        for (b, h) in m.upstreamTTFB.sorted(by: { $0.key < $1.key }) {
            h.render(name: "wrp_upstream_ttfb_seconds", labels: "backend=\"\(esc(b))\"", into: &out)
        }
        out += "# HELP wrp_upstream_duration_seconds Duration of each upstream attempt.\n# TYPE wrp_upstream_duration_seconds histogram\n"
        for (b, h) in m.upstreamDuration.sorted(by: { $0.key < $1.key }) {
            h.render(name: "wrp_upstream_duration_seconds", labels: "backend=\"\(esc(b))\"", into: &out)
        }
        out += "# HELP wrp_routing_decision_seconds Time spent choosing a backend.\n# TYPE wrp_routing_decision_seconds histogram\n"
        m.decisionTime.render(name: "wrp_routing_decision_seconds", labels: "", into: &out)
        out += "# HELP wrp_routing_decisions_total Decisions by reason.\n# TYPE wrp_routing_decisions_total counter\n"
        for (r, v) in m.decisions.sorted(by: { $0.key < $1.key }) { out += "wrp_routing_decisions_total{reason=\"\(esc(r))\"} \(v)\n" }
        out += "# HELP wrp_upstream_retries_total Attempts on a further backend after a failure.\n# TYPE wrp_upstream_retries_total counter\n"
        for (b, v) in m.retries.sorted(by: { $0.key < $1.key }) { out += "wrp_upstream_retries_total{backend=\"\(esc(b))\"} \(v)\n" }
        out += "# HELP wrp_upstream_errors_total Failed upstream attempts (connect, 5xx, closed).\n# TYPE wrp_upstream_errors_total counter\n"
        for (b, v) in m.upstreamErrors.sorted(by: { $0.key < $1.key }) { out += "wrp_upstream_errors_total{backend=\"\(esc(b))\"} \(v)\n" }
        out += "# HELP wrp_http_protocol_errors_total Requests rejected while parsing (400, 408, 413, 431).\n# TYPE wrp_http_protocol_errors_total counter\n"
        for (s, v) in m.protocolErrors.sorted(by: { $0.key < $1.key }) { out += "wrp_http_protocol_errors_total{status=\"\(s)\"} \(v)\n" }
        out += "# HELP wrp_client_aborts_total Requests whose client disconnected before the answer was complete.\n# TYPE wrp_client_aborts_total counter\n"
        out += "wrp_client_aborts_total \(m.clientAborts)\n"
        out += "# HELP wrp_backend_health_transitions_total Backend health changes.\n# TYPE wrp_backend_health_transitions_total counter\n"
        for (k, v) in m.healthTransitions.sorted(by: { $0.key < $1.key }) { out += "wrp_backend_health_transitions_total{to=\"\(k)\"} \(v)\n" }
        let t = now
        out += "# HELP wrp_backend_in_flight Requests this node has in flight per backend.\n# TYPE wrp_backend_in_flight gauge\n"
        var healthLines = "# HELP wrp_backend_healthy 1 if the backend takes traffic (healthy or unknown and not ejected).\n# TYPE wrp_backend_healthy gauge\n"
        var scraped = "# HELP wrp_backend_waiting Scraped vllm:num_requests_waiting.\n# TYPE wrp_backend_waiting gauge\n"
        var running = "# HELP wrp_backend_running Scraped vllm:num_requests_running.\n# TYPE wrp_backend_running gauge\n"
        var kv = "# HELP wrp_backend_kv_cache_usage Scraped vllm:kv_cache_usage_perc (0..1).\n# TYPE wrp_backend_kv_cache_usage gauge\n"
        for p in pools {
            for b in p.backends where !b.removed {
                let labels = "pool=\"\(esc(p.name))\",backend=\"\(esc(b.spec.id))\""
                out += "wrp_backend_in_flight{\(labels)} \(b.load.inFlight)\n"
                healthLines += "wrp_backend_healthy{\(labels)} \(b.health.isRoutable(now: t) ? 1 : 0)\n"
                if let v = b.load.scrapedWaiting { scraped += "wrp_backend_waiting{\(labels)} \(v)\n" }
                if let v = b.load.scrapedRunning { running += "wrp_backend_running{\(labels)} \(v)\n" }
                if let v = b.load.scrapedKVUsage { kv += "wrp_backend_kv_cache_usage{\(labels)} \(v)\n" }
            }
        }
        out += healthLines + scraped + running + kv
        if let agent = cluster {
            out += "# HELP wrp_gossip_dropped_total Gossip packets dropped, by reason (decrypt, decode, ...).\n# TYPE wrp_gossip_dropped_total counter\n"
            for reason in ["bad_version", "decode", "decrypt", "too_large", "too_short"] {
                out += "wrp_gossip_dropped_total{reason=\"\(reason)\"} \(agent.dropped[reason] ?? 0)\n"
            }
            out += "# HELP wrp_gossip_packets_total UDP gossip packets.\n# TYPE wrp_gossip_packets_total counter\n"
            out += "wrp_gossip_packets_total{direction=\"in\"} \(agent.packetsIn)\nwrp_gossip_packets_total{direction=\"out\"} \(agent.packetsOut)\n"
            out += "# HELP wrp_gossip_bytes_total UDP gossip bytes.\n# TYPE wrp_gossip_bytes_total counter\n"
            out += "wrp_gossip_bytes_total{direction=\"in\"} \(agent.bytesIn)\nwrp_gossip_bytes_total{direction=\"out\"} \(agent.bytesOut)\n"
            var counts: [String: Int] = [:]
            for m in agent.membership.members { counts[m.status.rawValue, default: 0] += 1 }
            out += "# HELP wrp_cluster_members Members by status, as this node sees them.\n# TYPE wrp_cluster_members gauge\n"
            for s in ["alive", "suspect", "dead", "left"] { out += "wrp_cluster_members{status=\"\(s)\"} \(counts[s] ?? 0)\n" }
        }
        out += "# HELP wrp_http_connections Open client connections.\n# TYPE wrp_http_connections gauge\nwrp_http_connections \(server.openConnections)\n"
        out += "# HELP wrp_ready 1 when /readyz answers 200.\n# TYPE wrp_ready gauge\nwrp_ready \(isReady ? 1 : 0)\n"
        ex.respond(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(out.utf8))
        metrics.request(route: .metrics, status: 200, backend: "", seconds: Double(UVLoop.hrtime() &- ex.receivedAtNs) / 1e9)
    }
}
