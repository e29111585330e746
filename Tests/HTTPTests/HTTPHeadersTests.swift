import Testing
@testable import HTTP

func headers(_ pairs: [(String, String)]) -> HTTPHeaders {
    var h = HTTPHeaders()
    for (n, v) in pairs { h.add(name: n, value: v) }
    return h
}

func request(target: String) -> HTTPRequest {
    var r = HTTPRequest()
    r.target = Array(target.utf8)
    return r
}

@Suite struct HTTPHeadersTests {
    @Test(arguments: ["content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
    func fieldName_anyCase_isFound(_ name: String) {
        let h = headers([("Host", "x"), (name, "application/json")])
        #expect(h.index(of: "content-type") == 1)
        #expect(h.value("content-type") == "application/json")
        #expect(h.nameEquals(1, "content-type"))
    }

    @Test func lookup_absentOrPrefixName_isNil() {
        let h = headers([("Content-Type-X", "a"), ("Content", "b"), ("Host", "h")])
        #expect(h.index(of: "content-type") == nil)
        #expect(h.value("content-type") == nil)
        #expect(h.value("host") == "h")
    }

    @Test func lookup_duplicateNames_returnsFirst() {
        let h = headers([("X-A", "1"), ("x-a", "2")])
        #expect(h.value("x-a") == "1")
        #expect(h.count == 2)
    }

    @Test func storage_nameAndValueAccessors_returnRawBytes() {
        let h = headers([("A", "1"), ("Bb", ""), ("Ccc", "three")])
        #expect(h.count == 3)
        #expect((0..<3).map { String(decoding: h.name(at: $0), as: UTF8.self) } == ["A", "Bb", "Ccc"])
        #expect((0..<3).map { String(decoding: h.value(at: $0), as: UTF8.self) } == ["1", "", "three"])
        var cleared = h
        cleared.removeAll()
        #expect(cleared.count == 0 && cleared.storage.isEmpty)
        #expect(h.count == 3)
    }

    @Test func callbacks_splitNamesAndValues_joinIntoOneField() {
        var h = HTTPHeaders()
        func piece(_ s: String, _ f: (inout HTTPHeaders, UnsafeRawBufferPointer) -> Void) {
            Array(s.utf8).withUnsafeBytes { f(&h, $0) }
        }
        piece("Con") { $0.beginName($1) }
        piece("tent-") { $0.continueName($1) }
        piece("Type") { $0.continueName($1) }
        piece("applic") { $0.appendValue($1) }
        piece("ation/") { $0.appendValue($1) }
        piece("json") { $0.appendValue($1) }
        piece("X") { $0.beginName($1) }
        piece("") { $0.appendValue($1) }
        piece("Y") { $0.beginName($1) }
        piece("1") { $0.appendValue($1) }
        #expect(h.count == 3)
        #expect(h.value("content-type") == "application/json")
        #expect(h.value("x") == "")
        #expect(h.value("y") == "1")
    }

    @Test func appendValue_withoutField_isIgnored() {
        var h = HTTPHeaders()
        Array("orphan".utf8).withUnsafeBytes { h.appendValue($0) }
        #expect(h.count == 0)
    }

    @Test(arguments: [Feed.whole, .byteByByte, .random(seed: 11)])
    func emptyAndSplitValues_fromDecoder_keepFieldsApart(_ feed: Feed) {
        let text = "GET / HTTP/1.1\r\nX-Empty:\r\nHost: a\r\nX-Blank:   \r\nUser-Agent: curl/8.0 (x86_64)\r\n\r\n"
        let (events, _) = decode(bytes(text), feed)
        guard case .request(let r)? = events.first else { Issue.record("\(feed): \(events)"); return }
        #expect(r.headers == [["X-Empty", ""], ["Host", "a"], ["X-Blank", ""], ["User-Agent", "curl/8.0 (x86_64)"]])
    }

    static let hopByHop: [(String, Bool)] = [
        ("Connection", true), ("keep-alive", true), ("Transfer-Encoding", true), ("TE", true), ("Trailer", true),
        ("Upgrade", true), ("Proxy-Connection", true), ("Proxy-Authorization", true), ("Content-Length", true),
        ("HOST", true), ("Expect", true),
        ("Content-Type", false), ("Authorization", false), ("Accept", false), ("X-Request-Id", false),
        ("Trailers", false), ("T", false), ("", false),
    ]

    @Test(arguments: hopByHop)
    func fieldName_isHopByHop_matchesRFC9110List(_ name: String, _ expected: Bool) {
        #expect(headers([(name, "v")]).isHopByHop(0) == expected)
    }
}

@Suite struct HeadBuilderTests {
    @Test func responseHead_withHeaders_hasExactBytes() {
        var b = HeadBuilder(status: 200)
        b.add("Content-Type", "application/json")
        b.add("Content-Length", int: 12)
        b.add("X-Id", String("abc"))
        b.add(name: Array("x".utf8), value: Array("y".utf8))
        b.finish()
        #expect(String(decoding: b.bytes, as: UTF8.self)
            == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\nX-Id: abc\r\nx: y\r\n\r\n")
    }

    @Test(arguments: [
        (200, "OK"), (204, "No Content"), (400, "Bad Request"), (404, "Not Found"), (413, "Content Too Large"),
        (431, "Request Header Fields Too Large"), (502, "Bad Gateway"), (503, "Service Unavailable"),
        (299, "OK"), (418, "Client Error"), (599, "Server Error"),
    ])
    func status_statusLine_carriesReason(_ code: Int, _ reason: String) {
        let b = HeadBuilder(status: code)
        #expect(String(decoding: b.bytes, as: UTF8.self) == "HTTP/1.1 \(code) \(reason)\r\n")
    }

    @Test(arguments: [(0, "0"), (7, "7"), (10, "10"), (-42, "-42"), (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808")])
    func int_appendInt_isDecimal(_ v: Int, _ expected: String) {
        var out: [UInt8] = []
        HeadBuilder.appendInt(v, &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test(arguments: [(0, "0"), (9, "9"), (10, "a"), (255, "ff"), (4096, "1000"), (0x7FFF_FFFF, "7fffffff")])
    func int_appendHex_isLowerCaseHex(_ v: Int, _ expected: String) {
        var out: [UInt8] = Array("x".utf8)
        HeadBuilder.appendHex(v, &out)
        #expect(String(decoding: out, as: UTF8.self) == "x" + expected)
    }

    @Test func requestHead_builtWithHeadBuilder_decodesBack() {
        var b = HeadBuilder()
        b.append("POST /v1/completions HTTP/1.1"); b.crlf()
        b.add("Host", "backend:8000")
        b.add("Content-Length", int: 2)
        b.finish()
        let (events, _) = decode(b.bytes + Array("{}".utf8), .byteByByte)
        guard case .request(let r)? = events.first else { Issue.record("\(events)"); return }
        #expect(r.headers == [["Host", "backend:8000"], ["Content-Length", "2"]])
        #expect(r.body == Array("{}".utf8))
    }
}

@Suite struct HTTPRequestTests {
    @Test(arguments: [
        ("/v1/models", true), ("/v1/models?x=1", true), ("/v1/models?", true),
        ("/v1/models/", false), ("/v1/model", false), ("/v1/modelsx", false), ("/V1/models", false), ("", false),
    ])
    func target_pathIs_ignoresQueryOnly(_ target: String, _ expected: Bool) {
        #expect(request(target: target).pathIs("/v1/models") == expected)
    }

    @Test(arguments: [
        ("/admin/backends/b-1", "b-1" as String?), ("/admin/backends/b-1?force=1", "b-1"),
        ("/admin/backends/a/b", "a/b"), ("/admin/backends/", nil), ("/admin/backends", nil),
        ("/admin/other/x", nil), ("/adm", nil), ("", nil),
    ])
    func target_pathSuffix_isRestOfPathAfterPrefix(_ target: String, _ expected: String?) {
        #expect(request(target: target).pathSuffix(after: "/admin/backends/") == expected)
    }

    @Test(arguments: [("/a/b?c=d", "/a/b"), ("/a/b", "/a/b"), ("?q", ""), ("/", "/")])
    func target_path_isBeforeQuestionMark(_ target: String, _ expected: String) {
        let r = request(target: target)
        #expect(r.path == expected)
        #expect(r.pathLength == expected.utf8.count)
    }

    @Test(arguments: [
        ("/p?a=1&b=two+words", "a", "1" as String?), ("/p?a=1&b=two+words", "b", "two words"),
        ("/p?a=1&b=2", "c", nil), ("/p?flag&x=1", "flag", ""), ("/p?a=", "a", ""), ("/p?a=1=2", "a", "1=2"),
        ("/p?a=%20", "a", "%20"), ("/p?a=1&a=2", "a", "1"), ("/p", "a", nil), ("/p?", "a", nil),
        ("/p?aa=1", "a", nil), ("/p?&&a=3&", "a", "3"),
    ])
    func target_query_findsParameter(_ target: String, _ name: String, _ expected: String?) {
        #expect(request(target: target).query(name) == expected)
    }

    @Test func query_emptyNameWithValue_isNotMistakenForName() {
        #expect(request(target: "/p?=x").query("x") == nil)
    }
}
