import Foundation
import NodeConfig
import RoutingCore
import Testing

/// Parses `yaml` expecting failure; records an issue and returns nil if it parses.
func parseError(_ yaml: String, source: String = "<string>") -> ConfigError? {
    do {
        let config = try ConfigLoader.parse(yaml: yaml, source: source)
        Issue.record("expected an error, got \(config)")
        return nil
    } catch {
        return error
    }
}

/// The smallest valid `pools` section, appended to section-level cases.
let minimalPools = """
pools:
  - name: default
    models: [m]
    backends:
      - {id: b0, url: "http://127.0.0.1:9001"}
"""

/// The repository root, found from this file so the test runs from any working directory.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Test func fullFile_everyKeySet_matchesExpectedConfig() throws {
    let yaml = """
    node: {id: n7, http: "0.0.0.0:9090", data_dir: /var/lib/wrp/n7}
    server: {max_header_bytes: 8192, max_body_bytes: 1048576, request_timeout_ms: 5000, idle_timeout_ms: 7000, shutdown_grace_ms: 3000, max_connections: 500}
    upstream: {connect_timeout_ms: 250, first_byte_timeout_ms: 20000, total_timeout_ms: 120000, max_retries: 0, max_idle_per_backend: 8}
    health: {interval_ms: 500, timeout_ms: 300, unhealthy_threshold: 4, healthy_threshold: 1, eject_after_errors: 0, eject_base_ms: 1000, eject_max_ms: 8000, scrape_metrics: false}
    routing: {block_bytes: 512, seed: 18446744073709551615}
    logging: {level: debug}
    pools:
      - name: chat
        models: [llama-8b, llama-8b-instruct]
        policy: {name: consistent_hash, prefix_blocks: 3, virtual_nodes: 40}
        backends:
          - {id: a-0, url: "http://10.0.0.1:8000/", weight: 2.5, max_concurrency: 32, cost: {input_per_million: 0.1, output_per_million: 0.4}}
          - id: a-1
            url: http://[::1]:8001
      - name: embed
        models: [bge-small]
        policy: round_robin
        backends:
          - {id: e-0, url: "http://embed.internal:7000", weight: 1, max_concurrency: 0, cost: {input_per_million: 0.02}}
    """
    var expected = Config()
    expected.node.id = "n7"
    expected.node.http = HostPort(host: "0.0.0.0", port: 9090)
    expected.node.dataDir = "/var/lib/wrp/n7"
    expected.server.maxHeaderBytes = 8192
    expected.server.maxBodyBytes = 1_048_576
    expected.server.requestTimeout = .ms(5000)
    expected.server.idleTimeout = .ms(7000)
    expected.server.shutdownGrace = .ms(3000)
    expected.server.maxConnections = 500
    expected.upstream.connectTimeout = .ms(250)
    expected.upstream.firstByteTimeout = .ms(20_000)
    expected.upstream.totalTimeout = .ms(120_000)
    expected.upstream.maxRetries = 0
    expected.upstream.maxIdlePerBackend = 8
    expected.health.interval = .ms(500)
    expected.health.timeout = .ms(300)
    expected.health.unhealthyThreshold = 4
    expected.health.healthyThreshold = 1
    expected.health.ejectAfterErrors = 0
    expected.health.ejectBase = .ms(1000)
    expected.health.ejectMax = .ms(8000)
    expected.health.scrapeMetrics = false
    expected.routing.blockBytes = 512
    expected.routing.seed = .max
    expected.logging.level = "debug"
    var chat = Config.PoolSection(name: "chat", models: ["llama-8b", "llama-8b-instruct"])
    chat.policy = .consistentHash
    chat.params.prefixBlocks = 3
    chat.params.virtualNodes = 40
    chat.backends = [
        Routing.BackendSpec(id: "a-0", url: "http://10.0.0.1:8000", weight: 2.5, maxConcurrency: 32,
                            costInputPerMillion: 0.1, costOutputPerMillion: 0.4),
        Routing.BackendSpec(id: "a-1", url: "http://[::1]:8001"),
    ]
    var embed = Config.PoolSection(name: "embed", models: ["bge-small"])
    embed.policy = .roundRobin
    embed.backends = [Routing.BackendSpec(id: "e-0", url: "http://embed.internal:7000", costInputPerMillion: 0.02)]
    expected.pools = [chat, embed]

    #expect(try ConfigLoader.parse(yaml: yaml) == expected)
}

