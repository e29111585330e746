#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RoutingCore
import SimCore
import WRPCommon
import Workload

extension Fleet {
    /// Fleet parameters. Defaults: an 8B model on one modern GPU with a CPU-memory KV tier
    /// (issue 3): 1.5M tokens of prefix cache, 12k prefill tokens/s, 30 ms per output token per
    /// request, 64 running requests, TTFT SLO 5 s.
    public struct Config: Sendable {
        public var backends = 8
        /// Prefix-cache capacity per backend, in tokens (LRU over blocks of the trace's block size).
        public var cacheTokens = 1_500_000
        /// Prefill throughput per backend (uncached prompt tokens per second).
        public var prefillTokensPerSecond = 12_000.0
        /// Decode time per output token of one request (s); decode runs in parallel across requests.
        public var decodeSecondsPerToken = 0.030
        /// Requests a backend runs at once (prefill or decode); the rest wait FIFO.
        public var maxRunning = 64
        public var sloTTFTMs = 5_000.0
        /// Arrival-rate multiplier: arrival times are divided by it.
        public var rateScale = 1.0
        /// Seed of the pool's generator (random tie-breaks, `random` policy).
        public var seed: UInt64 = 1
        /// Measure wall-clock ns per routing decision (the only non-deterministic output).
        public var measureDecisions = false

        public init() {}

        /// Policy parameters matched to this fleet: block size, SLO, prefill prior, and a prefix
        /// index as large as the fleet's cache (in blocks).
        public func policyParams(blockTokens: Int, base: Routing.PolicyParams = Routing.PolicyParams()) -> Routing.PolicyParams {
            var p = base
            p.blockTokens = blockTokens
            p.sloTTFTMs = sloTTFTMs
            p.prefillTokensPerSecond = prefillTokensPerSecond
            p.indexBlocks = max(1, backends * cacheTokens / blockTokens)
            return p
        }
    }

    /// What a replay measured (field names as `--json` prints them).
    public struct Result: Sendable {
        public var policy: String
        public var requests = 0
        /// Token-level KV reuse: cached prompt tokens / prompt tokens.
        public var hitRate = 0.0
        /// One LRU holding the whole fleet's capacity, fed the trace in order.
        public var oracleHitRate = 0.0
        public var ttftP50Ms = 0.0, ttftP90Ms = 0.0, ttftP99Ms = 0.0
        /// Fraction of requests with TTFT ≤ SLO.
        public var sloAttainment = 0.0
        /// Max / mean requests per backend.
        public var imbalance = 0.0
        public var decisionNsP50 = 0.0
        /// Highest rate scale with ≥ 90% SLO attainment (when searched).
        public var effectiveCapacity: Double?
        public var reasons: [String: Int] = [:]
        public var perBackend: [Int] = []
    }

    /// Token-level hit rate of one LRU of the fleet's whole capacity fed the trace in order.
    public static func oracleHitRate(_ trace: Trace, config: Config) -> Double {
        var cache = PrefixCache(capacityBlocks: config.backends * config.cacheTokens / trace.blockTokens)
        var hit = 0, total = 0
        for r in trace.requests {
            let m = cache.access(r.workload.blockHashes)
            hit += min(m * trace.blockTokens, r.inputTokens)
            total += r.inputTokens
        }
        return total == 0 ? 0 : Double(hit) / Double(total)
    }

    /// Replays `trace` through `policy`: one discrete-event run in virtual time. Deterministic for
    /// a given trace, policy, params and config (except `decisionNsP50`).
    ///
    /// Backend model: at most `maxRunning` admitted requests; admitted requests prefill one at a
    /// time, FCFS (cache lookup at prefill start; uncached tokens / prefill rate); the first token
    /// comes at prefill end; decode then takes output tokens × decode time, overlapping other work.
    /// The router sees the same lifecycle calls the daemon makes, and vLLM-style scraped gauges
    /// (waiting, running, KV usage of running requests) as if scraped continuously.
    public static func run(_ trace: Trace, policy name: Routing.PolicyName, params: Routing.PolicyParams,
                           config: Config, oracle: Double? = nil) -> Result {
        var sim = Engine(trace: trace, config: config, policy: Routing.makePolicy(name, params: params))
        sim.run()
        var r = sim.result(policy: name.rawValue)
        r.oracleHitRate = oracle ?? oracleHitRate(trace, config: config)
        return r
    }

