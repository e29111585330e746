import WRPCommon

extension Bandit {
    /// A deterministic bandit benchmark: requests of a few task types (contexts) arrive in a
    /// fixed mix; each model answers correctly with its published accuracy on that task
    /// (Bernoulli quality) at a fixed cost per request. Policies learn from the realised
    /// rewards; regret is measured on expected rewards, against the best single model and
    /// against the per-context oracle (the best model for each task type).
    ///
    /// Quality: five of RouterBench's eleven models (Hu et al., arXiv 2403.12031) on three of its
    /// task families, using the accuracies their developers published (MMLU 5-shot, GSM8K,
    /// HumanEval pass@1: GPT-4 technical report, Llama 2 paper, Mistral 7B and Mixtral papers).
    /// Cost: list prices per million tokens at the time RouterBench was collected, for a
    /// 500-token prompt and a 250-token answer. See docs/evaluation.md for the table and caveats.
    public struct Benchmark: Sendable {
        public struct Model: Sendable {
            public var name: String
            /// Accuracy per context, in `contexts` order.
            public var quality: [Double]
            /// USD per request.
            public var cost: Double
        }

        public static let contexts = ["knowledge", "math", "code"]
        /// Share of requests per context.
        public static let mix = [0.4, 0.3, 0.3]

        /// $/M tokens (input, output) → USD for 500 in + 250 out.
        static func cost(_ input: Double, _ output: Double) -> Double { (500 * input + 250 * output) / 1e6 }

        public static let models: [Model] = [
            Model(name: "gpt-4-1106-preview", quality: [0.864, 0.920, 0.670], cost: cost(10, 30)),
            Model(name: "gpt-3.5-turbo-1106", quality: [0.700, 0.571, 0.481], cost: cost(1, 2)),
            Model(name: "mixtral-8x7b-chat", quality: [0.706, 0.584, 0.402], cost: cost(0.6, 0.6)),
            Model(name: "llama-2-70b-chat", quality: [0.689, 0.568, 0.299], cost: cost(0.9, 0.9)),
            Model(name: "mistral-7b-chat", quality: [0.601, 0.521, 0.305], cost: cost(0.2, 0.2)),
        ]

        /// What chooses: a baseline or a learning policy.
        public enum Contender: Sendable {
            case uniformRandom
            case bestFixed
            case oracle
            case learner(BanditSettings)

            public var name: String {
                switch self {
                case .uniformRandom: return "uniform random"
                case .bestFixed: return "best fixed model"
                case .oracle: return "oracle (per context)"
                case .learner(let s):
                    switch s.policy {
                    case .ucb1: return "ucb1 (c=\(Benchmark.fmt(s.ucbC, 2)))"
                    case .linucb: return "linucb (α=\(Benchmark.fmt(s.linucbAlpha, 2)))"
                    case .epsilonGreedy: return "epsilon_greedy (ε=\(Benchmark.fmt(s.epsilon, 2)))"
                    case .thompson: return "thompson"
                    }
                }
            }
        }

        public struct Result: Sendable {
            public var name: String
            /// Σ over steps of E[reward | best fixed model] − E[reward | chosen], mean over seeds.
            public var regretVsBestFixed: Double
            /// Σ over steps of max_m E[reward | m, context] − E[reward | chosen], mean over seeds.
            public var regretVsOracle: Double
            /// Mean realised quality and cost (USD) per request.
            public var meanQuality: Double
            public var meanCost: Double
        }

        public var steps: Int
        public var seeds: [UInt64]
        public var lambdaCost: Double

        public init(steps: Int = 3_000, seeds: [UInt64] = [1, 2, 3, 4, 5], lambdaCost: Double = 20) {
            self.steps = steps
            self.seeds = seeds
            self.lambdaCost = lambdaCost
        }

        func expected(_ m: Int, _ c: Int) -> Double {
            Self.models[m].quality[c] - lambdaCost * Self.models[m].cost
        }

        /// The single model with the best expected reward over the context mix.
        public var bestFixedModel: Int {
            let value = Self.models.indices.map { m in Self.contexts.indices.reduce(0.0) { $0 + Self.mix[$1] * expected(m, $1) } }
            return value.indices.max { value[$0] < value[$1] }!
        }

        func oracleModel(_ c: Int) -> Int {
            Self.models.indices.max { expected($0, c) < expected($1, c) }!
        }

        /// Features for LinUCB: bias plus a one-hot task type (d = 4).
        static func features(_ c: Int) -> [Double] {
            var x = [1.0, 0, 0, 0]
            x[1 + c] = 1
            return x
        }

        static func drawContext(_ rng: inout SeededRandom) -> Int {
            let u = rng.unit()
            var acc = 0.0
            for (i, p) in mix.enumerated() {
                acc += p
                if u < acc { return i }
            }
            return mix.count - 1
        }

