import BanditCore
import Testing

/// Prints the regret table and the λ frontier (docs/evaluation.md, "Model choice (bandits)"):
/// `swift test --filter BenchmarkTests`.
@Test func benchmark_learningPolicies_beatRandomAndApproachBestFixed() {
    let bench = Bandit.Benchmark()
    let (results, table) = bench.regretTable()
    print("Bandit benchmark: \(bench.steps) requests × \(bench.seeds.count) seeds, λ = \(bench.lambdaCost)/USD; best fixed = \(Bandit.Benchmark.models[bench.bestFixedModel].name)")
    print(table)
    let random = results.first { $0.name == "uniform random" }!
    for r in results where BanditSettings.Policy(rawValue: r.name) != nil {
        #expect(r.regretVsOracle < 0.5 * random.regretVsOracle, "\(r.name) vs random: \(r.regretVsOracle) / \(random.regretVsOracle)")
        // Approaching the best fixed model: within a fifth of random's gap to it (contextual
        // policies usually beat it: negative regret).
        #expect(r.regretVsBestFixed < 0.2 * random.regretVsBestFixed, "\(r.name) vs best fixed: \(r.regretVsBestFixed)")
    }
    let (rows, frontier) = Bandit.Benchmark.frontierTable(lambdas: [0, 5, 10, 20, 50, 100, 200])
    print(frontier)
    // Raising the price of cost lowers what is spent.
    #expect(rows.last!.policy.meanCost < rows.first!.policy.meanCost)
}
