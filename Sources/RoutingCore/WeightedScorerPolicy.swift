import WRPCommon
import Workload

extension Routing {
    /// llm-d's default scheduling profile (algorithms.md §3.1) as a baseline: score = prefix 3 ×
    /// matched/total blocks + queue 2 × (maxQ − q)/(maxQ − minQ) (1 when all equal) + kv-usage 2 ×
    /// (1 − KV usage); highest score wins, random tie-break.
    ///
    /// Prefix scores come from the approximate index (GIE's `prefix-cache-scorer`): walk from the
    /// first block while any backend has it; a backend's score is the blocks up to there that it
    /// holds, over the request's blocks. q is the scraped `vllm:num_requests_waiting` when known,
    /// else the live in-flight count; KV usage is the scraped `vllm:kv_cache_usage_perc`, else 0.
    /// The chosen backend records all of the request's blocks (`PreRequest`).
    public struct WeightedScorerPolicy: Policy {
        public var name: PolicyName { .weightedScorer }
        public let params: PolicyParams
        public private(set) var index: PrefixIndex
        /// Per-backend matched-block counts, reused between requests.
        var hits: [Int32] = []

        public init(params: PolicyParams) {
            self.params = params
            index = PrefixIndex(capacity: params.indexBlocks)
        }

        public mutating func rebuild(backends: [Backend]) {
            if hits.count < backends.count { hits = [Int32](repeating: 0, count: backends.count) }
        }

        @inline(__always)
        static func queue(_ b: Backend) -> Int { b.load.scrapedWaiting ?? b.load.total }

        public mutating func choose(_ w: Workload, backends: [Backend], eligible: Eligibility, context: inout Context) -> Decision {
            if hits.count < backends.count { hits = [Int32](repeating: 0, count: backends.count) }
            for i in 0..<backends.count { hits[i] = 0 }
            let hs = w.blockHashes
            for h in hs {
                let t = index.tenants(of: h)
                if t.count == 0 { break }
                for k in 0..<t.count where t[k] >= 0 && t[k] < hits.count { hits[t[k]] += 1 }
            }
            var minQ = Int.max, maxQ = Int.min
            for i in 0..<backends.count where eligible.contains(i) {
                let q = Self.queue(backends[i])
                if q < minQ { minQ = q }
                if q > maxQ { maxQ = q }
            }
            let total = Double(max(1, hs.count))
            var best = -1, bestScore = -Double.infinity, ties = 0
            for i in 0..<backends.count where eligible.contains(i) {
                let b = backends[i]
                let prefix = hs.isEmpty ? 0 : Double(hits[i]) / total
                let q = Self.queue(b)
                let queue = maxQ == minQ ? 1 : Double(maxQ - q) / Double(maxQ - minQ)
                let kv = 1 - min(1, max(0, b.load.scrapedKVUsage ?? 0))
                let s = params.prefixWeight * prefix + params.queueWeight * queue + params.kvUsageWeight * kv
                if s > bestScore + 1e-12 { best = i; bestScore = s; ties = 1 } else if abs(s - bestScore) <= 1e-12 {
                    ties += 1
                    if context.rng.below(ties) == 0 { best = i }
                }
            }
            precondition(best >= 0, "weighted_scorer: no eligible backend")
            if !hs.isEmpty { index.insert(hs, tenant: best) }
            return Decision(chosen: best, reason: .weightedScore)
        }
    }
}
