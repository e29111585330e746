import FleetSim
import RoutingCore
import WRPCommon
import Workload

func specs(_ n: Int, maxConcurrency: Int = 0) -> [Routing.BackendSpec] {
    (0..<n).map { Routing.BackendSpec(id: "b-\($0)", url: "http://b-\($0)", maxConcurrency: maxConcurrency) }
}

func backends(_ n: Int) -> [Routing.Backend] {
    specs(n).map { Routing.Backend(spec: $0, health: Routing.BackendHealth(settings: Routing.HealthSettings())) }
}

func allEligible(_ n: Int) -> Routing.Eligibility {
    var e = Routing.Eligibility(capacity: n)
    for i in 0..<n { e.insert(i) }
    return e
}

/// A workload whose blocks chain `ids`, `tokensPerBlock` tokens each.
func workload(_ ids: [UInt64], tokensPerBlock: Int = 512) -> Workload {
    Fleet.workload(blockIDs: ids, inputTokens: ids.count * tokensPerBlock, unique: ids.last ?? 0)
}

func params(_ edit: (inout Routing.PolicyParams) -> Void = { _ in }) -> Routing.PolicyParams {
    var p = Routing.PolicyParams()
    p.blockTokens = 512
    edit(&p)
    return p
}

extension Instant {
    static func s(_ x: Double) -> Instant { Instant(nanoseconds: UInt64(x * 1e9)) }
}
