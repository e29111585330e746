extension Routing {
    /// The vLLM gauges a router cares about, read from a Prometheus text exposition.
    public struct ScrapedMetrics: Sendable, Equatable {
        public var waiting: Int?
        public var running: Int?
        /// 0...1 (vLLM's `kv_cache_usage_perc` is a fraction despite its name).
        public var kvUsage: Double?

        public init(waiting: Int? = nil, running: Int? = nil, kvUsage: Double? = nil) {
            self.waiting = waiting; self.running = running; self.kvUsage = kvUsage
        }

        public var isEmpty: Bool { waiting == nil && running == nil && kvUsage == nil }

        /// Parses `vllm:num_requests_waiting`, `vllm:num_requests_running` and
        /// `vllm:kv_cache_usage_perc` (older vLLM: `vllm:gpu_cache_usage_perc`), summing over
        /// label sets (one engine may report several model names). Other lines are ignored.
        public static func parse(_ text: String) -> ScrapedMetrics {
            var m = ScrapedMetrics()
            for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
                let line = rawLine.utf8
                guard line.first != UInt8(ascii: "#"), rawLine.hasPrefix("vllm:") else { continue }
                let nameEnd = rawLine.firstIndex(where: { $0 == "{" || $0 == " " }) ?? rawLine.endIndex
                let name = rawLine[rawLine.startIndex..<nameEnd]
                // After the name (and labels) comes the value, then an optional timestamp.
                let afterLabels = rawLine.lastIndex(of: "}").map { rawLine.index(after: $0) } ?? nameEnd
                let fields = rawLine[afterLabels...].split(separator: " ", omittingEmptySubsequences: true)
                guard let valueText = fields.first, let v = Double(valueText), v.isFinite, v >= 0 else { continue }
                // Gauges beyond any real queue are clamped rather than trapping on conversion.
                let count = v >= 1e12 ? 1_000_000_000_000 : Int(v)
                switch name {
                case "vllm:num_requests_waiting": m.waiting = min((m.waiting ?? 0) + count, 1_000_000_000_000)
                case "vllm:num_requests_running": m.running = min((m.running ?? 0) + count, 1_000_000_000_000)
                case "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc": m.kvUsage = max(m.kvUsage ?? 0, v)
                default: break
                }
            }
            return m
        }
    }
}
