import WRPCommon

extension Routing {
    /// Space-Saving heavy-hitter summary with `capacity` counters (Metwally et al. 2005), in its
    /// deterministic mergeable form (Agarwal et al., "Mergeable Summaries"; algorithms.md §7).
    ///
    /// Guarantees, for a stream of total weight n: a tracked item's `count` never underestimates
    /// its true frequency and overestimates it by at most `error` ≤ n / capacity; every item with
    /// frequency > n / capacity is tracked. `merged(with:)` keeps the same bounds for n₁ + n₂ and
    /// is commutative (ties are ordered by key). Updates are O(1) when the item is tracked and
    /// O(capacity) when it replaces the minimum; no allocation after the first `capacity` items.
    public struct SpaceSaving: Sendable {
        public struct Item: Sendable, Equatable {
            public var key: UInt64
            /// Estimated frequency (an upper bound).
            public var count: UInt64
            /// Most by which `count` may exceed the true frequency.
            public var error: UInt64
            /// A lower bound on the true frequency.
            public var lowerBound: UInt64 { count - error }
        }

        /// Number of counters; MUST be ≥ 1. Error ≤ total / capacity.
        public let capacity: Int
        public private(set) var total: UInt64 = 0
        var items: [Item] = []
        var index: [UInt64: Int32] = [:]

        public init(capacity: Int) {
            precondition(capacity >= 1, "Space-Saving needs ≥ 1 counter, got \(capacity)")
            self.capacity = capacity
            items.reserveCapacity(capacity)
            index.reserveCapacity(capacity)
        }

        public var isFull: Bool { items.count >= capacity }

        /// The smallest counter when full (the most an untracked item can have occurred), else 0.
        public var minCount: UInt64 {
            guard isFull else { return 0 }
            var m = UInt64.max
            for it in items where it.count < m { m = it.count }
            return m
        }

        /// Counts `weight` occurrences of `key`.
        @inline(__always)
        public mutating func add(_ key: UInt64, weight: UInt64 = 1) {
            total &+= weight
            if let i = index[key] {
                items[Int(i)].count &+= weight
                return
            }
            if items.count < capacity {
                index[key] = Int32(items.count)
                items.append(Item(key: key, count: weight, error: 0))
                return
            }
            var mi = 0
            for j in 1..<items.count where items[j].count < items[mi].count { mi = j }
            let m = items[mi].count
            index[items[mi].key] = nil
            items[mi] = Item(key: key, count: m &+ weight, error: m)
            index[key] = Int32(mi)
        }

        /// Bounds on `key`'s frequency.
        public func estimate(_ key: UInt64) -> (lower: UInt64, upper: UInt64) {
            if let i = index[key] { return (items[Int(i)].lowerBound, items[Int(i)].count) }
            return (0, minCount)
        }

        /// Tracked items, most frequent first (ties by key), so equal summaries list equally.
        public func sortedItems() -> [Item] {
            items.sorted { $0.count != $1.count ? $0.count > $1.count : $0.key < $1.key }
        }

        /// Items whose lower bound exceeds `share` of the total (no false positives).
        public func heavyHitters(share: Double) -> [Item] {
            let t = Double(total) * share
            return sortedItems().filter { Double($0.lowerBound) > t }
        }

        public mutating func reset() {
            total = 0
            items.removeAll(keepingCapacity: true)
            index.removeAll(keepingCapacity: true)
        }

        /// The parallel Space-Saving merge (Cafaro et al.): an item missing from one summary gets
        /// that summary's minimum counter as its possible unseen count (added to count and error);
        /// the top `capacity` by count are kept. Both inputs MUST have the same capacity.
        public func merged(with other: SpaceSaving) -> SpaceSaving {
            precondition(capacity == other.capacity, "merging Space-Saving of capacity \(capacity) and \(other.capacity)")
            let m1 = minCount, m2 = other.minCount
            var all: [Item] = []
            all.reserveCapacity(items.count + other.items.count)
            for it in items {
                if let j = other.index[it.key] {
                    let o = other.items[Int(j)]
                    all.append(Item(key: it.key, count: it.count + o.count, error: it.error + o.error))
                } else {
                    all.append(Item(key: it.key, count: it.count + m2, error: it.error + m2))
                }
            }
            for o in other.items where index[o.key] == nil {
                all.append(Item(key: o.key, count: o.count + m1, error: o.error + m1))
            }
            all.sort { $0.count != $1.count ? $0.count > $1.count : $0.key < $1.key }
            var r = SpaceSaving(capacity: capacity)
            r.total = total + other.total
            for it in all.prefix(capacity) {
                r.index[it.key] = Int32(r.items.count)
                r.items.append(it)
            }
            return r
        }
    }
}

extension Routing.SpaceSaving: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.capacity == b.capacity && a.total == b.total && a.sortedItems() == b.sortedItems()
    }
}

extension Routing {
    /// Versioned ownership override for one hot prefix key: while live, requests with that key
    /// choose among `backends` instead of their DualMap pair. An override with no backends is a
    /// tombstone (the prefix cooled down). Merged last-writer-wins by (version, origin), so the
    /// cluster can gossip overrides in any order, duplicated.
    public struct PrefixOverride: Sendable, Equatable {
        public var backends: IndexList
        public var version: UInt64
        /// Id of the node that wrote it (tie-break between equal versions).
        public var origin: UInt64

        public init(backends: IndexList, version: UInt64, origin: UInt64) {
            self.backends = backends; self.version = version; self.origin = origin
        }

        public var isTombstone: Bool { backends.count == 0 }

        /// Whether `self` wins over `other` under LWW.
        public func supersedes(_ other: PrefixOverride) -> Bool {
            version != other.version ? version > other.version : origin > other.origin
        }
    }

