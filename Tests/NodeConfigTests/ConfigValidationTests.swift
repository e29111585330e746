import NodeConfig
import RoutingCore
import Testing

/// A file that must fail, the field its error must name, and a phrase the message must contain.
struct BadConfig: Sendable, CustomTestStringConvertible {
    var yaml: String
    var field: String
    var message: String

    /// A section-level case: `section` followed by a valid pools list.
    init(_ section: String, _ field: String, _ message: String) {
        self.yaml = section + "\n" + minimalPools
        self.field = field
        self.message = message
    }

    /// A whole-file case (for pools and backends).
    init(file: String, _ field: String, _ message: String) {
        self.yaml = file
        self.field = field
        self.message = message
    }

    var testDescription: String { "\(field): \(message)" }
}

/// A file with one pool whose single backend is `backend` (a flow mapping).
func poolFile(models: String = "[m]", policy: String? = nil, backend: String = #"{id: b0, url: "http://127.0.0.1:9001"}"#) -> String {
    """
    pools:
      - name: default
        models: \(models)
    \(policy.map { "    policy: \($0)\n" } ?? "")    backends:
          - \(backend)
    """
}

let positive = "must be a positive integer"
let milliseconds = "must be a positive integer (milliseconds)"
let nonNegative = "must be a non-negative integer"

@Test(arguments: [
    BadConfig("node: {id: \"\"}", "node.id", "non-empty id"),
    BadConfig("node: {id: \"a b\"}", "node.id", "letters, digits"),
    BadConfig("node: {id: \"n/1\"}", "node.id", "letters, digits"),
    BadConfig("node: {id: ..}", "node.id", "non-empty id"),
    BadConfig("node: {id: [n1]}", "node.id", "must be a string"),
    BadConfig("node: {id: ~}", "node.id", "must be a string"),
    BadConfig("node: {http: localhost}", "node.http", "HOST:PORT"),
    BadConfig("node: {http: \"127.0.0.1:65536\"}", "node.http", "HOST:PORT"),
    BadConfig("node: {http: \"127.0.0.1:x\"}", "node.http", "HOST:PORT"),
    BadConfig("node: {data_dir: \"\"}", "node.data_dir", "non-empty"),
    BadConfig("node: [n1]", "node", "must be a mapping"),
    BadConfig("server: {max_header_bytes: 0}", "server.max_header_bytes", positive),
    BadConfig("server: {max_body_bytes: -1}", "server.max_body_bytes", positive),
    BadConfig("server: {max_body_bytes: \"8\"}", "server.max_body_bytes", positive),
    BadConfig("server: {max_body_bytes: 1.5}", "server.max_body_bytes", positive),
    BadConfig("server: {max_body_bytes: lots}", "server.max_body_bytes", positive),
    BadConfig("server: {request_timeout_ms: 0}", "server.request_timeout_ms", milliseconds),
    BadConfig("server: {idle_timeout_ms: soon}", "server.idle_timeout_ms", milliseconds),
    BadConfig("server: {shutdown_grace_ms: -1}", "server.shutdown_grace_ms", milliseconds),
    BadConfig("server: {max_connections: 0}", "server.max_connections", positive),
    BadConfig("server: 5", "server", "must be a mapping"),
    BadConfig("upstream: {connect_timeout_ms: 0}", "upstream.connect_timeout_ms", milliseconds),
    BadConfig("upstream: {first_byte_timeout_ms: -5}", "upstream.first_byte_timeout_ms", milliseconds),
    BadConfig("upstream: {total_timeout_ms: 99999999999999999}", "upstream.total_timeout_ms", milliseconds),
    BadConfig("upstream: {max_retries: -1}", "upstream.max_retries", nonNegative),
    BadConfig("upstream: {max_idle_per_backend: -1}", "upstream.max_idle_per_backend", nonNegative),
    BadConfig("health: {interval_ms: 0}", "health.interval_ms", milliseconds),
    BadConfig("health: {timeout_ms: 0}", "health.timeout_ms", milliseconds),
    BadConfig("health: {unhealthy_threshold: 0}", "health.unhealthy_threshold", positive),
    BadConfig("health: {healthy_threshold: 0}", "health.healthy_threshold", positive),
    BadConfig("health: {eject_after_errors: -1}", "health.eject_after_errors", nonNegative),
    BadConfig("health: {eject_base_ms: 0}", "health.eject_base_ms", milliseconds),
    BadConfig("health: {eject_max_ms: 0}", "health.eject_max_ms", milliseconds),
    BadConfig("health: {eject_base_ms: 10000, eject_max_ms: 5000}", "health.eject_max_ms", "at least eject_base_ms"),
    BadConfig("health: {scrape_metrics: 1}", "health.scrape_metrics", "true or false"),
    BadConfig("health: {scrape_metrics: \"true\"}", "health.scrape_metrics", "true or false"),
    BadConfig("routing: {block_bytes: 15}", "routing.block_bytes", "16...65536"),
    BadConfig("routing: {block_bytes: 65537}", "routing.block_bytes", "16...65536"),
    BadConfig("routing: {seed: -1}", "routing.seed", "0...18446744073709551615"),
    BadConfig("routing: {seed: 18446744073709551616}", "routing.seed", "0...18446744073709551615"),
    BadConfig("routing: {seed: abc}", "routing.seed", "0...18446744073709551615"),
    BadConfig("logging: {level: verbose}", "logging.level", "trace, debug, info, notice, warning, error, critical"),
    BadConfig("logging: {level: INFO}", "logging.level", "must be one of"),
])
func sectionValue_invalid_errorNamesField(_ c: BadConfig) throws {
    let error = try #require(parseError(c.yaml))
    #expect(error.field == c.field, "\(error)")
    #expect(error.message.contains(c.message), "\(error)")
}

