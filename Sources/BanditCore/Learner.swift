#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WRPCommon

extension Bandit {
    /// reward = quality − λ·cost − μ·latency. quality in [0, 1], cost in USD per request,
    /// latency in milliseconds (see `BanditSettings`).
    public static func reward(quality: Double, cost: Double, latencyMs: Double, settings: BanditSettings) -> Double {
        quality - settings.lambdaCost * cost - settings.muLatency * latencyMs
    }

    /// The outcome of `Learner.choose`.
    public struct Choice: Equatable, Sendable {
        public var model: String
        /// Index into the `eligible` list passed in.
        public var index: Int
        /// The policy's score for the chosen arm (sampled value, UCB, or mean).
        public var score: Double
        /// Every eligible arm exceeded the budget; the cheapest was chosen.
        public var overBudget: Bool
    }

    /// The bandit state one node owns: its own statistics entry plus the latest entries of its
    /// peers, and the policy that chooses among eligible models.
    ///
    /// Policies (`BanditSettings.Policy`), all reading the global view = prior + Σ entries:
    /// - ε-greedy: with probability ε a uniform eligible arm, else the best posterior mean
    ///   (Σr + n₀·m₀)/(n + n₀). Constant ε (no decay).
    /// - UCB1 (Auer et al. 2002): unplayed arms first, then mean + √(c·ln t / n), with t the
    ///   plays of the eligible arms in this context.
    /// - Thompson sampling, **Gaussian** (not Beta): rewards include cost and latency penalties,
    ///   so they are not confined to [0, 1]. Sample ~ N(m, s²/(n + n₀)) with m the posterior mean
    ///   and s² = (Σ(r − m)² + n₀·σ₀²)/(n + n₀).
    /// - LinUCB, disjoint (Li et al. 2010): per arm A = λI + Σxxᵀ, b = Σrx, score
    ///   θᵀx + α√(xᵀA⁻¹x) with θ = A⁻¹b. A⁻¹ is cached and updated by Sherman–Morrison on
    ///   local observations, recomputed (d ≤ 8, O(d³)) when peers' entries change it. Without
    ///   features LinUCB falls back to UCB1.
    ///
    /// Budget: arms whose expected cost (caller's estimate, else the observed mean) exceeds the
    /// budget are removed; if none is left, the cheapest arm is chosen and flagged.
    ///
    /// Contracts: `features` MUST have `dimension` entries (or be empty); every random choice
    /// comes from the passed generator.
    public struct Learner: Sendable {
        public var settings: BanditSettings
        public let node: String
        /// Length of the feature vectors (0 = none; at most 8).
        public let dimension: Int
        public private(set) var cluster = ClusterStats()
        /// Cache of `cluster.total()`, updated incrementally by local observations.
        private var global: [ArmKey: Suff] = [:]
        /// Cached A⁻¹ per arm for LinUCB.
        private var inverses: [ArmKey: [Double]] = [:]

        public init(node: String, settings: BanditSettings = BanditSettings(), dimension: Int = 0) {
            precondition((0...8).contains(dimension), "dimension \(dimension) not in 0...8")
            self.node = node
            self.settings = settings
            self.dimension = dimension
            cluster.merge(NodeStats(node: node))
        }

        /// This node's entry: persist it and gossip it after `record`.
        public var own: NodeStats { cluster.entries[node]! }

        /// Global statistics of one arm, without the prior.
        public func stats(_ key: ArmKey) -> Suff { global[key] ?? Suff() }

        /// Every arm with observations, sorted by context then model (for `/admin/bandit`).
        public func arms() -> [(key: ArmKey, n: Double, meanReward: Double)] {
            global.keys.sorted().map { k in (k, global[k]!.n, global[k]!.meanReward) }
        }

        // MARK: Choosing

