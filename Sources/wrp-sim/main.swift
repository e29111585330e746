import ArgumentParser
import Foundation
import LibUV
import Logging
import SimCore
import SimServer

/// wrp-sim: N simulated vLLM-like backends in one process, for tests, demos and benchmarks.
struct WRPSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrp-sim",
        abstract: "Simulated OpenAI-compatible LLM backends with a prefix KV cache and a timing model.")

    @Option(help: "Number of backends (ids sim-0..sim-(N-1)).") var backends = 4
    @Option(help: "Port of sim-0; sim-i listens on base-port+i (0 = pick free ports).") var basePort = 9001
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Prefix cache capacity per backend, in blocks.") var cacheBlocks = 8_192
    @Option(help: "Prefill speed, tokens per second (uncached prompt tokens).") var prefillTokensPerS = 12_000.0
    @Option(help: "Decode speed per request, output tokens per second.") var decodeTokensPerS = 33.0
    @Option(help: "Requests running at once per backend; more wait in a queue.") var maxRunning = 64
    @Option(help: "Multiplies every simulated duration (0.01 = 100× faster).") var timeScale = 1.0
    @Option(help: "Comma-separated model names; backend i serves name i mod count.") var models = "sim-llama-8b"
    @Option(help: "Prefix block size in bytes of prompt text (match wrpd's routing.block_bytes).") var blockBytes = 256
    @Option(help: "Output tokens when a request gives no max_tokens.") var defaultMaxTokens = 32
    @Option(help: "Fraction of completions answered with HTTP 500.") var errorRate = 0.0
    @Option(help: "Milliseconds added before each first token (not scaled).") var addedLatencyMs = 0.0
    @Option(help: "Seed for injected errors.") var seed: UInt64 = 1
    @Flag(help: "Run prefills of concurrent requests in parallel at full speed (default: one after another, FCFS).")
    var parallelPrefill = false
    @Option(help: "Log level.") var logLevel = "info"
    @Option(help: "Write the chosen ports (one `sim-i=HOST:PORT` per line) to this file.") var portsFile: String?

    func validate() throws {
        guard backends >= 1 && backends <= 1024 else { throw ValidationError("--backends must be in 1...1024") }
        guard basePort == 0 || (basePort > 0 && basePort + backends - 1 <= 65535) else { throw ValidationError("--base-port out of range") }
        guard prefillTokensPerS > 0, decodeTokensPerS > 0 else { throw ValidationError("speeds must be > 0") }
        guard maxRunning >= 1 else { throw ValidationError("--max-running must be ≥ 1") }
        guard timeScale >= 0 else { throw ValidationError("--time-scale must be ≥ 0") }
        guard (0...1).contains(errorRate) else { throw ValidationError("--error-rate must be in 0...1") }
        guard cacheBlocks >= 0 else { throw ValidationError("--cache-blocks must be ≥ 0") }
        guard blockBytes >= 16 else { throw ValidationError("--block-bytes must be ≥ 16") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "wrp-sim")
        var s = SimFleetSettings()
        s.backends = backends
        s.basePort = basePort
        s.host = host
        s.model.cacheBlocks = cacheBlocks
        s.model.prefillTokensPerSecond = prefillTokensPerS
        s.model.decodeTokensPerSecond = decodeTokensPerS
        s.model.maxRunning = maxRunning
        s.model.timeScale = timeScale
        s.model.serialPrefill = !parallelPrefill
        s.models = models.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if s.models.isEmpty { s.models = ["sim-llama-8b"] }
        s.blockBytes = blockBytes
        s.defaultMaxTokens = defaultMaxTokens
        s.errorRate = errorRate
        s.addedLatencyMs = addedLatencyMs
        s.seed = seed
        let loop = try UVLoop()
        let fleet = SimFleet(loop: loop, settings: s, logger: logger)
        let addrs: [SocketAddress]
        do {
            addrs = try fleet.start()
        } catch {
            FileHandle.standardError.write(Data("wrp-sim: \(error)\n".utf8))
            throw ExitCode(1)
        }
        for (i, a) in addrs.enumerated() {
            logger.info("backend listening", metadata: ["backend": "sim-\(i)", "address": "\(a)", "model": "\(s.models[i % s.models.count])"])
        }
        if let path = portsFile {
            let text = addrs.enumerated().map { "sim-\($0.offset)=\($0.element)" }.joined(separator: "\n") + "\n"
            try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
            _ = rename(path + ".tmp", path)
        }
        var signals: [UVSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signals.append(try UVSignal(loop: loop, signal: sig) { _ in
                fleet.stop()
                for s in signals { s.close() }
                loop.stop()
            })
        }
        loop.run()
    }
}

WRPSim.main()
