/// Namespace for the signal rules that narrow which models a request may use (config
/// `decisions`), in the spirit of vLLM Semantic Router's decisions (algorithms.md §6): Boolean
/// trees over per-request signals, with priorities; the highest-priority matching rule selects
/// the eligible models. Unlike vSR, signals are cheap byte-level detectors (no classifiers).
public enum Rules {
    /// Checks and compiles `specs`: keywords are folded to lowercase, regexes compiled, and
    /// rules ordered by priority (highest first; equal priorities keep their config order).
    public static func compile(_ specs: [RuleSpec]) throws(RuleError) -> RuleSet {
        var seen: Set<String> = []
        var compiled: [RuleSet.Compiled] = []
        for (order, spec) in specs.enumerated() {
            do throws(RuleError) {
                try compileRule(spec, order: order, seen: &seen, into: &compiled)
            } catch {
                var e = error
                e.index = order
                throw e
            }
        }
        compiled.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.order < $1.order }
        return RuleSet(rules: compiled)
    }

    static func compileRule(_ spec: RuleSpec, order: Int, seen: inout Set<String>, into compiled: inout [RuleSet.Compiled]) throws(RuleError) {
        guard !spec.name.isEmpty else { throw RuleError(rule: "#\(order)", path: "name", "must be a non-empty name") }
        guard seen.insert(spec.name).inserted else { throw RuleError(rule: spec.name, path: "name", "duplicate rule name") }
        guard !spec.models.isEmpty else { throw RuleError(rule: spec.name, path: "models", "must list at least one model") }
        if let i = spec.models.firstIndex(where: \.isEmpty) {
            throw RuleError(rule: spec.name, path: "models[\(i)]", "must be a non-empty model name")
        }
        if let dup = Set(spec.models).count != spec.models.count ? spec.models.first(where: { m in spec.models.filter { $0 == m }.count > 1 }) : nil {
            throw RuleError(rule: spec.name, path: "models", "model '\(dup)' is listed twice")
        }
        let node = try compileCondition(spec.when, rule: spec.name, path: "when")
        compiled.append(RuleSet.Compiled(name: spec.name, priority: spec.priority, order: order, condition: node, models: spec.models))
    }

    static func compileCondition(_ c: Condition, rule: String, path: String) throws(RuleError) -> RuleSet.Node {
        switch c {
        case .all(let cs), .any(let cs):
            let isAll: Bool
            if case .all = c { isAll = true } else { isAll = false }
            let key = isAll ? "all" : "any"
            guard !cs.isEmpty else { throw RuleError(rule: rule, path: path + "." + key, "must list at least one condition") }
            var nodes: [RuleSet.Node] = []
            for (i, sub) in cs.enumerated() { nodes.append(try compileCondition(sub, rule: rule, path: "\(path).\(key)[\(i)]")) }
            return isAll ? .all(nodes) : .any(nodes)
        case .not(let sub):
            return .not(try compileCondition(sub, rule: rule, path: path + ".not"))
        case .keyword(let words):
            guard !words.isEmpty else { throw RuleError(rule: rule, path: path + ".keyword", "must list at least one keyword") }
            if let i = words.firstIndex(where: \.isEmpty) { throw RuleError(rule: rule, path: "\(path).keyword[\(i)]", "must be a non-empty keyword") }
            return .keyword(words.map { Array($0.utf8).map(ByteSearch.fold) })
        case .regex(let pattern):
            guard !pattern.isEmpty else { throw RuleError(rule: rule, path: path + ".regex", "must be a non-empty pattern") }
            do {
                return .regex(RegexBox(try Regex(pattern)))
            } catch {
                throw RuleError(rule: rule, path: path + ".regex", "invalid regular expression '\(pattern)': \(error)")
            }
        case .promptTokensAbove(let n):
            guard n >= 0 else { throw RuleError(rule: rule, path: path + ".prompt_tokens_gt", "must be a non-negative integer") }
            return .tokensAbove(n)
        case .promptTokensBelow(let n):
            guard n >= 0 else { throw RuleError(rule: rule, path: path + ".prompt_tokens_lt", "must be a non-negative integer") }
            return .tokensBelow(n)
        case .language(let codes):
            guard !codes.isEmpty else { throw RuleError(rule: rule, path: path + ".language", "must list at least one language") }
            var langs: [Language] = []
            for (i, code) in codes.enumerated() {
                guard let l = Language(rawValue: code) else {
                    throw RuleError(rule: rule, path: "\(path).language[\(i)]", "unknown language '\(code)' (known: \(Language.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                langs.append(l)
            }
            return .language(langs)
        case .model(let names):
            guard !names.isEmpty, !names.contains("") else { throw RuleError(rule: rule, path: path + ".model", "must list non-empty model names") }
            return .model(names)
        case .tier(let tiers):
            guard !tiers.isEmpty, !tiers.contains("") else { throw RuleError(rule: rule, path: path + ".tier", "must list non-empty tier names") }
            return .tier(tiers)
        case .hasCode(let b):
            return .hasCode(b)
        }
    }
}

/// One rule as written in the config.
public struct RuleSpec: Sendable, Equatable {
    /// Unique, non-empty; reported as the decision in responses and logs.
    public var name: String
    /// Higher wins when several rules match. Default 0.
    public var priority: Int
    public var when: Condition
    /// The models a matching request may use (at least one).
    public var models: [String]

    public init(name: String, priority: Int = 0, when: Condition, models: [String]) {
        self.name = name
        self.priority = priority
        self.when = when
        self.models = models
    }
}

/// A Boolean condition over `Signals`.
public indirect enum Condition: Sendable, Equatable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    /// Any of the keywords occurs in the prompt text (ASCII case-insensitive byte search).
    case keyword([String])
    /// The Swift `Regex` matches somewhere in the prompt text (costlier: builds a String).
    case regex(String)
    /// Estimated prompt tokens > n.
    case promptTokensAbove(Int)
    /// Estimated prompt tokens < n.
    case promptTokensBelow(Int)
    /// The detected language is one of these.
    case language([String])
    /// The requested `model` is one of these.
    case model([String])
    /// The tier header is one of these.
    case tier([String])
    case hasCode(Bool)
}

