import WRPCommon
import Workload

extension Routing {
    /// DualMap (Yuan et al., ICLR 2026; algorithms.md §1): cache affinity and load balance from two
    /// independent consistent-hash rings and the power of two choices.
    ///
    /// Per request:
    /// 1. **Key**: the chain hash of the first `prefixBlocks` blocks (default 2), lengthened one
    ///    block at a time through prefixes that `HotPrefixes` has split because their traffic share
    ///    exceeded `hotShare / n` (§1.3), up to `maxKeyBlocks`; past the last full block the key
    ///    is the tail hash (the whole prompt).
    /// 2. **Pair**: the first eligible owner of the key on ring 1 (seed A) and the first eligible
    ///    owner on ring 2 (seed B) that differs from it (§1.2's design note), virtual nodes
    ///    proportional to weight. Requests that share a key get the same pair; adding or removing a
    ///    backend moves only keys on its arcs (§1.6). A live hot-prefix override for the key
    ///    replaces the pair by its backends.
    /// 3. **Choice** (§1.4): the candidate with more expected cached prefix (from the approximate
    ///    `PrefixIndex` of what was sent where); if that candidate's predicted TTFT (`TTFTModel`)
    ///    exceeds the SLO, the other one when it predicts a lower TTFT. Expected hit ratios within
    ///    `cacheTieRatio` (default 0.1) of each other count as equal → lower predicted TTFT; equal
    ///    both → random. (Without the tolerance, a shared first block that one candidate has seen
    ///    and the other not would decide every new conversation.)
    ///
    /// Deviations from the paper: no queued-request migration (§1.5; a router cannot take back a
    /// request it has sent to an OpenAI-compatible server), expected cache comes from the router's
    /// own index rather than querying instances, and hot prefixes that cannot be split further get
    /// ownership overrides (spread over 3–4 backends) instead of only relying on the SLO switch.
    /// Decision cost: two binary searches on the rings, two O(log blocks) index probes, one
    /// O(blocks) index insert; no allocation in steady state.
    public struct DualMapPolicy: Policy {
        public var name: PolicyName { .dualmap }
        public let params: PolicyParams
        var ring1: HashRing
        var ring2: HashRing
        var jump1 = RingJump()
        var jump2 = RingJump()
        public private(set) var ttft: TTFTModel
        public private(set) var index: PrefixIndex
        public private(set) var hot: HotPrefixes
        /// Backends not removed (the n of the 2/n hot threshold).
        public private(set) var liveCount = 0
        let sloSeconds: Double

        public init(params: PolicyParams, origin: UInt64 = 0) {
            self.params = params
            ring1 = HashRing(seed: Hash64.seedA, virtualNodesPerWeight: params.virtualNodes)
            ring2 = HashRing(seed: Hash64.seedB, virtualNodesPerWeight: params.virtualNodes)
            ttft = TTFTModel(prefillTokensPerSecond: params.prefillTokensPerSecond, alpha: params.ttftAlpha)
            index = PrefixIndex(capacity: params.indexBlocks)
            var hs = HotPrefixes.Settings()
            hs.hotShare = params.hotShare
            hs.window = Nanos(params.hotWindowMs * 1e6)
            hot = HotPrefixes(settings: hs, origin: origin)
            sloSeconds = params.sloTTFTMs / 1000
        }

        public mutating func rebuild(backends: [Backend]) {
            let members = backends.map { (id: $0.spec.id, weight: $0.removed ? 0 : $0.spec.weight) }
            ring1.rebuild(members: members)
            ring2.rebuild(members: members)
            jump1 = RingJump(ring1)
            jump2 = RingJump(ring2)
            ttft.resize(backends.count)
            liveCount = backends.reduce(0) { $0 + ($1.removed ? 0 : 1) }
        }

        /// The routing key for `w` and how many blocks it covers (0 = tail hash of a short prompt).
        public mutating func routingKey(for w: Workload) -> (key: UInt64, blocks: Int) {
            let hs = w.blockHashes
            if hs.isEmpty { return (w.tailHash, 0) }
            var d = min(params.prefixBlocks, hs.count)
            guard hot.hasSplits else { return (hs[d - 1], d) }
            let maxD = min(params.maxKeyBlocks, hs.count)
            while d < maxD && hot.isSplit(hs[d - 1]) {
                hot.passedThrough(hs[d - 1])
                d += 1
            }
            if d == hs.count && d < params.maxKeyBlocks && hot.isSplit(hs[d - 1]) && w.tailHash != hs[d - 1] {
                hot.passedThrough(hs[d - 1])
                return (w.tailHash, d)
            }
            return (hs[d - 1], d)
        }

