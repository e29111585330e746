internal import Foundation
internal import Yams

extension ConfigLoader {
    static let presets = ["lan", "local"]

    static func readCluster(_ f: YAMLFields) throws(ConfigError) -> Config.ClusterSection {
        var c = Config.ClusterSection()
        if let g = try f.string("gossip") {
            guard let hp = HostPort(parsing: g) else { throw ConfigError(field: f.field("gossip"), ConfigRules.listenMessage(g)) }
            c.gossip = hp
        }
        if let a = try f.string("advertise") {
            guard let hp = HostPort(parsing: a), hp.port > 0 else {
                throw ConfigError(field: f.field("advertise"), "must be HOST:PORT with a non-zero port, not '\(a)'")
            }
            c.advertise = a
        }
        if let seeds = try f.sequence("join") {
            for (i, n) in seeds.enumerated() {
                let s = try YAMLFields.string(n, field: "\(f.field("join"))[\(i)]")
                guard HostPort(parsing: s) != nil else {
                    throw ConfigError(field: "\(f.field("join"))[\(i)]", "must be a gossip address HOST:PORT, not '\(s)'")
                }
                c.join.append(s)
            }
        }
        if let p = try f.string("preset") {
            guard presets.contains(p) else { throw ConfigError(field: f.field("preset"), "must be one of \(presets.joined(separator: ", "))") }
            c.preset = p
        }
        if let keys = try f.sequence("keys") {
            for (i, n) in keys.enumerated() {
                let k = try YAMLFields.string(n, field: "\(f.field("keys"))[\(i)]")
                if let problem = Self.keyProblem(k) { throw ConfigError(field: "\(f.field("keys"))[\(i)]", problem) }
                c.keys.append(k)
            }
        }
        c.label = try f.string("label") ?? c.label
        if c.gossip != nil && c.keys.isEmpty {
            throw ConfigError(field: f.field("keys"), "required when gossip is enabled: all gossip is encrypted (generate a key with `wrpctl keygen`)")
        }
        return c
    }

    static func keyProblem(_ k: String) -> String? {
        guard let d = Data(base64Encoded: k) else { return "must be base64 (generate one with `wrpctl keygen`)" }
        guard [16, 24, 32].contains(d.count) else { return "must decode to 16, 24 or 32 bytes, not \(d.count)" }
        return nil
    }
}

public extension Config {
    /// Applies `--gossip` and `--join` (comma-separated) over the file; errors name the flag.
    mutating func apply(gossip: String?, join: String?, advertise: String? = nil) throws(ConfigError) {
        var c = cluster
        if let advertise {
            guard let hp = HostPort(parsing: advertise), hp.port > 0 else { throw ConfigError(field: "--advertise", "'\(advertise)' is not HOST:PORT") }
            c.advertise = advertise
        }
        if let gossip {
            guard let hp = HostPort(parsing: gossip) else { throw ConfigError(field: "--gossip", ConfigRules.listenMessage(gossip)) }
            c.gossip = hp
        }
        if let join {
            var seeds: [String] = []
            for s in join.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) where !s.isEmpty {
                guard HostPort(parsing: s) != nil else { throw ConfigError(field: "--join", "'\(s)' is not HOST:PORT") }
                seeds.append(s)
            }
            c.join = seeds
        }
        if c.gossip != nil && c.keys.isEmpty {
            throw ConfigError(field: "cluster.keys", "required when gossip is enabled: all gossip is encrypted (generate a key with `wrpctl keygen`)")
        }
        cluster = c
    }
}
