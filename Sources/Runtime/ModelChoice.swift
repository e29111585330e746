import BanditCore
import Foundation
import HTTP
import LibUV
import NodeConfig
import NodeCore
import RoutingCore
import RulesCore
import Storage
import WRPCommon
import Workload

/// A model-choice decision (`"model": "auto"`), kept so feedback can be credited to it.
struct ChoiceRecord {
    var context: String
    var model: String
    var features: [Double]
    var atMs: UInt64

    /// `context \t model \t atMs \t f1,f2,...` — small, and readable in a RocksDB dump.
    func encoded() -> [UInt8] {
        Array("\(context)\t\(model)\t\(atMs)\t\(features.map { String($0) }.joined(separator: ","))".utf8)
    }

    init(context: String, model: String, features: [Double], atMs: UInt64) {
        self.context = context; self.model = model; self.features = features; self.atMs = atMs
    }

    init?(decoding b: [UInt8]) {
        let parts = String(decoding: b, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false)
        guard parts.count == 4, let at = UInt64(parts[2]) else { return nil }
        context = String(parts[0]); model = String(parts[1]); atMs = at
        features = parts[3].isEmpty ? [] : parts[3].split(separator: ",").compactMap { Double($0) }
    }
}

/// Learned model choice: rules narrow the eligible models, the bandit picks one, feedback and
/// observed outcomes update it; statistics persist in RocksDB and merge across nodes by gossip.
final class ModelChooser {
    var learner: Bandit.Learner
    let rules: RuleSet
    var rng: SeededRandom
    /// Recent decisions (also persisted); bounded, oldest evicted first.
    var recent: [String: ChoiceRecord] = [:]
    var recentOrder: [String] = []
    var recentHead = 0
    /// Decisions that already received feedback (duplicates are answered, not counted).
    var fed: Set<String> = []
    var statsDirty = false
    static let maxRecent = 200_000
    static let namespace = "bandit", statsKey = "stats"
    static let ownStatsKey = Array("own".utf8)

    init(node: String, settings: BanditSettings, rules: RuleSet, seed: UInt64) {
        learner = Bandit.Learner(node: node, settings: settings, dimension: Signals.featureDimension)
        self.rules = rules
        rng = SeededRandom(seed: seed)
    }

    func remember(_ id: String, _ r: ChoiceRecord) {
        if recent.count >= ModelChooser.maxRecent, recentHead < recentOrder.count {
            recent[recentOrder[recentHead]] = nil
            fed.remove(recentOrder[recentHead])
            recentHead += 1
            if recentHead > 4096 && recentHead * 2 > recentOrder.count {
                recentOrder.removeFirst(recentHead)
                recentHead = 0
            }
        }
        recent[id] = r
        recentOrder.append(id)
    }

    static func decisionKey(_ id: String, atMs: UInt64) -> [UInt8] { TimestampKey.make(timestamp: atMs, suffix: Array(("d:" + id).utf8)) }
    static func feedbackKey(_ id: String, atMs: UInt64) -> [UInt8] { TimestampKey.make(timestamp: atMs, suffix: Array(("f:" + id).utf8)) }
}

extension Node {
    /// The decision id carries its time (for TTL keys) and its node (feedback can reach any node).
    /// Format: 16 hex digits (44 bits of Unix ms, 20 bits of counter) "." node id.
    func makeDecisionID(atMs: UInt64) -> String {
        decisionCounter &+= 1
        let v = (atMs << 20) | (decisionCounter & 0xF_FFFF)
        var hex = String(v, radix: 16)
        if hex.count < 16 { hex = String(repeating: "0", count: 16 - hex.count) + hex }
        return hex + "." + nodeID
    }

    static func decisionTimeMs(_ id: String) -> UInt64? {
        guard let dot = id.firstIndex(of: "."), let v = UInt64(id[..<dot], radix: 16) else { return nil }
        return v >> 20
    }

    static func decisionNode(_ id: String) -> String? {
        id.firstIndex(of: ".").map { String(id[id.index(after: $0)...]) }
    }

    var allModels: [String] { pools.flatMap(\.models) }