        /// The first eligible owner of `key` on `ring` other than `excluding`, or -1.
        @inline(__always)
        static func firstEligible(_ ring: HashRing, _ jump: RingJump, _ key: UInt64, _ eligible: Eligibility, excluding: Int) -> Int {
            guard !ring.isEmpty else { return -1 }
            var s = jump.slot(ring, for: Hash64.combine(key, ring.seed))
            let n = ring.points.count
            for _ in 0..<n {
                let o = Int(ring.owners[s])
                if o != excluding && eligible.contains(o) { return o }
                s += 1
                if s == n { s = 0 }
            }
            return -1
        }

        /// The DualMap pair of `key` among `eligible` (second is -1 when only one is eligible).
        public func pair(of key: UInt64, eligible: Eligibility) -> (Int, Int) {
            let c1 = Self.firstEligible(ring1, jump1, key, eligible, excluding: -1)
            let c2 = Self.firstEligible(ring2, jump2, key, eligible, excluding: c1)
            return (c1, c2)
        }

        @inline(__always)
        func uncached(_ w: Workload, tokens: Int, backend: Int) -> Int {
            let m = index.matchedBlocks(w.blockHashes, tenant: backend)
            return max(0, tokens - m * params.blockTokens)
        }

        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            let (key, _) = routingKey(for: w)
            hot.record(key, now: context.now)
            if hot.windowDue(now: context.now) { closeHotWindow(backends: backends, now: context.now) }
            let tokens = max(1, w.estimatedPromptTokens)

            if hot.hasOverrides, let o = hot.override(for: key),
               let d = chooseAmong(o.backends, w, tokens: tokens, eligible: eligible, context: &context) {
                return d
            }

            var (c1, c2) = pair(of: key, eligible: eligible)
            if c1 < 0 {
                // Rings miss an eligible backend only if rebuild was skipped; stay correct anyway.
                for i in 0..<backends.count where eligible.contains(i) { c1 = i; break }
                c2 = -1
            }
            precondition(c1 >= 0, "dualmap: no eligible backend")
            var candidates = IndexList()
            candidates.append(c1)
            guard c2 >= 0 else {
                let u = uncached(w, tokens: tokens, backend: c1)
                commit(w, backend: c1, uncachedTokens: u)
                return Decision(chosen: c1, reason: .ringOwner, candidates: candidates)
            }
            candidates.append(c2)
            let m1 = index.matchedBlocks(w.blockHashes, tenant: c1)
            let m2 = index.matchedBlocks(w.blockHashes, tenant: c2)
            let u1 = max(0, tokens - m1 * params.blockTokens)
            let u2 = max(0, tokens - m2 * params.blockTokens)
            let p1 = ttft.predict(backend: c1, uncachedTokens: u1)
            let p2 = ttft.predict(backend: c2, uncachedTokens: u2)
            var first: Bool
            var reason: Reason
            if abs(u1 - u2) > tieTokens(tokens) {
                first = u1 < u2
                reason = .dualmapCache
                let (pp, po) = first ? (p1, p2) : (p2, p1)
                if pp > sloSeconds && po < pp {
                    first.toggle()
                    reason = .dualmapSLO
                }
            } else {
                reason = .dualmapLoad
                first = p1 != p2 ? p1 < p2 : context.rng.below(2) == 0
            }
            let chosen = first ? c1 : c2
            var fallbacks = IndexList()
            fallbacks.append(first ? c2 : c1)
            commit(w, backend: chosen, uncachedTokens: first ? u1 : u2)
            return Decision(chosen: chosen, reason: reason, candidates: candidates, fallbacks: fallbacks)
        }

        /// Among an override's backends: most expected cache unless over the SLO, then lowest TTFT.
        mutating func chooseAmong(_ set: IndexList, _ w: Workload, tokens: Int, eligible: Eligibility,
                                  context: inout Context) -> Decision? {
            var bestCache = -1, bestCacheM = -1, bestCacheP = Double.infinity, bestCacheU = 0
            var bestLoad = -1, bestLoadP = Double.infinity, bestLoadU = 0
            var candidates = IndexList()
            for i in 0..<set.count {
                let b = set[i]
                guard eligible.contains(b) else { continue }
                candidates.append(b)
                let m = index.matchedBlocks(w.blockHashes, tenant: b)
                let u = max(0, tokens - m * params.blockTokens)
                let p = ttft.predict(backend: b, uncachedTokens: u)
                if m > bestCacheM || (m == bestCacheM && p < bestCacheP) { bestCache = b; bestCacheM = m; bestCacheP = p; bestCacheU = u }
                if p < bestLoadP { bestLoad = b; bestLoadP = p; bestLoadU = u }
            }
            guard bestCache >= 0 else { return nil }
            var chosen = bestCache, u = bestCacheU
            if bestCacheP > sloSeconds && bestLoadP < bestCacheP { chosen = bestLoad; u = bestLoadU }
            commit(w, backend: chosen, uncachedTokens: u)
            var fallbacks = IndexList()
            for c in candidates where c != chosen { fallbacks.append(c) }
            return Decision(chosen: chosen, reason: .hotOverride, candidates: candidates, fallbacks: fallbacks)
        }

