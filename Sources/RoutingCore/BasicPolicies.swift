import WRPCommon
import Workload

extension Routing {
    /// Cycles through eligible backends in index order.
    public struct RoundRobinPolicy: Policy {
        public var name: PolicyName { .roundRobin }
        var next = 0
        public init() {}
        public mutating func rebuild(backends: [Backend]) {}
        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            let n = backends.count
            for k in 0..<n {
                let i = (next + k) % n
                if eligible.contains(i) {
                    next = (i + 1) % n
                    return Decision(chosen: i, reason: .roundRobin)
                }
            }
            preconditionFailure("round_robin: no eligible backend among \(n)")
        }
    }

    /// Uniform over eligible backends.
    public struct RandomPolicy: Policy {
        public var name: PolicyName { .random }
        public init() {}
        public mutating func rebuild(backends: [Backend]) {}
        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            var k = context.rng.below(eligible.count)
            for i in 0..<backends.count where eligible.contains(i) {
                if k == 0 { return Decision(chosen: i, reason: .random) }
                k -= 1
            }
            preconditionFailure("random: eligibility count \(eligible.count) is wrong")
        }
    }

    /// Fewest live in-flight requests (this node's plus peers'), weighted by capacity; random
    /// tie-break so equal backends share the load.
    public struct LeastLoadedPolicy: Policy {
        public var name: PolicyName { .leastLoaded }
        public init() {}
        public mutating func rebuild(backends: [Backend]) {}
        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            var best = -1
            var bestScore = Double.infinity
            var ties = 0
            for i in 0..<backends.count where eligible.contains(i) {
                let score = Double(backends[i].load.total) / max(backends[i].spec.weight, 1e-9)
                if score < bestScore {
                    best = i; bestScore = score; ties = 1
                } else if score == bestScore {
                    ties += 1
                    if context.rng.below(ties) == 0 { best = i }
                }
            }
            precondition(best >= 0, "least_loaded: no eligible backend")
            return Decision(chosen: best, reason: .leastLoaded)
        }
    }

    /// Classic consistent hashing on the prompt's prefix key: the ring owner, or the next
    /// eligible backend clockwise when the owner cannot take it.
    public struct ConsistentHashPolicy: Policy {
        public var name: PolicyName { .consistentHash }
        let prefixBlocks: Int
        var ring: HashRing

        public init(params: PolicyParams) {
            prefixBlocks = params.prefixBlocks
            ring = HashRing(seed: Hash64.seedA, virtualNodesPerWeight: params.virtualNodes)
        }

        public mutating func rebuild(backends: [Backend]) {
            ring.rebuild(members: backends.map { (id: $0.spec.id, weight: $0.removed ? 0 : $0.spec.weight) })
        }

        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            let key = w.prefixKey(blocks: prefixBlocks)
            var decision: Decision? = nil
            var first = true
            ring.forEachDistinct(from: key) { i in
                if eligible.contains(i) {
                    if decision == nil {
                        decision = Decision(chosen: i, reason: first ? .ringOwner : .ringSuccessor)
                    } else {
                        decision!.fallbacks.append(i)
                    }
                }
                first = false
                return decision == nil || decision!.fallbacks.count < 2
            }
            if let d = decision { return d }
            // Ring and eligibility disagree only if rebuild was missed; fall back to any eligible.
            for i in 0..<backends.count where eligible.contains(i) { return Decision(chosen: i, reason: .ringSuccessor) }
            preconditionFailure("consistent_hash: no eligible backend")
        }
    }
}
