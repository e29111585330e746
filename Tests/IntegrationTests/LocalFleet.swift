import Foundation
import TestKit

/// wrp-sim plus one wrpd on 127.0.0.1 with ephemeral ports, for one test.
final class LocalFleet {
    let dir: String
    let sim: ChildProcess?
    var wrpd: ChildProcess!
    let simPorts: [Int]
    var httpPort = 0
    let configPath: String

    /// - Parameters:
    ///   - deadBackends: extra backends at ports nobody listens on.
    ///   - policy: the pool's routing policy.
    init(backends: Int = 3, deadBackends: Int = 0, policy: String = "consistent_hash",
         simArgs: [String] = [], extraConfig: String = "", healthIntervalMs: Int = 200) throws {
        dir = makeTempDir("it")
        var ports: [Int] = []
        if backends > 0 {
            let portsFile = dir + "/sim-ports"
            sim = try ChildProcess("wrp-sim", ["--backends", "\(backends)", "--base-port", "0", "--time-scale", "0.02",
                                               "--ports-file", portsFile, "--log-level", "warning"] + simArgs, logDir: dir)
            let p = try eventually(10, "wrp-sim ports") { () -> [String: Int]? in
                let p = readPorts(portsFile)
                return p.count == backends ? p : nil
            }
            ports = (0..<backends).map { p["sim-\($0)"]! }
        } else {
            sim = nil
        }
        for _ in 0..<deadBackends { ports.append(LocalFleet.unusedPort()) }
        simPorts = ports
        var backendsYAML = ""
        for (i, p) in ports.enumerated() {
            backendsYAML += "      - {id: sim-\(i), url: \"http://127.0.0.1:\(p)\", max_concurrency: 32}\n"
        }
        let yaml = """
        node: {id: it-node, http: "127.0.0.1:0", data_dir: "\(dir)/data"}
        server: {request_timeout_ms: 400, shutdown_grace_ms: 5000}
        upstream: {connect_timeout_ms: 300, first_byte_timeout_ms: 5000, max_retries: 2}
        health: {interval_ms: \(healthIntervalMs), timeout_ms: 200, unhealthy_threshold: 3, healthy_threshold: 2}
        logging: {level: warning}
        \(extraConfig)
        pools:
          - name: default
            models: [sim-llama-8b]
            policy: \(policy)
            backends:
        \(backendsYAML)
        """
        configPath = dir + "/wrpd.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        try startNode()
    }

    func startNode() throws {
        try? FileManager.default.removeItem(atPath: dir + "/data/ports")
        wrpd = try ChildProcess("wrpd", ["--config", configPath], logDir: dir)
        let node = wrpd!
        httpPort = try eventually(10, "wrpd ports file") { () -> Int? in
            if !node.isRunning { throw TestKitError.io("wrpd exited: \(node.log)") }
            return readPorts(dir + "/data/ports")["http"]
        }
    }

    /// Waits until /readyz answers 200.
    func waitReady() throws {
        _ = try eventually(10, "wrpd ready") { () -> Bool? in
            (try? httpRequest(port: httpPort, path: "/readyz"))?.status == 200 ? true : nil
        }
    }

    func backendStates() throws -> [String: String] {
        let r = try httpRequest(port: httpPort, path: "/admin/pools")
        let pools = r.json?["pools"] as? [[String: Any]] ?? []
        var out: [String: String] = [:]
        for b in (pools.first?["backends"] as? [[String: Any]]) ?? [] {
            out[b["id"] as! String] = b["health"] as? String
        }
        return out
    }

    static func unusedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func stop() {
        wrpd?.stop()
        sim?.stop()
    }

    deinit { stop() }

    var logs: String { "wrpd log:\n\(wrpd?.log ?? "")\nwrp-sim log:\n\(sim?.log ?? "")" }
}
