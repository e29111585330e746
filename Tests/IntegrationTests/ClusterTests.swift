import Foundation
import Testing
import TestKit

/// A local cluster of wrpd processes on 127.0.0.1 with the `local` gossip preset.
final class LocalCluster {
    let dir: String
    let sim: ChildProcess
    var nodes: [String: ChildProcess] = [:]
    var httpPorts: [String: Int] = [:]
    var gossipPorts: [String: Int] = [:]
    let configPath: String
    static let key = "3PIEAgqiMBV6zdQZ4gCRLwMoyMqtyHAErWFE2kyOwfo="

    init(backends: Int = 2, simArgs: [String] = []) throws {
        dir = makeTempDir("cluster")
        let portsFile = dir + "/sim-ports"
        sim = try ChildProcess("wrp-sim", ["--backends", "\(backends)", "--base-port", "0", "--time-scale", "0.02",
                                           "--ports-file", portsFile, "--log-level", "warning"] + simArgs, logDir: dir)
        let p = try eventually(10, "wrp-sim ports") { () -> [String: Int]? in
            let p = readPorts(portsFile)
            return p.count == backends ? p : nil
        }
        var yaml = """
        node: {id: x, http: "127.0.0.1:0"}
        cluster: {preset: local, keys: ["\(LocalCluster.key)"], label: it}
        health: {interval_ms: 300, timeout_ms: 200}
        upstream: {connect_timeout_ms: 300}
        logging: {level: warning}
        pools:
          - name: default
            models: [sim-llama-8b]
            policy: least_loaded
            backends:

        """
        for i in 0..<backends { yaml += "      - {id: sim-\(i), url: \"http://127.0.0.1:\(p["sim-\(i)"]!)\"}\n" }
        configPath = dir + "/wrpd.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts node `id` (gossip and HTTP on free ports), joining through `join` (node ids).
    func start(_ id: String, join: [String] = [], gossipPort: Int = 0) throws {
        let data = dir + "/" + id
        try? FileManager.default.removeItem(atPath: data + "/ports")
        var args = ["--config", configPath, "--node-id", id, "--http", "127.0.0.1:0", "--gossip", "127.0.0.1:\(gossipPort)",
                    "--data-dir", data]
        let seeds = join.compactMap { gossipPorts[$0] }.map { "127.0.0.1:\($0)" }
        if !seeds.isEmpty { args += ["--join", seeds.joined(separator: ",")] }
        let proc = try ChildProcess("wrpd", args, logDir: dir)
        nodes[id] = proc
        let ports = try eventually(10, "\(id) ports") { () -> [String: Int]? in
            if !proc.isRunning { throw TestKitError.io("\(id) exited: \(proc.log)") }
            let p = readPorts(data + "/ports")
            return p["http"] != nil && p["gossip"] != nil ? p : nil
        }
        httpPorts[id] = ports["http"]
        gossipPorts[id] = ports["gossip"]
    }

    /// Member id → status, as node `id` sees them.
    func members(seenBy id: String) throws -> [String: String] {
        let r = try httpRequest(port: httpPorts[id]!, path: "/admin/members", timeout: 2)
        var out: [String: String] = [:]
        for m in r.json?["members"] as? [[String: Any]] ?? [] { out[m["id"] as! String] = m["status"] as? String }
        return out
    }

    func stop() {
        for n in nodes.values { n.stop() }
        sim.stop()
    }

    deinit { stop() }
}

@Suite(.serialized)
struct ClusterTests {
    @Test func fiveNodes_killOneAndRestart_detectedServedAndRejoined() throws {
        let c = try LocalCluster()
        let ids = ["n1", "n2", "n3", "n4", "n5"]
        try c.start("n1")
        for id in ids.dropFirst() { try c.start(id, join: ["n1"]) }

        // All see 5 alive within 10 s.
        let started = Date()
        _ = try eventually(10, "5 alive everywhere") { () -> Bool? in
            for id in ids where try c.members(seenBy: id).values.filter({ $0 == "alive" }).count != 5 { return nil }
            return true
        }
        print("cluster: 5 nodes alive everywhere after \(String(format: "%.2f", Date().timeIntervalSince(started))) s")

        // kill -9 n5; survivors keep serving and mark it dead within suspicion time + 2 s.
        let victimGossip = c.gossipPorts["n5"]!
        c.nodes["n5"]!.signal(SIGKILL)
        _ = c.nodes["n5"]!.waitExit(seconds: 5)
        let killedAt = Date()
        let survivors = Array(ids.dropLast())
        var deadAt: [String: Double] = [:]
        var requests = 0, failures: [String] = []
        // local preset: suspicion max = 6 × 3 × max(1, log10 5) × 200 ms = 3.6 s.
        let bound = 3.6 + 2.0
        while deadAt.count < survivors.count && Date().timeIntervalSince(killedAt) < bound + 3 {
            for id in survivors {
                let r = try httpRequest(port: c.httpPorts[id]!, method: "POST", path: "/v1/chat/completions",
                                        body: chatBody("during failure \(requests)"), timeout: 5)
                requests += 1
                if r.status != 200 { failures.append("\(id): \(r.status)") }
                if deadAt[id] == nil, try c.members(seenBy: id)["n5"] == "dead" {
                    deadAt[id] = Date().timeIntervalSince(killedAt)
                }
            }
        }
        print("cluster: n5 declared dead after \(deadAt.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.2f", $0.value))s" }.joined(separator: " ")); \(requests) requests during detection, \(failures.count) failed")
        #expect(deadAt.count == survivors.count, "every survivor marks n5 dead: \(deadAt)")
        for (id, t) in deadAt { #expect(t <= bound, "\(id) took \(t) s (bound \(bound) s)") }
        #expect(failures.isEmpty, "requests to survivors must succeed: \(failures)")

        // Restart n5 under the same id (on a new gossip port, as after a container restart; the
        // old one may already be taken): alive everywhere within 10 s.
        let restarted = Date()
        try c.start("n5", join: ["n1"])
        #expect(c.gossipPorts["n5"] != nil && victimGossip > 0)
        _ = try eventually(10, "n5 alive again everywhere") { () -> Bool? in
            for id in ids where try c.members(seenBy: id)["n5"] != "alive" { return nil }
            return true
        }
        print("cluster: restarted n5 alive everywhere after \(String(format: "%.2f", Date().timeIntervalSince(restarted))) s")
    }

