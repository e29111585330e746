import Testing
import WRPCommon
import Workload

/// Validates `bytes` as one complete JSON document: nil when valid, the failure otherwise.
func validate(_ bytes: [UInt8]) -> JSONScanner.Failure? {
    bytes.withUnsafeBytes { p -> JSONScanner.Failure? in
        var s = JSONScanner(p)
        do throws(JSONScanner.Failure) {
            try s.skipValue()
            s.skipWhitespace()
            return s.atEnd ? nil : .syntax(offset: s.pos)
        } catch {
            return error
        }
    }
}

func validate(_ text: String) -> JSONScanner.Failure? { validate(Array(text.utf8)) }

/// Scans `literal` (a quoted JSON string) and returns its decoded UTF-8 bytes.
func decodedString(_ literal: String) throws -> [UInt8] {
    let bytes = Array(literal.utf8)
    return try bytes.withUnsafeBytes { p throws -> [UInt8] in
        var s = JSONScanner(p)
        let r = try s.scanString()
        #expect(s.atEnd, "string literal \(literal) did not end at its closing quote")
        var out: [UInt8] = []
        s.unescape(r) { out.append($0) }
        #expect(s.string(r) == String(decoding: out, as: UTF8.self))
        return out
    }
}

@Suite struct JSONScannerTests {
    static let valid: [String] = [
        "{}", "[]", "\"\"", "\"a\"", "0", "-0", "1", "-1.5e+10", "2E-3", "3.25", "true", "false", "null",
        " \t\r\n{ } \n",
        #"{"a":[1,2,{"b":null}],"c":"caf\u00e9","d":true,"e":-0.5}"#,
        #"[1e5, 2E-3, -0, "x", [], {}, [[]], {"k":{}}]"#,
        #"{"esc":"\"\\\/\b\f\n\r\t\uABCD"}"#,
        "\"\u{E9}\u{1F600}\"",
    ]

    @Test(arguments: valid)
    func document_valid_isAccepted(_ doc: String) {
        #expect(validate(doc) == nil, "rejected valid JSON \(doc)")
    }

    static let invalid: [String] = [
        "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}",
        "{\"a\" 1}", "{1:2}", "tru", "nul", "falsy", "True", "\"abc", "\"\\x\"", "\"\\u12G4\"", "\"\\u12\"",
        "\"\\u\"", "\"\\", "\"a\tb\"", "\"a\nb\"", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "{} {}", "[] x",
        "[1]]", "\"a\" \"b\"", "\u{0}",
    ]

    @Test(arguments: invalid)
    func document_invalid_isRejected(_ doc: String) {
        #expect(validate(doc) != nil, "accepted invalid JSON \(doc.debugDescription)")
    }

    @Test(arguments: [
        ("[1,]", 3), ("{\"a\":}", 5), ("[tru]", 4), ("\"\\x\"", 2), ("{\"a\":1 \"b\"}", 7),
    ])
    func document_syntaxError_reportsOffset(_ doc: String, _ offset: Int) {
        #expect(validate(doc) == .syntax(offset: offset))
    }

    @Test func leadingZeroNumber_strictJSON_isRejected() {
        // RFC 8259 §6: "leading zeros are not allowed".
        #expect(validate("01") != nil)
        #expect(validate("[-007]") != nil)
    }

    @Test(arguments: [1, 2, 63, 64])
    func nestedArrays_withinDepthLimit_areAccepted(_ depth: Int) {
        let doc = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(validate(doc) == nil)
    }

    @Test(arguments: [65, 100, 10_000])
    func nestedArrays_beyondDepthLimit_failTooDeepWithoutCrashing(_ depth: Int) {
        let doc = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(validate(doc) == .tooDeep)
        #expect(validate(String(repeating: "[", count: depth)) == .tooDeep)
    }

    @Test func nestedObjects_tenThousandDeep_failTooDeep() {
        let doc = String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(validate(doc) == .tooDeep)
    }