    /// Hot-prefix handling for DualMap (algorithms.md §1.3, §7): per window, a Space-Saving
    /// summary of the keys requests were routed by.
    ///
    /// At the end of each window (time `window`, and at least `minWindowRequests` requests):
    /// - a key whose share ρ exceeds `hotShare / n` (n = routable backends; DualMap's 2/n, one
    ///   pair's fair share) is *split*: requests through it use one more block of key, so its
    ///   traffic spreads over more pairs (DualMap's adaptive key length);
    /// - a split key whose share has fallen below half the threshold is merged back (hysteresis);
    /// - a key that is already split and still hot as a *leaf* (its requests have no more blocks to
    ///   lengthen by, or reached `maxKeyBlocks`) still overloads its pair: it gets a versioned
    ///   ownership override spreading it over ⌈ρ·n⌉ (3…4) backends chosen by the caller;
    /// - an override not hot for `overrideIdleWindows` windows becomes a tombstone.
    /// Deviation from the paper: windows are tumbling, not sliding, and the popularity tree is the
    /// set of split keys plus the summary rather than a full tree.
    public struct HotPrefixes: Sendable {
        public struct Settings: Sendable, Equatable {
            /// Window length (ns). Default 10 s.
            public var window: Nanos = .seconds(10)
            /// A key is hot when its share exceeds hotShare / n. Default 2 (DualMap's 2/n).
            public var hotShare = 2.0
            /// Fewest requests before a window may close (small windows are noise). Default 32.
            public var minWindowRequests = 32
            /// Space-Saving counters. Default 64.
            public var sketchCapacity = 64
            /// Windows an override survives without being hot. Default 6.
            public var overrideIdleWindows = 6
            public init() {}
        }

        public let settings: Settings
        /// This node's id for override versions.
        public let origin: UInt64
        public private(set) var sketch: SpaceSaving
        var windowStart: Instant? = nil
        /// Split (lengthened) prefix keys → requests routed through them this window.
        public private(set) var split: [UInt64: UInt32] = [:]
        public private(set) var overrides: [UInt64: PrefixOverride] = [:]
        var overrideIdle: [UInt64: Int] = [:]
        /// Lamport clock for override versions.
        public private(set) var clock: UInt64 = 0
        public private(set) var windowsClosed = 0

        public init(settings: Settings = Settings(), origin: UInt64 = 0) {
            self.settings = settings
            self.origin = origin
            sketch = SpaceSaving(capacity: settings.sketchCapacity)
        }

        @inline(__always) public var hasSplits: Bool { !split.isEmpty }
        @inline(__always) public var hasOverrides: Bool { !overrides.isEmpty }

        @inline(__always) public func isSplit(_ key: UInt64) -> Bool { split[key] != nil }

        /// A request's key passed through split prefix `key` to a longer one.
        @inline(__always)
        public mutating func passedThrough(_ key: UInt64) {
            if let c = split[key] { split[key] = c &+ 1 }
        }

        /// A request was routed by `key` at `now`.
        @inline(__always)
        public mutating func record(_ key: UInt64, now: Instant) {
            if windowStart == nil { windowStart = now }
            sketch.add(key)
        }

        /// Whether the current window is due to close.
        @inline(__always)
        public func windowDue(now: Instant) -> Bool {
            guard let s = windowStart else { return false }
            return now >= s + settings.window && sketch.total >= UInt64(settings.minWindowRequests)
        }

        /// The live override for `key`, if any.
        @inline(__always)
        public func override(for key: UInt64) -> PrefixOverride? {
            guard let o = overrides[key], !o.isTombstone else { return nil }
            return o
        }

        /// Closes the window (see the type's overview). `spread(key, wanted)` returns the backends a
        /// still-hot key should be spread over.
        public mutating func closeWindow(now: Instant, members n: Int, spread: (UInt64, Int) -> IndexList) {
            let total = Double(sketch.total)
            guard total > 0, n > 0 else { windowStart = now; return }
            let threshold = settings.hotShare / Double(n)
            for (k, c) in split {
                let share = (Double(c) + Double(sketch.estimate(k).lower)) / total
                if share < threshold / 2 { split[k] = nil } else { split[k] = 0 }
            }
            var hotNow = Set<UInt64>()
            for it in sketch.heavyHitters(share: threshold) {
                if split[it.key] == nil {
                    split[it.key] = 0
                    continue
                }
                hotNow.insert(it.key)
                let share = Double(it.lowerBound) / total
                let wanted = min(IndexList.capacity, max(3, Int((share * Double(n)).rounded(.up))))
                let backends = spread(it.key, wanted)
                overrideIdle[it.key] = 0
                if let o = overrides[it.key], !o.isTombstone, o.backends == backends { continue }
                clock += 1
                overrides[it.key] = PrefixOverride(backends: backends, version: clock, origin: origin)
            }
            for (k, o) in overrides where !o.isTombstone && !hotNow.contains(k) {
                let idle = (overrideIdle[k] ?? 0) + 1
                overrideIdle[k] = idle
                if idle >= settings.overrideIdleWindows {
                    clock += 1
                    overrides[k] = PrefixOverride(backends: IndexList(), version: clock, origin: origin)
                    overrideIdle[k] = nil
                }
            }
            sketch.reset()
            windowStart = now
            windowsClosed += 1
        }

        /// Applies an override learned from a peer; returns whether it replaced local state.
        @discardableResult
        public mutating func apply(remote o: PrefixOverride, key: UInt64) -> Bool {
            clock = max(clock, o.version)
            if let cur = overrides[key], !o.supersedes(cur) { return false }
            overrides[key] = o
            return true
        }
    }
}