        /// Differences in cached tokens up to this count as "the same hit ratio".
        @inline(__always)
        func tieTokens(_ tokens: Int) -> Int { Int(params.cacheTieRatio * Double(tokens)) }

        @inline(__always)
        mutating func commit(_ w: Workload, backend: Int, uncachedTokens: Int) {
            ttft.dispatched(backend: backend, uncachedTokens: uncachedTokens)
            if !w.blockHashes.isEmpty { index.insert(w.blockHashes, tenant: backend) }
        }

        /// Closes the hot-prefix window: hot keys that cannot be lengthened are spread over their
        /// pair plus the backends with the least queued prefill work.
        mutating func closeHotWindow(backends: [Backend], now: Instant) {
            var all = Eligibility(capacity: backends.count)
            for i in 0..<backends.count where !backends[i].removed { all.insert(i) }
            let model = ttft
            let r1 = ring1, r2 = ring2, j1 = jump1, j2 = jump2
            hot.closeWindow(now: now, members: max(1, liveCount)) { key, wanted in
                var list = IndexList()
                let c1 = Self.firstEligible(r1, j1, key, all, excluding: -1)
                if c1 >= 0 { list.append(c1) }
                let c2 = Self.firstEligible(r2, j2, key, all, excluding: c1)
                if c2 >= 0 { list.append(c2) }
                while list.count < wanted {
                    var best = -1
                    for i in 0..<backends.count where all.contains(i) && !list.contains(i) {
                        if best < 0 || model.pendingTokens(i) < model.pendingTokens(best) { best = i }
                    }
                    if best < 0 { break }
                    list.append(best)
                }
                return list
            }
        }

        public mutating func observe(_ outcome: Outcome, workload: Workload?, backends: [Backend], now: Instant) {
            switch outcome {
            case .firstToken(let b, _, let t):
                ttft.firstToken(backend: b, ttft: t)
            case .finished(let b, _, _):
                ttft.finished(backend: b, inFlight: backends[b].load.inFlight)
            }
        }

        public var ownershipOverrides: [UInt64: PrefixOverride] { hot.overrides }

        /// Applies a peer's hot-prefix override (cluster gossip).
        @discardableResult
        public mutating func applyOverride(_ o: PrefixOverride, key: UInt64) -> Bool { hot.apply(remote: o, key: key) }
    }
}

extension Routing {
    /// A jump table over a `HashRing`'s sorted points: for each of 2^bits equal ranges of the
    /// hash space, the first point index in it, so a lookup scans a few points instead of
    /// binary-searching all of them (the rings hold ~160 points per backend).
    struct RingJump: Sendable {
        var start: [Int32] = []
        var shift: UInt64 = 64

        init() {}

        init(_ ring: HashRing) {
            let n = ring.points.count
            guard n > 0 else { return }
            var bits = 1
            while (1 << bits) < n && bits < 20 { bits += 1 }
            shift = UInt64(64 - bits)
            let buckets = 1 << bits
            start = [Int32](repeating: Int32(n), count: buckets + 1)
            var b = buckets - 1
            var i = n - 1
            // start[b] = first index whose point's bucket is ≥ b.
            while b >= 0 {
                while i >= 0 && Int(ring.points[i] >> shift) >= b { i -= 1 }
                start[b] = Int32(i + 1)
                b -= 1
            }
        }

        /// Same answer as `ring.slot(for: h)`.
        @inline(__always)
        func slot(_ ring: HashRing, for h: UInt64) -> Int {
            guard !start.isEmpty else { return ring.slot(for: h) }
            let b = Int(h >> shift)
            var i = Int(start[b])
            let end = Int(start[b + 1])
            let pts = ring.points
            while i < end && pts[i] < h { i += 1 }
            return i == pts.count ? 0 : i
        }
    }
}