    /// Searches the highest rate scale with ≥ `target` SLO attainment (doubling, then bisection
    /// on a log scale to ~0.5%). Returns the capacity and the run at it.
    public static func findCapacity(_ trace: Trace, policy: Routing.PolicyName, params: Routing.PolicyParams,
                                    config: Config, oracle: Double, target: Double = 0.9) -> (Double, Result) {
        func attempt(_ x: Double) -> Result {
            var c = config
            c.rateScale = x
            c.measureDecisions = false
            return run(trace, policy: policy, params: params, config: c, oracle: oracle)
        }
        var lo = 1.0, hi = 1.0
        var loResult = attempt(1)
        if loResult.sloAttainment >= target {
            hi = 2
            while hi <= 256 {
                let r = attempt(hi)
                if r.sloAttainment < target { break }
                lo = hi; loResult = r; hi *= 2
            }
            if hi > 256 { loResult.effectiveCapacity = lo; return (lo, loResult) }
        } else {
            lo = 0.5
            while lo >= 1.0 / 256 {
                let r = attempt(lo)
                if r.sloAttainment >= target { loResult = r; break }
                hi = lo; lo /= 2
            }
        }
        for _ in 0..<8 {
            let mid = (lo * hi).squareRoot()
            let r = attempt(mid)
            if r.sloAttainment >= target { lo = mid; loResult = r } else { hi = mid }
        }
        loResult.effectiveCapacity = lo
        return (lo, loResult)
    }

    @inline(__always)
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    struct Event {
        var time: UInt64
        var seq: UInt64
        var kind: UInt8  // 0 prefill done, 1 finished
        var backend: Int32
        var request: Int32
        @inline(__always) static func < (a: Event, b: Event) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
    }

    /// A binary min-heap of events by (time, sequence).
    struct EventHeap {
        var items: [Event] = []
        var isEmpty: Bool { items.isEmpty }
        var top: Event? { items.first }

        mutating func push(_ e: Event) {
            items.append(e)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                if items[i] < items[p] { items.swapAt(i, p); i = p } else { break }
            }
        }

