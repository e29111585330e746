import WRPCommon

extension Routing {
    /// Up to four backend indices, most recent first, stored inline.
    public struct TenantSet: Sendable, Equatable {
        var a: Int32 = -1, b: Int32 = -1, c: Int32 = -1, d: Int32 = -1
        public static let capacity = 4

        public init() {}

        @inline(__always)
        public func contains(_ t: Int) -> Bool {
            let x = Int32(truncatingIfNeeded: t)
            return a == x || b == x || c == x || d == x
        }

        /// The most recently added tenant, or -1.
        @inline(__always) public var mostRecent: Int { Int(a) }

        public var count: Int { (a >= 0 ? 1 : 0) + (b >= 0 ? 1 : 0) + (c >= 0 ? 1 : 0) + (d >= 0 ? 1 : 0) }

        /// Tenants in recency order.
        public subscript(i: Int) -> Int {
            switch i { case 0: return Int(a); case 1: return Int(b); case 2: return Int(c); default: return Int(d) }
        }

        /// Moves `t` to the front, dropping the least recent tenant when full.
        @inline(__always)
        public mutating func add(_ t: Int) {
            let x = Int32(truncatingIfNeeded: t)
            if a == x { return }
            if b == x { b = a; a = x; return }
            if c == x { c = b; b = a; a = x; return }
            d = c; c = b; b = a; a = x
        }

        public mutating func remove(_ t: Int) {
            let x = Int32(truncatingIfNeeded: t)
            var xs = [a, b, c, d].filter { $0 != x && $0 >= 0 }
            while xs.count < 4 { xs.append(-1) }
            a = xs[0]; b = xs[1]; c = xs[2]; d = xs[3]
        }
    }

    /// An approximate, multi-tenant prefix index over chained block hashes: what the router
    /// believes each backend has cached, from what it sent there.
    ///
    /// Because each block hash chains all earlier blocks, one hash names a whole prefix path, so a
    /// map from chain hash to tenants is the block-level equivalent of SGLang's multi-tenant radix
    /// tree (algorithms.md §2.3) and of GIE's approximate prefix index (§3.1). Each entry keeps up
    /// to `TenantSet.capacity` most recent tenants. Size is bounded by one LRU over entries with a
    /// single budget for the whole pool (SMG #2137's fix: not per tenant), so memory is
    /// `capacity × ~40 bytes`. Blocks of a prompt are touched last-to-first, so a prompt's leading
    /// blocks are the most recent and eviction takes tails first, as the backends' caches do.
    /// O(1) per block; no allocation once `capacity` entries exist.
    public struct PrefixIndex: Sendable {
        /// Most entries kept (blocks); MUST be ≥ 1.
        public let capacity: Int
        var slots: [UInt64: Int32] = [:]
        var keys: [UInt64] = []
        var tenants: [TenantSet] = []
        var prev: [Int32] = []
        var next: [Int32] = []
        var head: Int32 = -1
        var tail: Int32 = -1

        public init(capacity: Int) {
            precondition(capacity >= 1, "prefix index capacity \(capacity) must be ≥ 1")
            self.capacity = capacity
            slots.reserveCapacity(min(capacity, 1 << 20))
        }

        public var count: Int { slots.count }

        /// Tenants recorded for one chain hash (empty if unknown).
        public func tenants(of h: UInt64) -> TenantSet {
            guard let s = slots[h] else { return TenantSet() }
            return tenants[Int(s)]
        }

        /// Leading blocks of `hashes` recorded for `tenant`, found by binary search: assumes that
        /// if block k is recorded then so are blocks before it (true up to LRU approximation,
        /// since prompts are inserted whole and heads are kept longest). O(log blocks).
        public func matchedBlocks(_ hashes: [UInt64], tenant: Int) -> Int {
            var lo = 0, hi = hashes.count
            while lo < hi {
                let mid = (lo + hi + 1) >> 1
                if let s = slots[hashes[mid - 1]], tenants[Int(s)].contains(tenant) { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }

        /// Walks from the first block while blocks are known to any tenant; returns the number of
        /// matched blocks and the tenants of the deepest matched block (SGLang's `prefix_match`).
        public func deepestMatch(_ hashes: [UInt64]) -> (blocks: Int, tenants: TenantSet) {
            var n = 0
            var last = TenantSet()
            for h in hashes {
                guard let s = slots[h] else { break }
                last = tenants[Int(s)]
                n += 1
            }
            return (n, last)
        }

        /// Records that `tenant` now holds every block of `hashes`.
        public mutating func insert(_ hashes: [UInt64], tenant: Int) {
            var i = hashes.count - 1
            while i >= 0 {
                touch(hashes[i], tenant: tenant)
                i -= 1
            }
        }

        /// Forgets `tenant` everywhere (a backend left). O(count).
        public mutating func removeTenant(_ tenant: Int) {
            for i in 0..<tenants.count where tenants[i].contains(tenant) { tenants[i].remove(tenant) }
        }

        @inline(__always)
        mutating func touch(_ h: UInt64, tenant: Int) {
            if let s = slots[h] {
                tenants[Int(s)].add(tenant)
                if s != head { unlink(s); pushFront(s) }
                return
            }
            let s: Int32
            if slots.count >= capacity {
                s = tail
                unlink(s)
                slots[keys[Int(s)]] = nil
                keys[Int(s)] = h
                tenants[Int(s)] = TenantSet()
            } else {
                s = Int32(keys.count)
                keys.append(h); tenants.append(TenantSet()); prev.append(-1); next.append(-1)
            }
            tenants[Int(s)].add(tenant)
            slots[h] = s
            pushFront(s)
        }

        @inline(__always)
        mutating func unlink(_ i: Int32) {
            let p = prev[Int(i)], n = next[Int(i)]
            if p >= 0 { next[Int(p)] = n } else { head = n }
            if n >= 0 { prev[Int(n)] = p } else { tail = p }
            prev[Int(i)] = -1; next[Int(i)] = -1
        }

        @inline(__always)
        mutating func pushFront(_ i: Int32) {
            prev[Int(i)] = -1
            next[Int(i)] = head
            if head >= 0 { prev[Int(head)] = i }
            head = i
            if tail < 0 { tail = i }
        }
    }
}
