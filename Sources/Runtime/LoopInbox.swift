import LibUV
import Synchronization

/// Hands results from other threads (the RocksDB writer) to the loop thread.
///
/// Other threads post plain values (a ticket and whether it succeeded); the loop looks up what
/// to do for the ticket, so no closure over loop-owned objects crosses threads.
final class LoopInbox: @unchecked Sendable {
    // @unchecked: `pending` is only touched on the loop thread; `mailbox` is behind a Mutex and
    // `async.send()` is the one libuv call that is safe from any thread.
    private let mailbox = Mutex<[(UInt64, Bool)]>([])
    private var async: UVAsync!
    private var pending: [UInt64: (Bool) -> Void] = [:]
    private var next: UInt64 = 0

    init(loop: UVLoop) {
        async = UVAsync(loop: loop) { [unowned self] in self.drain() }
        async.unref()
    }

    /// Registers what to run on the loop when `ticket` completes (loop thread only).
    func ticket(_ then: @escaping (Bool) -> Void) -> UInt64 {
        next &+= 1
        pending[next] = then
        return next
    }

    /// Called from any thread.
    func complete(_ ticket: UInt64, ok: Bool) {
        mailbox.withLock { $0.append((ticket, ok)) }
        async.send()
    }

    private func drain() {
        let items = mailbox.withLock { box -> [(UInt64, Bool)] in
            let out = box
            box.removeAll(keepingCapacity: true)
            return out
        }
        for (t, ok) in items { pending.removeValue(forKey: t)?(ok) }
    }

    func close() { async.close() }
}
