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
    /// to `TenantSet.capacity` most recent tenants. Size is bounded by one budget for the whole
    /// pool (SMG #2137's fix: not per tenant), evicting by CLOCK (second chance, an approximate
    /// LRU like SGLang's sampled timestamps): a touch sets one reference bit.
    ///
    /// The table is open addressing with linear probing keyed by the hash itself (block hashes are
    /// already uniformly mixed, so no re-hashing), backward-shift deletion, grown by doubling up
    /// to 2 × capacity slots: no allocation once warm. Memory ≈ 64 bytes per entry.
    public struct PrefixIndex: Sendable {
        struct Slot: Sendable {
            var key: UInt64 = 0
            var entry: Int32 = -1
        }

        struct Entry: Sendable {
            var key: UInt64
            var tenants: TenantSet
            var referenced: Bool
        }

        /// Most entries kept (blocks); MUST be ≥ 1.
        public let capacity: Int
        var slots: [Slot]
        var mask: Int
        var entries: [Entry] = []
        var hand = 0

        public init(capacity: Int) {
            precondition(capacity >= 1, "prefix index capacity \(capacity) must be ≥ 1")
            self.capacity = capacity
            let n = 1024
            slots = [Slot](repeating: Slot(), count: n)
            mask = n - 1
        }

        public var count: Int { entries.count }

        @inline(__always)
        func find(_ h: UInt64) -> Int {
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let s = slots[i]
                if s.entry < 0 { return -1 }
                if s.key == h { return Int(s.entry) }
                i = (i + 1) & mask
            }
        }

        /// Tenants recorded for one chain hash (empty if unknown).
        public func tenants(of h: UInt64) -> TenantSet {
            let e = find(h)
            return e < 0 ? TenantSet() : entries[e].tenants
        }

        /// Leading blocks of `hashes` recorded for `tenant`, found by binary search: assumes that
        /// if block k is recorded then so are blocks before it (true up to eviction order, since
        /// prompts are inserted whole). O(log blocks).
        public func matchedBlocks(_ hashes: [UInt64], tenant: Int) -> Int {
            var lo = 0, hi = hashes.count
            while lo < hi {
                let mid = (lo + hi + 1) >> 1
                let e = find(hashes[mid - 1])
                if e >= 0 && entries[e].tenants.contains(tenant) { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }

        /// Walks from the first block while blocks are known to any tenant; returns the number of
        /// matched blocks and the tenants of the deepest matched block (SGLang's `prefix_match`).
        public func deepestMatch(_ hashes: [UInt64]) -> (blocks: Int, tenants: TenantSet) {
            var n = 0
            var last = TenantSet()
            for h in hashes {
                let e = find(h)
                guard e >= 0 else { break }
                last = entries[e].tenants
                n += 1
            }
            return (n, last)
        }

        /// Records that `tenant` now holds every block of `hashes`.
        public mutating func insert(_ hashes: [UInt64], tenant: Int) {
            for h in hashes { touch(h, tenant: tenant) }
        }

        /// Forgets `tenant` everywhere (a backend left). O(count).
        public mutating func removeTenant(_ tenant: Int) {
            for i in 0..<entries.count where entries[i].tenants.contains(tenant) { entries[i].tenants.remove(tenant) }
        }

        @inline(__always)
        mutating func touch(_ h: UInt64, tenant: Int) {
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let s = slots[i]
                if s.entry < 0 { break }
                if s.key == h {
                    entries[Int(s.entry)].referenced = true
                    entries[Int(s.entry)].tenants.add(tenant)
                    return
                }
                i = (i + 1) & mask
            }
            var t = TenantSet()
            t.add(tenant)
            let e: Int
            if entries.count < capacity {
                if (entries.count + 1) * 2 > slots.count {
                    grow()
                    insertSlot(h, entry: Int32(entries.count))
                } else {
                    slots[i] = Slot(key: h, entry: Int32(entries.count))
                }
                entries.append(Entry(key: h, tenants: t, referenced: false))
                return
            }
            while entries[hand].referenced {
                entries[hand].referenced = false
                hand += 1
                if hand == entries.count { hand = 0 }
            }
            e = hand
            hand += 1
            if hand == entries.count { hand = 0 }
            removeSlot(entries[e].key)
            entries[e] = Entry(key: h, tenants: t, referenced: false)
            insertSlot(h, entry: Int32(e))
        }

        mutating func insertSlot(_ h: UInt64, entry: Int32) {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i].entry >= 0 { i = (i + 1) & mask }
            slots[i] = Slot(key: h, entry: entry)
        }

        /// Backward-shift deletion keeps probe sequences unbroken without tombstones.
        mutating func removeSlot(_ h: UInt64) {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i].key != h || slots[i].entry < 0 { i = (i + 1) & mask }
            var j = i
            while true {
                j = (j + 1) & mask
                if slots[j].entry < 0 { break }
                let k = Int(truncatingIfNeeded: slots[j].key) & mask
                let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
                if stays { continue }
                slots[i] = slots[j]
                i = j
            }
            slots[i] = Slot()
        }

        mutating func grow() {
            let n = slots.count * 2
            slots = [Slot](repeating: Slot(), count: n)
            mask = n - 1
            for (k, e) in entries.enumerated() { insertSlot(e.key, entry: Int32(k)) }
        }
    }
}
