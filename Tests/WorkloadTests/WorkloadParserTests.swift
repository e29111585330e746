import Testing
import WRPCommon
import Workload

/// What the parser hashed, for comparing two parses.
struct Hashed: Equatable, CustomStringConvertible {
    var promptBytes: Int
    var blocks: [UInt64]
    var tail: UInt64

    init(_ w: Workload) { promptBytes = w.promptBytes; blocks = w.blockHashes; tail = w.tailHash }

    /// The expected result of hashing `canonical` for `model` directly with `PrefixBlockHasher`.
    init(canonical: [UInt8], model: String, blockBytes: Int) {
        var h = PrefixBlockHasher(blockBytes: blockBytes)
        h.reset(seed: PrefixBlockHasher.modelSeed(model))
        canonical.withUnsafeBytes { h.append($0) }
        promptBytes = h.totalBytes; blocks = h.hashes; tail = h.tailHash
    }

    var description: String { "\(promptBytes) bytes, \(blocks.count) blocks, tail \(tail)" }
}

func parse(_ body: String, _ kind: RequestKind, blockBytes: Int = 16) throws(WorkloadError) -> Workload {
    var p = WorkloadParser(blockBytes: blockBytes)
    return try p.parse(Array(body.utf8), kind: kind)
}

func hashed(_ body: String, _ kind: RequestKind, blockBytes: Int = 16) throws -> Hashed {
    Hashed(try parse(body, kind, blockBytes: blockBytes))
}

/// The canonical text of a chat: `role` 0x1F `content` 0x1E per message.
func chatCanonical(_ messages: [(String, String)]) -> [UInt8] {
    var out: [UInt8] = []
    for (role, content) in messages {
        out += Array(role.utf8); out.append(0x1F); out += Array(content.utf8); out.append(0x1E)
    }
    return out
}

/// `WorkloadError` with the offset erased, since offsets are an implementation detail.
enum ErrorShape: Equatable, Sendable {
    case invalidJSON, notAnObject, badField(String), missingField(String)

    init(_ e: WorkloadError) {
        switch e {
        case .invalidJSON: self = .invalidJSON
        case .notAnObject: self = .notAnObject
        case .badField(let f): self = .badField(f)
        case .missingField(let f): self = .missingField(f)
        }
    }
}

@Suite struct WorkloadParserTests {
    @Test func chat_stringContent_hashesRoleAndContentPerMessage() throws {
        let body = #"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there, router"}]}"#
        let expected = Hashed(canonical: chatCanonical([("system", "be brief"), ("user", "hello there, router")]), model: "m", blockBytes: 16)
        #expect(try hashed(body, .chat) == expected)
        #expect(expected.promptBytes == 6 + 1 + 8 + 1 + 4 + 1 + 19 + 1)
        #expect(expected.blocks.count == 2)
    }

    @Test func chat_arrayOfPartsContent_hashesTextPartsInOrder() throws {
        let body = #"""
        {"messages":[{"role":"user","content":[
            {"type":"text","text":"describe "},
            {"type":"image_url","image_url":{"url":"http://example.com/cat.png","text":"not a part text"}},
            "bare ",
            {"text":"this image","type":"text"},
            {"type":"text","text":42}
        ]}],"model":"vision"}
        """#
        let expected = Hashed(canonical: chatCanonical([("user", "describe bare this image")]), model: "vision", blockBytes: 16)
        #expect(try hashed(body, .chat) == expected)
    }

    @Test func chat_nullAndMissingContent_hashRoleOnly() throws {
        let body = #"{"messages":[{"role":"assistant","content":null},{"role":"tool"},{"content":"x"}]}"#
        var canonical = chatCanonical([("assistant", ""), ("tool", "")])
        canonical += [0x1F] + Array("x".utf8) + [0x1E]
        #expect(try hashed(body, .chat) == Hashed(canonical: canonical, model: "", blockBytes: 16))
    }

    @Test func chat_emptyMessages_hashNothing() throws {
        let h = try hashed(#"{"model":"m","messages":[]}"#, .chat)
        #expect(h == Hashed(canonical: [], model: "m", blockBytes: 16))
        #expect(h.promptBytes == 0 && h.blocks.isEmpty)
        #expect(h.tail == PrefixBlockHasher.modelSeed("m"))
    }

    static let completionPrompts: [(String, [UInt8])] = [
        (#""once upon a time""#, Array("once upon a time".utf8)),
        (#"["a","bc",""]"#, Array("a".utf8) + [0x1E] + Array("bc".utf8) + [0x1E]),
        ("[1, 22, 333]", Array("1".utf8) + [0x1E] + Array("22".utf8) + [0x1E] + Array("333".utf8)),
        ("[[1, 2],\n [3]]", Array("[1,2]".utf8) + [0x1E] + Array("[3]".utf8)),
        ("[]", []),
        (#""""#, []),
    ]

