import WRPCommon
import Workload

extension Routing {
    /// sglang-router's `cache_aware` policy (algorithms.md §2.1–2.3), over block hashes instead of
    /// characters, as a baseline.
    ///
    /// 1. Loads are the live in-flight counts (this node's plus peers'). If max − min >
    ///    `balanceAbsThreshold` (32) AND max > min × `balanceRelThreshold` (1.1), the pool is
    ///    imbalanced: least-loaded eligible backend (random tie-break, sglang #33138).
    /// 2. Otherwise the deepest prefix match in the shared approximate tree (`PrefixIndex`):
    ///    match rate = matched tokens / prompt tokens; above `cacheThreshold` (0.5) → the most
    ///    recent eligible tenant of the deepest matched block; else least loaded.
    /// 3. The request's blocks are inserted under the chosen backend in every case.
    /// The tree is bounded by one LRU budget for the pool (`indexBlocks`), SMG #2137's fix; SGLang
    /// evicts on a 30 s timer, here eviction is immediate on insert (a high-water mark of 0).
    public struct CacheAwarePolicy: Policy {
        public var name: PolicyName { .cacheAware }
        public let params: PolicyParams
        public private(set) var index: PrefixIndex

        public init(params: PolicyParams) {
            self.params = params
            index = PrefixIndex(capacity: params.indexBlocks)
        }

        public mutating func rebuild(backends: [Backend]) {}

        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            var lo = Int.max, hi = Int.min
            for b in backends where !b.removed {
                let l = b.load.total
                if l < lo { lo = l }
                if l > hi { hi = l }
            }
            let imbalanced = Double(hi - lo) > params.balanceAbsThreshold && Double(hi) > Double(lo) * params.balanceRelThreshold
            var chosen = -1
            var reason = Reason.cacheMiss
            if imbalanced {
                reason = .imbalanced
            } else if !w.blockHashes.isEmpty {
                let (m, tenants) = index.deepestMatch(w.blockHashes)
                let tokens = max(1, w.estimatedPromptTokens)
                let rate = Double(min(m * params.blockTokens, tokens)) / Double(tokens)
                if rate > params.cacheThreshold {
                    for k in 0..<tenants.count where tenants[k] >= 0 && eligible.contains(tenants[k]) {
                        chosen = tenants[k]
                        reason = .cacheHit
                        break
                    }
                }
            }
            if chosen < 0 { chosen = Self.leastLoaded(backends, eligible, &context.rng) }
            if !w.blockHashes.isEmpty { index.insert(w.blockHashes, tenant: chosen) }
            return Decision(chosen: chosen, reason: reason)
        }

        static func leastLoaded(_ backends: [Backend], _ eligible: Eligibility, _ rng: inout SeededRandom) -> Int {
            var best = -1, bestLoad = Int.max, ties = 0
            for i in 0..<backends.count where eligible.contains(i) {
                let l = backends[i].load.total
                if l < bestLoad { best = i; bestLoad = l; ties = 1 } else if l == bestLoad {
                    ties += 1
                    if rng.below(ties) == 0 { best = i }
                }
            }
            precondition(best >= 0, "cache_aware: no eligible backend")
            return best
        }
    }
}
