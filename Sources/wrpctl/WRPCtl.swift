import ArgumentParser
import Foundation
import Wire

/// wrpctl: operator CLI for a wrp cluster (talks to any node's HTTP API).
@main
struct WRPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrpctl",
        abstract: "Operate a wrp cluster: members, pools, ring, keys.",
        subcommands: [Members.self, Pools.self, Ring.self, Keygen.self, Drain.self])
}

struct NodeOptions: ParsableArguments {
    @Option(help: "A wrpd node's HTTP address.") var node = "http://127.0.0.1:8080"
    @Flag(help: "Print the node's JSON instead of a table.") var json = false
}

func printJSON(_ obj: Any) throws {
    let d = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: d, as: UTF8.self))
}

/// Prints rows as an aligned text table.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}

func cell(_ v: Any?) -> String {
    switch v {
    case nil, is NSNull: return "-"
    case let s as String: return s
    case let n as NSNumber: return n.stringValue
    default: return "\(v!)"
    }
}

func runCLI(_ body: () throws -> Void) throws {
    do { try body() } catch let e as CLIHTTP.Failure {
        FileHandle.standardError.write(Data("wrpctl: \(e.description)\n".utf8))
        throw ExitCode(1)
    }
}

extension WRPCtl {
    struct Members: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cluster members as one node sees them.")
        @OptionGroup var options: NodeOptions
        func run() throws {
            try runCLI {
                let obj = try CLIHTTP.json("GET", url: options.node, path: "/admin/members")
                if options.json { return try printJSON(obj) }
                let members = (obj as? [String: Any])?["members"] as? [[String: Any]] ?? []
                printTable(["ID", "ADDRESS", "STATUS", "INCARNATION"],
                           members.map { [cell($0["id"]), cell($0["address"]), cell($0["status"]), cell($0["incarnation"])] })
            }
        }
    }

    struct Pools: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pools and backends with health and load.")
        @OptionGroup var options: NodeOptions
        func run() throws {
            try runCLI {
                let obj = try CLIHTTP.json("GET", url: options.node, path: "/admin/pools")
                if options.json { return try printJSON(obj) }
                var rows: [[String]] = []
                for p in (obj as? [String: Any])?["pools"] as? [[String: Any]] ?? [] {
                    for b in p["backends"] as? [[String: Any]] ?? [] {
                        rows.append([cell(p["name"]), cell(p["policy"]), cell(b["id"]), cell(b["url"]), cell(b["health"]),
                                     cell(b["in_flight"]), cell(b["peer_in_flight"]), cell(b["waiting"]), cell(b["running"])])
                    }
                }
                printTable(["POOL", "POLICY", "BACKEND", "URL", "HEALTH", "IN_FLIGHT", "PEERS", "WAITING", "RUNNING"], rows)
            }
        }
    }

    struct Ring: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ring epochs and backend owners (work split).")
        @OptionGroup var options: NodeOptions
        func run() throws {
            try runCLI {
                let obj = try CLIHTTP.json("GET", url: options.node, path: "/admin/ring")
                if options.json { return try printJSON(obj) }
                var rows: [[String]] = []
                for p in (obj as? [String: Any])?["pools"] as? [[String: Any]] ?? [] {
                    for b in p["backends"] as? [[String: Any]] ?? [] {
                        let owners = (b["owners"] as? [String])?.joined(separator: ",") ?? "-"
                        rows.append([cell(p["name"]), cell(p["epoch"]), cell(b["id"]), owners])
                    }
                }
                printTable(["POOL", "EPOCH", "BACKEND", "OWNERS"], rows)
            }
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drain a node: stop taking requests, leave the cluster, exit.")
        @Option(help: "The node to drain.") var node = "http://127.0.0.1:8080"
        func run() throws {
            try runCLI {
                let obj = try CLIHTTP.json("POST", url: node, path: "/admin/drain", body: Array("{}".utf8))
                try printJSON(obj)
            }
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random gossip key (base64, 32 bytes) for cluster.keys.")
        func run() throws { print(Keyring.generateKey()) }
    }
}

