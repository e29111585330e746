import WRPCommon

extension Membership {
    /// memberlist's `TransmitLimitedQueue`: broadcasts waiting to be piggy-backed on outgoing
    /// packets, each sent at most `transmitLimit` times.
    ///
    /// - A broadcast with a `key` replaces any queued broadcast with the same key (a newer
    ///   `alive`/`suspect`/`dead` about a node invalidates the older one; a newer user broadcast
    ///   with the same origin and key replaces the older).
    /// - `take` picks fewest-transmits first, then larger, then newer, and packs greedily into a
    ///   byte budget (a message that does not fit is skipped, smaller ones may still fit).
    /// - Beyond `capacity` the most-transmitted (then oldest) broadcasts are dropped.
    ///
    /// Queues in practice hold a handful to a few hundred items; `take` sorts on each call, which is
    /// cheaper than maintaining a tree at these sizes.
    public struct BroadcastQueue: Sendable {
        public struct Item: Sendable, Equatable {
            public var key: String?
            public var message: Message
            public var size: Int
            public var transmits: Int
            /// Insertion order; higher is newer.
            public var serial: UInt64
        }

        public let capacity: Int
        public private(set) var items: [Item] = []
        private var serial: UInt64 = 0

        public init(capacity: Int) {
            precondition(capacity > 0, "broadcast queue capacity \(capacity)")
            self.capacity = capacity
        }

        public var count: Int { items.count }
        public var isEmpty: Bool { items.isEmpty }

        /// Queues `message`, replacing a queued broadcast with the same `key`.
        public mutating func enqueue(_ message: Message, key: String?) {
            if let key, let i = items.firstIndex(where: { $0.key == key }) {
                items.remove(at: i)
            }
            serial &+= 1
            items.append(Item(key: key, message: message, size: message.estimatedSize, transmits: 0, serial: serial))
            if items.count > capacity { prune(to: capacity) }
        }

        /// Drops broadcasts, most transmitted then oldest first, until at most `n` remain.
        public mutating func prune(to n: Int) {
            guard items.count > n else { return }
            items.sort { a, b in a.transmits != b.transmits ? a.transmits < b.transmits : a.serial > b.serial }
            items.removeLast(items.count - n)
        }

        /// Removes every queued broadcast.
        public mutating func reset() { items.removeAll() }

        /// Picks broadcasts whose sizes plus `overhead` each fit in `budget` bytes in total (at most
        /// `maxCount`), counts one transmit for each, and drops those that reached `transmitLimit`.
        public mutating func take(budget: Int, overhead: Int = 0, maxCount: Int = .max, transmitLimit: Int) -> [Message] {
            guard !items.isEmpty, budget > 0, maxCount > 0 else { return [] }
            var order = Array(items.indices)
            if order.count > 1 {
                order.sort { i, j in
                    let a = items[i], b = items[j]
                    if a.transmits != b.transmits { return a.transmits < b.transmits }
                    if a.size != b.size { return a.size > b.size }
                    return a.serial > b.serial
                }
            }
            var used = 0
            var out: [Message] = []
            var sent = false
            for i in order {
                let need = items[i].size + overhead
                if used + need > budget { continue }
                used += need
                out.append(items[i].message)
                items[i].transmits += 1
                sent = true
                if out.count >= maxCount { break }
            }
            if sent { items.removeAll { $0.transmits >= transmitLimit } }
            return out
        }
    }
}