@Test func minimalFile_onlyPools_defaultsEverywhere() throws {
    let config = try ConfigLoader.parse(yaml: minimalPools)
    var expected = Config()
    expected.node.dataDir = "data/node-1"
    var pool = Config.PoolSection(name: "default", models: ["m"])
    pool.backends = [Routing.BackendSpec(id: "b0", url: "http://127.0.0.1:9001")]
    expected.pools = [pool]
    #expect(config == expected)
}

@Test func emptySections_nullValues_defaultsKept() throws {
    let config = try ConfigLoader.parse(yaml: "node:\nserver:\nhealth:\n" + minimalPools)
    #expect(config.server == Config.ServerSection())
    #expect(config.health == Routing.HealthSettings())
}

@Test(arguments: [
    ("node: {id: n3}", "data/n3"),
    ("node: {id: n3, data_dir: state}", "state"),
    ("", "data/node-1"),
])
func dataDir_absentOrSet_resolvedAtLoad(section: String, expected: String) throws {
    let config = try ConfigLoader.parse(yaml: section + "\n" + minimalPools)
    #expect(config.node.dataDir == expected)
}

@Test(arguments: [
    ("least_loaded", Routing.PolicyName.leastLoaded, 2, 160),
    ("consistent_hash", .consistentHash, 2, 160),
    ("{name: random}", .random, 2, 160),
    ("{name: consistent_hash, prefix_blocks: 4}", .consistentHash, 4, 160),
    ("{name: consistent_hash, prefix_blocks: 1, virtual_nodes: 10}", .consistentHash, 1, 10),
    ("\n      name: round_robin\n      virtual_nodes: 7", .roundRobin, 2, 7),
])
func policy_bareOrMapping_parsesNameAndParams(policy: String, name: Routing.PolicyName, prefixBlocks: Int, virtualNodes: Int) throws {
    let yaml = """
    pools:
      - name: p
        models: [m]
        policy: \(policy)
        backends: [{id: b, url: "http://127.0.0.1:1"}]
    """
    let pool = try #require(try ConfigLoader.parse(yaml: yaml).pools.first)
    #expect(pool.policy == name)
    #expect(pool.params.prefixBlocks == prefixBlocks)
    #expect(pool.params.virtualNodes == virtualNodes)
}

@Test(arguments: Routing.PolicyName.allCases)
func policyName_everyKnownCase_accepted(name: Routing.PolicyName) throws {
    let yaml = minimalPools.replacingOccurrences(of: "    backends:", with: "    policy: \(name.rawValue)\n    backends:")
    #expect(try ConfigLoader.parse(yaml: yaml).pools[0].policy == name)
}

@Test(arguments: ["policy: fastest", "policy: {name: fastest}"])
func policyName_unknown_errorListsEveryKnownName(policy: String) throws {
    let yaml = minimalPools.replacingOccurrences(of: "    backends:", with: "    \(policy)\n    backends:")
    let error = try #require(parseError(yaml))
    #expect(error.field.hasPrefix("pools[0].policy"))
    #expect(error.message.contains("'fastest'"))
    for name in Routing.PolicyName.allCases {
        #expect(error.message.contains(name.rawValue))
    }
}

@Test(arguments: [
    ("http://127.0.0.1:9001", "http://127.0.0.1:9001"),
    ("http://127.0.0.1:9001/", "http://127.0.0.1:9001"),
    ("http://[::1]:9001/", "http://[::1]:9001"),
    ("http://gpu-3.internal:8000", "http://gpu-3.internal:8000"),
])
func backendURL_validForms_normalizedWithoutTrailingSlash(url: String, expected: String) throws {
    let yaml = minimalPools.replacingOccurrences(of: "http://127.0.0.1:9001", with: url)
    #expect(try ConfigLoader.parse(yaml: yaml).pools[0].backends[0].url == expected)
}