    @Test(arguments: completionPrompts)
    func completion_promptForms_hashCanonicalText(_ prompt: String, _ canonical: [UInt8]) throws {
        let body = #"{"model":"c","prompt":"# + prompt + "}"
        #expect(try hashed(body, .completion) == Hashed(canonical: canonical, model: "c", blockBytes: 16))
    }

    @Test func completion_nestedTokenArrays_sameTokensAnyWhitespace_sameHashes() throws {
        let a = try hashed(#"{"prompt":[[1, 2, 3]]}"#, .completion)
        #expect(try hashed("{\"prompt\":[[1,\n2,3]]}", .completion) == a)
        let tabsAndCR = try hashed("{\"prompt\":[[1,\t2,\r\n3]]}", .completion)
        #expect(tabsAndCR == a)
    }

    @Test func fields_allPresent_areExtracted() throws {
        let body = #"{"model":"llama-3\u002d8b","stream":true,"max_tokens":256,"user":"sess\/42","extra":{"nested":[1,{"model":"no"}]},"messages":[]}"#
        let w = try parse(body, .chat)
        #expect(w.model == "llama-3-8b")
        #expect(w.stream == true)
        #expect(w.maxTokens == 256)
        #expect(w.user == "sess/42")
    }

    @Test func fields_absent_haveDefaults() throws {
        let w = try parse(#"{"prompt":"x"}"#, .completion)
        #expect(w.model == nil)
        #expect(w.stream == false)
        #expect(w.maxTokens == nil)
        #expect(w.user == nil)
    }

    @Test(arguments: [
        (#""stream":false"#, false), (#""stream":null"#, false), (#""stream":true"#, true),
    ])
    func stream_literal_setsFlag(_ field: String, _ expected: Bool) throws {
        #expect(try parse("{" + field + #","messages":[]}"#, .chat).stream == expected)
    }

    @Test(arguments: [
        (#""max_tokens":7"#, 7 as Int?), (#""max_completion_tokens":9"#, 9), (#""max_tokens":0"#, 0),
        (#""max_tokens":null"#, nil), (#""max_completion_tokens":null"#, nil),
        (#""max_tokens":3,"max_completion_tokens":5"#, 5), (#""max_completion_tokens":5,"max_tokens":3"#, 3),
    ])
    func maxTokens_eitherField_isExtracted(_ fields: String, _ expected: Int?) throws {
        #expect(try parse("{" + fields + #","prompt":"p"}"#, .completion).maxTokens == expected)
    }

    @Test(arguments: [(#""user":123"#, nil as String?), (#""user":"u\u00e9""#, "ué"), (#""user":null"#, nil)])
    func user_stringOnly_isExtracted(_ field: String, _ expected: String?) throws {
        #expect(try parse("{" + field + #","prompt":"p"}"#, .completion).user == expected)
    }

    static let errors: [(String, RequestKind, ErrorShape)] = [
        ("", .chat, .invalidJSON),
        ("   ", .chat, .invalidJSON),
        ("not json", .chat, .invalidJSON),
        ("{", .chat, .invalidJSON),
        (#"{"messages":["#, .chat, .invalidJSON),
        (#"{"messages":[],}"#, .chat, .invalidJSON),
        (#"{"messages":[]} x"#, .chat, .invalidJSON),
        (#"{"messages":[]}{}"#, .chat, .invalidJSON),
        (#"{"messages":[{"role":"user","content":"a}]}"#, .chat, .invalidJSON),
        ("[]", .chat, .notAnObject),
        (#""hello""#, .completion, .notAnObject),
        ("42", .completion, .notAnObject),
        ("null", .chat, .notAnObject),
        ("{}", .chat, .missingField("messages")),
        ("{}", .completion, .missingField("prompt")),
        (#"{"prompt":"x"}"#, .chat, .missingField("messages")),
        (#"{"messages":[]}"#, .completion, .missingField("prompt")),
        (#"{"messages":"hi"}"#, .chat, .badField("messages")),
        (#"{"messages":null}"#, .chat, .badField("messages")),
        (#"{"messages":[1]}"#, .chat, .badField("messages")),
        (#"{"messages":[{"role":"user","content":5}]}"#, .chat, .badField("content")),
        (#"{"messages":[{"role":"user","content":{"text":"x"}}]}"#, .chat, .badField("content")),
        (#"{"model":5,"messages":[]}"#, .chat, .badField("model")),
        (#"{"model":null,"messages":[]}"#, .chat, .badField("model")),
        (#"{"stream":"yes","messages":[]}"#, .chat, .badField("stream")),
        (#"{"stream":1,"messages":[]}"#, .chat, .badField("stream")),
        (#"{"max_tokens":-1,"prompt":"x"}"#, .completion, .badField("max_tokens")),
        (#"{"max_tokens":1.5,"prompt":"x"}"#, .completion, .badField("max_tokens")),
        (#"{"max_tokens":"10","prompt":"x"}"#, .completion, .badField("max_tokens")),
        (#"{"max_completion_tokens":true,"prompt":"x"}"#, .completion, .badField("max_completion_tokens")),
        (#"{"max_tokens":99999999999999999999,"prompt":"x"}"#, .completion, .badField("max_tokens")),
        (#"{"prompt":5}"#, .completion, .badField("prompt")),
        (#"{"prompt":null}"#, .completion, .badField("prompt")),
        (#"{"prompt":[true]}"#, .completion, .badField("prompt")),
        (#"{"prompt":[{}]}"#, .completion, .badField("prompt")),
    ]

    @Test(arguments: errors)
    func body_invalid_throwsDescriptiveError(_ body: String, _ kind: RequestKind, _ expected: ErrorShape) {
        do throws(WorkloadError) {
            let w = try parse(body, kind)
            Issue.record("parsed \(body.debugDescription) as \(w.promptBytes) prompt bytes; expected \(expected)")
        } catch {
            #expect(ErrorShape(error) == expected, "\(body.debugDescription): \(error)")
            #expect(!error.description.isEmpty)
        }
    }

    @Test func deeplyNestedBody_throwsInsteadOfCrashing() {
        let body = #"{"messages":[],"x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: WorkloadError.invalidJSON(offset: 0)) { try parse(body, .chat) }
    }

    @Test func sampleBody_everyTruncation_throws() throws {
        let body = Array(#"{"model":"m","stream":false,"messages":[{"role":"user","content":[{"type":"text","text":"caf\u00e9 \ud83d\ude00"}]}],"max_tokens":5}"#.utf8)
        var p = WorkloadParser(blockBytes: 16)
        let whole = try p.parse(body, kind: .chat)
        #expect(whole.promptBytes == chatCanonical([("user", "caf\u{E9} \u{1F600}")]).count)
        for n in 0..<body.count {
            do throws(WorkloadError) {
                _ = try p.parse(Array(body[0..<n]), kind: .chat)
                Issue.record("a prefix of \(n) bytes parsed")
            } catch {
                #expect(ErrorShape(error) == .invalidJSON, "prefix of \(n) bytes: \(error)")
            }
        }
    }

    static let equivalentEscapings: [(String, String)] = [
        ("caf\u{E9} au lait, s'il vous pla\u{EE}t", #"caf\u00e9 au lait, s'il vous pla\u00eet"#),
        ("path/to/the/file and more/slashes", #"path\/to\/the\/file and more\/slashes"#),
        ("A quote \"here\" and there \"again\"", #"A quote \u0022here\u0022 and there \"again\""#),
        ("emoji \u{1F600} in a sentence long enough", #"emoji \ud83d\ude00 in a sentence long enough"#),
        ("line one\nline two\ttabbed and more", #"line one\u000aline two\u0009tabbed and more"#),
        ("\u{20AC}\u{20AC}\u{20AC} prices in euro \u{20AC}", #"\u20AC\u20ac\u20AC prices in euro \u20ac"#),
    ]

    @Test(arguments: equivalentEscapings)
    func sameText_differentEscaping_sameHashes(_ plain: String, _ escaped: String) throws {
        var plainLiteral = JSONWriter()
        plainLiteral.string(plain)
        let lit = String(decoding: plainLiteral.bytes, as: UTF8.self)
        let chatA = try hashed(#"{"model":"m","messages":[{"role":"user","content":"# + lit + "}]}", .chat)
        let chatB = try hashed(#"{ "messages" : [ { "content" : ""# + escaped + #"", "role" : "user" } ] , "model" : "m" }"#, .chat)
        #expect(chatA == chatB)
        #expect(chatA == Hashed(canonical: chatCanonical([("user", plain)]), model: "m", blockBytes: 16))
        #expect(chatA.blocks.count >= 2)
        let compA = try hashed(#"{"model":"m","prompt":"# + lit + "}", .completion)
        let compB = try hashed(#"{"prompt":[""# + escaped + #""],"model":"m"}"#, .completion)
        #expect(compA == compB)
    }

    @Test func sameText_differentModel_differentHashes() throws {
        let messages = #""messages":[{"role":"user","content":"the same prompt text for both models"}]"#
        let a = try hashed(#"{"model":"a","# + messages + "}", .chat)
        let b = try hashed(#"{"model":"b","# + messages + "}", .chat)
        #expect(a.promptBytes == b.promptBytes)
        #expect(a.blocks.count == b.blocks.count && a.blocks.count >= 2)
        for (x, y) in zip(a.blocks, b.blocks) { #expect(x != y) }
        #expect(a.tail != b.tail)
    }

    @Test(arguments: [16, 32, 64])
    func samePrefix_differentTails_shareExactlyTheCommonFullBlocks(blockBytes: Int) throws {
        let system = String(repeating: "You are a careful assistant. ", count: 6)
        func body(_ question: String) -> String {
            #"{"model":"m","messages":[{"role":"system","content":""# + system + #""},{"role":"user","content":""# + question + #""}]}"#
        }
        let qa = "What is the capital of France? Answer in one word please."
        let qb = "Why is the sky blue? Explain it to a five year old child."
        let a = try hashed(body(qa), .chat, blockBytes: blockBytes)
        let b = try hashed(body(qb), .chat, blockBytes: blockBytes)
        let canonA = chatCanonical([("system", system), ("user", qa)])
        let canonB = chatCanonical([("system", system), ("user", qb)])
        let common = zip(canonA, canonB).prefix { $0 == $1 }.count
        let shared = common / blockBytes
        #expect(shared >= 2)
        #expect(Array(a.blocks.prefix(shared)) == Array(b.blocks.prefix(shared)))
        for k in shared..<min(a.blocks.count, b.blocks.count) { #expect(a.blocks[k] != b.blocks[k], "block \(k)") }
        #expect(a.tail != b.tail)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 31, 32, 33, 100, 256])
    func promptLength_blockCount_isFloorOfCanonicalBytesOverBlockBytes(_ n: Int) throws {
        let text = String(repeating: "x", count: n)
        let w = try parse(#"{"prompt":""# + text + #""}"#, .completion, blockBytes: 16)
        #expect(w.promptBytes == n)
        #expect(w.blockHashes.count == n / 16)
        #expect(w.estimatedPromptTokens == (n + 3) / 4)
        if n % 16 == 0 {
            #expect(w.tailHash == (w.blockHashes.last ?? PrefixBlockHasher.modelSeed("")))
        } else {
            #expect(!w.blockHashes.contains(w.tailHash))
        }
    }

    @Test func parser_reused_givesSameResultsAsFresh() throws {
        let long = #"{"model":"m","prompt":""# + String(repeating: "abcdefgh", count: 20) + #""}"#
        let short = #"{"model":"n","prompt":"tiny"}"#
        var p = WorkloadParser(blockBytes: 16)
        let first = Hashed(try p.parse(Array(long.utf8), kind: .completion))
        let between = Hashed(try p.parse(Array(short.utf8), kind: .completion))
        let again = Hashed(try p.parse(Array(long.utf8), kind: .completion))
        #expect(first == again)
        #expect(between == (try hashed(short, .completion)))
        #expect(between.blocks.isEmpty && between.promptBytes == 4)
    }

    @Test func pointerAndArrayEntryPoints_agree() throws {
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"one two three four five six"}]}"#.utf8)
        var p = WorkloadParser(blockBytes: 8)
        let viaArray = Hashed(try p.parse(body, kind: .chat))
        let viaPointer = Hashed(try body.withUnsafeBytes { try p.parse($0, kind: .chat) })
        #expect(viaArray == viaPointer)
        #expect(p.blockBytes == 8)
    }

    @Test func prefixKey_blocksWithinChain_isThatBlocksHash_elseTail() throws {
        let w = try parse(#"{"prompt":""# + String(repeating: "y", count: 40) + #""}"#, .completion)
        #expect(w.blockHashes.count == 2)
        #expect(w.prefixKey(blocks: 1) == w.blockHashes[0])
        #expect(w.prefixKey(blocks: 2) == w.blockHashes[1])
        #expect(w.prefixKey(blocks: 3) == w.tailHash)
        let short = try parse(#"{"prompt":"y"}"#, .completion)
        #expect(short.prefixKey(blocks: 1) == short.tailHash)
    }
}
