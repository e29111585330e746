import WRPCommon

/// The routes wrpd serves, as metric label values.
public enum RouteLabel: Int, CaseIterable, Sendable {
    case chatCompletions, completions, route, feedback, models, healthz, readyz, metrics, admin, other

    public var name: String {
        switch self {
        case .chatCompletions: return "/v1/chat/completions"
        case .completions: return "/v1/completions"
        case .route: return "/v1/route"
        case .feedback: return "/v1/feedback"
        case .models: return "/v1/models"
        case .healthz: return "/healthz"
        case .readyz: return "/readyz"
        case .metrics: return "/metrics"
        case .admin: return "/admin"
        case .other: return "other"
        }
    }
}

/// A fixed-bucket histogram (seconds), Prometheus-style cumulative on render.
struct Histogram {
    static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    var counts = [UInt64](repeating: 0, count: Histogram.bounds.count + 1)
    var sum = 0.0
    var count: UInt64 = 0

    @inline(__always)
    mutating func observe(_ seconds: Double) {
        var i = 0
        while i < Histogram.bounds.count && seconds > Histogram.bounds[i] { i += 1 }
        counts[i] &+= 1
        sum += seconds
        count &+= 1
    }

    func render(name: String, labels: String, into out: inout String) {
        var cumulative: UInt64 = 0
        let sep = labels.isEmpty ? "" : ","
        for (i, b) in Histogram.bounds.enumerated() {
            cumulative += counts[i]
            out += "\(name)_bucket{\(labels)\(sep)le=\"\(b)\"} \(cumulative)\n"
        }
        cumulative += counts[Histogram.bounds.count]
        out += "\(name)_bucket{\(labels)\(sep)le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum{\(labels)} \(sum)\n"
        out += "\(name)_count{\(labels)} \(count)\n"
    }
}

/// wrpd's metrics. Updated on the loop thread only; rendered as Prometheus text on `/metrics`.
/// Label sets are small integers on the hot path; names are resolved only when rendering.
final class NodeMetrics {
    struct RequestKey: Hashable { var route: Int; var status: Int; var backend: String }
    var requests: [RequestKey: UInt64] = [:]
    var requestDuration = [Histogram](repeating: Histogram(), count: RouteLabel.allCases.count)
    var upstreamTTFB: [String: Histogram] = [:]
    var upstreamDuration: [String: Histogram] = [:]
    var decisionTime = Histogram()
    var retries: [String: UInt64] = [:]
    var decisions: [String: UInt64] = [:]
    var protocolErrors: [Int: UInt64] = [:]
    var upstreamErrors: [String: UInt64] = [:]
    var healthTransitions: [String: UInt64] = [:]
    var clientAborts: UInt64 = 0

    func request(route: RouteLabel, status: Int, backend: String, seconds: Double) {
        requests[RequestKey(route: route.rawValue, status: status, backend: backend), default: 0] &+= 1
        requestDuration[route.rawValue].observe(seconds)
    }

    static func escape(_ s: String) -> String {
        s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"").replacingAll("\n", "\\n")
    }
}

extension String {
    func replacingAll(_ a: Character, _ b: String) -> String {
        guard contains(a) else { return self }
        var out = ""
        for c in self { if c == a { out += b } else { out.append(c) } }
        return out
    }
}
