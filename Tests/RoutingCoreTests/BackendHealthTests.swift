import Testing
import RoutingCore
import WRPCommon

private func at(ms: UInt64) -> Instant { .milliseconds(ms) }

private func health(_ edit: (inout Routing.HealthSettings) -> Void = { _ in }) -> Routing.BackendHealth {
    var s = Routing.HealthSettings()
    edit(&s)
    return Routing.BackendHealth(settings: s)
}

/// Feeds probe results; returns the changes they produced.
private func probes(_ h: inout Routing.BackendHealth, _ results: [Bool], now: Instant = .zero) -> [Routing.BackendHealth.Change?] {
    results.map { h.onProbe(success: $0, now: now) }
}

/// Feeds `n` request errors at `now`; returns the non-nil changes.
private func errors(_ h: inout Routing.BackendHealth, _ n: Int, now: Instant) -> [Routing.BackendHealth.Change] {
    (0..<n).compactMap { _ in h.onRequest(success: false, now: now) }
}

@Suite struct BackendHealthTests {
    @Test func unknown_isRoutable_andOneSuccessMakesItHealthy() {
        var h = health()
        #expect(h.status == .unknown)
        #expect(h.isRoutable(now: .zero))
        let c = probes(&h, [true])
        #expect(c == [.becameHealthy])
        #expect(h.status == .healthy)
        #expect(probes(&h, [true]) == [nil])
    }

    @Test(arguments: [Routing.HealthStatus.unknown, .healthy])
    func routableStatus_threeConsecutiveProbeFailures_makeItUnhealthy(_ start: Routing.HealthStatus) {
        var h = health()
        if start == .healthy { _ = probes(&h, [true]) }
        let c = probes(&h, [false, false, false, false])
        #expect(c == [nil, nil, .becameUnhealthy, nil])
        #expect(h.status == .unhealthy)
        #expect(!h.isRoutable(now: .zero))
    }

    @Test func healthy_interruptedFailureStreak_staysHealthy() {
        var h = health()
        _ = probes(&h, [true])
        let c = probes(&h, [false, false, true, false, false, true])
        #expect(c.allSatisfy { $0 == nil })
        #expect(h.status == .healthy)
    }

    @Test func unhealthy_twoConsecutiveSuccesses_makeItHealthyAgain() {
        var h = health()
        _ = probes(&h, [false, false, false])
        let c = probes(&h, [true, false, true, true, true])
        #expect(c == [nil, nil, nil, .becameHealthy, nil])
        #expect(h.status == .healthy)
        #expect(h.isRoutable(now: .zero))
    }

    @Test(arguments: [(1, 1), (2, 3), (5, 4)])
    func customThresholds_areHonoured(_ unhealthyAfter: Int, _ healthyAfter: Int) {
        var h = health { $0.unhealthyThreshold = unhealthyAfter; $0.healthyThreshold = healthyAfter }
        _ = probes(&h, [true])
        let down = probes(&h, Array(repeating: false, count: unhealthyAfter))
        #expect(down.last == .becameUnhealthy)
        #expect(down.dropLast().allSatisfy { $0 == nil })
        let up = probes(&h, Array(repeating: true, count: healthyAfter))
        #expect(up.last == .becameHealthy)
        #expect(up.dropLast().allSatisfy { $0 == nil })
    }

    @Test func requestErrors_reachingThreshold_ejectForBaseBackoff() {
        var h = health()  // 5 errors, 5 s base
        let now = at(ms: 1_000)
        #expect(errors(&h, 4, now: now).isEmpty)
        #expect(h.isRoutable(now: now))
        let c = h.onRequest(success: false, now: now)
        #expect(c == .ejected(until: at(ms: 6_000)))
        #expect(h.isEjected(now: now) && !h.isRoutable(now: now))
        #expect(!h.isRoutable(now: at(ms: 5_999)))
        #expect(h.isRoutable(now: at(ms: 6_000)), "re-admitted when the backoff ends")
    }

    @Test func repeatedEjections_doubleBackoffUpToMax() {
        var h = health()  // 5 s base, 60 s max
        var now = at(ms: 0)
        var backoffs: [UInt64] = []
        for _ in 0..<7 {
            let c = errors(&h, 5, now: now)
            guard case .ejected(let until)? = c.first, c.count == 1 else { Issue.record("no ejection: \(c)"); return }
            backoffs.append((until - now) / 1_000_000)
            now = until
        }
        #expect(backoffs == [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000])
    }

    @Test func successAfterReadmission_resetsBackoff() {
        var h = health()
        _ = errors(&h, 5, now: at(ms: 0))               // 5 s
        _ = errors(&h, 5, now: at(ms: 5_000))           // 10 s, until 15 s
        _ = h.onRequest(success: true, now: at(ms: 15_000))
        #expect(h.ejections == 0)
        #expect(h.requestErrors == 0)
        let c = errors(&h, 5, now: at(ms: 20_000))
        #expect(c == [.ejected(until: at(ms: 25_000))])
    }

    @Test func successWhileEjected_keepsEjectionAndBackoff() {
        var h = health()
        _ = errors(&h, 5, now: at(ms: 0))
        _ = h.onRequest(success: true, now: at(ms: 1_000))
        #expect(h.isEjected(now: at(ms: 1_000)))
        #expect(h.ejections == 1)
        let c = errors(&h, 5, now: at(ms: 5_000))
        #expect(c == [.ejected(until: at(ms: 15_000))], "second ejection doubles")
    }

    @Test func success_resetsErrorStreak() {
        var h = health()
        _ = errors(&h, 4, now: at(ms: 0))
        _ = h.onRequest(success: true, now: at(ms: 1))
        #expect(h.requestErrors == 0)
        #expect(errors(&h, 4, now: at(ms: 2)).isEmpty)
        #expect(h.isRoutable(now: at(ms: 2)))
    }

    @Test func errorsWhileEjected_doNotExtendEjection() {
        var h = health()
        _ = errors(&h, 5, now: at(ms: 0))
        #expect(errors(&h, 20, now: at(ms: 100)).isEmpty)
        #expect(h.ejectedUntil == at(ms: 5_000))
    }

    @Test func ejectAfterErrorsZero_neverEjects() {
        var h = health { $0.ejectAfterErrors = 0 }
        #expect(errors(&h, 1_000, now: .zero).isEmpty)
        #expect(h.isRoutable(now: .zero))
    }

    @Test func probeRecovery_clearsRequestErrorStreak() {
        var h = health()
        _ = probes(&h, [false, false, false])
        _ = errors(&h, 4, now: .zero)
        _ = probes(&h, [true, true])
        #expect(h.status == .healthy)
        #expect(h.requestErrors == 0)
        #expect(errors(&h, 4, now: .zero).isEmpty)
    }

    @Test func unhealthyAndEjected_bothBlockRouting() {
        var h = health()
        _ = errors(&h, 5, now: .zero)
        _ = probes(&h, [false, false, false])
        #expect(!h.isRoutable(now: at(ms: 10_000)), "unhealthy after the ejection ended")
        _ = probes(&h, [true, true])
        #expect(h.isRoutable(now: at(ms: 10_000)))
        #expect(!h.isRoutable(now: at(ms: 4_000)), "still ejected at 4 s")
    }
}