    /// Chooses a model for an `auto` request. Returns the model and the decision to remember.
    func chooseModel(_ w: Workload, body: [UInt8], kind: RequestKind, tier: String?, budget: Double?) -> (String, String, ChoiceRecord)? {
        guard let chooser else { return nil }
        let signals = body.withUnsafeBytes { Signals.extract(workload: w, body: $0, kind: kind, tier: tier) }
        let (rule, eligibleModels) = chooser.rules.evaluate(signals)
        let eligible = (eligibleModels ?? allModels).filter { modelToPool[$0] != nil }
        guard !eligible.isEmpty else { return nil }
        let context = rule ?? "default"
        let features = signals.features
        let costs = eligible.map { expectedCost(model: $0, promptTokens: w.estimatedPromptTokens, outputTokens: w.maxTokens ?? 256) }
        guard let c = chooser.learner.choose(context: context, eligible: eligible, features: features, expectedCosts: costs,
                                             budget: budget, rng: &chooser.rng) else { return nil }
        let at = ClusterAgent.wallMs
        let id = makeDecisionID(atMs: at)
        let record = ChoiceRecord(context: context, model: c.model, features: features, atMs: at)
        chooser.remember(id, record)
        if let store {
            var b = WriteBatch()
            b.put(.decisions, ModelChooser.decisionKey(id, atMs: at), record.encoded())
            store.write(b)
        }
        return (c.model, id, record)
    }

    /// Mean list price of a model's backends for this request, USD.
    func expectedCost(model: String, promptTokens: Int, outputTokens: Int) -> Double {
        guard let pi = modelToPool[model] else { return 0 }
        let live = pools[pi].backends.filter { !$0.removed }
        guard !live.isEmpty else { return 0 }
        let inPrice = live.map(\.spec.costInputPerMillion).reduce(0, +) / Double(live.count)
        let outPrice = live.map(\.spec.costOutputPerMillion).reduce(0, +) / Double(live.count)
        return (Double(promptTokens) * inPrice + Double(outputTokens) * outPrice) / 1e6
    }

    /// The request body with its `model` value replaced (for `auto`): the backend must see a
    /// model it serves. Everything else is forwarded byte for byte.
    static func replacingModel(in body: [UInt8], with model: String) -> [UInt8]? {
        body.withUnsafeBytes { raw -> [UInt8]? in
            var s = JSONScanner(raw)
            guard (try? s.expect(UInt8(ascii: "{"))) != nil else { return nil }
            repeat {
                guard let key = try? s.scanString(), (try? s.expect(UInt8(ascii: ":"))) != nil else { return nil }
                s.skipWhitespace()
                guard let value = try? s.skipValue(depth: 1) else { return nil }
                if s.equals(key, "model") {
                    var out = [UInt8]()
                    out.reserveCapacity(body.count + model.utf8.count)
                    out.append(contentsOf: body[0..<value.lowerBound])
                    var j = JSONWriter(capacity: model.utf8.count + 2)
                    j.string(model)
                    out.append(contentsOf: j.bytes)
                    out.append(contentsOf: body[value.upperBound...])
                    return out
                }
            } while s.consume(UInt8(ascii: ","))
            return nil
        }
    }

    /// An observed outcome of an auto-routed request (no quality signal: neutral quality on
    /// success, 0 on failure; the real cost and latency).
    func observeOutcome(decisionID: String, success: Bool, latencyMs: Double, cost: Double) {
        guard let chooser, let r = chooser.recent[decisionID] else { return }
        let quality = success ? chooser.learner.settings.priorMean : 0
        chooser.learner.record(context: r.context, model: r.model, features: r.features, quality: quality, cost: cost, latencyMs: latencyMs)
        chooser.statsDirty = true
    }

    /// Persists and gossips this node's statistics if they changed (timer; acknowledged feedback
    /// is persisted on its own path before its 202).
    func flushBanditStats() {
        guard let chooser, chooser.statsDirty else { return }
        chooser.statsDirty = false
        let own = chooser.learner.own
        if let store {
            var b = WriteBatch()
            b.put(.bandit, ModelChooser.ownStatsKey, own.encoded())
            store.write(b)
        }
        gossipBanditStats(own)
    }

