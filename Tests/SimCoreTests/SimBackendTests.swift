import Testing
import SimCore
import WRPCommon

/// Settings with power-of-two rates, so expected durations are exact in binary floating point.
func simSettings(maxRunning: Int = 2, cacheBlocks: Int = 100, timeScale: Double = 1) -> SimBackend.Settings {
    var s = SimBackend.Settings()
    s.prefillTokensPerSecond = 1_024
    s.decodeTokensPerSecond = 32
    s.maxRunning = maxRunning
    s.cacheBlocks = cacheBlocks
    s.tokensPerBlock = 64
    s.timeScale = timeScale
    return s
}

func job(_ id: UInt64, prompt: Int = 128, output: Int = 10, blocks: [UInt64] = []) -> SimBackend.Job {
    SimBackend.Job(id: id, promptTokens: prompt, outputTokens: output, blockHashes: blocks)
}

@Suite struct SimBackendTests {
    @Test(arguments: [1, 2, 5])
    func arrivals_beyondMaxRunning_wait(_ maxRunning: Int) {
        var b = SimBackend(settings: simSettings(maxRunning: maxRunning))
        for i in 0..<UInt64(maxRunning + 3) {
            let started = b.arrive(job(i))
            #expect((started != nil) == (i < UInt64(maxRunning)), "job \(i)")
            #expect(b.running <= maxRunning)
        }
        #expect(b.running == maxRunning)
        #expect(b.waitingCount == 3)
    }

    @Test func finish_startsWaitingJobsInArrivalOrder() {
        var b = SimBackend(settings: simSettings(maxRunning: 1))
        let first = b.arrive(job(1))
        #expect(first?.id == 1)
        for i: UInt64 in 2...5 {
            let s = b.arrive(job(i))
            #expect(s == nil)
        }
        var order: [UInt64] = []
        while let s = b.finish(generatedTokens: 1) { order.append(s.id) }
        #expect(order == [2, 3, 4, 5])
        #expect(b.running == 0 && b.waitingCount == 0)
        #expect(b.generationTokensTotal == 5)
        let none = b.finish(generatedTokens: 0)
        #expect(none == nil)
        #expect(b.running == 0)
    }

    @Test func longQueue_pastCompaction_staysFIFO() {
        var b = SimBackend(settings: simSettings(maxRunning: 1))
        _ = b.arrive(job(0))
        for i in 1..<3_000 as Range<UInt64> { _ = b.arrive(job(i)) }
        var expected: UInt64 = 1
        while let s = b.finish(generatedTokens: 0) {
            if s.id != expected { Issue.record("started \(s.id), expected \(expected)"); return }
            expected += 1
        }
        #expect(expected == 3_000)
    }

    @Test func freshJob_noCache_prefillIsPromptOverRate() {
        var b = SimBackend(settings: simSettings())
        let s = b.arrive(job(1, prompt: 200, blocks: [1, 2, 3]))
        // 200 / 1024 s = 0.1953125 s; 1 / 32 s = 31.25 ms.
        #expect(s?.id == 1 && s?.cachedTokens == 0)
        #expect(s?.prefill == 195_312_500)
        #expect(s?.perToken == 31_250_000)
    }

    @Test(arguments: [
        ([1, 2, 3] as [UInt64], 200, 192), ([1, 2, 9], 200, 128), ([9, 1, 2], 200, 0), ([1, 2, 3], 100, 100), ([1], 64, 64),
    ])
    func cachedPrefix_reducesPrefillExactlyPerFormula(_ blocks: [UInt64], _ prompt: Int, _ cached: Int) {
        var b = SimBackend(settings: simSettings(maxRunning: 4))
        _ = b.arrive(job(1, prompt: 192, blocks: [1, 2, 3]))
        let s = b.arrive(job(2, prompt: prompt, blocks: blocks))
        #expect(s?.cachedTokens == cached)
        let uncached = prompt - cached
        #expect(s?.prefill == Nanos(Double(uncached) / 1_024 * 1e9))
        #expect(b.cacheHitTokens == cached)
        #expect(b.cacheQueryTokens == 192 + prompt)
        #expect(b.promptTokensTotal == 192 + prompt)
    }

    @Test func waitingJob_looksUpCacheWhenItStarts() {
        var b = SimBackend(settings: simSettings(maxRunning: 1))
        _ = b.arrive(job(1, prompt: 128, blocks: [7, 8]))
        let queued = b.arrive(job(2, prompt: 128, blocks: [7, 8]))
        #expect(queued == nil)
        #expect(b.cacheHitTokens == 0)
        let s = b.finish(generatedTokens: 3)
        #expect(s?.id == 2)
        #expect(s?.cachedTokens == 128)
        #expect(s?.prefill == 0)
    }

    @Test func cacheCapacity_boundsCachedBlocks() {
        var b = SimBackend(settings: simSettings(maxRunning: 4, cacheBlocks: 2))
        _ = b.arrive(job(1, prompt: 320, blocks: [1, 2, 3, 4, 5]))
        #expect(b.cache.count == 2)
        // Tail-first touching keeps the two leading blocks.
        let again = b.arrive(job(2, prompt: 320, blocks: [1, 2, 3, 4, 5]))
        #expect(again?.cachedTokens == 128)
    }

    @Test func cancelWaiting_removesOnlyWaitingJobs() {
        var b = SimBackend(settings: simSettings(maxRunning: 1))
        _ = b.arrive(job(1))
        for i: UInt64 in 2...4 { _ = b.arrive(job(i)) }
        let cancelled = [b.cancelWaiting(id: 3), b.cancelWaiting(id: 3), b.cancelWaiting(id: 1), b.cancelWaiting(id: 99)]
        // Job 3 once; not twice, not the running job 1, not an unknown id.
        #expect(cancelled == [true, false, false, false])
        #expect(b.waitingCount == 2)
        let second = b.finish(generatedTokens: 0)
        #expect(second?.id == 2)
        let startedAlready = b.cancelWaiting(id: 2)
        #expect(!startedAlready, "job 2 already started")
        let third = b.finish(generatedTokens: 0)
        #expect(third?.id == 4)
        let none = b.finish(generatedTokens: 0)
        #expect(none == nil)
    }

    @Test(arguments: [0.5, 1.0, 2.0, 10.0, 0.0])
    func timeScale_multipliesAllDurations(_ scale: Double) {
        var b = SimBackend(settings: simSettings(timeScale: scale))
        let s = b.arrive(job(1, prompt: 256))
        #expect(s?.prefill == Nanos(0.25 * scale * 1e9))
        #expect(s?.perToken == Nanos(31_250_000 * scale))
    }
}
