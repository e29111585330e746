import BanditCore
import RulesCore
internal import Yams

/// The `bandit:` and `decisions:` sections (docs/configuration.md, "Model choice").
extension ConfigLoader {
    enum ModelChoiceKeys {
        static let bandit = ["policy", "epsilon", "ucb_c", "linucb_alpha", "linucb_ridge", "lambda_cost", "mu_latency",
                             "prior_n", "prior_mean", "prior_variance", "max_cost_per_request"]
        static let rule = ["name", "priority", "when", "models"]
        static let condition = ["all", "any", "not", "keyword", "regex", "prompt_tokens_gt", "prompt_tokens_lt",
                                "language", "model", "tier", "has_code"]
    }

    static func readBandit(_ f: YAMLFields) throws(ConfigError) -> BanditSettings {
        var b = BanditSettings()
        if let p = try f.string("policy") {
            guard let policy = BanditSettings.Policy(rawValue: p) else {
                throw ConfigError(field: f.field("policy"), "must be one of \(BanditSettings.Policy.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(p)')")
            }
            b.policy = policy
        }
        if let e = try f.double("epsilon", .nonNegative) {
            guard e <= 1 else { throw ConfigError(field: f.field("epsilon"), "must be a number in [0, 1]") }
            b.epsilon = e
        }
        b.ucbC = try f.double("ucb_c", .nonNegative) ?? b.ucbC
        b.linucbAlpha = try f.double("linucb_alpha", .nonNegative) ?? b.linucbAlpha
        if let r = try f.double("linucb_ridge", .nonNegative) {
            guard r > 0 else { throw ConfigError(field: f.field("linucb_ridge"), "must be a positive number") }
            b.linucbRidge = r
        }
        b.lambdaCost = try f.double("lambda_cost", .nonNegative) ?? b.lambdaCost
        b.muLatency = try f.double("mu_latency", .nonNegative) ?? b.muLatency
        b.priorN = try f.double("prior_n", .nonNegative) ?? b.priorN
        b.priorMean = try f.double("prior_mean", .any) ?? b.priorMean
        if let v = try f.double("prior_variance", .nonNegative) {
            guard v > 0 else { throw ConfigError(field: f.field("prior_variance"), "must be a positive number") }
            b.priorVariance = v
        }
        if let n = f.node("max_cost_per_request"), !n.isNull {
            b.maxCostPerRequest = try YAMLFields.double(n, field: f.field("max_cost_per_request"), .nonNegative)
        }
        return b
    }

    /// Reads the rules, compiles them (so a bad regex fails at load), and checks that every
    /// model they name is served by a pool. Errors name the rule.
    static func readDecisions(_ top: YAMLFields, pools: [Config.PoolSection]) throws(ConfigError) -> [RuleSpec] {
        guard let node = top.node("decisions"), !node.isNull else { return [] }
        guard case .sequence(let items) = node else {
            throw ConfigError(field: "decisions", "must be a list of rules {name, priority, when, models}")
        }
        var specs: [RuleSpec] = []
        for (i, item) in items.enumerated() {
            specs.append(try readRule(item, path: "decisions[\(i)]"))
        }
        do throws(RuleError) {
            _ = try Rules.compile(specs)
        } catch {
            throw ConfigError(field: "decisions[\(error.index)].\(error.path)", "rule '\(error.rule)': \(error.message)")
        }
        let served = pools.flatMap(\.models)
        for (i, spec) in specs.enumerated() {
            for (k, model) in spec.models.enumerated() where !served.contains(model) {
                throw ConfigError(field: "decisions[\(i)].models[\(k)]",
                                  "rule '\(spec.name)': model '\(model)' is not served by any pool (served: \(served.joined(separator: ", ")))")
            }
        }
        return specs
    }

    private static func readRule(_ node: Yams.Node, path: String) throws(ConfigError) -> RuleSpec {
        let f = try YAMLFields(node, path: path, known: ModelChoiceKeys.rule)
        let name = try YAMLFields.string(f.required("name"), field: f.field("name"))
        do throws(ConfigError) {
            let priority = try f.int("priority", .range(Int.min...Int.max, "must be an integer")) ?? 0
            let when = try readCondition(f.required("when"), path: f.field("when"))
            guard let modelNodes = try f.sequence("models") else {
                throw ConfigError(field: f.field("models"), "required: list the models this rule allows")
            }
            var models: [String] = []
            for (k, m) in modelNodes.enumerated() { models.append(try YAMLFields.string(m, field: "\(f.field("models"))[\(k)]")) }
            return RuleSpec(name: name, priority: priority, when: when, models: models)
        } catch {
            throw ConfigError(field: error.field, "rule '\(name)': \(error.message)")
        }
    }

    /// A mapping with one condition key; several keys mean all of them.
    private static func readCondition(_ node: Yams.Node, path: String) throws(ConfigError) -> Condition {
        guard case .mapping = node else {
            throw ConfigError(field: path, "must be a condition mapping (keys: \(ModelChoiceKeys.condition.joined(separator: ", ")))")
        }
        let f = try YAMLFields(node, path: path, known: ModelChoiceKeys.condition)
        var parts: [Condition] = []
        for (key, value) in f.present {
            let field = f.field(key)
            switch key {
            case "all", "any":
                guard case .sequence(let seq) = value else { throw ConfigError(field: field, "must be a list of conditions") }
                var subs: [Condition] = []
                for (i, s) in seq.enumerated() { subs.append(try readCondition(s, path: "\(field)[\(i)]")) }
                parts.append(key == "all" ? .all(subs) : .any(subs))
            case "not":
                parts.append(.not(try readCondition(value, path: field)))
            case "keyword": parts.append(.keyword(try stringList(value, field: field)))
            case "language": parts.append(.language(try stringList(value, field: field)))
            case "model": parts.append(.model(try stringList(value, field: field)))
            case "tier": parts.append(.tier(try stringList(value, field: field)))
            case "regex": parts.append(.regex(try YAMLFields.string(value, field: field)))
            case "prompt_tokens_gt": parts.append(.promptTokensAbove(try YAMLFields.int(value, field: field, .nonNegative)))
            case "prompt_tokens_lt": parts.append(.promptTokensBelow(try YAMLFields.int(value, field: field, .nonNegative)))
            case "has_code":
                guard value.tagName == .bool, let b = value.bool else { throw ConfigError(field: field, "must be true or false") }
                parts.append(.hasCode(b))
            default:
                throw ConfigError(field: field, YAMLFields.unknownKeyMessage(key, known: ModelChoiceKeys.condition))
            }
        }
        guard !parts.isEmpty else {
            throw ConfigError(field: path, "must name a condition (keys: \(ModelChoiceKeys.condition.joined(separator: ", ")))")
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    /// A string or a list of strings.
    private static func stringList(_ node: Yams.Node, field: String) throws(ConfigError) -> [String] {
        if case .sequence(let seq) = node {
            var out: [String] = []
            for (i, s) in seq.enumerated() { out.append(try YAMLFields.string(s, field: "\(field)[\(i)]")) }
            return out
        }
        return [try YAMLFields.string(node, field: field)]
    }
}
