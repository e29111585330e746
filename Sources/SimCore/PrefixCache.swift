/// An LRU cache of prefix blocks (by chained block hash), as a vLLM/SGLang prefix cache keeps KV.
///
/// A request's cached prefix is the longest run of its leading block hashes present in the cache
/// (because hashes chain, block k can only be reused if blocks 0..<k were). Inserting touches
/// every block of the request. Capacity is in blocks; O(1) per operation (hash map + intrusive
/// doubly linked list over an array, so no per-node allocation).
public struct PrefixCache: Sendable {
    public let capacity: Int
    var index: [UInt64: Int32] = [:]
    var keys: [UInt64] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var head: Int32 = -1  // most recent
    var tail: Int32 = -1  // least recent
    var free: [Int32] = []

    public init(capacityBlocks: Int) {
        precondition(capacityBlocks >= 0, "negative cache capacity")
        capacity = capacityBlocks
        index.reserveCapacity(min(capacityBlocks, 1 << 20))
    }

    public var count: Int { index.count }

    /// Fraction of capacity in use (vLLM's `kv_cache_usage_perc` analogue).
    public var usage: Double { capacity == 0 ? 0 : Double(count) / Double(capacity) }

    public func contains(_ h: UInt64) -> Bool { index[h] != nil }

    /// Number of leading blocks of `hashes` that are cached (does not change recency).
    public func matchedPrefix(_ hashes: some Collection<UInt64>) -> Int {
        var n = 0
        for h in hashes {
            guard index[h] != nil else { break }
            n += 1
        }
        return n
    }

    /// Looks up the matched prefix, then inserts/touches every block; returns the matched count.
    /// Blocks are touched last-to-first so a prompt's leading blocks are the most recent: eviction
    /// then takes tails before heads, as vLLM does, and never breaks a chain in its middle first.
    @discardableResult
    public mutating func access(_ hashes: some BidirectionalCollection<UInt64>) -> Int {
        let matched = matchedPrefix(hashes)
        for h in hashes.reversed() { touch(h) }
        return matched
    }

    /// Makes `h` most recent, inserting it (evicting the LRU block) if absent.
    public mutating func touch(_ h: UInt64) {
        guard capacity > 0 else { return }
        if let i = index[h] {
            unlink(i)
            pushFront(i)
            return
        }
        let slot: Int32
        if index.count >= capacity {
            slot = tail
            unlink(slot)
            index[keys[Int(slot)]] = nil
            keys[Int(slot)] = h
        } else if let f = free.popLast() {
            slot = f
            keys[Int(slot)] = h
        } else {
            slot = Int32(keys.count)
            keys.append(h); prev.append(-1); next.append(-1)
        }
        index[h] = slot
        pushFront(slot)
    }

    public mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true); prev.removeAll(keepingCapacity: true); next.removeAll(keepingCapacity: true)
        free.removeAll(); head = -1; tail = -1
    }

    mutating func unlink(_ i: Int32) {
        let p = prev[Int(i)], n = next[Int(i)]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { prev[Int(n)] = p } else { tail = p }
        prev[Int(i)] = -1; next[Int(i)] = -1
    }

    mutating func pushFront(_ i: Int32) {
        prev[Int(i)] = -1
        next[Int(i)] = head
        if head >= 0 { prev[Int(head)] = i }
        head = i
        if tail < 0 { tail = i }
    }
}
