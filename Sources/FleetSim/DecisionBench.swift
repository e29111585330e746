import RoutingCore
import WRPCommon
import Workload

extension Fleet {
    /// Decision-time benchmark: each policy deciding for 8 KiB chat prompts on pools of several
    /// sizes, with requests finishing so that load stays bounded (n × 4 in flight).
    public struct DecisionBench {
        public struct Row: Sendable {
            public var policy: String
            public var backends: Int
            public var p50Ns: Double
            public var p99Ns: Double
            /// The policy's `choose` alone (no pool bookkeeping), p50.
            public var policyP50Ns: Double = 0
        }

        /// Builds `count` 8 KiB chat bodies: one of 16 shared 2 KiB system prompts, then 6 KiB of
        /// per-conversation text, parsed and hashed as wrpd does (64-token / 256-byte blocks).
        public static func workloads(count: Int, seed: UInt64) -> (workloads: [Workload], parseNsP50: Double) {
            var rng = SeededRandom(seed: seed)
            func text(_ bytes: Int, _ r: inout SeededRandom) -> String {
                let words = ["the", "router", "cache", "prefix", "token", "model", "query", "answer", "block", "queue", "load", "time"]
                var s = ""
                while s.utf8.count < bytes { s += words[r.below(words.count)]; s += " " }
                return String(s.prefix(bytes))
            }
            let systems = (0..<16).map { _ in text(2048, &rng) }
            var parser = WorkloadParser(blockBytes: 256)
            var out: [Workload] = []
            var times: [UInt64] = []
            for i in 0..<count {
                let body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"\(systems[i % 16])\"},{\"role\":\"user\",\"content\":\"\(text(6144 - 64, &rng))\"}]}"
                let bytes = Array(body.utf8)
                let t0 = monotonicNanos()
                let w = try! parser.parse(bytes, kind: .chat)
                times.append(monotonicNanos() &- t0)
                out.append(w)
            }
            times.sort()
            return (out, Double(times[times.count / 2]))
        }

        public static func run(policy: Routing.PolicyName, backends n: Int, workloads: [Workload], decisions: Int) -> Row {
            let specs = (0..<n).map { Routing.BackendSpec(id: "b-\($0)", url: "http://b-\($0)") }
            var pool = Routing.Pool(name: "bench", models: [], specs: specs,
                                    policy: Routing.makePolicy(policy, params: Routing.PolicyParams()),
                                    health: Routing.HealthSettings(), seed: 7)
            var inflight = [(Int, Int)](repeating: (0, 0), count: n * 4)
            var head = 0, count = 0
            var times = [UInt64](repeating: 0, count: decisions)
            var now: UInt64 = 0
            for i in 0..<decisions {
                let w = workloads[i % workloads.count]
                now += 1_000_000
                let t0 = monotonicNanos()
                let d = pool.decide(w, now: Instant(nanoseconds: now))
                times[i] = monotonicNanos() &- t0
                guard case .success(let dec) = d else { continue }
                let tokens = w.estimatedPromptTokens
                pool.requestStarted(backend: dec.chosen, promptTokens: tokens)
                if count == inflight.count {
                    let (b, tk) = inflight[head]
                    pool.firstToken(backend: b, promptTokens: tk, ttft: 200_000_000, workload: nil, now: Instant(nanoseconds: now))
                    _ = pool.requestFinished(backend: b, promptTokens: tk, sawFirstToken: true, success: true,
                                             cachedTokens: nil, workload: nil, now: Instant(nanoseconds: now))
                    inflight[head] = (dec.chosen, tokens)
                    head = (head + 1) % inflight.count
                } else {
                    inflight[(head + count) % inflight.count] = (dec.chosen, tokens)
                    count += 1
                }
            }
            times.sort()
            var row = Row(policy: policy.rawValue, backends: n, p50Ns: Double(times[decisions / 2]),
                          p99Ns: Double(times[decisions * 99 / 100]))
            row.policyP50Ns = policyOnly(policy: policy, backends: n, workloads: workloads, decisions: decisions)
            return row
        }

        /// Times `choose` alone against a fixed all-eligible set, with load kept as in `run`.
        static func policyOnly(policy name: Routing.PolicyName, backends n: Int, workloads: [Workload], decisions: Int) -> Double {
            var bs = (0..<n).map {
                Routing.Backend(spec: Routing.BackendSpec(id: "b-\($0)", url: "http://b-\($0)"),
                                health: Routing.BackendHealth(settings: Routing.HealthSettings()))
            }
            var policy = Routing.makePolicy(name, params: Routing.PolicyParams())
            policy.rebuild(backends: bs)
            var e = Routing.Eligibility(capacity: n)
            for i in 0..<n { e.insert(i) }
            var ctx = Routing.Context(now: .zero, rng: SeededRandom(seed: 7))
            var inflight = [Int](repeating: 0, count: n * 4)
            var head = 0, count = 0
            var times = [UInt64](repeating: 0, count: decisions)
            for i in 0..<decisions {
                let w = workloads[i % workloads.count]
                ctx.now = Instant(nanoseconds: UInt64(i + 1) * 1_000_000)
                let t0 = monotonicNanos()
                let d = policy.choose(w, backends: bs, eligible: e, context: &ctx)
                times[i] = monotonicNanos() &- t0
                bs[d.chosen].load.inFlight += 1
                if count == inflight.count {
                    let b = inflight[head]
                    bs[b].load.inFlight -= 1
                    policy.observe(.firstToken(backend: b, promptTokens: 2048, ttft: 200_000_000), workload: nil, backends: bs, now: ctx.now)
                    policy.observe(.finished(backend: b, success: true, cachedTokens: nil), workload: nil, backends: bs, now: ctx.now)
                    inflight[head] = d.chosen
                    head = (head + 1) % inflight.count
                } else {
                    inflight[(head + count) % inflight.count] = d.chosen
                    count += 1
                }
            }
            times.sort()
            return Double(times[decisions / 2])
        }
    }
}