    static let sampleBody = #"""
    {"model":"m-1","stream":true,"max_tokens":128,"messages":[{"role":"system","content":"You \"are\" a\nbot \u00e9\ud83d\ude00"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}],"temperature":0.7,"stop":null,"n":-1e3}
    """#

    @Test func sampleBody_everyTruncation_failsWithOffsetInBounds() {
        let bytes = Array(JSONScannerTests.sampleBody.utf8)
        #expect(validate(bytes) == nil)
        for n in 0..<bytes.count {
            let prefix = Array(bytes[0..<n])
            switch validate(prefix) {
            case nil: Issue.record("truncated body of \(n) bytes was accepted")
            case .syntax(let offset)?: #expect(offset >= 0 && offset <= n, "offset \(offset) outside 0...\(n)")
            case .tooDeep?: Issue.record("truncated body of \(n) bytes reported tooDeep")
            }
        }
    }

    @Test(arguments: 0..<50)
    func randomMutations_ofSampleBody_neverCrashAndReportOffsetsInBounds(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var bytes = Array(JSONScannerTests.sampleBody.utf8)
        let alphabet = Array("{}[]\":,\\u0123456789abcdefEe+-.tnrl \n\u{0}\u{7F}".utf8)
        for _ in 0..<(1 + rng.below(8)) {
            let i = rng.below(bytes.count)
            switch rng.below(3) {
            case 0: bytes[i] = alphabet[rng.below(alphabet.count)]
            case 1: bytes.remove(at: i)
            default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
            }
            if bytes.isEmpty { break }
        }
        if case .syntax(let offset)? = validate(bytes) {
            #expect(offset >= 0 && offset <= bytes.count, "seed \(seed): offset \(offset) outside 0...\(bytes.count)")
        }
        // Decoding every string the scanner accepts must stay in bounds too.
        bytes.withUnsafeBytes { p in
            var s = JSONScanner(p)
            var decoded = 0
            while !s.atEnd {
                if s.peek() == UInt8(ascii: "\""), let r = try? s.scanString() {
                    s.unescape(r) { _ in decoded += 1 }
                    #expect(decoded <= 4 * bytes.count)
                } else if let c = s.peek() {
                    _ = s.consume(c)
                }
            }
        }
    }

    @Test(arguments: 0..<30)
    func randomBytes_ofManySeeds_neverCrash(seed: UInt64) {
        var rng = SeededRandom(seed: 1_000 + seed)
        let bytes = (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let result = validate(bytes)
        if case .syntax(let offset)? = result { #expect(offset >= 0 && offset <= bytes.count) }
        // Random bytes are almost never a JSON document; the empty document never is.
        if bytes.isEmpty { #expect(result != nil) }
    }

    static let escapes: [(String, [UInt8])] = [
        (#""plain""#, Array("plain".utf8)),
        (#""\"""#, [0x22]),
        (#""\\""#, [0x5C]),
        (#""\/""#, [0x2F]),
        (#""\b\f\n\r\t""#, [0x08, 0x0C, 0x0A, 0x0D, 0x09]),
        (#""\u0041""#, [0x41]),
        (#""\u0000""#, [0x00]),
        (#""\u007f""#, [0x7F]),
        (#""\u00e9""#, [0xC3, 0xA9]),
        (#""\u00E9""#, [0xC3, 0xA9]),
        (#""\u07FF""#, [0xDF, 0xBF]),
        (#""\u0800""#, [0xE0, 0xA0, 0x80]),
        (#""\u20ac""#, [0xE2, 0x82, 0xAC]),
        (#""\uFFFF""#, [0xEF, 0xBF, 0xBF]),
        (#""\ud83d\ude00""#, [0xF0, 0x9F, 0x98, 0x80]),
        (#""\uD834\uDD1E""#, [0xF0, 0x9D, 0x84, 0x9E]),
        (#""\uDBFF\uDFFF""#, [0xF4, 0x8F, 0xBF, 0xBF]),
        (#""caf\u00e9 \u2603!""#, Array("café ☃!".utf8)),
        ("\"caf\u{E9} \u{1F600}\"", Array("café 😀".utf8)),
        (#""a\\u0041""#, Array(#"a\u0041"#.utf8)),
    ]

    @Test(arguments: escapes)
    func stringLiteral_withEscapes_decodesToUTF8(_ literal: String, _ expected: [UInt8]) throws {
        #expect(try decodedString(literal) == expected)
    }

    @Test(arguments: [
        ("0", 0), ("7", 7), ("-12", -12), ("9223372036854775807", Int.max),
        ("9223372036854775808", nil), ("99999999999999999999", nil), ("1.5", nil), ("1e3", nil), ("-", nil),
    ] as [(String, Int?)])
    func numberRange_integer_parsesOnlyInRangeIntegers(_ text: String, _ expected: Int?) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { p in
            #expect(JSONScanner(p).integer(0..<bytes.count) == expected)
        }
    }

    @Test func keyRange_equals_comparesExactBytes() throws {
        let bytes = Array(#"{"model":1,"mode":2,"modelx":3}"#.utf8)
        try bytes.withUnsafeBytes { p in
            var s = JSONScanner(p)
            try s.expect(UInt8(ascii: "{"))
            var matches: [Bool] = []
            repeat {
                let k = try s.scanString()
                matches.append(s.equals(k, "model"))
                try s.expect(UInt8(ascii: ":"))
                try s.skipValue(depth: 1)
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
            #expect(matches == [true, false, false])
        }
    }

    @Test func skipValue_returnsRangeOfValueWithoutWhitespace() throws {
        let bytes = Array(#"  [1, {"a": "b"}]  "#.utf8)
        try bytes.withUnsafeBytes { p in
            var s = JSONScanner(p)
            let r = try s.skipValue()
            #expect(String(decoding: bytes[r], as: UTF8.self) == #"[1, {"a": "b"}]"#)
        }
    }
}
