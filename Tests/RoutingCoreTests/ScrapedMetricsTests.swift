import Testing
import RoutingCore

@Suite struct ScrapedMetricsTests {
    static let vllm = """
    # HELP vllm:num_requests_running Number of requests currently running on GPU.
    # TYPE vllm:num_requests_running gauge
    vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
    # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
    # TYPE vllm:num_requests_waiting gauge
    vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
    # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
    # TYPE vllm:kv_cache_usage_perc gauge
    vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.4375
    # HELP vllm:prompt_tokens_total Number of prefill tokens processed.
    # TYPE vllm:prompt_tokens_total counter
    vllm:prompt_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 123456.0
    vllm:num_requests_waiting_by_reason{reason="capacity"} 99.0
    python_gc_objects_collected_total{generation="0"} 1234.0
    process_resident_memory_bytes 1.2e+09
    """

    @Test func vllmExposition_withLabels_extractsGauges() {
        let m = Routing.ScrapedMetrics.parse(ScrapedMetricsTests.vllm)
        #expect(m == Routing.ScrapedMetrics(waiting: 7, running: 3, kvUsage: 0.4375))
        #expect(!m.isEmpty)
    }

    @Test func multipleLabelSets_countsAreSummed_usageIsMax() {
        let text = """
        vllm:num_requests_running{model_name="a"} 2
        vllm:num_requests_running{model_name="b"} 5
        vllm:num_requests_waiting{model_name="a"} 1
        vllm:num_requests_waiting{model_name="b"} 0
        vllm:num_requests_waiting{model_name="c with spaces, and } brace"} 4
        vllm:kv_cache_usage_perc{model_name="a"} 0.25
        vllm:kv_cache_usage_perc{model_name="b"} 0.5
        """
        #expect(Routing.ScrapedMetrics.parse(text) == Routing.ScrapedMetrics(waiting: 5, running: 7, kvUsage: 0.5))
    }

    @Test func olderVLLM_gpuCacheUsagePerc_isFallbackForKVUsage() {
        let text = """
        vllm:gpu_cache_usage_perc{model_name="m"} 0.75
        vllm:num_requests_running{model_name="m"} 1
        """
        #expect(Routing.ScrapedMetrics.parse(text) == Routing.ScrapedMetrics(waiting: nil, running: 1, kvUsage: 0.75))
    }

    @Test func unlabelledGauges_areParsed() {
        let text = "vllm:num_requests_waiting 12\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 1\n"
        #expect(Routing.ScrapedMetrics.parse(text) == Routing.ScrapedMetrics(waiting: 12, running: 0, kvUsage: 1))
    }

    @Test(arguments: [
        "",
        "garbage",
        "\n\n\n",
        "# vllm:num_requests_waiting 5",
        "#vllm:num_requests_waiting 5",
        "  vllm:num_requests_waiting 5",
        "vllm:num_requests_waiting",
        "vllm:num_requests_waiting{}",
        "vllm:num_requests_waiting abc",
        "vllm:num_requests_waiting NaN",
        "vllm:num_requests_waiting +Inf",
        "vllm:num_requests_waiting -Inf",
        "vllm:num_requests_waiting_total 9",
        "vllm:num_requests_waitin 9",
        "xvllm:num_requests_waiting 9",
        "num_requests_waiting 9",
        "vllm:kv_cache_usage 0.5",
        "vllm:num_requests_waiting{model_name=\"m\"} ",
    ])
    func junkLine_isIgnored(_ line: String) {
        let m = Routing.ScrapedMetrics.parse(line + "\nvllm:num_requests_running 2\n")
        #expect(m == Routing.ScrapedMetrics(waiting: nil, running: 2, kvUsage: nil), "\(line.debugDescription)")
    }

    @Test func noVLLMGauges_isEmpty() {
        #expect(Routing.ScrapedMetrics.parse("up 1\nprocess_cpu_seconds_total 3.5\n").isEmpty)
        #expect(!Routing.ScrapedMetrics(waiting: 0).isEmpty)
    }

    @Test func sampleWithTimestamp_usesValueNotTimestamp() {
        // The text format allows an optional timestamp after the value.
        let m = Routing.ScrapedMetrics.parse("vllm:num_requests_waiting{model_name=\"m\"} 3 1700000000000\n")
        #expect(m.waiting == 3)
    }

    @Test func crlfLineEndings_areParsed() {
        let m = Routing.ScrapedMetrics.parse("vllm:num_requests_waiting 4\r\nvllm:num_requests_running 2\r\n")
        #expect(m == Routing.ScrapedMetrics(waiting: 4, running: 2, kvUsage: nil))
    }

    @Test func hugeGaugeValue_doesNotCrashTheParser() async {
        // A misbehaving backend's /metrics must not be able to crash the router: Int(1e19) traps.
        await #expect(processExitsWith: .success) {
            _ = Routing.ScrapedMetrics.parse("vllm:num_requests_waiting 1e19\n")
        }
    }
}