        /// Picks one of `eligible` (MUST be non-empty, else nil) for a request in `context`.
        /// `expectedCosts`, when given, is aligned with `eligible` (USD per request); `budget`
        /// overrides `settings.maxCostPerRequest`.
        public mutating func choose(context: String, eligible: [String], features: [Double] = [],
                                    expectedCosts: [Double]? = nil, budget: Double? = nil,
                                    rng: inout SeededRandom) -> Choice? {
            guard !eligible.isEmpty else { return nil }
            precondition(features.isEmpty || features.count == dimension, "features \(features.count) != dimension \(dimension)")
            precondition(expectedCosts == nil || expectedCosts!.count == eligible.count, "expectedCosts must align with eligible")

            var candidates = Array(eligible.indices)
            var overBudget = false
            if let limit = budget ?? settings.maxCostPerRequest {
                let cost = eligible.indices.map { i in expectedCosts?[i] ?? stats(ArmKey(context: context, model: eligible[i])).meanCost ?? 0 }
                candidates = candidates.filter { cost[$0] <= limit }
                if candidates.isEmpty {
                    overBudget = true
                    let cheapest = cost.min()!
                    candidates = eligible.indices.filter { cost[$0] == cheapest }
                }
            }

            let scores: [Double]
            switch settings.policy {
            case .epsilonGreedy:
                if rng.unit() < settings.epsilon {
                    let i = candidates[rng.below(candidates.count)]
                    return Choice(model: eligible[i], index: i, score: posteriorMean(context, eligible[i]), overBudget: overBudget)
                }
                scores = candidates.map { posteriorMean(context, eligible[$0]) }
            case .ucb1:
                scores = ucbScores(context, candidates.map { eligible[$0] })
            case .thompson:
                scores = candidates.map { thompsonSample(context, eligible[$0], &rng) }
            case .linucb:
                if features.isEmpty || dimension == 0 {
                    scores = ucbScores(context, candidates.map { eligible[$0] })
                } else {
                    scores = candidates.map { linUCBScore(ArmKey(context: context, model: eligible[$0]), features) }
                }
            }
            let best = scores.max()!
            let ties = scores.indices.filter { scores[$0] == best }
            let pick = ties.count == 1 ? ties[0] : ties[rng.below(ties.count)]
            let i = candidates[pick]
            return Choice(model: eligible[i], index: i, score: scores[pick], overBudget: overBudget)
        }

        func posteriorMean(_ context: String, _ model: String) -> Double {
            let s = stats(ArmKey(context: context, model: model))
            let n0 = settings.priorN
            return s.n + n0 > 0 ? (s.sumReward + n0 * settings.priorMean) / (s.n + n0) : settings.priorMean
        }

        func ucbScores(_ context: String, _ models: [String]) -> [Double] {
            let n = models.map { stats(ArmKey(context: context, model: $0)).n }
            let t = max(1, n.reduce(0, +))
            return models.indices.map { i in
                n[i] < 1 ? .infinity : posteriorMean(context, models[i]) + (settings.ucbC * log(t) / n[i]).squareRoot()
            }
        }

        func thompsonSample(_ context: String, _ model: String, _ rng: inout SeededRandom) -> Double {
            let s = stats(ArmKey(context: context, model: model))
            let n0 = settings.priorN
            let total = s.n + n0
            guard total > 0 else { return .infinity }
            let m = (s.sumReward + n0 * settings.priorMean) / total
            let squares = max(0, s.sumSquaredReward - 2 * m * s.sumReward + s.n * m * m)
            let variance = (squares + n0 * settings.priorVariance) / total
            return m + (variance / total).squareRoot() * Bandit.standardNormal(&rng)
        }

        mutating func linUCBScore(_ key: ArmKey, _ x: [Double]) -> Double {
            let inv = inverse(key)
            let b = stats(key).xr
            let theta = b.isEmpty ? Array(repeating: 0.0, count: dimension) : Linear.multiply(inv, b)
            let width = max(0, Linear.dot(x, Linear.multiply(inv, x))).squareRoot()
            return Linear.dot(theta, x) + settings.linucbAlpha * width
        }

