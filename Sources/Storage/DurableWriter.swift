import Foundation

/// Writes batches durably (WAL synced) on its own thread, group-committing whatever queued
/// while the previous sync ran, and then reports each batch's outcome.
///
/// The loop thread calls `submit`; completions run **on the worker thread**, in submission
/// order, only after the batch is on disk (the shell hops back to its loop with a uv_async).
/// Batches submitted together are written as one atomic RocksDB batch and fail together.
///
/// `close()` MUST be called before the store is closed: it drains the queue (every pending
/// completion still runs) and stops the thread. Submissions after `close()` complete at once
/// with `.closed`, on the submitting thread.
public final class DurableWriter: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<Void, StorageError>) -> Void

    private let store: any KeyValueStore
    /// Guards every field below.
    private let condition = NSCondition()
    private var queue: [(batch: WriteBatch, completion: Completion)] = []
    private var stopping = false
    private var stopped = false
    private var groups = 0
    private var batches = 0

    /// Starts the worker thread.
    public init(store: any KeyValueStore, name: String = "wrp-durable-writer") {
        self.store = store
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `batch`; `completion` runs on the worker thread once it is durable (or failed).
    public func submit(_ batch: WriteBatch, completion: @escaping Completion) {
        condition.lock()
        if stopping {
            condition.unlock()
            completion(.failure(.closed))
            return
        }
        queue.append((batch, completion))
        condition.signal()
        condition.unlock()
    }

    /// (group commits, batches) written so far; `groups < batches` shows group commit at work.
    public var counts: (groups: Int, batches: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (groups, batches)
    }

    /// Writes what is queued, runs its completions, and stops the thread. Idempotent; blocks.
    public func close() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()

            var merged = WriteBatch()
            for t in taken { merged.append(contentsOf: t.batch) }
            let result: Result<Void, StorageError>
            do {
                try store.write(merged, sync: true)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            condition.lock()
            groups += 1
            batches += taken.count
            condition.unlock()
            for t in taken { t.completion(result) }
        }
    }
}
