import NodeConfig
import Testing

/// A loaded config (`file` is the `node:` section) and the flags applied over it.
struct Override: Sendable, CustomTestStringConvertible {
    var file: String
    var nodeID: String?
    var http: String?
    var dataDir: String?
    var testDescription: String { "\(file) + \(nodeID ?? "-") \(http ?? "-") \(dataDir ?? "-")" }
}

private func loaded(_ node: String) throws -> Config {
    try ConfigLoader.parse(yaml: node + "\n" + minimalPools)
}

@Test(arguments: [
    (Override(file: "node: {id: n1}"), "n1", "127.0.0.1:8080", "data/n1"),
    (Override(file: "node: {id: n1}", nodeID: "n2"), "n2", "127.0.0.1:8080", "data/n2"),
    (Override(file: "node: {id: n1, data_dir: data/n1}", nodeID: "n2"), "n2", "127.0.0.1:8080", "data/n2"),
    (Override(file: "node: {id: n1, data_dir: /srv/wrp}", nodeID: "n2"), "n2", "127.0.0.1:8080", "/srv/wrp"),
    (Override(file: "node: {id: n1}", nodeID: "n2", dataDir: "/tmp/x"), "n2", "127.0.0.1:8080", "/tmp/x"),
    (Override(file: "node: {id: n1}", http: ":0"), "n1", "0.0.0.0:0", "data/n1"),
    (Override(file: "node: {id: n1}", http: "[::1]:8081"), "n1", "[::1]:8081", "data/n1"),
    (Override(file: "node: {id: n1}", nodeID: "n1"), "n1", "127.0.0.1:8080", "data/n1"),
])
func overrides_valid_appliedAndDataDirFollowsID(_ c: Override, id: String, http: String, dataDir: String) throws {
    var config = try loaded(c.file)
    try config.apply(nodeID: c.nodeID, http: c.http, dataDir: c.dataDir)
    #expect(config.node.id == id)
    #expect(config.node.http.description == http)
    #expect(config.node.dataDir == dataDir)
}

@Test func overrides_codeBuiltConfigWithoutDataDir_dataDirResolved() throws {
    var config = Config()
    try config.apply(nodeID: "n9", http: nil, dataDir: nil)
    #expect(config.node.dataDir == "data/n9")
}

@Test(arguments: [
    (Override(file: "node: {id: n1}", nodeID: ""), "--node-id"),
    (Override(file: "node: {id: n1}", nodeID: "n 2"), "--node-id"),
    (Override(file: "node: {id: n1}", nodeID: "n2", http: "localhost"), "--http"),
    (Override(file: "node: {id: n1}", http: "1.2.3.4:70000"), "--http"),
    (Override(file: "node: {id: n1}", nodeID: "n2", dataDir: ""), "--data-dir"),
])
func overrides_invalid_errorNamesFlagAndConfigUnchanged(_ c: Override, field: String) throws {
    var config = try loaded(c.file)
    let before = config
    let error = #expect(throws: ConfigError.self) {
        try config.apply(nodeID: c.nodeID, http: c.http, dataDir: c.dataDir)
    }
    #expect(error?.field == field)
    #expect(config == before)
}