        public func run(_ contender: Contender) -> Result {
            let names = Self.models.map(\.name)
            let fixed = bestFixedModel
            var regretFixed = 0.0, regretOracle = 0.0, quality = 0.0, cost = 0.0
            for seed in seeds {
                var rng = SeededRandom(seed: seed)
                var learner: Learner? = nil
                var linear = false
                if case .learner(var s) = contender {
                    s.lambdaCost = lambdaCost
                    s.muLatency = 0
                    linear = s.policy == .linucb
                    learner = Learner(node: "bench", settings: s, dimension: linear ? 4 : 0)
                }
                for _ in 0..<steps {
                    let c = Self.drawContext(&rng)
                    // LinUCB sees the task through its features; the others keep per-context arms.
                    let key = linear ? "*" : Self.contexts[c]
                    let x = linear ? Self.features(c) : []
                    let m: Int
                    switch contender {
                    case .uniformRandom: m = rng.below(names.count)
                    case .bestFixed: m = fixed
                    case .oracle: m = oracleModel(c)
                    case .learner: m = learner!.choose(context: key, eligible: names, features: x, rng: &rng)!.index
                    }
                    let q = rng.unit() < Self.models[m].quality[c] ? 1.0 : 0.0
                    learner?.record(context: key, model: names[m], features: x, quality: q, cost: Self.models[m].cost, latencyMs: 0)
                    regretFixed += expected(fixed, c) - expected(m, c)
                    regretOracle += expected(oracleModel(c), c) - expected(m, c)
                    quality += q
                    cost += Self.models[m].cost
                }
            }
            let runs = Double(seeds.count)
            let total = runs * Double(steps)
            return Result(name: contender.name, regretVsBestFixed: regretFixed / runs, regretVsOracle: regretOracle / runs,
                          meanQuality: quality / total, meanCost: cost / total)
        }

        /// The contenders: baselines, each policy at its default settings (LinUCB at α = 0.5),
        /// and UCB1 with a smaller bonus, since c = 2 explores for long when gaps are small.
        public static var contenders: [Contender] {
            var list: [Contender] = [.uniformRandom, .bestFixed, .oracle]
            for p in BanditSettings.Policy.allCases {
                var s = BanditSettings()
                s.policy = p
                if p == .linucb { s.linucbAlpha = 0.5 }
                list.append(.learner(s))
                if p == .ucb1 {
                    s.ucbC = 0.1
                    list.append(.learner(s))
                }
            }
            return list
        }

        /// Markdown: regret per contender.
        public func regretTable() -> (results: [Result], markdown: String) {
            let results = Self.contenders.map(run)
            var md = "| policy | regret vs best fixed | regret vs oracle | mean quality | mean cost (USD/1k req) |\n"
            md += "|---|---:|---:|---:|---:|\n"
            for r in results {
                md += "| \(r.name) | \(Self.fmt(r.regretVsBestFixed, 1)) | \(Self.fmt(r.regretVsOracle, 1)) | \(Self.fmt(r.meanQuality, 3)) | \(Self.fmt(r.meanCost * 1000, 2)) |\n"
            }
            return (results, md)
        }

        /// Markdown: the quality/cost frontier traced by Thompson sampling as λ varies, next to
        /// the oracle's point for the same λ.
        public static func frontierTable(lambdas: [Double], steps: Int = 3_000, seeds: [UInt64] = [1, 2, 3]) -> (rows: [(lambda: Double, policy: Result, oracle: Result)], markdown: String) {
            var rows: [(lambda: Double, policy: Result, oracle: Result)] = []
            var md = "| λ (per USD) | thompson quality | thompson cost (USD/1k req) | oracle quality | oracle cost (USD/1k req) |\n"
            md += "|---:|---:|---:|---:|---:|\n"
            for l in lambdas {
                let b = Benchmark(steps: steps, seeds: seeds, lambdaCost: l)
                var s = BanditSettings()
                s.policy = .thompson
                let p = b.run(.learner(s)), o = b.run(.oracle)
                rows.append((l, p, o))
                md += "| \(fmt(l, 0)) | \(fmt(p.meanQuality, 3)) | \(fmt(p.meanCost * 1000, 2)) | \(fmt(o.meanQuality, 3)) | \(fmt(o.meanCost * 1000, 2)) |\n"
            }
            return (rows, md)
        }

        /// Fixed-point formatting without Foundation.
        static func fmt(_ v: Double, _ digits: Int) -> String {
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let r = (abs(v) * scale).rounded()
            let whole = Int(r / scale)
            var s = (v < 0 && r > 0 ? "-" : "") + String(whole)
            if digits > 0 {
                let frac = String(Int(r - Double(whole) * scale))
                s += "." + String(repeating: "0", count: digits - frac.count) + frac
            }
            return s
        }
    }
}
