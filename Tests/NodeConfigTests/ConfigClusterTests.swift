import Testing
@testable import NodeConfig

struct ConfigClusterTests {
    static let pools = "pools:\n  - {name: p, models: [m], backends: [{id: b, url: \"http://127.0.0.1:9\"}]}\n"
    static let key = "J/0NC87NgYzab7BNkNGwkt62dvn0vQHMMM2jw15pzoU="

    @Test func clusterSection_full_parsed() throws {
        let c = try ConfigLoader.parse(yaml: """
        cluster: {gossip: "127.0.0.1:7946", join: ["127.0.0.1:7947", "127.0.0.1:7948"], preset: local, keys: ["\(Self.key)"], label: prod}
        \(Self.pools)
        """)
        #expect(c.cluster.gossip == HostPort(host: "127.0.0.1", port: 7946))
        #expect(c.cluster.join == ["127.0.0.1:7947", "127.0.0.1:7948"])
        #expect(c.cluster.preset == "local")
        #expect(c.cluster.keys == [Self.key])
        #expect(c.cluster.label == "prod")
    }

    @Test(arguments: [
        ("cluster: {gossip: \"127.0.0.1:7946\"}", "cluster.keys"),
        ("cluster: {gossip: nope, keys: [\"\(key)\"]}", "cluster.gossip"),
        ("cluster: {join: [\"x\"]}", "cluster.join[0]"),
        ("cluster: {preset: wan}", "cluster.preset"),
        ("cluster: {keys: [\"not base64!\"]}", "cluster.keys[0]"),
        ("cluster: {keys: [\"AAAA\"]}", "cluster.keys[0]"),
        ("cluster: {gosip: \"127.0.0.1:1\"}", "cluster.gosip"),
    ])
    func clusterSection_bad_errorNamesField(_ yaml: String, _ field: String) {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml + "\n" + Self.pools) }
        do {
            _ = try ConfigLoader.parse(yaml: yaml + "\n" + Self.pools)
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func flags_gossipAndJoin_override() throws {
        var c = try ConfigLoader.parse(yaml: "cluster: {keys: [\"\(Self.key)\"]}\n" + Self.pools)
        try c.apply(gossip: "127.0.0.1:0", join: "127.0.0.1:1, 127.0.0.1:2")
        #expect(c.cluster.gossip?.port == 0)
        #expect(c.cluster.join == ["127.0.0.1:1", "127.0.0.1:2"])
        var noKeys = try ConfigLoader.parse(yaml: Self.pools)
        #expect(throws: ConfigError.self) { try noKeys.apply(gossip: "127.0.0.1:0", join: nil) }
    }
}
