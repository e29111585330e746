import Foundation
import Testing
import TestKit

/// Two models behind wrpd (auto enabled), for model-choice, feedback and durability tests.
final class LearningFleet {
    let dir: String
    let sim: ChildProcess
    let configPath: String
    var nodes: [String: ChildProcess] = [:]
    var http: [String: Int] = [:]
    var gossip: [String: Int] = [:]

    init(clustered: Bool = false) throws {
        dir = makeTempDir("learn")
        let portsFile = dir + "/sim-ports"
        sim = try ChildProcess("wrp-sim", ["--backends", "2", "--base-port", "0", "--time-scale", "0.02", "--models",
                                           "sim-llama-8b,sim-qwen-7b", "--ports-file", portsFile, "--log-level", "warning"], logDir: dir)
        let p = try eventually(10, "wrp-sim ports") { () -> [String: Int]? in
            let p = readPorts(portsFile)
            return p.count == 2 ? p : nil
        }
        let cluster = clustered ? "cluster: {preset: local, keys: [\"\(LocalCluster.key)\"]}\n" : ""
        let yaml = """
        node: {id: x, http: "127.0.0.1:0"}
        logging: {level: warning}
        bandit: {policy: thompson}
        decisions:
          - {name: code, priority: 10, when: {has_code: true}, models: [sim-qwen-7b]}
        \(cluster)pools:
          - name: llama
            models: [sim-llama-8b]
            backends: [{id: sim-0, url: "http://127.0.0.1:\(p["sim-0"]!)", cost: {input_per_million: 0.05, output_per_million: 0.1}}]
          - name: qwen
            models: [sim-qwen-7b]
            backends: [{id: sim-1, url: "http://127.0.0.1:\(p["sim-1"]!)", cost: {input_per_million: 0.2, output_per_million: 0.4}}]
        """
        configPath = dir + "/wrpd.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    @discardableResult
    func start(_ id: String, join: String? = nil, gossipPort: Int? = nil) throws -> ChildProcess {
        let data = dir + "/" + id
        try? FileManager.default.removeItem(atPath: data + "/ports")
        var args = ["--config", configPath, "--node-id", id, "--http", "127.0.0.1:0", "--data-dir", data]
        if let gossipPort { args += ["--gossip", "127.0.0.1:\(gossipPort)"] }
        if let join, let g = gossip[join] { args += ["--join", "127.0.0.1:\(g)"] }
        let proc = try ChildProcess("wrpd", args, logDir: dir)
        nodes[id] = proc
        let ports = try eventually(10, "\(id) ports") { () -> [String: Int]? in
            if !proc.isRunning { throw TestKitError.io("\(id) exited: \(proc.log)") }
            let p = readPorts(data + "/ports")
            return p["http"] != nil && (gossipPort == nil || p["gossip"] != nil) ? p : nil
        }
        http[id] = ports["http"]
        gossip[id] = ports["gossip"]
        return proc
    }

    func route(_ id: String, _ content: String) throws -> String {
        let r = try httpRequest(port: http[id]!, method: "POST", path: "/v1/route", body: chatBody(content, model: "auto"))
        guard r.status == 200, let d = r.json?["decision_id"] as? String else { throw TestKitError.io("route failed: \(r)") }
        return d
    }

    func bandit(_ id: String) throws -> (arms: [String: Double], stored: Int) {
        let j = try httpRequest(port: http[id]!, path: "/admin/bandit").json ?? [:]
        var arms: [String: Double] = [:]
        for a in j["arms"] as? [[String: Any]] ?? [] {
            arms["\(a["context"]!)/\(a["model"]!)"] = (a["n"] as? NSNumber)?.doubleValue
        }
        return (arms, j["feedback_stored"] as? Int ?? -1)
    }

    deinit {
        for n in nodes.values { n.stop() }
        sim.stop()
    }
}

/// Counts feedback sent and acknowledged across client threads.
final class FeedbackTally: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var acked: [String] = []
    private var sentCount = 0
    private var killed = false

