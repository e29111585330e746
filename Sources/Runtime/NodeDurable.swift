import BanditCore
import Foundation
import MembershipCore
import NodeCore
import RoutingCore
import Storage

/// Restoring and maintaining what the node keeps on disk.
extension Node {
    /// Backends added at run time and this node's bandit statistics, from the last run.
    func restoreDurableState(_ store: NodeStore) {
        for r in store.backendRecords() {
            if r.removed {
                for pi in pools.indices { pools[pi].remove(id: r.spec.id) }
            } else if let pi = pools.firstIndex(where: { $0.name == r.pool }), let url = BackendURL(r.spec.url) {
                if pools[pi].index(of: r.spec.id) == nil || pools[pi].backends[pools[pi].index(of: r.spec.id)!].spec != r.spec {
                    installBackend(pool: pi, spec: r.spec, url: url)
                }
            }
            restoredBackends.append(r)
        }
        if let chooser, let bytes = try? store.store.get(.bandit, ModelChooser.ownStatsKey),
           let own = try? Bandit.NodeStats(decoding: bytes) {
            chooser.learner.restore(own: own)
            logger.info("restored bandit statistics", metadata: ["arms": "\(own.stats.count)", "version": "\(own.version)"])
        }
        if !restoredBackends.isEmpty {
            logger.info("restored backends added at run time", metadata: ["count": "\(restoredBackends.count)"])
        }
    }

    /// Once a second: persist and gossip changed bandit statistics; hourly, expire old decisions.
    func housekeeping() {
        flushBanditStats()
        let nowMs = ClusterAgent.wallMs
        if let store, nowMs > lastExpiryMs + 3_600_000 {
            lastExpiryMs = nowMs
            let cutoff = nowMs > NodeStore.decisionTTLMs ? nowMs - NodeStore.decisionTTLMs : 0
            var b = WriteBatch()
            b.deleteRange(.decisions, from: TimestampKey.bigEndian(0), to: TimestampKey.bigEndian(cutoff))
            store.write(b)
        }
    }
}
