import Foundation
import Testing
import TestKit

/// Every bad-input status, answered with the OpenAI error shape, and the node keeps serving.
@Suite(.serialized)
struct BadInputTests {
    static func errorCode(_ r: RawResponse) -> String? {
        (r.json?["error"] as? [String: Any])?["code"] as? String
    }

    static func hasErrorShape(_ r: RawResponse) -> Bool {
        guard let e = r.json?["error"] as? [String: Any] else { return false }
        return e["message"] is String && e["type"] is String && e["code"] is String
    }

    @Test func badInputs_eachStatus_openAIErrorAndNodeSurvives() throws {
        let f = try LocalFleet(backends: 1)
        try f.waitReady()
        let p = f.httpPort
        struct Case { var name: String; var raw: [UInt8]; var status: Int }
        let bigHeader = "GET /healthz HTTP/1.1\r\nx-big: \(String(repeating: "a", count: 20_000))\r\n\r\n"
        let cases: [Case] = [
            Case(name: "garbage", raw: Array("NOT HTTP AT ALL\r\n\r\n".utf8), status: 400),
            Case(name: "bad chunk", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".utf8), status: 400),
            Case(name: "invalid json", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5\r\n\r\n{nope".utf8), status: 400),
            Case(name: "json array", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 2\r\n\r\n[]".utf8), status: 400),
            Case(name: "no messages", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".utf8), status: 400),
            Case(name: "unknown path", raw: Array("GET /v2/nothing HTTP/1.1\r\n\r\n".utf8), status: 404),
            Case(name: "unknown model", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 27\r\n\r\n{\"model\":\"x\",\"messages\":[]}".utf8), status: 404),
            Case(name: "wrong method", raw: Array("GET /v1/chat/completions HTTP/1.1\r\n\r\n".utf8), status: 405),
            Case(name: "body too large", raw: Array("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 999999999\r\n\r\n".utf8), status: 413),
            Case(name: "headers too large", raw: Array(bigHeader.utf8), status: 431),
        ]
        for c in cases {
            let client = try RawClient(port: p)
            try client.send(c.raw)
            let r = try client.readResponse()
            #expect(r.status == c.status, "\(c.name): \(r)")
            #expect(BadInputTests.hasErrorShape(r), "\(c.name): \(r.bodyText)")
        }
        #expect(try httpRequest(port: p, path: "/healthz").status == 200)
        #expect(f.wrpd.isRunning)
    }

    @Test func chunkedBodyOverLimit_413() throws {
        let f = try LocalFleet(backends: 1, extraConfig: "")
        let c = try RawClient(port: f.httpPort)
        try c.send("POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
        // 9 MiB in 1 MiB chunks; the server stops us at 8 MiB.
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        var status = 0
        do {
            for _ in 0..<9 {
                try c.send(Array("100000\r\n".utf8) + chunk + [0x0D, 0x0A])
            }
        } catch {}
        status = (try? c.readResponse().status) ?? 0
        #expect(status == 413)
    }

    @Test func slowClient_partialRequest_408AndClosed() throws {
        let f = try LocalFleet(backends: 1)
        let c = try RawClient(port: f.httpPort)
        try c.send("POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 100\r\n\r\n{\"model\"")
        let started = Date()
        let r = try c.readResponse()
        #expect(r.status == 408)
        #expect(BadInputTests.errorCode(r) == "request_timeout")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(c.waitClosed())
    }

    @Test func pipelined_threeRequests_answeredInOrder() throws {
        let f = try LocalFleet(backends: 1)
        try f.waitReady()
        let c = try RawClient(port: f.httpPort)
        let body = chatBody("pipelined")
        let chat = "POST /v1/chat/completions HTTP/1.1\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
        try c.send("GET /healthz HTTP/1.1\r\n\r\n" + chat + "GET /v1/models HTTP/1.1\r\n\r\n" + "GET /nope HTTP/1.1\r\n\r\n")
        let a = try c.readResponse(), b = try c.readResponse(), m = try c.readResponse(), n = try c.readResponse()
        #expect(a.status == 200 && a.bodyText.contains("ok"))
        #expect(b.status == 200 && b.json?["choices"] != nil)
        #expect(m.status == 200 && m.json?["data"] != nil)
        #expect(n.status == 404)
    }

    @Test func checkConfig_validAndInvalid_exitCodes() throws {
        let dir = makeTempDir("cfg")
        let good = dir + "/good.yaml", bad = dir + "/bad.yaml"
        try "pools:\n  - name: p\n    models: [m]\n    backends:\n      - {id: b, url: \"http://127.0.0.1:9\"}\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "pools:\n  - name: p\n    models: [m]\n    backends:\n      - {id: b, url: \"http://127.0.0.1:9\", wieght: 2}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let ok = try ChildProcess("wrpd", ["--check-config", good], logDir: dir)
        #expect(ok.waitExit(seconds: 10) == 0, "\(ok.log)")
        let no = try ChildProcess("wrpd", ["--check-config", bad], logDir: dir)
        #expect(no.waitExit(seconds: 10) == 1)
        #expect(no.log.contains("pools[0].backends[0].wieght"), "\(no.log)")
    }
}