    @Test func backendAddedOnOneNode_routedByAll_andDrainLeaves() throws {
        let c = try LocalCluster(backends: 2)
        try c.start("a")
        try c.start("b", join: ["a"])
        try c.start("c", join: ["a"])
        _ = try eventually(10, "3 alive") { try c.members(seenBy: "c").values.filter { $0 == "alive" }.count == 3 ? true : nil }
        // Add a backend on node a (pointing at sim-1's port under a new id); b and c route to it.
        let simPort = try #require(try httpRequest(port: c.httpPorts["a"]!, path: "/admin/pools").json
            .flatMap { (($0["pools"] as? [[String: Any]])?.first?["backends"] as? [[String: Any]])?.last?["url"] as? String })
        let add = try httpRequest(port: c.httpPorts["a"]!, method: "POST", path: "/admin/backends",
                                  body: #"{"pool":"default","id":"added","url":"\#(simPort)"}"#)
        #expect(add.status == 201)
        for id in ["b", "c"] {
            _ = try eventually(5, "\(id) knows the added backend") { () -> Bool? in
                let pools = try httpRequest(port: c.httpPorts[id]!, path: "/admin/pools").bodyText
                return pools.contains("\"id\":\"added\"") && pools.contains("\"health\":\"healthy\"") ? true : nil
            }
        }
        // Ring epochs agree across nodes.
        let epochs = try ["a", "b", "c"].map { id in
            try httpRequest(port: c.httpPorts[id]!, path: "/admin/ring").json.flatMap { ($0["pools"] as? [[String: Any]])?.first?["epoch"] as? String }
        }
        #expect(Set(epochs).count == 1, "\(epochs)")
        // Drain b: it leaves (others see `left`) and exits 0.
        let d = try httpRequest(port: c.httpPorts["b"]!, method: "POST", path: "/admin/drain", body: "{}")
        #expect(d.status == 202)
        #expect(c.nodes["b"]!.waitExit(seconds: 10) == 0)
        _ = try eventually(5, "b left") { try c.members(seenBy: "a")["b"] == "left" ? true : nil }
    }

