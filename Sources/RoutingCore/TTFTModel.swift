import WRPCommon

extension Routing {
    /// Predicts time-to-first-token per backend for DualMap's SLO switch (DESIGN §4, algorithms.md §1.4).
    ///
    /// TTFT(r, i) ≈ (queued prefill tokens on i + uncached tokens of r) × s_i, where s_i (seconds per
    /// prefill token) starts at the configured prior and is learned from observed TTFTs by an EWMA:
    /// each first token yields the sample ttft / (tokens that were queued ahead of it + its own).
    /// Queued tokens are this node's own: each dispatch pushes its uncached-token estimate onto the
    /// backend's FIFO; a first token pops the oldest (backends prefill roughly FCFS); a finish trims
    /// the FIFO to the backend's in-flight count, so a lost first-token report cannot leave phantom
    /// work behind. Deviation from the paper: no separate cost for reused tokens (`tprt`), since
    /// reading local prefix KV is cheap next to prefill; peers' queued work is not counted (only
    /// their in-flight counts reach this node).
    public struct TTFTModel: Sendable {
        struct Pending: Sendable {
            var tokens: Int
            var aheadTokens: Int
        }

        /// A FIFO ring that reuses its storage (no allocation in steady state).
        struct Fifo: Sendable {
            var buf: [Pending] = []
            var head = 0
            var count = 0
            var sum = 0

            mutating func push(_ p: Pending) {
                if count == buf.count {
                    var nb = [Pending](repeating: Pending(tokens: 0, aheadTokens: 0), count: max(16, buf.count * 2))
                    for k in 0..<count { nb[k] = buf[(head + k) % buf.count] }
                    buf = nb
                    head = 0
                }
                buf[(head + count) % buf.count] = p
                count += 1
                sum += p.tokens
            }

            mutating func pop() -> Pending? {
                guard count > 0 else { return nil }
                let p = buf[head]
                head = (head + 1) % buf.count
                count -= 1
                sum -= p.tokens
                return p
            }
        }

        /// Prior seconds per prefill token (1 / prefill tokens per second).
        public let priorSecondsPerToken: Double
        /// EWMA weight of a new sample, in (0, 1]. Default 0.1.
        public let alpha: Double
        /// Samples with fewer tokens of work than this are ignored (they measure overhead, not rate).
        public var minSampleTokens = 256
        public private(set) var secondsPerToken: [Double] = []
        var queues: [Fifo] = []

        public init(prefillTokensPerSecond: Double, alpha: Double = 0.1) {
            precondition(prefillTokensPerSecond > 0, "prefill rate must be > 0")
            priorSecondsPerToken = 1 / prefillTokensPerSecond
            self.alpha = alpha
        }

        /// Grows per-backend state to `n` backends (indices are stable, so it never shrinks).
        public mutating func resize(_ n: Int) {
            while secondsPerToken.count < n {
                secondsPerToken.append(priorSecondsPerToken)
                queues.append(Fifo())
            }
        }

        /// Uncached prefill tokens this node has queued on `backend`.
        @inline(__always)
        public func pendingTokens(_ backend: Int) -> Int { queues[backend].sum }

        /// Predicted TTFT in seconds for a request with `uncachedTokens` sent to `backend` now.
        @inline(__always)
        public func predict(backend: Int, uncachedTokens: Int) -> Double {
            Double(queues[backend].sum + uncachedTokens) * secondsPerToken[backend]
        }

        /// A request with `uncachedTokens` was sent to `backend`.
        public mutating func dispatched(backend: Int, uncachedTokens: Int) {
            let ahead = queues[backend].sum
            queues[backend].push(Pending(tokens: uncachedTokens, aheadTokens: ahead))
        }

        /// The oldest outstanding request on `backend` produced its first token after `ttft`.
        public mutating func firstToken(backend: Int, ttft: Nanos) {
            guard backend < queues.count, let p = queues[backend].pop() else { return }
            let work = p.aheadTokens + p.tokens
            guard work >= minSampleTokens else { return }
            let sample = Double(ttft) / 1e9 / Double(work)
            let lo = priorSecondsPerToken / 20, hi = priorSecondsPerToken * 20
            let s = (1 - alpha) * secondsPerToken[backend] + alpha * min(max(sample, lo), hi)
            secondsPerToken[backend] = s
        }

        /// A request on `backend` ended; at most `inFlight` requests can still be prefilling there.
        public mutating func finished(backend: Int, inFlight: Int) {
            guard backend < queues.count else { return }
            while queues[backend].count > max(0, inFlight) { _ = queues[backend].pop() }
        }
    }
}
