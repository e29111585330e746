import WRPCommon
import Workload

extension Routing {
    /// Why no backend could be chosen.
    public enum RouteFailure: Error, Equatable, Sendable {
        /// Every backend is unhealthy, ejected or removed.
        case noHealthyBackend
        /// Healthy backends exist but all are at their max concurrency.
        case allSaturated
    }

    /// A named pool of backends serving a set of models, with its routing policy.
    ///
    /// Owns the live state routing reads (health, in-flight) and keeps it consistent: callers
    /// report each request's start, first byte and end. Backend indices are stable for the life of
    /// the pool.
    ///
    /// Decision cost: the eligibility set is cached and rebuilt (O(n)) only when something it
    /// depends on changes — a backend added, removed or respecified, a health transition, an
    /// in-flight count crossing its backend's max concurrency, or `now` passing an ejection's end.
    /// Per decision the pool then adds one O(n) pass over a contiguous array of loads, and only
    /// when the policy left fallback slots to fill.
    public struct Pool: Sendable {
        public let name: String
        public var models: [String]
        public private(set) var backends: [Backend] = []
        public private(set) var policy: any Policy
        public let healthSettings: HealthSettings
        var rng: SeededRandom
        /// How many retry targets a decision carries (after the chosen one; at most
        /// `IndexList.capacity`).
        public var maxFallbacks = 2

        /// `backends[i].load.total`, contiguous, for the fallback scan.
        var loadTotals: [Int] = []
        /// The cached eligibility and routable count, valid while `cacheValid` and
        /// `cacheFrom <= now < cacheUntil` (the ejection ends bracketing the time it was built).
        var cached = CachedEligibility()
        var cachedRoutable = 0
        var cacheValid = false
        var cacheFrom: UInt64 = 0
        var cacheUntil: UInt64 = 0

        public init(name: String, models: [String], specs: [BackendSpec], policy: any Policy,
                    health: HealthSettings, seed: UInt64) {
            self.name = name
            self.models = models
            self.policy = policy
            self.healthSettings = health
            self.rng = SeededRandom(seed: seed)
            backends = specs.map { Backend(spec: $0, health: BackendHealth(settings: health)) }
            loadTotals = [Int](repeating: 0, count: backends.count)
            self.policy.rebuild(backends: backends)
        }

        public func index(of id: String) -> Int? {
            backends.firstIndex { $0.spec.id == id && !$0.removed }
        }

        /// Adds a backend (or replaces the spec of a live one with the same id). Returns its index.
        @discardableResult
        public mutating func upsert(_ spec: BackendSpec) -> Int {
            cacheValid = false
            if let i = index(of: spec.id) {
                backends[i].spec = spec
                policy.rebuild(backends: backends)
                return i
            }
            backends.append(Backend(spec: spec, health: BackendHealth(settings: healthSettings)))
            loadTotals.append(0)
            policy.rebuild(backends: backends)
            return backends.count - 1
        }

        /// Removes a backend; returns false if it was not there.
        @discardableResult
        public mutating func remove(id: String) -> Bool {
            guard let i = index(of: id) else { return false }
            backends[i].removed = true
            cacheValid = false
            policy.rebuild(backends: backends)
            return true
        }

        public func eligibility(now: Instant) -> (Eligibility, routable: Int) {
            let (e, routable, _, _) = computeEligibility(now: now)
            return (e, routable)
        }

        /// Eligibility at `now`, with the window `[from, until)` of times at which it is the same
        /// (as far as ejection ends go; other state changes invalidate explicitly).
        func computeEligibility(now: Instant) -> (Eligibility, routable: Int, from: UInt64, until: UInt64) {
            var e = Eligibility(capacity: backends.count)
            var routable = 0
            let t = now.nanoseconds
            var from: UInt64 = 0
            var until = UInt64.max
            backends.withUnsafeBufferPointer { bs in
                for i in 0..<bs.count {
                    // Field reads through the buffer: no copy of `Backend` (and its Strings).
                    if bs[i].removed { continue }
                    if let end = bs[i].health.ejectedUntil?.nanoseconds {
                        if end > t { until = min(until, end) } else { from = max(from, end) }
                    }
                    guard bs[i].health.isRoutable(now: now) else { continue }
                    routable += 1
                    let cap = bs[i].spec.maxConcurrency
                    if cap == 0 || bs[i].load.inFlight < cap { e.insert(i) }
                }
            }
            return (e, routable, from, until)
        }

