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
    public struct Pool: Sendable {
        public let name: String
        public var models: [String]
        public private(set) var backends: [Backend] = []
        public private(set) var policy: any Policy
        public let healthSettings: HealthSettings
        var rng: SeededRandom
        /// How many retry targets a decision carries (after the chosen one).
        public var maxFallbacks = 2

        public init(name: String, models: [String], specs: [BackendSpec], policy: any Policy,
                    health: HealthSettings, seed: UInt64) {
            self.name = name
            self.models = models
            self.policy = policy
            self.healthSettings = health
            self.rng = SeededRandom(seed: seed)
            backends = specs.map { Backend(spec: $0, health: BackendHealth(settings: health)) }
            self.policy.rebuild(backends: backends)
        }

        public func index(of id: String) -> Int? {
            backends.firstIndex { $0.spec.id == id && !$0.removed }
        }

        /// Adds a backend (or replaces the spec of a live one with the same id). Returns its index.
        @discardableResult
        public mutating func upsert(_ spec: BackendSpec) -> Int {
            if let i = index(of: spec.id) {
                backends[i].spec = spec
                policy.rebuild(backends: backends)
                return i
            }
            backends.append(Backend(spec: spec, health: BackendHealth(settings: healthSettings)))
            policy.rebuild(backends: backends)
            return backends.count - 1
        }

        /// Removes a backend; returns false if it was not there.
        @discardableResult
        public mutating func remove(id: String) -> Bool {
            guard let i = index(of: id) else { return false }
            backends[i].removed = true
            policy.rebuild(backends: backends)
            return true
        }

        public func eligibility(now: Instant) -> (Eligibility, routable: Int) {
            var e = Eligibility(capacity: backends.count)
            var routable = 0
            for i in 0..<backends.count {
                let b = backends[i]
                guard !b.removed, b.health.isRoutable(now: now) else { continue }
                routable += 1
                if b.spec.maxConcurrency == 0 || b.load.inFlight < b.spec.maxConcurrency { e.insert(i) }
            }
            return (e, routable)
        }

        /// Chooses a backend for `w`, with fallbacks for retries.
        public mutating func decide(_ w: Workload, now: Instant) -> Result<Decision, RouteFailure> {
            let (eligible, routable) = eligibility(now: now)
            guard routable > 0 else { return .failure(.noHealthyBackend) }
            guard eligible.count > 0 else { return .failure(.allSaturated) }
            var ctx = Context(now: now, rng: rng)
            var d = policy.choose(w, backends: backends, eligible: eligible, context: &ctx)
            rng = ctx.rng
            precondition(eligible.contains(d.chosen), "policy \(policy.name) chose ineligible backend \(d.chosen)")
            fillFallbacks(&d, eligible: eligible)
            return .success(d)
        }

        /// Tops up fallbacks with the least-loaded remaining eligible backends.
        func fillFallbacks(_ d: inout Decision, eligible: Eligibility) {
            while d.fallbacks.count < maxFallbacks {
                var best = -1
                var bestLoad = Int.max
                for i in 0..<backends.count where eligible.contains(i) && i != d.chosen && !d.fallbacks.contains(i) {
                    let l = backends[i].load.total
                    if l < bestLoad { best = i; bestLoad = l }
                }
                if best < 0 { return }
                d.fallbacks.append(best)
            }
        }

        // MARK: request lifecycle (the shell reports; load stays exact)

        public mutating func requestStarted(backend i: Int, promptTokens: Int) {
            backends[i].load.inFlight += 1
            backends[i].load.pendingPrefillTokens += promptTokens
        }

        public mutating func firstToken(backend i: Int, promptTokens: Int, ttft: Nanos, workload: Workload?, now: Instant) {
            backends[i].load.pendingPrefillTokens = max(0, backends[i].load.pendingPrefillTokens - promptTokens)
            policy.observe(.firstToken(backend: i, promptTokens: promptTokens, ttft: ttft), workload: workload, backends: backends, now: now)
        }

        /// Ends a request. `sawFirstToken` says whether `firstToken` was reported for it.
        public mutating func requestFinished(backend i: Int, promptTokens: Int, sawFirstToken: Bool, success: Bool,
                                             cachedTokens: Int?, workload: Workload?, now: Instant) -> BackendHealth.Change? {
            backends[i].load.inFlight = max(0, backends[i].load.inFlight - 1)
            if !sawFirstToken {
                backends[i].load.pendingPrefillTokens = max(0, backends[i].load.pendingPrefillTokens - promptTokens)
            }
            policy.observe(.finished(backend: i, success: success, cachedTokens: cachedTokens), workload: workload, backends: backends, now: now)
            return backends[i].health.onRequest(success: success, now: now)
        }

        public mutating func probeResult(backend i: Int, success: Bool, now: Instant) -> BackendHealth.Change? {
            backends[i].health.onProbe(success: success, now: now)
        }

        public mutating func setScraped(backend i: Int, waiting: Int?, running: Int?, kvUsage: Double?) {
            backends[i].load.scrapedWaiting = waiting
            backends[i].load.scrapedRunning = running
            backends[i].load.scrapedKVUsage = kvUsage
        }

        public mutating func setPeerInFlight(backend i: Int, _ n: Int) { backends[i].load.peerInFlight = n }
    }
}