    func sent() { lock.lock(); sentCount += 1; lock.unlock() }

    /// Records an answer; returns true exactly once, when `killAt` acknowledgements are reached.
    func answered(_ id: String, accepted: Bool, killAt: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if accepted { acked.append(id) }
        if !killed && acked.count >= killAt { killed = true; return true }
        return false
    }

    var result: ([String], Int) { lock.lock(); defer { lock.unlock() }; return (acked, sentCount) }
}

@Suite(.serialized)
struct LearningTests {
    @Test func autoModel_codePrompt_ruleSelectsModelAndBodyIsRewritten() throws {
        let f = try LearningFleet()
        try f.start("a")
        let code = "```python\\ndef add(a, b):\\n    return a + b\\n```"
        let r = try httpRequest(port: f.http["a"]!, method: "POST", path: "/v1/chat/completions", body: chatBody(code, model: "auto"))
        #expect(r.status == 200, "\(r)")
        #expect(r.json?["model"] as? String == "sim-qwen-7b", "the backend saw the chosen model: \(r)")
        #expect(r.headers["x-wrp-backend"] == "sim-1")
        let route = try httpRequest(port: f.http["a"]!, method: "POST", path: "/v1/route", body: chatBody(code, model: "auto"))
        let choice = try #require(route.json?["model_choice"] as? [String: Any])
        #expect(choice["context"] as? String == "code")
    }

