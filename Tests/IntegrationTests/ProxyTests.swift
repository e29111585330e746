import Foundation
import Testing
import TestKit

/// wrpd in front of wrp-sim, as processes on 127.0.0.1.
@Suite(.serialized)
struct ProxyTests {
    @Test func chatCompletion_healthyFleet_proxiedWithHeadersAndUsage() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: chatBody("Hello there"))
        #expect(r.status == 200, "\(r)")
        let backend = try #require(r.headers["x-wrp-backend"])
        #expect(r.headers["x-wrp-sim-backend"] == backend)
        #expect(r.headers["x-wrp-node"] == "it-node")
        #expect((r.headers["x-wrp-decision-id"] ?? "").count >= 8)
        let usage = try #require(r.json?["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 4)
        #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] != nil)
    }

    @Test func completion_samePrefixTwice_secondIsCachedOnSameBackend() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let prompt = String(repeating: "You are a helpful assistant. ", count: 40)
        let body = #"{"model":"sim-llama-8b","prompt":"\#(prompt)","max_tokens":2}"#
        let a = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/completions", body: body)
        let b = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/completions", body: body)
        #expect(a.status == 200 && b.status == 200, "\(a) \(b)")
        #expect(a.headers["x-wrp-backend"] == b.headers["x-wrp-backend"])
        let cached = ((b.json?["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int
        #expect((cached ?? 0) > 0, "second request should reuse the prefix: \(b)")
    }

    @Test func chatCompletion_stream_sseChunksPassThroughAndEndWithDone() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let c = try RawClient(port: f.httpPort)
        let body = chatBody("Stream please", stream: true, maxTokens: 5)
        try c.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
        var chunks = 0
        let r = try c.readResponse { _ in chunks += 1 }
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "text/event-stream")
        #expect(r.headers["x-wrp-backend"] != nil)
        let events = r.bodyText.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }
        #expect(events.count == 6, "5 tokens + [DONE]: \(r.bodyText)")
        #expect(events.last == "data: [DONE]")
        #expect(chunks >= 2, "tokens should arrive as separate chunks")
        // The same connection serves the next request (keep-alive after a chunked stream).
        try c.send("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        #expect(try c.readResponse().status == 200)
    }

    @Test func route_decisionOnly_answersBackendAndCandidates() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/route", body: chatBody("where would this go"))
        #expect(r.status == 200, "\(r)")
        let j = try #require(r.json)
        #expect((j["decision_id"] as? String)?.isEmpty == false)
        let b = try #require(j["backend"] as? [String: Any])
        #expect((b["id"] as? String)?.hasPrefix("sim-") == true)
        #expect((b["url"] as? String)?.hasPrefix("http://127.0.0.1:") == true)
        #expect(b["pool"] as? String == "default")
        #expect(b["model"] as? String == "sim-llama-8b")
        #expect(j["policy"] as? String == "consistent_hash")
        #expect(j["reason"] != nil && j["candidates"] is [String] && j["fallbacks"] is [String])
    }

    @Test func chatCompletion_chosenBackendFails500_retriedOnAnother() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let body = chatBody("retry me")
        let route = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/route", body: body)
        let chosen = try #require((route.json?["backend"] as? [String: Any])?["id"] as? String)
        let idx = Int(chosen.dropFirst(4))!
        let fail = try httpRequest(port: f.simPorts[idx], method: "POST", path: "/admin/fail", body: #"{"mode":"500"}"#)
        #expect(fail.status == 200)
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: body)
        #expect(r.status == 200, "\(r)\n\(f.logs)")
        #expect(r.headers["x-wrp-backend"] != chosen)
    }

    @Test func chatCompletion_chosenBackendCloses_retriedOnAnother() throws {
        let f = try LocalFleet()
        try f.waitReady()
        let body = chatBody("closing backend")
        let route = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/route", body: body)
        let chosen = try #require((route.json?["backend"] as? [String: Any])?["id"] as? String)
        _ = try httpRequest(port: f.simPorts[Int(chosen.dropFirst(4))!], method: "POST", path: "/admin/fail", body: #"{"mode":"close"}"#)
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: body)
        #expect(r.status == 200, "\(r)")
        #expect(r.headers["x-wrp-backend"] != chosen)
    }

    @Test func chatCompletion_noHealthyBackend_503() throws {
        let f = try LocalFleet(backends: 0, deadBackends: 2, healthIntervalMs: 100)
        _ = try eventually(10, "both backends unhealthy") { () -> Bool? in
            try f.backendStates().values.allSatisfy { $0 == "unhealthy" } ? true : nil
        }
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: chatBody("anyone?"))
        #expect(r.status == 503, "\(r)")
        #expect((r.json?["error"] as? [String: Any])?["code"] as? String == "no_healthy_backend")
        #expect(try httpRequest(port: f.httpPort, path: "/readyz").status == 503)
    }

    @Test func chatCompletion_backendsUnreachableBeforeProbes_502AfterRetries() throws {
        let f = try LocalFleet(backends: 0, deadBackends: 2, healthIntervalMs: 60_000)
        let r = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: chatBody("anyone?"))
        #expect([502, 503].contains(r.status), "\(r)")
        #expect(r.json?["error"] != nil)
    }

    @Test func streamingClient_disconnects_upstreamRequestCancelled() throws {
        let f = try LocalFleet(backends: 1, simArgs: ["--decode-tokens-per-s", "0.5"])
        try f.waitReady()
        let c = try RawClient(port: f.httpPort)
        let body = chatBody("long stream", stream: true, maxTokens: 500)
        try c.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
        func running() throws -> Int? {
            let m = try httpRequest(port: f.simPorts[0], path: "/metrics").bodyText
            let line = m.split(separator: "\n").first { $0.hasPrefix("vllm:num_requests_running") }
            return line.flatMap { Int($0.split(separator: " ").last!) }
        }
        _ = try eventually(5, "request running on the backend") { try running() == 1 ? true : nil }
        c.close()
        _ = try eventually(5, "backend request cancelled") { try running() == 0 ? true : nil }
    }

    @Test func gracefulShutdown_sigtermDuringStream_streamCompletesAndExitZero() throws {
        let f = try LocalFleet(backends: 1)
        try f.waitReady()
        let c = try RawClient(port: f.httpPort)
        let body = chatBody("finish me", stream: true, maxTokens: 40)
        try c.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
        var first = true
        var sawSignalled = false
        let r = try c.readResponse { _ in
            if first {
                first = false
                f.wrpd.signal(SIGTERM)
                sawSignalled = true
            }
        }
        #expect(sawSignalled)
        #expect(r.status == 200)
        #expect(r.bodyText.hasSuffix("data: [DONE]\n\n"), "stream must complete: \(r.bodyText.suffix(200))")
        #expect(f.wrpd.waitExit(seconds: 10) == 0, "\(f.logs)")
        #expect(throws: (any Error).self) { _ = try httpRequest(port: f.httpPort, path: "/healthz", timeout: 1) }
    }

    @Test func adminBackends_addThenRemove_routedThenNot() throws {
        let f = try LocalFleet(backends: 2)
        try f.waitReady()
        // Point a new backend at sim-1's port under a new id.
        let add = try httpRequest(port: f.httpPort, method: "POST", path: "/admin/backends",
                                  body: #"{"pool":"default","id":"extra","url":"http://127.0.0.1:\#(f.simPorts[1])"}"#)
        #expect(add.status == 201, "\(add)")
        _ = try eventually(5, "extra healthy") { try f.backendStates()["extra"] == "healthy" ? true : nil }
        let del = try httpRequest(port: f.httpPort, method: "DELETE", path: "/admin/backends/extra")
        #expect(del.status == 200)
        #expect(try f.backendStates()["extra"] == nil)
        #expect(try httpRequest(port: f.httpPort, method: "DELETE", path: "/admin/backends/extra").status == 404)
    }

    @Test func metrics_afterTraffic_prometheusTextWithWrpNames() throws {
        let f = try LocalFleet()
        try f.waitReady()
        _ = try httpRequest(port: f.httpPort, method: "POST", path: "/v1/chat/completions", body: chatBody("count me"))
        let m = try httpRequest(port: f.httpPort, path: "/metrics")
        #expect(m.status == 200)
        #expect(m.headers["content-type"]?.hasPrefix("text/plain") == true)
        let text = m.bodyText
        #expect(text.contains(#"wrp_requests_total{route="/v1/chat/completions",status="200",backend="sim-"#))
        #expect(text.contains("wrp_upstream_ttfb_seconds_bucket"))
        #expect(text.contains("wrp_request_duration_seconds_count"))
        #expect(text.contains("wrp_backend_in_flight{pool=\"default\",backend=\"sim-0\"} 0"))
        #expect(text.contains("wrp_backend_healthy{pool=\"default\",backend=\"sim-0\"} 1"))
        let nonWrp = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("wrp_") }
        #expect(nonWrp.isEmpty, "every metric is wrp_: \(nonWrp.prefix(3))")
    }

    @Test func models_listsConfiguredModels() throws {
        let f = try LocalFleet()
        let r = try httpRequest(port: f.httpPort, path: "/v1/models")
        #expect(r.status == 200)
        let data = try #require(r.json?["data"] as? [[String: Any]])
        #expect(data.map { $0["id"] as? String } == ["sim-llama-8b"])
    }
}
