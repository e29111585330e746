import RulesCore
import Testing
import Workload

let specs: [RuleSpec] = [
    RuleSpec(name: "code", priority: 10, when: .any([.keyword(["def ", "class ", "```"]), .hasCode(true)]), models: ["coder"]),
    RuleSpec(name: "long", priority: 5, when: .promptTokensAbove(8_000), models: ["long"]),
    RuleSpec(name: "free-tier", priority: 20, when: .tier(["free"]), models: ["small"]),
    RuleSpec(name: "german", priority: 1, when: .all([.language(["de"]), .not(.model(["big"]))]), models: ["de-model"]),
    RuleSpec(name: "ticket", priority: 0, when: .regex("TICKET-[0-9]+"), models: ["support"]),
]

@Test func evaluate_table_firstMatchByPriorityWins() throws {
    let rules = try Rules.compile(specs)
    #expect(rules.ruleNames == ["free-tier", "code", "long", "german", "ticket"])
    let cases: [(Signals, String?, [String]?)] = [
        (Signals(text: "Write a poem about the sea and the sky"), nil, nil),
        (Signals(text: "CLASS Foo: pass"), "code", ["coder"]),
        (Signals(text: "CLASS Foo: pass", tier: "free"), "free-tier", ["small"]),
        (Signals(text: "summarise this", promptTokens: 9_000), "long", ["long"]),
        (Signals(text: "```\nx\n```", promptTokens: 9_000), "code", ["coder"]),
        (Signals(text: "Das ist nicht die Frage, und wie ist das Wetter?"), "german", ["de-model"]),
        (Signals(text: "Das ist nicht die Frage, und wie ist das Wetter?", requestedModel: "big"), nil, nil),
        (Signals(text: "please look at TICKET-123"), "ticket", ["support"]),
        (Signals(text: "please look at ticket-123"), nil, nil),  // regexes are case-sensitive
        (Signals(text: "anything", tier: "pro"), nil, nil),
    ]
    for (signals, rule, models) in cases {
        let r = rules.evaluate(signals)
        #expect(r.rule == rule, "\(String(decoding: signals.text, as: UTF8.self))")
        #expect(r.eligibleModels == models)
    }
}

@Test func equalPriority_keepsConfigOrder() throws {
    let rules = try Rules.compile([
        RuleSpec(name: "b", priority: 1, when: .tier(["x"]), models: ["m1"]),
        RuleSpec(name: "a", priority: 1, when: .tier(["x"]), models: ["m2"]),
    ])
    #expect(rules.evaluate(Signals(tier: "x")).rule == "b")
}

@Test func compile_badRules_errorsNameTheRule() {
    let bad: [([RuleSpec], String, String)] = [
        ([RuleSpec(name: "r1", when: .regex("(unclosed"), models: ["m"])], "r1", "when.regex"),
        ([RuleSpec(name: "r2", when: .any([]), models: ["m"])], "r2", "when.any"),
        ([RuleSpec(name: "r3", when: .all([.tier(["a"]), .language(["klingon"])]), models: ["m"])], "r3", "when.all[1].language[0]"),
        ([RuleSpec(name: "r4", when: .keyword([]), models: ["m"])], "r4", "when.keyword"),
        ([RuleSpec(name: "r5", when: .tier(["a"]), models: [])], "r5", "models"),
        ([RuleSpec(name: "r6", when: .tier(["a"]), models: ["m"]), RuleSpec(name: "r6", when: .tier(["b"]), models: ["m"])], "r6", "name"),
        ([RuleSpec(name: "r7", when: .not(.keyword([""])), models: ["m"])], "r7", "when.not.keyword[0]"),
        ([RuleSpec(name: "r8", when: .promptTokensAbove(-1), models: ["m"])], "r8", "when.prompt_tokens_gt"),
    ]
    for (s, rule, path) in bad {
        do {
            _ = try Rules.compile(s)
            Issue.record("\(rule) compiled")
        } catch {
            #expect(error.rule == rule)
            #expect(error.path == path, "\(error)")
            #expect(error.description.hasPrefix("rule '\(rule)': "))
        }
    }
}

@Test func language_detector_table() {
    let cases: [(String, Language)] = [
        ("What is the capital of France and how big is it?", .en),
        ("¿Cuál es la capital de España y por qué es tan grande la ciudad?", .es),
        ("Quelle est la capitale de la France et pourquoi est-elle dans le nord?", .fr),
        ("Was ist die Hauptstadt von Deutschland und wie groß ist sie?", .de),
        ("北京是中国的首都", .zh),
        ("東京は日本の首都です", .ja),
        ("서울은 한국의 수도입니다", .ko),
        ("Москва — столица России", .cyrillic),
        ("القاهرة هي عاصمة مصر", .arabic),
        ("xyzzy plugh", .latin),
        ("12345 !!!", .unknown),
    ]
    for (text, lang) in cases { #expect(Detect.language(Array(text.utf8)) == lang, "\(text)") }
}

@Test func hasCode_detector_table() {
    let cases: [(String, Bool)] = [
        ("```swift\nlet x = 1\n```", true),
        ("def f(x):\n    return x + 1", true),
        ("#include <stdio.h>\nint main() { printf(\"hi\"); }", true),
        ("Tell me a story about a class trip", false),
        ("What should I return to the shop?", false),
    ]
    for (text, expected) in cases { #expect(Detect.hasCode(Array(text.utf8)) == expected, "\(text)") }
}

@Test func extract_chatBody_readsContentsAndSignals() throws {
    let body = #"{"model":"auto","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":[{"type":"text","text":"Fix this:\n```py\ndef f(): pass\n```"}]}]}"#
    var parser = WorkloadParser()
    let bytes = Array(body.utf8)
    let w = try parser.parse(bytes, kind: .chat)
    let s = bytes.withUnsafeBytes { Signals.extract(workload: w, body: $0, kind: .chat, tier: "free") }
    #expect(String(decoding: s.text, as: UTF8.self) == "You are helpful.\nFix this:\n```py\ndef f(): pass\n```")
    #expect(s.hasCode)
    #expect(s.requestedModel == "auto")
    #expect(s.tier == "free")
    #expect(s.promptTokens == w.estimatedPromptTokens)
    #expect(s.features.count == Signals.featureDimension)
    #expect(s.features[0] == 1 && s.features[2] == 1)
}

@Test func extract_completionAndLimit_truncatesText() throws {
    let body = #"{"model":"m","prompt":["Der Hund und die Katze","ist nicht \u00fcbel"]}"#
    var parser = WorkloadParser()
    let bytes = Array(body.utf8)
    let w = try parser.parse(bytes, kind: .completion)
    let s = bytes.withUnsafeBytes { Signals.extract(workload: w, body: $0, kind: .completion, tier: nil) }
    #expect(String(decoding: s.text, as: UTF8.self) == "Der Hund und die Katze\nist nicht übel")
    #expect(s.language == .de)
    let short = bytes.withUnsafeBytes { Signals.extract(workload: w, body: $0, kind: .completion, tier: nil, maxTextBytes: 5) }
    #expect(short.text.count == 5)
}
