import BanditCore
import NodeConfig
import RulesCore
import Testing

let twoModelPools = """
pools:
  - name: small
    models: [sim-llama-8b, sim-coder-7b]
    backends:
      - {id: b0, url: "http://127.0.0.1:9001"}
  - name: long
    models: [sim-llama-8b-long]
    backends:
      - {id: b1, url: "http://127.0.0.1:9002"}
"""

@Test func decisionsAndBandit_fullExample_parse() throws {
    let yaml = """
    bandit: {policy: linucb, epsilon: 0.2, ucb_c: 1.5, linucb_alpha: 0.1, linucb_ridge: 0.5, lambda_cost: 20, mu_latency: 0.001, prior_n: 2, prior_mean: 0.4, prior_variance: 0.1, max_cost_per_request: 0.01}
    decisions:
      - {name: code, priority: 10, when: {any: [{keyword: ["def ", "class ", "```"]}, {has_code: true}]}, models: [sim-coder-7b]}
      - {name: long, priority: 5, when: {prompt_tokens_gt: 8000}, models: [sim-llama-8b-long]}
      - {name: free-tier, priority: 20, when: {tier: free}, models: [sim-llama-8b]}
      - name: german-short
        when: {language: [de], prompt_tokens_lt: 100, not: {model: sim-coder-7b}}
        models: [sim-llama-8b]
      - {name: tickets, when: {regex: "TICKET-[0-9]+"}, models: [sim-llama-8b, sim-coder-7b]}
    \(twoModelPools)
    """
    let c = try ConfigLoader.parse(yaml: yaml)
    var b = BanditSettings()
    b.policy = .linucb; b.epsilon = 0.2; b.ucbC = 1.5; b.linucbAlpha = 0.1; b.linucbRidge = 0.5
    b.lambdaCost = 20; b.muLatency = 0.001; b.priorN = 2; b.priorMean = 0.4; b.priorVariance = 0.1
    b.maxCostPerRequest = 0.01
    #expect(c.bandit == b)
    #expect(c.decisions == [
        RuleSpec(name: "code", priority: 10, when: .any([.keyword(["def ", "class ", "```"]), .hasCode(true)]), models: ["sim-coder-7b"]),
        RuleSpec(name: "long", priority: 5, when: .promptTokensAbove(8000), models: ["sim-llama-8b-long"]),
        RuleSpec(name: "free-tier", priority: 20, when: .tier(["free"]), models: ["sim-llama-8b"]),
        RuleSpec(name: "german-short", priority: 0,
                 when: .all([.not(.model(["sim-coder-7b"])), .promptTokensBelow(100), .language(["de"])]), models: ["sim-llama-8b"]),
        RuleSpec(name: "tickets", when: .regex("TICKET-[0-9]+"), models: ["sim-llama-8b", "sim-coder-7b"]),
    ])
    let rules = try Rules.compile(c.decisions)
    #expect(rules.evaluate(Signals(text: "x", tier: "free")).rule == "free-tier")
}

@Test func decisionsAndBandit_absent_defaults() throws {
    let c = try ConfigLoader.parse(yaml: twoModelPools)
    #expect(c.decisions.isEmpty)
    #expect(c.bandit == BanditSettings())
    let nullBudget = try ConfigLoader.parse(yaml: "bandit: {max_cost_per_request: null}\ndecisions:\n" + twoModelPools)
    #expect(nullBudget.bandit.maxCostPerRequest == nil)
}

@Test func decisionsAndBandit_badValues_errorsNameFieldAndRule() {
    let cases: [(String, String, String)] = [
        ("bandit: {policy: greedy}", "bandit.policy", "must be one of epsilon_greedy, ucb1, thompson, linucb"),
        ("bandit: {epsilon: 1.5}", "bandit.epsilon", "[0, 1]"),
        ("bandit: {lambda_cost: -1}", "bandit.lambda_cost", "non-negative"),
        ("bandit: {linucb_ridge: 0}", "bandit.linucb_ridge", "positive"),
        ("bandit: {ucb: 1}", "bandit.ucb", "unknown key"),
        ("decisions: {name: x}", "decisions", "must be a list"),
        ("decisions:\n  - {name: r, when: {tier: free}, models: [nope]}", "decisions[0].models[0]", "rule 'r': model 'nope' is not served"),
        ("decisions:\n  - {name: r, when: {regex: \"(\"}, models: [sim-llama-8b]}", "decisions[0].when.regex", "rule 'r': invalid regular expression"),
        ("decisions:\n  - {name: r, when: {any: []}, models: [sim-llama-8b]}", "decisions[0].when.any", "rule 'r': must list at least one"),
        ("decisions:\n  - {name: r, when: {languag: en}, models: [sim-llama-8b]}", "decisions[0].when.languag", "rule 'r': unknown key, did you mean 'language'?"),
        ("decisions:\n  - {name: r, when: {language: xx}, models: [sim-llama-8b]}", "decisions[0].when.language[0]", "rule 'r': unknown language 'xx'"),
        ("decisions:\n  - {name: r, when: {has_code: yes-please}, models: [sim-llama-8b]}", "decisions[0].when.has_code", "rule 'r': must be true or false"),
        ("decisions:\n  - {name: r, when: {}, models: [sim-llama-8b]}", "decisions[0].when", "rule 'r': must name a condition"),
        ("decisions:\n  - {name: r, models: [sim-llama-8b]}", "decisions[0].when", "rule 'r': required"),
        ("decisions:\n  - {name: r, when: {tier: a}}", "decisions[0].models", "rule 'r': required"),
        ("decisions:\n  - {when: {tier: a}, models: [sim-llama-8b]}", "decisions[0].name", "required"),
        ("decisions:\n  - {name: r, when: {tier: a}, models: [sim-llama-8b]}\n  - {name: r, when: {tier: b}, models: [sim-llama-8b]}", "decisions[1].name", "rule 'r': duplicate rule name"),
        ("decisions:\n  - {name: r, when: {prompt_tokens_gt: -5}, models: [sim-llama-8b]}", "decisions[0].when.prompt_tokens_gt", "rule 'r': must be a non-negative integer"),
    ]
    for (section, field, message) in cases {
        guard let e = parseError(section + "\n" + twoModelPools) else { continue }
        #expect(e.field == field, "\(section) → \(e)")
        #expect(e.message.contains(message), "\(section) → \(e)")
    }
}