/// A rule that cannot be compiled, naming it and the place inside it.
public struct RuleError: Error, Equatable, Sendable, CustomStringConvertible {
    public var rule: String
    /// Position of the rule in the list given to `Rules.compile`.
    public var index = 0
    /// Path inside the rule (`when.any[1].regex`).
    public var path: String
    public var message: String

    public init(rule: String, path: String, _ message: String) {
        self.rule = rule
        self.path = path
        self.message = message
    }

    public var description: String { "rule '\(rule)': \(path): \(message)" }
}

/// Holds a compiled regex; `Regex` is not `Sendable`, but a compiled one is only read.
final class RegexBox: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ r: Regex<AnyRegexOutput>) { regex = r }
}

/// Compiled rules, ready to evaluate per request.
public struct RuleSet: Sendable {
    indirect enum Node: Sendable {
        case all([Node]), any([Node]), not(Node)
        case keyword([[UInt8]])
        case regex(RegexBox)
        case tokensAbove(Int), tokensBelow(Int)
        case language([Language])
        case model([String]), tier([String])
        case hasCode(Bool)
    }

    struct Compiled: Sendable {
        var name: String
        var priority: Int
        var order: Int
        var condition: Node
        var models: [String]
    }

    let rules: [Compiled]

    public static let empty = RuleSet(rules: [])

    /// Rule names in evaluation order (highest priority first).
    public var ruleNames: [String] { rules.map(\.name) }

    /// The first matching rule by priority and its models; `(nil, nil)` when none matches
    /// (every model is eligible).
    public func evaluate(_ signals: Signals) -> (rule: String?, eligibleModels: [String]?) {
        for r in rules where Self.matches(r.condition, signals) { return (r.name, r.models) }
        return (nil, nil)
    }

    static func matches(_ n: Node, _ s: Signals) -> Bool {
        switch n {
        case .all(let ns): return ns.allSatisfy { matches($0, s) }
        case .any(let ns): return ns.contains { matches($0, s) }
        case .not(let x): return !matches(x, s)
        case .keyword(let needles): return needles.contains { s.containsFolded($0) }
        case .regex(let box): return s.matches(box.regex)
        case .tokensAbove(let n): return s.promptTokens > n
        case .tokensBelow(let n): return s.promptTokens < n
        case .language(let ls): return ls.contains(s.language)
        case .model(let ms): return s.requestedModel.map { ms.contains($0) } ?? false
        case .tier(let ts): return s.tier.map { ts.contains($0) } ?? false
        case .hasCode(let b): return s.hasCode == b
        }
    }
}