        /// A⁻¹ = (λI + Σxxᵀ)⁻¹ for `key`, from the cache or computed.
        mutating func inverse(_ key: ArmKey) -> [Double] {
            if let inv = inverses[key] { return inv }
            var a = Linear.identity(dimension, scale: settings.linucbRidge)
            let s = stats(key)
            if s.dimension == dimension { for i in 0..<a.count { a[i] += s.xx[i] } }
            let inv = Linear.inverse(a, dimension) ?? Linear.identity(dimension, scale: 1 / settings.linucbRidge)
            inverses[key] = inv
            return inv
        }

        // MARK: Learning

        /// Records one outcome of `model` in `context` (reward from quality, cost and latency)
        /// and bumps this node's version. Returns the new own entry, to persist and gossip.
        @discardableResult
        public mutating func record(context: String, model: String, features: [Double] = [],
                                    quality: Double, cost: Double, latencyMs: Double) -> NodeStats {
            let r = Bandit.reward(quality: quality, cost: cost, latencyMs: latencyMs, settings: settings)
            return record(context: context, model: model, features: features, reward: r, cost: cost, latencyMs: latencyMs)
        }

        /// Records one outcome whose reward is already computed (e.g. `POST /v1/feedback` with
        /// `reward`).
        @discardableResult
        public mutating func record(context: String, model: String, features: [Double] = [],
                                    reward: Double, cost: Double = 0, latencyMs: Double = 0) -> NodeStats {
            precondition(features.isEmpty || features.count == dimension, "features \(features.count) != dimension \(dimension)")
            let key = ArmKey(context: context, model: model)
            var entry = own
            entry.stats[key, default: Suff()].add(reward: reward, cost: cost, latencyMs: latencyMs, features: features)
            entry.version += 1
            cluster.merge(entry)
            global[key, default: Suff()].add(reward: reward, cost: cost, latencyMs: latencyMs, features: features)
            if !features.isEmpty, var inv = inverses[key] {
                Linear.shermanMorrison(&inv, features)
                inverses[key] = inv
            }
            return entry
        }

        /// Takes a peer's entry (from gossip or disk). Returns whether the global view changed.
        /// An entry for this node with a version at or above ours (written by a previous run
        /// that crashed before persisting) is refuted: our version jumps past it, so peers take
        /// our entry again.
        @discardableResult
        public mutating func merge(_ entry: NodeStats) -> Bool {
            if entry.node == node {
                guard entry.version >= own.version else { return false }
                var mine = own
                mine.version = entry.version + 1
                cluster.merge(mine)
                return false
            }
            guard cluster.merge(entry) else { return false }
            recompute()
            return true
        }

        /// Merges every entry of `other`; returns whether the global view changed.
        @discardableResult
        public mutating func merge(_ other: ClusterStats) -> Bool {
            var changed = false
            for e in other.entries.values.sorted(by: { $0.node < $1.node }) where merge(e) { changed = true }
            return changed
        }

        /// Restores this node's entry after a restart (its stored version is kept; the next
        /// `record` goes above it).
        public mutating func restore(own entry: NodeStats) {
            precondition(entry.node == node, "restoring \(entry.node)'s entry into \(node)")
            var e = entry
            e.version = max(entry.version, own.version)
            var fresh = ClusterStats()
            for (n, other) in cluster.entries where n != node { fresh.merge(other) }
            fresh.merge(e)
            cluster = fresh
            recompute()
        }

        private mutating func recompute() {
            global = cluster.total()
            inverses.removeAll(keepingCapacity: true)
        }
    }

    /// A standard normal draw (Box–Muller) from `rng`.
    public static func standardNormal(_ rng: inout SeededRandom) -> Double {
        let u1 = max(rng.unit(), 0x1p-53)
        let u2 = rng.unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