    func gossipBanditStats(_ own: Bandit.NodeStats) {
        guard let agent = cluster else { return }
        agent.broadcast([agent.state.putOwned(namespace: ModelChooser.namespace, key: ModelChooser.statsKey,
                                              payload: own.encoded(), nowMs: ClusterAgent.wallMs)])
    }

    func mergeRemoteBandit(node: String, _ e: OwnedEntry) {
        guard let chooser, node != nodeID, let stats = try? Bandit.NodeStats(decoding: e.payload) else { return }
        _ = chooser.learner.merge(stats)
    }

    // MARK: endpoints

    /// `POST /v1/feedback {decision_id, reward (0..1) and/or success, latency_ms, ttft_ms, cost}`:
    /// 202 once the record and the updated statistics are in the synced WAL.
    func feedback(_ ex: HTTPExchange) {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(ex.request.body))) as? [String: Any] else {
            return answerError(ex, .feedback, 400, "body must be a JSON object", "invalid_request_error", "invalid_body")
        }
        guard let id = obj["decision_id"] as? String, !id.isEmpty else {
            return answerError(ex, .feedback, 400, "decision_id (string) is required", "invalid_request_error", "invalid_body")
        }
        func number(_ k: String) -> Double?? {
            guard let v = obj[k], !(v is NSNull) else { return .some(nil) }
            guard let n = v as? NSNumber, n.doubleValue.isFinite else { return nil }
            return .some(n.doubleValue)
        }
        guard let reward = number("reward"), let latency = number("latency_ms"), let ttft = number("ttft_ms"), let cost = number("cost") else {
            return answerError(ex, .feedback, 400, "reward, latency_ms, ttft_ms and cost must be numbers", "invalid_request_error", "invalid_body")
        }
        var success: Bool? = nil
        if let s = obj["success"], !(s is NSNull) {
            guard let b = s as? Bool else { return answerError(ex, .feedback, 400, "success must be true or false", "invalid_request_error", "invalid_body") }
            success = b
        }
        if let r = reward, !(0...1).contains(r) {
            return answerError(ex, .feedback, 400, "reward must be in 0...1", "invalid_request_error", "invalid_body")
        }
        guard reward != nil || success != nil else {
            return answerError(ex, .feedback, 400, "give reward (0..1) and/or success", "invalid_request_error", "invalid_body")
        }
        if (latency ?? 0) < 0 || (ttft ?? 0) < 0 || (cost ?? 0) < 0 {
            return answerError(ex, .feedback, 400, "latency_ms, ttft_ms and cost must be ≥ 0", "invalid_request_error", "invalid_body")
        }
        guard let chooser, let atMs = Node.decisionTimeMs(id) else {
            return answerError(ex, .feedback, 404, "unknown decision '\(id)'", "invalid_request_error", "decision_not_found")
        }
        if let owner = Node.decisionNode(id), owner != nodeID {
            return forwardFeedback(ex, to: owner, decisionID: id)
        }
        if ClusterAgent.wallMs > atMs + NodeStore.decisionTTLMs {
            return answerError(ex, .feedback, 404, "decision '\(id)' has expired", "invalid_request_error", "decision_expired")
        }
        var record = chooser.recent[id]
        if record == nil, let store, let bytes = try? store.store.get(.decisions, ModelChooser.decisionKey(id, atMs: atMs)) {
            record = ChoiceRecord(decoding: bytes)
        }
        guard let record else {
            return answerError(ex, .feedback, 404, "unknown decision '\(id)'", "invalid_request_error", "decision_not_found")
        }
        let already = chooser.fed.contains(id)
            || ((try? store?.store.get(.decisions, ModelChooser.feedbackKey(id, atMs: atMs))) ?? nil) != nil
        if already {
            return simple(ex, .feedback, 200, #"{"status":"duplicate","decision_id":"\#(id)"}"#)
        }
        chooser.fed.insert(id)
        let quality = reward ?? (success! ? 1 : 0)
        let own = chooser.learner.record(context: record.context, model: record.model, features: record.features,
                                         quality: quality, cost: cost ?? 0, latencyMs: latency ?? 0)
        var fb = JSONWriter(capacity: 128)
        fb.object { j in
            j.key("quality"); j.double(quality)
            j.key("cost"); j.double(cost ?? 0)
            j.key("latency_ms"); j.double(latency ?? 0)
            j.key("ttft_ms"); j.double(ttft ?? 0)
            j.key("at_ms"); j.uint64(ClusterAgent.wallMs)
        }
        gossipBanditStats(own)
        guard let store else {
            return simple(ex, .feedback, 202, #"{"status":"accepted","decision_id":"\#(id)","durable":false}"#)
        }
        var b = WriteBatch()
        b.put(.decisions, ModelChooser.feedbackKey(id, atMs: atMs), fb.bytes)
        b.put(.bandit, ModelChooser.ownStatsKey, own.encoded())
        store.durably(b) { [weak self, weak ex] ok in
            guard let self, let ex else { return }
            if ok {
                self.simple(ex, .feedback, 202, #"{"status":"accepted","decision_id":"\#(id)"}"#)
            } else {
                self.answerError(ex, .feedback, 500, "feedback could not be stored", "server_error", "storage_error")
            }
        }
    }

    /// `GET /admin/bandit`: learned statistics per (context, model), cluster-wide.
    func adminBandit(_ ex: HTTPExchange) {
        var j = JSONWriter(capacity: 1024)
        j.object { j in
            j.key("node"); j.string(nodeID)
            j.key("policy"); j.string(chooser?.learner.settings.policy.rawValue ?? "")
            j.key("arms")
            j.array { j in
                for a in chooser?.learner.arms() ?? [] {
                    j.object { j in
                        j.key("context"); j.string(a.key.context)
                        j.key("model"); j.string(a.key.model)
                        j.key("n"); j.double(a.n)
                        j.key("mean_reward"); j.double((a.meanReward * 1e6).rounded() / 1e6)
                    }
                }
            }
            j.key("feedback_stored"); j.int(storedFeedbackCount())
        }
        respondJSON(ex, .admin, 200, j.bytes)
    }

    /// Feedback for another node's decision goes to that node (its HTTP address is in its
    /// membership metadata), and its answer comes back unchanged.
    func forwardFeedback(_ ex: HTTPExchange, to owner: String, decisionID: String) {
        guard let m = cluster?.membership.member(owner), m.status == .alive || m.status == .suspect,
              let hp = HostPort(parsing: String(decoding: m.meta, as: UTF8.self)),
              let addr = SocketAddress(ip: hp.host, port: hp.port) else {
            return answerError(ex, .feedback, 404, "decision '\(decisionID)' was made by node '\(owner)', which is not reachable",
                               "invalid_request_error", "decision_not_found")
        }
        HTTPClientConnection.connect(loop: loop, to: addr, timeoutMs: 1_000) { [weak self, weak ex] r in
            guard let self, let ex else { return }
            guard case .success(let c) = r else {
                return self.answerError(ex, .feedback, 502, "node '\(owner)' did not answer", "server_error", "forward_failed")
            }
            var status = 0
            var body: [UInt8] = []
            c.onHead = { h in status = h.status }
            c.onBody = { b in body.append(contentsOf: b) }
            c.onComplete = { [weak self, weak ex] _ in
                c.close()
                guard let self, let ex else { return }
                ex.respond(status: status, body: body, extraHeaders: [("x-wrp-node", owner)])
                self.metrics.request(route: .feedback, status: status, backend: "", seconds: Double(UVLoop.hrtime() &- ex.receivedAtNs) / 1e9)
            }
            c.onError = { [weak self, weak ex] _ in
                guard let self, let ex else { return }
                self.answerError(ex, .feedback, 502, "node '\(owner)' failed while answering", "server_error", "forward_failed")
            }
            var h = HeadBuilder(capacity: 256)
            h.append("POST /v1/feedback HTTP/1.1\r\n")
            h.add("host", hp.description)
            h.add("content-type", "application/json")
            h.add("content-length", int: ex.request.body.count)
            h.add("connection", "close")
            h.finish()
            h.bytes.append(contentsOf: ex.request.body)
            c.send(h.bytes)
        }
    }

    func storedFeedbackCount() -> Int {
        guard let store else { return 0 }
        var n = 0
        try? store.store.iterate(.decisions, from: [], to: nil) { k, _ in
            if k.count > 10 && k[8] == UInt8(ascii: "f") && k[9] == UInt8(ascii: ":") { n += 1 }
            return true
        }
        return n
    }
}
