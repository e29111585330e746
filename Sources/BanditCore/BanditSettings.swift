/// How `"model": "auto"` requests choose among the eligible models (config `bandit:`).
///
/// Reward = quality − λ·cost − μ·latency (`Bandit.RewardWeights`), with quality in [0, 1]
/// (1 = the answer was good), cost in USD per request and latency in milliseconds; so λ is
/// reward per USD and μ reward per millisecond.
public struct BanditSettings: Sendable, Equatable {
    public enum Policy: String, Sendable, CaseIterable {
        case epsilonGreedy = "epsilon_greedy"
        case ucb1
        case thompson
        case linucb
    }

    /// Default thompson.
    public var policy: Policy = .thompson
    /// ε-greedy: probability of a uniformly random eligible model. In [0, 1]; default 0.1.
    public var epsilon = 0.1
    /// UCB1: bonus √(c·ln t / n); c = 2 is the classic UCB1. ≥ 0; default 2.
    public var ucbC = 2.0
    /// LinUCB: exploration α in θᵀx + α·√(xᵀA⁻¹x). ≥ 0; default 1 (GreenServ uses 0.1).
    public var linucbAlpha = 1.0
    /// LinUCB: ridge prior λ in A = λI + Σxxᵀ. > 0; default 1.
    public var linucbRidge = 1.0
    /// λ: reward lost per USD of cost. ≥ 0; default 1.
    public var lambdaCost = 1.0
    /// μ: reward lost per millisecond of latency. ≥ 0; default 0.0005 (1 s costs 0.5).
    public var muLatency = 0.0005
    /// Pseudo-observations of the prior per arm (ε-greedy, UCB1, Thompson). ≥ 0; default 1.
    public var priorN = 1.0
    /// Prior mean reward per arm. Default 0.5.
    public var priorMean = 0.5
    /// Prior reward variance (Thompson). > 0; default 0.25, the largest for rewards in [0, 1].
    public var priorVariance = 0.25
    /// Arms whose expected cost (USD) exceeds this are not chosen; nil = no budget. Default nil.
    public var maxCostPerRequest: Double? = nil

    public init() {}
}
