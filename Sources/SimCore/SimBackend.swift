import WRPCommon

/// The timing and cache model of one simulated vLLM-like backend (pure: the shell runs timers).
///
/// Continuous batching, simplified: at most `maxRunning` requests run at once, the rest wait in
/// FIFO order. A starting request looks up its prefix blocks in the LRU `PrefixCache`; its prefill
/// takes `uncached prompt tokens / prefillTokensPerSecond`, then each output token takes
/// `1 / decodeTokensPerSecond` (per request, as vLLM's per-sequence decode rate is roughly flat
/// under moderate batch sizes). All durations are multiplied by `timeScale`.
public struct SimBackend: Sendable {
    public struct Settings: Sendable, Equatable {
        public var prefillTokensPerSecond = 12_000.0
        public var decodeTokensPerSecond = 33.0
        public var maxRunning = 64
        /// Prefix cache capacity in blocks.
        public var cacheBlocks = 8_192
        /// Tokens per prefix block (the router's block bytes / 4).
        public var tokensPerBlock = 64
        public var timeScale = 1.0
        /// Prefills run one after another (FCFS), as a GPU spends its prefill token budget on one
        /// prompt at a time; false runs every prefill at full speed in parallel. Needs `now`.
        public var serialPrefill = false
        public init() {}
    }

    /// A request as the model sees it.
    public struct Job: Sendable, Equatable {
        public var id: UInt64
        public var promptTokens: Int
        public var outputTokens: Int
        public var blockHashes: [UInt64]

        public init(id: UInt64, promptTokens: Int, outputTokens: Int, blockHashes: [UInt64]) {
            self.id = id; self.promptTokens = promptTokens; self.outputTokens = outputTokens; self.blockHashes = blockHashes
        }
    }

    /// What the shell must do for a job that starts running.
    public struct Start: Sendable, Equatable {
        public var id: UInt64
        public var cachedTokens: Int
        /// Time until the first token.
        public var prefill: Nanos
        /// Time per further output token.
        public var perToken: Nanos
    }

    public let settings: Settings
    public private(set) var cache: PrefixCache
    public private(set) var running = 0
    var waiting: [Job] = []
    /// When the last scheduled prefill ends (serial prefill only).
    var prefillFreeAt = Instant.zero
    var waitingHead = 0
    // Counters in vLLM's terms.
    public private(set) var promptTokensTotal = 0
    public private(set) var generationTokensTotal = 0
    public private(set) var cacheQueryTokens = 0
    public private(set) var cacheHitTokens = 0

    public init(settings: Settings) {
        self.settings = settings
        cache = PrefixCache(capacityBlocks: settings.cacheBlocks)
    }

    public var waitingCount: Int { waiting.count - waitingHead }

    /// A job arrives: it starts now (returned) or waits.
    public mutating func arrive(_ job: Job, now: Instant = .zero) -> Start? {
        if running < settings.maxRunning { return start(job, now: now) }
        waiting.append(job)
        return nil
    }

    /// A running job finished (or was cancelled): frees its slot; returns the next job to start.
    public mutating func finish(generatedTokens: Int, now: Instant = .zero) -> Start? {
        running = max(0, running - 1)
        generationTokensTotal += generatedTokens
        guard waitingHead < waiting.count else { return nil }
        let next = waiting[waitingHead]
        waitingHead += 1
        if waitingHead > 1024 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        return start(next, now: now)
    }

    /// Drops a job that is still waiting (its client left). Returns whether it was waiting.
    public mutating func cancelWaiting(id: UInt64) -> Bool {
        guard let i = waiting[waitingHead...].firstIndex(where: { $0.id == id }) else { return false }
        waiting.remove(at: i)
        return true
    }

    mutating func start(_ job: Job, now: Instant) -> Start {
        running += 1
        let matchedBlocks = cache.access(job.blockHashes)
        let cached = min(job.promptTokens, matchedBlocks * settings.tokensPerBlock)
        let uncached = job.promptTokens - cached
        promptTokensTotal += job.promptTokens
        cacheQueryTokens += job.promptTokens
        cacheHitTokens += cached
        let scale = settings.timeScale
        let prefillSeconds = Double(uncached) / settings.prefillTokensPerSecond * scale
        let perTokenSeconds = scale / settings.decodeTokensPerSecond
        var prefill = Nanos(prefillSeconds * 1e9)
        if settings.serialPrefill {
            let begin = max(now, prefillFreeAt)
            prefillFreeAt = begin + prefill
            prefill = prefillFreeAt - now
        }
        return Start(id: job.id, cachedTokens: cached, prefill: prefill, perToken: Nanos(perTokenSeconds * 1e9))
    }
}
