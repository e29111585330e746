import Foundation
import LibUV
import Logging
import MembershipCore
import NodeCore
import Storage
import Wire

/// The node's durable state in RocksDB: identity and incarnation, rejoin seeds, backends added
/// at run time, bandit statistics, decisions and feedback. Writes go to the writer thread in
/// batches; `durably` calls back on the loop once the batch is in the synced WAL.
final class NodeStore {
    let store: RocksStore
    let writer: DurableWriter
    let inbox: LoopInbox
    let logger: Logger
    /// Decisions and feedback older than this are deleted (hourly sweep).
    static let decisionTTLMs: UInt64 = 24 * 3600 * 1000

    init(path: String, loop: UVLoop, logger: Logger) throws {
        do {
            store = try RocksStore(path: path)
        } catch {
            throw Node.NodeError.dataDir(error.description)
        }
        writer = DurableWriter(store: store)
        inbox = LoopInbox(loop: loop)
        self.logger = logger
    }

    /// Writes `batch` with a WAL sync; `then(ok)` runs on the loop thread afterwards.
    func durably(_ batch: WriteBatch, then: @escaping (Bool) -> Void) {
        let t = inbox.ticket(then)
        let inbox = self.inbox
        writer.submit(batch) { r in
            if case .success = r { inbox.complete(t, ok: true) } else { inbox.complete(t, ok: false) }
        }
    }

    /// Fire-and-forget (still batched and synced, nobody waits).
    func write(_ batch: WriteBatch) {
        writer.submit(batch) { _ in }
    }

    func close() {
        writer.close()
        store.close()
        inbox.close()
    }

    // MARK: identity

    static let nodeIDKey = Array("node_id".utf8), incarnationKey = Array("incarnation".utf8)

    /// Checks the data dir belongs to `nodeID` (or claims it) and returns the next incarnation:
    /// above both the stored one and `floor` (wall-clock ms), so a restart always refutes.
    func claimIdentity(nodeID: String, floor: UInt64) throws -> UInt64 {
        if let stored = try store.get(.meta, NodeStore.nodeIDKey) {
            let id = String(decoding: stored, as: UTF8.self)
            guard id == nodeID else {
                throw Node.NodeError.dataDir("data dir belongs to node '\(id)', not '\(nodeID)': use --data-dir for a new node")
            }
        }
        let last = try store.get(.meta, NodeStore.incarnationKey).map { NodeStore.decodeU64($0) } ?? 0
        let next = max(last + 1, floor)
        var b = WriteBatch()
        b.put(.meta, NodeStore.nodeIDKey, Array(nodeID.utf8))
        b.put(.meta, NodeStore.incarnationKey, TimestampKey.bigEndian(next))
        try store.write(b, sync: true)
        return next
    }

    static func decodeU64(_ b: [UInt8]) -> UInt64 {
        b.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    // MARK: members, backends

    func saveMember(_ m: Membership.Member) {
        var b = WriteBatch()
        if m.status == .left { b.delete(.members, Array(m.id.utf8)) } else { b.put(.members, Array(m.id.utf8), Array(m.address.utf8)) }
        write(b)
    }

    func knownMemberAddresses(excluding id: String) -> [String] {
        ((try? store.scan(.members, prefix: [])) ?? []).compactMap { kv in
            String(decoding: kv.key, as: UTF8.self) == id ? nil : String(decoding: kv.value, as: UTF8.self)
        }
    }

    func saveBackend(_ r: BackendRecord) {
        var b = WriteBatch()
        b.put(.backends, Array(r.spec.id.utf8), StateCodec.encode([.backend(r)]))
        write(b)
    }

    func backendRecords() -> [BackendRecord] {
        ((try? store.scan(.backends, prefix: [])) ?? []).compactMap { kv in
            if case .backend(let r)? = (try? StateCodec.decode(kv.value))?.first { return r }
            return nil
        }
    }
}