    /// Requests in flight on one node show up as peer load on the other, and every node sees
    /// scraped gauges for every backend (owners scrape, peers learn by gossip).
    @Test func inFlightOnOneNode_visibleAsPeerLoadElsewhere() throws {
        let c = try LocalCluster(backends: 2, simArgs: ["--decode-tokens-per-s", "0.5"])
        try c.start("p")
        try c.start("q", join: ["p"])
        _ = try eventually(10, "2 alive") { try c.members(seenBy: "q").values.filter { $0 == "alive" }.count == 2 ? true : nil }
        var clients: [RawClient] = []
        for i in 0..<6 {
            let cl = try RawClient(port: c.httpPorts["p"]!)
            let body = chatBody("hold \(i)", stream: true, maxTokens: 200)
            try cl.send("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
            clients.append(cl)
        }
        func backends(_ id: String) throws -> [[String: Any]] {
            let j = try httpRequest(port: c.httpPorts[id]!, path: "/admin/pools").json
            return ((j?["pools"] as? [[String: Any]])?.first?["backends"] as? [[String: Any]]) ?? []
        }
        let peer = try eventually(5, "q sees p's in-flight requests") { () -> Int? in
            let n = try backends("q").compactMap { $0["peer_in_flight"] as? Int }.reduce(0, +)
            return n == 6 ? n : nil
        }
        #expect(peer == 6)
        _ = try eventually(10, "scraped gauges everywhere") { () -> Bool? in
            for id in ["p", "q"] where try backends(id).contains(where: { $0["running"] is NSNull || $0["running"] == nil }) { return nil }
            return true
        }
        for cl in clients { cl.close() }
        _ = try eventually(5, "peer load drains") { () -> Bool? in
            try backends("q").compactMap { $0["peer_in_flight"] as? Int }.reduce(0, +) == 0 ? true : nil
        }
    }

    @Test func garbageGossipPackets_droppedAndCounted_nodeKeepsRunning() throws {
        let c = try LocalCluster(backends: 1)
        try c.start("g1")
        try c.start("g2", join: ["g1"])
        _ = try eventually(10, "2 alive") { try c.members(seenBy: "g2").values.filter { $0 == "alive" }.count == 2 ? true : nil }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(c.gossipPorts["g1"]!).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var seed: UInt64 = 7
        for i in 0..<500 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            var junk = (0..<(1 + Int(seed >> 55))).map { UInt8(truncatingIfNeeded: (seed >> UInt64($0 % 56)) &+ UInt64(i)) }
            if i % 3 == 0 { junk[0] = 1 }  // looks like our version byte
            _ = junk.withUnsafeBytes { b in
                withUnsafePointer(to: &addr) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        }
        // Also garbage on the TCP push-pull port.
        let tcp = try RawClient(port: c.gossipPorts["g1"]!, timeout: 1)
        try tcp.send([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])
        _ = tcp.waitClosed()
        let dropped = try eventually(5, "drops counted") { () -> Int? in
            let m = try httpRequest(port: c.httpPorts["g1"]!, path: "/metrics").bodyText
            let n = m.split(separator: "\n").filter { $0.hasPrefix("wrp_gossip_dropped_total") }
                .compactMap { Int($0.split(separator: " ").last!) }.reduce(0, +)
            return n >= 400 ? n : nil
        }
        #expect(dropped >= 400)
        #expect(c.nodes["g1"]!.isRunning)
        #expect(try c.members(seenBy: "g2")["g1"] == "alive")
    }
}