        mutating func pop() -> Event {
            let top = items[0]
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < items.count && items[l] < items[m] { m = l }
                    if r < items.count && items[r] < items[m] { m = r }
                    if m == i { break }
                    items.swapAt(i, m); i = m
                }
            }
            return top
        }
    }

    struct Queue {
        var items: [Int32] = []
        var head = 0
        var count: Int { items.count - head }
        mutating func push(_ x: Int32) { items.append(x) }
        mutating func pop() -> Int32? {
            guard head < items.count else { return nil }
            let x = items[head]
            head += 1
            if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
            return x
        }
    }

    struct BackendState {
        var cache: PrefixCache
        var running = 0
        var runningTokens = 0
        var waiting = Queue()
        var prefill = Queue()
        var busy = false
        var routed = 0
    }

    struct Engine {
        let trace: Trace
        let config: Config
        var pool: Routing.Pool
        var backends: [BackendState]
        var heap = EventHeap()
        var seq: UInt64 = 0
        var arrivalNs: [UInt64]
        var ttftNs: [UInt64]
        var hitTokens: [Int]
        var assigned: [Int32]
        var decisionNs: [UInt64] = []
        var reasons: [String: Int] = [:]

        init(trace: Trace, config: Config, policy: any Routing.Policy) {
            self.trace = trace
            self.config = config
            let specs = (0..<config.backends).map { Routing.BackendSpec(id: "sim-\($0)", url: "http://sim-\($0)") }
            pool = Routing.Pool(name: "replay", models: [], specs: specs, policy: policy,
                                health: Routing.HealthSettings(), seed: config.seed)
            let blocks = max(1, config.cacheTokens / trace.blockTokens)
            backends = (0..<config.backends).map { _ in BackendState(cache: PrefixCache(capacityBlocks: blocks)) }
            let n = trace.requests.count
            arrivalNs = trace.requests.map { UInt64(max(0, $0.arrival) / config.rateScale * 1e9) }
            ttftNs = [UInt64](repeating: 0, count: n)
            hitTokens = [Int](repeating: 0, count: n)
            assigned = [Int32](repeating: -1, count: n)
            if config.measureDecisions { decisionNs.reserveCapacity(n) }
        }

        mutating func schedule(_ t: UInt64, kind: UInt8, backend: Int, request: Int) {
            seq += 1
            heap.push(Event(time: t, seq: seq, kind: kind, backend: Int32(backend), request: Int32(request)))
        }

        mutating func run() {
            var next = 0
            let n = trace.requests.count
            while next < n || !heap.isEmpty {
                if next < n && (heap.isEmpty || arrivalNs[next] <= heap.top!.time) {
                    arrive(next)
                    next += 1
                } else {
                    let e = heap.pop()
                    if e.kind == 0 { prefillDone(Int(e.backend), Int(e.request), now: e.time) } else { finish(Int(e.backend), Int(e.request), now: e.time) }
                }
            }
        }

        mutating func publish(_ b: Int) {
            let s = backends[b]
            pool.setScraped(backend: b, waiting: s.waiting.count, running: s.running,
                            kvUsage: min(1, Double(s.runningTokens) / Double(max(1, config.cacheTokens))))
        }

        mutating func arrive(_ r: Int) {
            let now = Instant(nanoseconds: arrivalNs[r])
            let w = trace.requests[r].workload
            let d: Swift.Result<Routing.Decision, Routing.RouteFailure>
            if config.measureDecisions {
                let t0 = monotonicNanos()
                d = pool.decide(w, now: now)
                decisionNs.append(monotonicNanos() &- t0)
            } else {
                d = pool.decide(w, now: now)
            }
            guard case .success(let decision) = d else { preconditionFailure("replay: no backend for request \(r): \(d)") }
            reasons[decision.reason.rawValue, default: 0] += 1
            let b = decision.chosen
            assigned[r] = Int32(b)
            backends[b].routed += 1
            pool.requestStarted(backend: b, promptTokens: trace.requests[r].inputTokens)
            if backends[b].running < config.maxRunning {
                admit(b, r, now: now.nanoseconds)
            } else {
                backends[b].waiting.push(Int32(r))
            }
            publish(b)
        }

        mutating func admit(_ b: Int, _ r: Int, now: UInt64) {
            backends[b].running += 1
            backends[b].runningTokens += trace.requests[r].inputTokens + trace.requests[r].outputTokens
            backends[b].prefill.push(Int32(r))
            startPrefill(b, now: now)
        }

        mutating func startPrefill(_ b: Int, now: UInt64) {
            guard !backends[b].busy, let r32 = backends[b].prefill.pop() else { return }
            let r = Int(r32)
            let req = trace.requests[r]
            let m = backends[b].cache.access(req.workload.blockHashes)
            let hit = min(m * trace.blockTokens, req.inputTokens)
            hitTokens[r] = hit
            let uncached = max(1, req.inputTokens - hit)
            let dur = UInt64(Double(uncached) / config.prefillTokensPerSecond * 1e9)
            backends[b].busy = true
            schedule(now + dur, kind: 0, backend: b, request: r)
        }

        mutating func prefillDone(_ b: Int, _ r: Int, now: UInt64) {
            backends[b].busy = false
            let req = trace.requests[r]
            let ttft = now - arrivalNs[r]
            ttftNs[r] = ttft
            pool.firstToken(backend: b, promptTokens: req.inputTokens, ttft: ttft, workload: req.workload, now: Instant(nanoseconds: now))
            let decode = UInt64(Double(max(0, req.outputTokens - 1)) * config.decodeSecondsPerToken * 1e9)
            schedule(now + decode, kind: 1, backend: b, request: r)
            startPrefill(b, now: now)
        }

        mutating func finish(_ b: Int, _ r: Int, now: UInt64) {
            let req = trace.requests[r]
            _ = pool.requestFinished(backend: b, promptTokens: req.inputTokens, sawFirstToken: true, success: true,
                                     cachedTokens: hitTokens[r], workload: req.workload, now: Instant(nanoseconds: now))
            backends[b].running -= 1
            backends[b].runningTokens -= req.inputTokens + req.outputTokens
            if let w = backends[b].waiting.pop() { admit(b, Int(w), now: now) }
            publish(b)
        }

        func result(policy: String) -> Fleet.Result {
            var res = Fleet.Result(policy: policy)
            let n = trace.requests.count
            res.requests = n
            guard n > 0 else { return res }
            var hit = 0, total = 0
            for (i, r) in trace.requests.enumerated() { hit += hitTokens[i]; total += r.inputTokens }
            res.hitRate = total == 0 ? 0 : Double(hit) / Double(total)
            let sorted = ttftNs.sorted()
            func pct(_ p: Double) -> Double { Double(sorted[min(n - 1, Int((p * Double(n)).rounded(.up)) - 1)]) / 1e6 }
            res.ttftP50Ms = pct(0.5); res.ttftP90Ms = pct(0.9); res.ttftP99Ms = pct(0.99)
            let slo = UInt64(config.sloTTFTMs * 1e6)
            res.sloAttainment = Double(ttftNs.filter { $0 <= slo }.count) / Double(n)
            res.perBackend = backends.map(\.routed)
            let mean = Double(n) / Double(max(1, backends.count))
            res.imbalance = Double(res.perBackend.max() ?? 0) / mean
            if !decisionNs.isEmpty { res.decisionNsP50 = Double(decisionNs.sorted()[decisionNs.count / 2]) }
            res.reasons = reasons
            return res
        }
    }
}