        @inline(__always)
        mutating func refreshEligibility(now: Instant) {
            let t = now.nanoseconds
            if cacheValid && t >= cacheFrom && t < cacheUntil { return }
            let (e, routable, from, until) = computeEligibility(now: now)
            cached.eligibility = e
            cachedRoutable = routable
            cacheFrom = from
            cacheUntil = until
            cacheValid = true
        }

        /// Chooses a backend for `w`, with fallbacks for retries.
        public mutating func decide(_ w: Workload, now: Instant) -> Result<Decision, RouteFailure> {
            refreshEligibility(now: now)
            guard cachedRoutable > 0 else { return .failure(.noHealthyBackend) }
            guard cached.eligibility.count > 0 else { return .failure(.allSaturated) }
            var ctx = Context(now: now, rng: rng)
            var d = policy.choose(w, backends: backends, eligible: cached.eligibility, context: &ctx)
            rng = ctx.rng
            precondition(cached.eligibility.contains(d.chosen), "policy \(policy.name) chose ineligible backend \(d.chosen)")
            if d.fallbacks.count < min(maxFallbacks, IndexList.capacity) && cached.eligibility.count > 1 {
                fillFallbacks(&d, eligible: cached.eligibility)
            }
            return .success(d)
        }

        /// Tops up fallbacks with the least-loaded remaining eligible backends (ties: lower index),
        /// in one pass that keeps the best few.
        func fillFallbacks(_ d: inout Decision, eligible: Eligibility) {
            let want = min(maxFallbacks, IndexList.capacity) - d.fallbacks.count
            guard want > 0 else { return }
            let chosen = d.chosen
            let given = d.fallbacks
            // The `want` best (load, index) pairs so far, ascending; `want` ≤ 4.
            var idx = (-1, -1, -1, -1), lds = (0, 0, 0, 0)
            var m = 0
            loadTotals.withUnsafeBufferPointer { loads in
                eligible.set.forEach(below: loads.count) { i in
                    let l = loads[i]
                    // Ascending index order: an equal load never beats what is kept.
                    if m == want && l >= Self.get(lds, m - 1) { return }
                    if i == chosen || given.contains(i) { return }
                    var j = m < want ? m : want - 1
                    if m < want { m += 1 }
                    while j > 0 && Self.get(lds, j - 1) > l {
                        Self.set(&idx, j, Self.get(idx, j - 1))
                        Self.set(&lds, j, Self.get(lds, j - 1))
                        j -= 1
                    }
                    Self.set(&idx, j, i)
                    Self.set(&lds, j, l)
                }
            }
            for k in 0..<m { d.fallbacks.append(Self.get(idx, k)) }
        }

        @inline(__always)
        static func get(_ t: (Int, Int, Int, Int), _ k: Int) -> Int {
            switch k { case 0: return t.0; case 1: return t.1; case 2: return t.2; default: return t.3 }
        }

        @inline(__always)
        static func set(_ t: inout (Int, Int, Int, Int), _ k: Int, _ v: Int) {
            switch k { case 0: t.0 = v; case 1: t.1 = v; case 2: t.2 = v; default: t.3 = v }
        }

        // MARK: request lifecycle (the shell reports; load stays exact)

        public mutating func requestStarted(backend i: Int, promptTokens: Int) {
            let before = backends[i].load.inFlight
            backends[i].load.inFlight += 1
            backends[i].load.pendingPrefillTokens += promptTokens
            loadTotals[i] = backends[i].load.total
            let cap = backends[i].spec.maxConcurrency
            if cap > 0 && before < cap && before + 1 >= cap { cacheValid = false }
        }

