import ArgumentParser
import Foundation
import Logging
import NodeConfig
import Runtime

/// wrpd: one wrp router node. Wiring only: flags → config → Node.
struct WRPD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrpd",
        abstract: "wrp router node: KV-prefix- and load-aware routing for OpenAI-compatible LLM backends.")

    @Option(name: .long, help: "YAML config file (see docs/configuration.md).")
    var config: String?

    @Option(name: .long, help: "Validate this config file and exit 0 (valid) or 1 (invalid).")
    var checkConfig: String?

    @Option(name: .long, help: "Override node.id.")
    var nodeId: String?

    @Option(name: .long, help: "Override node.http (HOST:PORT; port 0 picks a free port).")
    var http: String?

    @Option(name: .long, help: "Override node.data_dir.")
    var dataDir: String?

    @Option(name: .long, help: "Override cluster.gossip (HOST:PORT, UDP and TCP; port 0 picks a free port).")
    var gossip: String?

    @Option(name: .long, help: "Override cluster.join: gossip addresses of members to join, comma-separated.")
    var join: String?

    @Option(name: .long, help: "Override cluster.advertise: the gossip HOST:PORT peers use to reach this node.")
    var advertise: String?

    func run() throws {
        if let path = checkConfig {
            do {
                let c = try ConfigLoader.load(path: path)
                var backends = 0
                for p in c.pools { backends += p.backends.count }
                print("\(path): ok (node \(c.node.id), \(c.pools.count) pool(s), \(backends) backend(s))")
                return
            } catch {
                FileHandle.standardError.write(Data("\(path): \(error.description)\n".utf8))
                throw ExitCode(1)
            }
        }
        guard let path = config else {
            FileHandle.standardError.write(Data("wrpd: --config FILE is required (or --check-config FILE)\n".utf8))
            throw ExitCode(2)
        }
        var cfg: Config
        do {
            cfg = try ConfigLoader.load(path: path)
            try cfg.apply(nodeID: nodeId, http: http, dataDir: dataDir)
            try cfg.apply(gossip: gossip, join: join, advertise: advertise)
        } catch {
            FileHandle.standardError.write(Data("wrpd: \(path): \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        let level = Logger.Level(rawValue: cfg.logging.level) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "wrpd")
        do {
            let node = try Node(config: cfg, logger: logger)
            try node.start()
            node.run()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("wrpd: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

WRPD.main()
