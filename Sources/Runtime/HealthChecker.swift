import HTTP
import LibUV
import RoutingCore
import WRPCommon

/// Active health probes (`GET /health`) and vLLM metric scrapes (`GET /metrics`) per backend.
///
/// Each probe uses a fresh connection, so it also checks that new connections work (pooled
/// keep-alive connections could hide a dead listener). Probes are spread over the interval so a
/// large fleet is not probed in one burst. Results go to the pure `BackendHealth` state machine.
final class HealthChecker {
    unowned let node: Node
    var timer: UVTimer?
    var inProgress: Set<String> = []
    var stopped = false

    init(node: Node) { self.node = node }

    func start() {
        let interval = max(1, node.config.health.interval / 1_000_000)
        probeOwned()
        let t = UVTimer(loop: node.loop)
        t.start(afterMs: interval, repeatMs: interval) { [unowned self] in self.probeOwned() }
        timer = t
    }

    func stop() {
        stopped = true
        timer?.close()
        timer = nil
    }

    /// Probes the backends this node owns (all of them when it runs alone).
    func probeOwned() {
        guard !stopped else { return }
        for pi in node.pools.indices {
            for bi in node.pools[pi].backends.indices where !node.pools[pi].backends[bi].removed {
                if node.isHealthOwner(of: node.pools[pi].backends[bi].spec.id) { probe(pool: pi, backend: bi) }
            }
        }
    }

    func probeSoon(pool pi: Int, backend bi: Int) {
        guard !stopped, node.isHealthOwner(of: node.pools[pi].backends[bi].spec.id) else { return }
        probe(pool: pi, backend: bi)
    }

    func probe(pool pi: Int, backend bi: Int) {
        let id = node.pools[pi].backends[bi].spec.id
        guard !inProgress.contains(id) else { return }
        inProgress.insert(id)
        let up = node.upstreams[pi][bi]
        let timeoutMs = max(1, node.config.health.timeout / 1_000_000)
        get(up, path: "/health", timeoutMs: timeoutMs) { [weak self] status, _ in
            guard let self, !self.stopped else { return }
            let ok = status.map { $0 >= 200 && $0 < 300 } ?? false
            self.report(pool: pi, backend: bi, success: ok)
            guard ok, self.node.config.health.scrapeMetrics else {
                self.inProgress.remove(id)
                return
            }
            self.get(up, path: "/metrics", timeoutMs: timeoutMs) { [weak self] status, body in
                guard let self else { return }
                self.inProgress.remove(id)
                guard !self.stopped, status == 200, bi < self.node.pools[pi].backends.count else { return }
                let m = Routing.ScrapedMetrics.parse(String(decoding: body, as: UTF8.self))
                self.node.pools[pi].setScraped(backend: bi, waiting: m.waiting, running: m.running, kvUsage: m.kvUsage)
                self.node.publishScraped(backendID: id, m)
            }
        }
    }

    func report(pool pi: Int, backend bi: Int, success: Bool) {
        if let change = node.pools[pi].probeResult(backend: bi, success: success, now: node.now) {
            node.healthChanged(pool: pi, backend: bi, change)
        }
        let b = node.pools[pi].backends[bi]
        node.publishHealth(backendID: b.spec.id, status: b.health.status)
    }

    /// A one-shot GET on a fresh connection; `done(status, body)` with nil status on failure.
    func get(_ up: UpstreamPool, path: String, timeoutMs: UInt64, _ done: @escaping (Int?, [UInt8]) -> Void) {
        var finished = false
        var conn: HTTPClientConnection?
        let timer = UVTimer(loop: node.loop)
        func finish(_ status: Int?, _ body: [UInt8]) {
            guard !finished else { return }
            finished = true
            timer.close()
            conn?.cancel()
            conn = nil
            done(status, body)
        }
        timer.start(afterMs: timeoutMs) { finish(nil, []) }
        up.connect(timeoutMs: timeoutMs) { r in
            guard !finished else {
                if case .success(let c) = r { c.close() }
                return
            }
            switch r {
            case .failure: finish(nil, [])
            case .success(let c):
                conn = c
                var status = 0
                var body: [UInt8] = []
                c.onHead = { h in status = h.status }
                c.onBody = { b in if body.count < 1 << 20 { body.append(contentsOf: b) } }
                c.onComplete = { _ in finish(status, body) }
                c.onError = { _ in finish(nil, []) }
                var h = HeadBuilder(capacity: 128)
                h.append("GET ")
                h.bytes.append(contentsOf: path.utf8)
                h.append(" HTTP/1.1\r\n")
                h.add("host", up.url.authority)
                h.add("connection", "close")
                h.add("user-agent", "wrpd-health")
                h.finish()
                c.send(h.bytes)
            }
        }
    }
}