        public mutating func firstToken(backend i: Int, promptTokens: Int, ttft: Nanos, workload: Workload?, now: Instant) {
            backends[i].load.pendingPrefillTokens = max(0, backends[i].load.pendingPrefillTokens - promptTokens)
            policy.observe(.firstToken(backend: i, promptTokens: promptTokens, ttft: ttft), workload: workload, backends: backends, now: now)
        }

        /// Ends a request. `sawFirstToken` says whether `firstToken` was reported for it.
        public mutating func requestFinished(backend i: Int, promptTokens: Int, sawFirstToken: Bool, success: Bool,
                                             cachedTokens: Int?, workload: Workload?, now: Instant) -> BackendHealth.Change? {
            let before = backends[i].load.inFlight
            backends[i].load.inFlight = max(0, before - 1)
            loadTotals[i] = backends[i].load.total
            let cap = backends[i].spec.maxConcurrency
            if cap > 0 && before >= cap && backends[i].load.inFlight < cap { cacheValid = false }
            if !sawFirstToken {
                backends[i].load.pendingPrefillTokens = max(0, backends[i].load.pendingPrefillTokens - promptTokens)
            }
            policy.observe(.finished(backend: i, success: success, cachedTokens: cachedTokens), workload: workload, backends: backends, now: now)
            let status = backends[i].health.status, ejected = backends[i].health.ejectedUntil
            let change = backends[i].health.onRequest(success: success, now: now)
            if change != nil || backends[i].health.status != status || backends[i].health.ejectedUntil != ejected { cacheValid = false }
            return change
        }

        /// A health status decided by the backend's owner nodes (gossip).
        public mutating func adoptHealth(backend i: Int, status: HealthStatus) -> BackendHealth.Change? {
            let change = backends[i].health.adopt(status)
            if change != nil { cacheValid = false }
            return change
        }

        /// A peer's hot-prefix override, with its backends already mapped to this pool's indices.
        @discardableResult
        public mutating func applyOverride(_ o: PrefixOverride, key: UInt64) -> Bool { policy.applyOverride(o, key: key) }

        public mutating func probeResult(backend i: Int, success: Bool, now: Instant) -> BackendHealth.Change? {
            let status = backends[i].health.status, ejected = backends[i].health.ejectedUntil
            let change = backends[i].health.onProbe(success: success, now: now)
            if change != nil || backends[i].health.status != status || backends[i].health.ejectedUntil != ejected { cacheValid = false }
            return change
        }

        public mutating func setScraped(backend i: Int, waiting: Int?, running: Int?, kvUsage: Double?) {
            backends[i].load.scrapedWaiting = waiting
            backends[i].load.scrapedRunning = running
            backends[i].load.scrapedKVUsage = kvUsage
        }

        public mutating func setPeerInFlight(backend i: Int, _ n: Int) {
            backends[i].load.peerInFlight = n
            loadTotals[i] = backends[i].load.total
        }
    }
}

extension Routing {
    /// The pool's cached `Eligibility`. It holds only integers and a `[UInt64]` (copy-on-write),
    /// so sharing copies across threads is safe; `Eligibility` itself is not declared `Sendable`.
    struct CachedEligibility: @unchecked Sendable {
        var eligibility = Eligibility(capacity: 0)
    }
}

extension Routing.SmallBitSet {
    /// Calls `body` with each member below `limit`, ascending, word by word.
    @inline(__always)
    func forEach(below limit: Int, _ body: (Int) -> Void) {
        func word(_ w: UInt64, base: Int) {
            var x = w
            while x != 0 {
                let i = base + x.trailingZeroBitCount
                if i >= limit { return }
                body(i)
                x &= x &- 1
            }
        }
        word(w0, base: 0)
        if limit <= 64 { return }
        word(w1, base: 64)
        if limit <= 128 { return }
        rest.withUnsafeBufferPointer { r in
            for k in 0..<r.count { word(r[k], base: 128 + k * 64) }
        }
    }
}
