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
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                guard line.first != "#", line.hasPrefix("vllm:") else { continue }
                let nameEnd = line.firstIndex(where: { $0 == "{" || $0 == " " }) ?? line.endIndex
                let name = line[line.startIndex..<nameEnd]
                guard let valueText = line.split(separator: " ").last, let v = Double(valueText), v.isFinite else { continue }
                switch name {
                case "vllm:num_requests_waiting": m.waiting = (m.waiting ?? 0) + Int(v)
                case "vllm:num_requests_running": m.running = (m.running ?? 0) + Int(v)
                case "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc": m.kvUsage = max(m.kvUsage ?? 0, v)
                default: break
                }
            }
            return m
        }
    }
}
