import Foundation
import Testing
import TestKit

/// wrpd with `policy: dualmap` in front of wrp-sim: prefix affinity end to end.
@Suite(.serialized)
struct DualMapTests {
    /// About `bytes` bytes of text whose first words identify `tag` (so the first prefix blocks,
    /// which form DualMap's key, differ between tags).
    static func prompt(_ tag: String, bytes: Int = 4096) -> String {
        var s = "conversation \(tag): "
        var k = 0
        let words = ["router", "prefix", "cache", "block", "token", "model", "queue", "answer"]
        while s.utf8.count < bytes {
            s += words[(k * 7 + tag.utf8.count) % words.count] + " \(tag)-\(k) "
            k += 1
        }
        return s
    }

    static func cachedTokens(_ r: RawResponse) -> Int? {
        ((r.json?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int
    }

    @Test func chat_repeatedLongPrefix_sameBackendAndCachedOnRepeats() throws {
        let f = try LocalFleet(backends: 4, policy: "dualmap")
        try f.waitReady()
        let base = Self.prompt("repeat")
        var backends: [String] = []
        for i in 0..<5 {
            // Same 4 KiB prefix, a different question each time (as a multi-turn chat grows).
            let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions",
                                    body: chatBody(base + " question \(i)?", maxTokens: 2))
            #expect(r.status == 200, "\(r)\n\(f.logs)")
            backends.append(try #require(r.headers["x-wrp-backend"]))
            if i > 0 {
                let cached = Self.cachedTokens(r) ?? 0
                // 4 KiB ≈ 1,024 tokens of shared prefix; at least most of its 64-token blocks hit.
                #expect(cached >= 512, "repeat \(i) should reuse the prefix on \(backends[i]): \(r)")
            }
        }
        #expect(Set(backends).count == 1, "a repeated prefix should stay on one backend: \(backends)")
    }

    @Test func chat_distinctPrefixes_spreadOverSeveralBackends() throws {
        let f = try LocalFleet(backends: 4, policy: "dualmap")
        try f.waitReady()
        var counts: [String: Int] = [:]
        for i in 0..<16 {
            let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions",
                                    body: chatBody(Self.prompt("c\(i)", bytes: 2048), maxTokens: 2))
            #expect(r.status == 200, "\(r)\n\(f.logs)")
            counts[try #require(r.headers["x-wrp-backend"]), default: 0] += 1
            // A new prefix has nothing cached anywhere.
            #expect(Self.cachedTokens(r) == 0, "\(r)")
        }
        #expect(counts.count >= 3, "16 distinct prefixes on 4 backends should use at least 3: \(counts)")
        #expect((counts.values.max() ?? 0) <= 10, "no backend should take most of 16 distinct prefixes: \(counts)")
    }

    @Test func stream_repeatedPrefix_sameBackendWithCachedUsage() throws {
        let f = try LocalFleet(backends: 3, policy: "dualmap")
        try f.waitReady()
        let base = Self.prompt("stream")
        var backends: [String] = []
        var lastCached = 0
        for i in 0..<2 {
            let c = try RawClient(port: f.httpPort)
            let body = chatBody(base + " turn \(i)", stream: true, maxTokens: 3)
            try c.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
            let r = try c.readResponse()
            #expect(r.status == 200, "\(r)")
            backends.append(r.headers["x-wrp-backend"] ?? "?")
            // The final chunk before [DONE] carries usage.
            let events = r.bodyText.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }
            let last = try #require(events.last)
            let obj = try JSONSerialization.jsonObject(with: Data(last.dropFirst(6).utf8)) as? [String: Any]
            lastCached = ((obj?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? -1
        }
        #expect(backends[0] == backends[1], "\(backends)")
        #expect(lastCached >= 512, "the second stream should report cached tokens: \(lastCached)")
    }

    @Test func route_dualmap_answersTwoDistinctCandidates() throws {
        let f = try LocalFleet(backends: 4, policy: "dualmap")
        try f.waitReady()
        for i in 0..<6 {
            let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/route",
                                    body: chatBody(Self.prompt("route\(i)", bytes: 1024)))
            #expect(r.status == 200, "\(r)")
            let j = try #require(r.json)
            #expect(j["policy"] as? String == "dualmap")
            let candidates = try #require(j["candidates"] as? [String])
            #expect(candidates.count == 2, "\(j)")
            #expect(Set(candidates).count == 2, "DualMap's two candidates must differ: \(j)")
            let chosen = try #require((j["backend"] as? [String: Any])?["id"] as? String)
            #expect(candidates.contains(chosen), "\(j)")
            #expect(["dualmap_cache", "dualmap_load", "dualmap_slo_switch"].contains(j["reason"] as? String ?? ""), "\(j)")
            // The other candidate is the first retry target.
            let fallbacks = try #require(j["fallbacks"] as? [String])
            #expect(fallbacks.first == candidates.first { $0 != chosen }, "\(j)")
        }
    }
}