@Test(arguments: [
    BadConfig(file: "node: {id: n1}", "pools", "required"),
    BadConfig(file: "pools:", "pools", "at least one pool"),
    BadConfig(file: "pools: []", "pools", "at least one pool"),
    BadConfig(file: "pools: {default: {}}", "pools", "must be a list"),
    BadConfig(file: "pools: [default]", "pools[0]", "must be a mapping"),
    BadConfig(file: "pools: [{models: [m], backends: [{id: b, url: \"http://h:1\"}]}]", "pools[0].name", "required"),
    BadConfig(file: "pools: [{name: \"\", models: [m], backends: [{id: b, url: \"http://h:1\"}]}]", "pools[0].name", "non-empty"),
    BadConfig(file: """
        pools:
          - {name: a, models: [m1], backends: [{id: b1, url: "http://h:1"}]}
          - {name: a, models: [m2], backends: [{id: b2, url: "http://h:2"}]}
        """, "pools[1].name", "duplicate pool name 'a'"),
    BadConfig(file: "pools: [{name: a, backends: [{id: b, url: \"http://h:1\"}]}]", "pools[0].models", "required"),
    BadConfig(file: poolFile(models: "[]"), "pools[0].models", "at least one model"),
    BadConfig(file: poolFile(models: "m"), "pools[0].models", "must be a list"),
    BadConfig(file: poolFile(models: "[\"\"]"), "pools[0].models[0]", "non-empty"),
    BadConfig(file: poolFile(models: "[m, auto]"), "pools[0].models[1]", "reserved"),
    BadConfig(file: poolFile(models: "[m, n, m]"), "pools[0].models[2]", "listed twice"),
    BadConfig(file: """
        pools:
          - {name: a, models: [m1, shared], backends: [{id: b1, url: "http://h:1"}]}
          - {name: b, models: [shared], backends: [{id: b2, url: "http://h:2"}]}
        """, "pools[1].models[0]", "already served by pool 'a'"),
    BadConfig(file: "pools: [{name: a, models: [m]}]", "pools[0].backends", "required"),
    BadConfig(file: "pools: [{name: a, models: [m], backends: []}]", "pools[0].backends", "at least one backend"),
    BadConfig(file: poolFile(policy: "[least_loaded]"), "pools[0].policy", "policy name or a mapping"),
    BadConfig(file: poolFile(policy: "{prefix_blocks: 2}"), "pools[0].policy.name", "required"),
    BadConfig(file: poolFile(policy: "{name: consistent_hash, prefix_blocks: 0}"), "pools[0].policy.prefix_blocks", "1...1024"),
    BadConfig(file: poolFile(policy: "{name: consistent_hash, prefix_blocks: 1.5}"), "pools[0].policy.prefix_blocks", "1...1024"),
    BadConfig(file: poolFile(policy: "{name: consistent_hash, virtual_nodes: many}"), "pools[0].policy.virtual_nodes", "must be a number"),
    BadConfig(file: poolFile(backend: "sim-0"), "pools[0].backends[0]", "must be a mapping"),
    BadConfig(file: poolFile(backend: #"{url: "http://h:1"}"#), "pools[0].backends[0].id", "required"),
    BadConfig(file: poolFile(backend: #"{id: "", url: "http://h:1"}"#), "pools[0].backends[0].id", "non-empty id"),
    BadConfig(file: poolFile(backend: #"{id: "b 0", url: "http://h:1"}"#), "pools[0].backends[0].id", "letters, digits"),
    BadConfig(file: poolFile(backend: "{id: b0}"), "pools[0].backends[0].url", "required"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "https://h:443"}"#), "pools[0].backends[0].url", "https is not supported"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "ftp://h:21"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "h:80"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:0"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:99999"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://:80"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:80/v1"}"#), "pools[0].backends[0].url", "no path"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:80//"}"#), "pools[0].backends[0].url", "no path"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://user@h:80"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://::1:80"}"#), "pools[0].backends[0].url", "http://HOST:PORT"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", weight: 0}"#), "pools[0].backends[0].weight", "positive number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", weight: -1}"#), "pools[0].backends[0].weight", "positive number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", weight: 1e9}"#), "pools[0].backends[0].weight", "no greater than 1000"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", weight: .inf}"#), "pools[0].backends[0].weight", "positive number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", weight: heavy}"#), "pools[0].backends[0].weight", "positive number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", max_concurrency: -1}"#), "pools[0].backends[0].max_concurrency", nonNegative),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", cost: {input_per_million: -0.1}}"#), "pools[0].backends[0].cost.input_per_million", "non-negative number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", cost: {output_per_million: .nan}}"#), "pools[0].backends[0].cost.output_per_million", "non-negative number"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", cost: 0.5}"#), "pools[0].backends[0].cost", "must be a mapping"),
    BadConfig(file: """
        pools:
          - {name: a, models: [m1], backends: [{id: b1, url: "http://h:1"}, {id: b2, url: "http://h:2"}]}
          - {name: b, models: [m2], backends: [{id: b3, url: "http://h:3"}, {id: b1, url: "http://h:4"}]}
        """, "pools[1].backends[1].id", "duplicate backend id 'b1' (also pools[0].backends[0].id)"),
])
func poolValue_invalid_errorNamesField(_ c: BadConfig) throws {
    let error = try #require(parseError(c.yaml))
    #expect(error.field == c.field, "\(error)")
    #expect(error.message.contains(c.message), "\(error)")
}

@Test(arguments: [
    BadConfig(file: "nodes: {id: n1}\n" + minimalPools, "nodes", "known: node, server, upstream, health, routing, logging, cluster,"),
    BadConfig("node: {ip: \"127.0.0.1:1\"}", "node.ip", "known: id, http, data_dir"),
    BadConfig("server: {max_body: 1}", "server.max_body", "known: max_header_bytes, max_body_bytes"),
    BadConfig("upstream: {retries: 1}", "upstream.retries", "known: connect_timeout_ms"),
    BadConfig("health: {intervall_ms: 1}", "health.intervall_ms", "did you mean 'interval_ms'?"),
    BadConfig("routing: {seeds: 1}", "routing.seeds", "did you mean 'seed'?"),
    BadConfig("logging: {lvl: info}", "logging.lvl", "known: level"),
    BadConfig(file: poolFile(models: "[m]\n    modles: [n]"), "pools[0].modles", "known: name, models, policy, backends"),
    BadConfig(file: poolFile(policy: "{name: consistent_hash, prefix_block: 2}"), "pools[0].policy.prefix_block",
              "known: name, " + Routing.PolicyParams.keys.joined(separator: ", ")),
    BadConfig(file: """
        pools:
          - name: default
            models: [m]
            backends:
              - {id: b0, url: "http://h:1"}
              - {id: b1, url: "http://h:2", wieght: 2}
        """, "pools[0].backends[1].wieght", "unknown key, did you mean 'weight'? (known: id, url, weight, max_concurrency, cost)"),
    BadConfig(file: poolFile(backend: #"{id: b0, url: "http://h:1", cost: {input: 1}}"#), "pools[0].backends[0].cost.input",
              "known: input_per_million, output_per_million"),
])
func unknownKey_atEachLevel_errorNamesFullPathAndKnownKeys(_ c: BadConfig) throws {
    let error = try #require(parseError(c.yaml))
    #expect(error.field == c.field, "\(error)")
    #expect(error.message.hasPrefix("unknown key"), "\(error)")
    #expect(error.message.contains(c.message), "\(error)")
}

@Test(arguments: [
    BadConfig("server: {max_body_bytes: 1, max_body_bytes: 2}", "server.max_body_bytes", "duplicate key"),
    BadConfig(file: minimalPools + "\npools: []", "pools", "duplicate key"),
])
func duplicateKey_inMapping_errorNamesKey(_ c: BadConfig) throws {
    let error = try #require(parseError(c.yaml))
    #expect(error.field == c.field, "\(error)")
    #expect(error.message.contains(c.message), "\(error)")
}

@Test func unknownKeyError_description_isFieldThenMessage() throws {
    let error = try #require(parseError("server: {max_body_bytes: 0}\n" + minimalPools))
    #expect(error.description == "server.max_body_bytes: must be a positive integer")
}
