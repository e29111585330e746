import Foundation
import Testing
import WRPCommon

func written(_ body: (inout JSONWriter) -> Void) -> String {
    var w = JSONWriter()
    body(&w)
    return String(decoding: w.bytes, as: UTF8.self)
}

func jsonObject(_ bytes: [UInt8]) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
}

@Suite struct JSONWriterTests {
    static let escapes: [(String, String)] = [
        ("plain", #""plain""#),
        ("", #""""#),
        ("a\"b", #""a\"b""#),
        ("back\\slash", #""back\\slash""#),
        ("l1\nl2\rl3\tend", #""l1\nl2\rl3\tend""#),
        ("\u{01}\u{08}\u{0C}\u{1F}", #""\u0001\u0008\u000c\u001f""#),
        ("\u{00}", #""\u0000""#),
        ("caf\u{E9} \u{1F600} /", "\"caf\u{E9} \u{1F600} /\""),
        ("\u{7F}", "\"\u{7F}\""),
    ]

    @Test(arguments: escapes)
    func string_specialCharacters_areEscaped(_ input: String, _ expected: String) throws {
        let out = written { $0.string(input) }
        #expect(out == expected)
        #expect(try jsonObject(Array(out.utf8)) as? String == input)
        #expect(written { $0.string(bytes: Array(input.utf8)) } == expected)
    }

    @Test func allControlCharacters_roundTripThroughJSONSerialization() throws {
        let s = String(decoding: (0..<0x20).map { UInt8($0) } + Array("\"\\ end".utf8), as: UTF8.self)
        var w = JSONWriter()
        w.array { w in w.string(s); w.string(s) }
        let parsed = try jsonObject(w.bytes) as? [String]
        #expect(parsed == [s, s])
    }

    @Test func nestedStructures_haveCommasOnlyBetweenSiblings() throws {
        let out = written { w in
            w.object { w in
                w.key("a")
                w.array { w in
                    w.int(1)
                    w.object { w in w.key("b"); w.bool(true) }
                    w.null()
                    w.array { _ in }
                    w.object { _ in }
                }
                w.key("c"); w.string("x")
                w.key(String("dyn\"key")); w.bool(false)
                w.key("raw"); w.raw(Array(#"{"pre":[1,2]}"#.utf8))
            }
        }
        #expect(out == #"{"a":[1,{"b":true},null,[],{}],"c":"x","dyn\"key":false,"raw":{"pre":[1,2]}}"#)
        let parsed = try #require(try jsonObject(Array(out.utf8)) as? [String: Any])
        #expect(parsed.count == 4)
        #expect((parsed["a"] as? [Any])?.count == 5)
        #expect(parsed["dyn\"key"] as? Bool == false)
    }

    @Test func topLevelSequence_ofValues_isCommaSeparated() {
        #expect(written { w in w.int(1); w.string("a"); w.null(); w.uint64(2) } == #"1,"a",null,2"#)
    }

    @Test(arguments: [
        (0, "0"), (7, "7"), (-1, "-1"), (1_234_567, "1234567"),
        (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808"),
    ])
    func int_value_isDecimal(_ v: Int, _ expected: String) {
        #expect(written { $0.int(v) } == expected)
        var out: [UInt8] = Array("x".utf8)
        JSONWriter.appendDecimal(v, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x" + expected)
    }

    @Test(arguments: [(0 as UInt64, "0"), (9, "9"), (10, "10"), (UInt64.max, "18446744073709551615")])
    func uint64_value_isDecimal(_ v: UInt64, _ expected: String) {
        #expect(written { $0.uint64(v) } == expected)
    }

    @Test(arguments: [0.0, 1.0, -2.0, 0.5, -0.25, 0.1, 1e-7, 123_456.789, 1e15, 1e20, -3.5e300, 0.30000000000000004])
    func double_finite_isValidJSONThatRoundTrips(_ v: Double) throws {
        let out = written { $0.double(v) }
        // Exact round trip through Swift's parser (Foundation's JSON number parsing is itself
        // off by an ulp for some inputs, e.g. 0.30000000000000004).
        #expect(Double(out) == v, "\(v) written as \(out)")
        let parsed = try #require(try jsonObject(Array("[\(out)]".utf8)) as? [NSNumber])
        #expect(parsed.count == 1)
        let d = try #require(parsed.first?.doubleValue)
        #expect(abs(d - v) <= abs(v) * 1e-15, "\(v) written as \(out), parsed as \(d)")
    }

    @Test(arguments: [(1.0, "1"), (-2.0, "-2"), (0.5, "0.5"), (-0.0, "0")])
    func double_simple_isWrittenCompactly(_ v: Double, _ expected: String) {
        #expect(written { $0.double(v) } == expected)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func double_nonFinite_isNull(_ v: Double) {
        #expect(written { $0.double(v) } == "null")
    }

    @Test func openAIErrorBody_simpleMessage_hasExactShape() {
        let body = openAIErrorBody(message: "no backend", type: "server_error", code: "no_backend")
        #expect(String(decoding: body, as: UTF8.self) == #"{"error":{"message":"no backend","type":"server_error","code":"no_backend"}}"#)
    }

    @Test(arguments: ["plain", "with \"quotes\" and \\ and\nnewline", "caf\u{E9} \u{1F600}", ""])
    func openAIErrorBody_anyMessage_parsesToErrorObject(_ message: String) throws {
        let body = openAIErrorBody(message: message, type: "invalid_request_error", code: "bad_json")
        let top = try #require(try jsonObject(body) as? [String: Any])
        #expect(Array(top.keys) == ["error"])
        let error = try #require(top["error"] as? [String: String])
        #expect(error == ["message": message, "type": "invalid_request_error", "code": "bad_json"])
    }
}
