import ArgumentParser
import FleetSim
import RoutingCore

/// Replays a request trace through the routing policies on a simulated fleet (virtual time).
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrp-replay",
        abstract: "Replay a Mooncake JSONL or Azure CSV trace through wrp's routing policies on a simulated fleet.")

    @Option(help: "Trace file: .jsonl (Mooncake: timestamp ms, input_length, output_length, hash_ids) or .csv (Azure).")
    var trace: String?

    @Option(help: "Policy name, or 'all' for a table of every policy.")
    var policy = "dualmap"

    @Option(help: "Backends in the fleet.")
    var backends = 8

    @Option(help: "Prefix-cache capacity per backend, tokens.")
    var cacheTokens = 1_500_000

    @Option(help: "Tokens per trace block (Mooncake hash_ids: 512).")
    var blockTokens = 512

    @Option(help: "Prefill throughput per backend, tokens/s.")
    var prefillTokensPerS = 12_000.0

    @Option(help: "Decode speed per request, tokens/s (overrides --decode-ms-per-token).")
    var decodeTokensPerS: Double?

    @Option(help: "Decode time per output token per request, ms.")
    var decodeMsPerToken = 30.0

    @Option(help: "Requests a backend runs at once.")
    var maxRunning = 64

    @Option(help: "TTFT SLO, ms.")
    var sloTtftMs = 5_000.0

    @Option(help: "Arrival-rate multiplier.")
    var rateScale = 1.0

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Search the highest rate scale with ≥ 90% of requests within the TTFT SLO.")
    var findCapacity = false

    @Option(help: "Replay only the first N requests.")
    var limit: Int?

    @Option(help: "Seed of the pool's random generator.")
    var seed: UInt64 = 1

    @Option(name: .customLong("param"), help: "Policy parameter key=value (repeatable), e.g. --param hot_share=2.")
    var params: [String] = []

    @Flag(help: "Benchmark decision time per policy (8 KiB prompts; 8, 64, 512 backends) instead of replaying.")
    var benchDecisions = false

    @Option(help: "Decisions per benchmark cell.")
    var benchDecisionsCount = 200_000

    func validate() throws {
        if !benchDecisions && trace == nil { throw ValidationError("--trace FILE is required (or --bench-decisions)") }
        if backends < 1 { throw ValidationError("--backends must be ≥ 1") }
        if rateScale <= 0 { throw ValidationError("--rate-scale must be > 0") }
        if policy != "all" && Routing.PolicyName(rawValue: policy) == nil {
            throw ValidationError("unknown policy '\(policy)' (known: all, \(Routing.PolicyName.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func policies() -> [Routing.PolicyName] {
        policy == "all" ? Routing.PolicyName.allCases : [Routing.PolicyName(rawValue: policy)!]
    }

    mutating func run() throws {
        if benchDecisions { return bench() }
        let t = try Fleet.load(path: trace!, blockTokens: blockTokens, limit: limit)
        var config = Fleet.Config()
        config.backends = backends
        config.cacheTokens = cacheTokens
        config.prefillTokensPerSecond = prefillTokensPerS
        config.decodeSecondsPerToken = decodeTokensPerS.map { 1 / $0 } ?? decodeMsPerToken / 1000
        config.maxRunning = maxRunning
        config.sloTTFTMs = sloTtftMs
        config.rateScale = rateScale
        config.seed = seed
        config.measureDecisions = true
        var base = config.policyParams(blockTokens: blockTokens)
        for kv in params {
            let parts = kv.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let v = Double(parts[1]) else { throw ValidationError("--param wants key=number, got '\(kv)'") }
            do { try base.set(parts[0], v) } catch {
                throw ValidationError("--param \(parts[0]): \(error)")
            }
        }
        let oracle = Fleet.oracleHitRate(t, config: config)
        var results: [Fleet.Result] = []
        for p in policies() {
            var r = Fleet.run(t, policy: p, params: base, config: config, oracle: oracle)
            if findCapacity {
                let (cap, _) = Fleet.findCapacity(t, policy: p, params: base, config: config, oracle: oracle)
                r.effectiveCapacity = cap
            }
            results.append(r)
        }
        if json {
            let objs = results.map(Self.json)
            print(results.count == 1 && policy != "all" ? objs[0] : "[\n" + objs.joined(separator: ",\n") + "\n]")
        } else {
            print("trace \(t.name): \(t.requests.count) requests, \(backends) backends × \(cacheTokens) cache tokens, prefill \(Int(prefillTokensPerS)) tok/s, decode \(config.decodeSecondsPerToken * 1000) ms/token, max running \(maxRunning), SLO \(Int(sloTtftMs)) ms, rate ×\(rateScale)")
            print(Self.table(results))
        }
    }

    static func f(_ x: Double, _ d: Int) -> String {
        let s = String(Int((abs(x) * pow10(d)).rounded()))
        if d == 0 { return (x < 0 ? "-" : "") + s }
        let padded = String(repeating: "0", count: max(0, d + 1 - s.count)) + s
        let i = padded.index(padded.endIndex, offsetBy: -d)
        return (x < 0 ? "-" : "") + padded[..<i] + "." + padded[i...]
    }

    static func pow10(_ d: Int) -> Double { var p = 1.0; for _ in 0..<d { p *= 10 }; return p }

    static func json(_ r: Fleet.Result) -> String {
        var fields = [
            "\"policy\": \"\(r.policy)\"",
            "\"requests\": \(r.requests)",
            "\"hit_rate\": \(f(r.hitRate, 4))",
            "\"oracle_hit_rate\": \(f(r.oracleHitRate, 4))",
            "\"ttft_p50_ms\": \(f(r.ttftP50Ms, 1))",
            "\"ttft_p90_ms\": \(f(r.ttftP90Ms, 1))",
            "\"ttft_p99_ms\": \(f(r.ttftP99Ms, 1))",
            "\"slo_attainment\": \(f(r.sloAttainment, 4))",
            "\"imbalance\": \(f(r.imbalance, 3))",
            "\"decision_ns_p50\": \(f(r.decisionNsP50, 0))",
        ]
        if let c = r.effectiveCapacity { fields.append("\"effective_capacity\": \(f(c, 3))") }
        let reasons = r.reasons.keys.sorted().map { "\"\($0)\": \(r.reasons[$0]!)" }.joined(separator: ", ")
        fields.append("\"reasons\": {\(reasons)}")
        return "  {" + fields.joined(separator: ", ") + "}"
    }

    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

    static func table(_ rs: [Fleet.Result]) -> String {
        let hasCap = rs.contains { $0.effectiveCapacity != nil }
        var head = "| policy | hit_rate | oracle | hit/oracle | ttft_p50_ms | ttft_p90_ms | ttft_p99_ms | slo_attainment | imbalance | decision_ns_p50 |"
        if hasCap { head += " effective_capacity |" }
        var lines = [head, String(repeating: "|---", count: hasCap ? 11 : 10) + "|"]
        for r in rs {
            var l = "| \(r.policy) | \(f(r.hitRate, 3)) | \(f(r.oracleHitRate, 3)) | \(f(r.oracleHitRate > 0 ? r.hitRate / r.oracleHitRate : 0, 2)) | \(f(r.ttftP50Ms, 0)) | \(f(r.ttftP90Ms, 0)) | \(f(r.ttftP99Ms, 0)) | \(f(r.sloAttainment, 3)) | \(f(r.imbalance, 2)) | \(f(r.decisionNsP50, 0)) |"
            if hasCap { l += " \(r.effectiveCapacity.map { f($0, 2) } ?? "-") |" }
            lines.append(l)
        }
        return lines.joined(separator: "\n")
    }

    func bench() {
        let (ws, parseNs) = Fleet.DecisionBench.workloads(count: 4096, seed: seed)
        let sizes = [8, 64, 512]
        print("decision time per request, ns: Pool.decide p50 / p99 [policy.choose alone p50]; 8 KiB chat prompt (32 blocks of 256 bytes), \(benchDecisionsCount) decisions per cell")
        print("parse + prefix-hash of the 8 KiB body (WorkloadParser): p50 \(Self.f(parseNs, 0)) ns")
        print("| policy | " + sizes.map { "\($0) backends" }.joined(separator: " | ") + " |")
        print(String(repeating: "|---", count: sizes.count + 1) + "|")
        for p in policies() {
            var cells: [String] = []
            for n in sizes {
                let r = Fleet.DecisionBench.run(policy: p, backends: n, workloads: ws, decisions: benchDecisionsCount)
                cells.append("\(Self.f(r.p50Ns, 0)) / \(Self.f(r.p99Ns, 0)) [\(Self.f(r.policyP50Ns, 0))]")
            }
            print("| \(p.rawValue) | " + cells.joined(separator: " | ") + " |")
        }
    }
}

Replay.main()