@Test func clusterLocalFile_loaded_matchesTheLocalSetup() throws {
    let path = repositoryRoot.appendingPathComponent("cluster/local/wrpd.yaml").path
    let config = try ConfigLoader.load(path: path)
    #expect(config.node.id == "n1")
    #expect(config.node.http == HostPort(host: "127.0.0.1", port: 8080))
    #expect(config.node.dataDir == "data/n1")
    #expect(config.health.interval == .ms(1000))
    // Two models on wrp-sim's four backends (sim-0/2 llama, sim-1/3 qwen), as cluster/lib.sh starts them.
    #expect(config.pools.map(\.name) == ["llama", "qwen"])
    #expect(config.pools.map(\.models) == [["sim-llama-8b"], ["sim-qwen-7b"]])
    #expect(config.pools.allSatisfy { $0.policy == .dualmap && $0.params.prefixBlocks == 2 })
    #expect(config.pools.flatMap { $0.backends.map(\.id) } == ["sim-0", "sim-2", "sim-1", "sim-3"])
    #expect(config.pools.flatMap { $0.backends.map(\.url) } == [9001, 9003, 9002, 9004].map { "http://127.0.0.1:\($0)" })
    #expect(config.decisions.map(\.name) == ["code", "long-context"])
    #expect(config.bandit.policy == .thompson)
    #expect(config.cluster.preset == "local" && config.cluster.keys.count == 1)
    let pool = config.pools[0]
    #expect(pool.backends.allSatisfy { $0.weight == 1 && $0.maxConcurrency == 64 && $0.costOutputPerMillion > 0 })
}

@Test func missingFile_load_errorNamesPath() throws {
    let path = "/nonexistent-wrp-dir/wrpd.yaml"
    #expect(throws: ConfigError(field: "", "cannot read config file '\(path)': no such file")) {
        try ConfigLoader.load(path: path)
    }
}

@Test func directory_load_errorSaysDirectory() throws {
    let path = FileManager.default.temporaryDirectory.path
    let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
    #expect(error?.message.contains("is a directory") == true)
}

@Test(arguments: [
    ("node:\n  id: n1\n  http: [unclosed\n" + minimalPools, 4),
    ("node:\n  id: n1\n id2: x\n", 3),
    ("pools:\n  - name: a\n\tmodels: [m]\n", 3),
    ("pools: [\n", 2),
    (minimalPools + "\n---\nlogging: {level: debug}\n", 6),
])
func yamlSyntax_broken_errorGivesSourceAndLine(yaml: String, line: Int) throws {
    let error = try #require(parseError(yaml, source: "cfg.yaml"))
    #expect(error.field == "")
    #expect(error.message.hasPrefix("cfg.yaml:\(line):"), "\(error)")
    #expect(error.message.contains("invalid YAML"))
}

@Test(arguments: ["just a string", "[1, 2]"])
func topLevel_notAMapping_errorListsSections(yaml: String) throws {
    let error = try #require(parseError(yaml, source: "cfg.yaml"))
    #expect(error.message.hasPrefix("cfg.yaml: the top level must be a mapping"))
    #expect(error.message.contains("pools"))
}

/// The YAML blocks of docs/configuration.md that are whole files (they have `pools:`).
private func documentedFiles() throws -> [String] {
    let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
    return doc.components(separatedBy: "```yaml\n").dropFirst()
        .compactMap { $0.components(separatedBy: "```").first }
        .filter { $0.contains("pools:") }
}

@Test func docsExamples_wholeFiles_parse() throws {
    let files = try documentedFiles()
    #expect(files.count == 2)
    for yaml in files {
        _ = try ConfigLoader.parse(yaml: yaml, source: "docs/configuration.md")
    }
}

@Test func docsFullExample_sectionsAtDefaults_equalCodeDefaults() throws {
    let full = try #require(try documentedFiles().first { $0.contains("server:") })
    let config = try ConfigLoader.parse(yaml: full)
    #expect(config.server == Config.ServerSection())
    #expect(config.upstream == Config.UpstreamSection())
    #expect(config.health == Routing.HealthSettings())
    #expect(config.routing == Config.RoutingSection())
    #expect(config.logging == Config.LoggingSection())
    #expect(config.node.http == Config.NodeSection().http)
    #expect(config.pools.first?.params == Routing.PolicyParams())
}
