import WRPCommon

extension Routing {
    /// A consistent-hash ring with virtual nodes, over backend indices.
    ///
    /// Each member gets `round(virtualNodesPerWeight × weight)` points (at least 1), placed by
    /// hashing "id#i" with this ring's seed, so two rings with different seeds are independent.
    /// Keys are found by binary search for the first point ≥ key (wrapping). Adding or removing a
    /// member moves only the keys on that member's arcs.
    public struct HashRing: Sendable {
        public let seed: UInt64
        public let virtualNodesPerWeight: Int
        /// Sorted ring points and the member index owning each.
        public private(set) var points: [UInt64] = []
        public private(set) var owners: [Int32] = []
        public private(set) var memberCount = 0

        public init(seed: UInt64, virtualNodesPerWeight: Int = 160) {
            self.seed = seed
            self.virtualNodesPerWeight = virtualNodesPerWeight
        }

        /// Rebuilds from `(id, weight)` per member index; members of weight ≤ 0 get no points.
        public mutating func rebuild(members: [(id: String, weight: Double)]) {
            var pairs: [(UInt64, Int32)] = []
            pairs.reserveCapacity(members.count * virtualNodesPerWeight)
            for (i, m) in members.enumerated() where m.weight > 0 {
                let n = max(1, Int((Double(virtualNodesPerWeight) * m.weight).rounded()))
                let idHash = Hash64.hash(m.id, seed: seed)
                for v in 0..<n {
                    pairs.append((Hash64.combine(idHash, UInt64(v)), Int32(i)))
                }
            }
            pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            points = pairs.map(\.0)
            owners = pairs.map(\.1)
            memberCount = members.count
        }

        public var isEmpty: Bool { points.isEmpty }

        /// Index into `points` of the first point at or after `h` (wrapping to 0).
        @inline(__always)
        public func slot(for h: UInt64) -> Int {
            var lo = 0, hi = points.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if points[mid] < h { lo = mid + 1 } else { hi = mid }
            }
            return lo == points.count ? 0 : lo
        }

        /// The owner of `key` (the key is mixed with the ring seed first, so rings disagree).
        @inline(__always)
        public func owner(of key: UInt64) -> Int? {
            guard !points.isEmpty else { return nil }
            return Int(owners[slot(for: Hash64.combine(key, seed))])
        }

        /// Walks the ring from `key`'s position and calls `body` with each distinct member in
        /// ring order until it returns false or all members were visited.
        public func forEachDistinct(from key: UInt64, _ body: (Int) -> Bool) {
            guard !points.isEmpty else { return }
            var seen = SmallBitSet(count: memberCount)
            var s = slot(for: Hash64.combine(key, seed))
            var visited = 0
            var steps = 0
            while visited < memberCount && steps < points.count {
                let o = Int(owners[s])
                if !seen.contains(o) {
                    seen.insert(o)
                    visited += 1
                    if !body(o) { return }
                }
                s += 1
                if s == points.count { s = 0 }
                steps += 1
            }
        }
    }

    /// A bit set sized for a pool, kept inline for pools of up to 128 members.
    public struct SmallBitSet {
        var w0: UInt64 = 0, w1: UInt64 = 0
        var rest: [UInt64]

        public init(count: Int) { rest = count > 128 ? [UInt64](repeating: 0, count: (count - 128 + 63) / 64) : [] }

        @inline(__always)
        public func contains(_ i: Int) -> Bool {
            if i < 64 { return w0 & (1 << UInt64(i)) != 0 }
            if i < 128 { return w1 & (1 << UInt64(i - 64)) != 0 }
            let j = i - 128
            return rest[j >> 6] & (1 << UInt64(j & 63)) != 0
        }

        @inline(__always)
        public mutating func insert(_ i: Int) {
            if i < 64 { w0 |= 1 << UInt64(i) } else if i < 128 { w1 |= 1 << UInt64(i - 64) } else {
                let j = i - 128
                rest[j >> 6] |= 1 << UInt64(j & 63)
            }
        }
    }
}