    @Test func feedback_validation_statusCodesAndDuplicateCountedOnce() throws {
        let f = try LearningFleet()
        try f.start("a")
        let p = f.http["a"]!
        let id = try f.route("a", "hello")
        func fb(_ body: String) throws -> RawResponse { try httpRequest(port: p, method: "POST", path: "/v1/feedback", body: body) }
        #expect(try fb("{nope").status == 400)
        #expect(try fb(#"{"reward":1}"#).status == 400)
        #expect(try fb(#"{"decision_id":"\#(id)"}"#).status == 400, "needs reward or success")
        #expect(try fb(#"{"decision_id":"\#(id)","reward":1.5}"#).status == 400)
        #expect(try fb(#"{"decision_id":"0000000000000001.a","reward":1}"#).status == 404)
        #expect(try fb(#"{"decision_id":"garbage","reward":1}"#).status == 404)
        #expect(try fb(#"{"decision_id":"\#(id)","reward":0.8,"latency_ms":100,"cost":0.001}"#).status == 202)
        let dup = try fb(#"{"decision_id":"\#(id)","success":true}"#)
        #expect(dup.status == 200 && dup.json?["status"] as? String == "duplicate")
        let b = try f.bandit("a")
        #expect(b.arms.values.reduce(0, +) == 1)
        #expect(b.stored == 1)
        #expect(try httpRequest(port: p, method: "GET", path: "/v1/feedback").status == 405)
    }

    @Test func secondNodeOnSameDataDir_failsWithLockedMessage() throws {
        let f = try LearningFleet()
        try f.start("a")
        let second = try ChildProcess("wrpd", ["--config", f.configPath, "--node-id", "a", "--http", "127.0.0.1:0",
                                               "--data-dir", f.dir + "/a"], logDir: f.dir)
        #expect(second.waitExit(seconds: 10) == 1)
        #expect(second.log.contains("is locked: is another wrpd running?"), "\(second.log)")
    }

    /// kill -9 while feedback is being acknowledged: every acknowledged record survives, and the
    /// restored statistics are exactly the stored feedback (acknowledged ≤ stored ≤ sent).
    @Test func killDuringFeedbackStream_acknowledgedRecordsSurviveAndStatsMatch() throws {
        let f = try LearningFleet()
        let proc = try f.start("a")
        var ids: [String] = []
        for i in 0..<400 { ids.append(try f.route("a", "question \(i)")) }
        // Four connections send feedback concurrently, so several records are in flight (written
        // but not yet acknowledged) when the process dies.
        let tally = FeedbackTally()
        let decisionIDs = ids
        let port = f.http["a"]!
        let group = DispatchGroup()
        for lane in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let client = try? RawClient(port: port, timeout: 5) else { return }
                for (i, id) in decisionIDs.enumerated() where i % 4 == lane {
                    let body = #"{"decision_id":"\#(id)","reward":\#(Double(i % 10) / 10)}"#
                    do {
                        try client.send("POST /v1/feedback HTTP/1.1\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
                        tally.sent()
                        let r = try client.readResponse()
                        if tally.answered(id, accepted: r.status == 202, killAt: 150) { proc.signal(SIGKILL) }
                    } catch {
                        return
                    }
                }
            }.start()
        }
        group.wait()
        let (acked, sent) = tally.result
        _ = proc.waitExit(seconds: 5)
        #expect(acked.count >= 100 && acked.count < ids.count, "killed mid-stream: \(acked.count) acked of \(sent) sent")
        try f.start("a")
        let after = try f.bandit("a")
        let n = Int(after.arms.values.reduce(0, +))
        print("durability: \(sent) sent, \(acked.count) acknowledged, \(after.stored) stored after kill -9 and restart, bandit n = \(n)")
        #expect(after.stored >= acked.count && after.stored <= sent)
        #expect(n == after.stored, "statistics equal the stored feedback")
        // Each acknowledged record is really there: feedback again is a duplicate.
        for id in acked.shuffled().prefix(40) {
            let r = try httpRequest(port: f.http["a"]!, method: "POST", path: "/v1/feedback", body: #"{"decision_id":"\#(id)","reward":1}"#)
            #expect(r.json?["status"] as? String == "duplicate", "\(id): \(r)")
        }
    }

    /// Three nodes learn together; a fresh node gets the learned statistics by gossip, and a
    /// restarted member keeps its own; feedback sent to any node reaches the deciding one.
    @Test func cluster_learnedStatsShared_freshNodeAndRestartConverge() throws {
        let f = try LearningFleet(clustered: true)
        try f.start("a", gossipPort: 0)
        try f.start("b", join: "a", gossipPort: 0)
        try f.start("c", join: "a", gossipPort: 0)
        _ = try eventually(10, "3 members") { () -> Bool? in
            let m = try httpRequest(port: f.http["c"]!, path: "/admin/members").json?["members"] as? [[String: Any]] ?? []
            return m.filter { $0["status"] as? String == "alive" }.count == 3 ? true : nil
        }
        // Decisions on a and b; feedback for b's decisions is sent to c (forwarded to b).
        for i in 0..<20 {
            let node = i % 2 == 0 ? "a" : "b"
            let id = try f.route(node, "prompt \(i)")
            let to = node == "b" ? "c" : node
            let r = try httpRequest(port: f.http[to]!, method: "POST", path: "/v1/feedback", body: #"{"decision_id":"\#(id)","reward":0.7}"#)
            #expect(r.status == 202, "\(to) for \(node): \(r)")
        }
        func total(_ id: String) throws -> Double { try f.bandit(id).arms.values.reduce(0, +) }
        _ = try eventually(10, "all nodes see 20 observations") { () -> Bool? in
            try ["a", "b", "c"].allSatisfy({ try total($0) == 20 }) ? true : nil
        }
        // A fresh node decides from what the cluster learned.
        try f.start("d", join: "a", gossipPort: 0)
        _ = try eventually(10, "fresh node has the statistics") { try total("d") == 20 ? true : nil }
        // Restart b (kill -9): it keeps its learned state and converges with peers.
        f.nodes["b"]!.signal(SIGKILL)
        _ = f.nodes["b"]!.waitExit(seconds: 5)
        try f.start("b", join: "a", gossipPort: 0)
        _ = try eventually(10, "restarted node converges") { try total("b") == 20 ? true : nil }
        #expect(try f.bandit("b").arms == f.bandit("a").arms)
    }
}
