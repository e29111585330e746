import WRPCommon

extension Routing {
    /// Health settings (defaults follow common load-balancer practice, e.g. Envoy/nginx).
    public struct HealthSettings: Sendable, Equatable {
        /// Active probe period and timeout (ns).
        public var interval: Nanos = .ms(2_000)
        public var timeout: Nanos = .ms(1_000)
        /// Consecutive probe failures that make a backend unhealthy.
        public var unhealthyThreshold = 3
        /// Consecutive probe successes that make an unhealthy backend healthy again.
        public var healthyThreshold = 2
        /// Consecutive request errors (connect failure, 5xx, timeout) that eject it passively; 0 = never.
        public var ejectAfterErrors = 5
        /// First ejection lasts `ejectBase`; each further one doubles, up to `ejectMax`.
        public var ejectBase: Nanos = .ms(5_000)
        public var ejectMax: Nanos = .ms(60_000)
        /// Scrape vLLM-style `/metrics` with each probe.
        public var scrapeMetrics = true

        public init() {}
    }

    /// Probe-driven status.
    public enum HealthStatus: String, Sendable {
        /// No probe answered yet: routable, optimistically, so a fresh node serves at once.
        case unknown
        case healthy
        case unhealthy
    }

    /// Active + passive health of one backend: a small state machine fed probe and request results.
    ///
    /// Active: `unhealthyThreshold` consecutive failed probes → unhealthy; `healthyThreshold`
    /// consecutive successes → healthy (one success suffices from `unknown`). Passive (outlier
    /// ejection): `ejectAfterErrors` consecutive request errors eject the backend for a backoff
    /// that doubles per ejection; after it, the backend is re-admitted and one success clears
    /// the error streak and the backoff.
    public struct BackendHealth: Sendable {
        public let settings: HealthSettings
        public private(set) var status: HealthStatus = .unknown
        public private(set) var probeFailures = 0
        public private(set) var probeSuccesses = 0
        public private(set) var requestErrors = 0
        public private(set) var ejections = 0
        public private(set) var ejectedUntil: Instant?

        public init(settings: HealthSettings) { self.settings = settings }

        public enum Change: Sendable, Equatable {
            case becameHealthy, becameUnhealthy, ejected(until: Instant)
        }

        public mutating func onProbe(success: Bool, now: Instant) -> Change? {
            if success {
                probeFailures = 0
                probeSuccesses += 1
                if status == .unknown || (status == .unhealthy && probeSuccesses >= settings.healthyThreshold) {
                    status = .healthy
                    requestErrors = 0
                    return .becameHealthy
                }
            } else {
                probeSuccesses = 0
                probeFailures += 1
                if status != .unhealthy && probeFailures >= settings.unhealthyThreshold {
                    status = .unhealthy
                    return .becameUnhealthy
                }
            }
            return nil
        }

        public mutating func onRequest(success: Bool, now: Instant) -> Change? {
            if success {
                requestErrors = 0
                if let until = ejectedUntil, now >= until { ejectedUntil = nil; ejections = 0 }
                return nil
            }
            requestErrors += 1
            guard settings.ejectAfterErrors > 0, requestErrors >= settings.ejectAfterErrors,
                  !isEjected(now: now) else { return nil }
            ejections += 1
            let shift = UInt64(min(ejections - 1, 16))
            let backoff = min(settings.ejectBase << shift, settings.ejectMax)
            let until = now + backoff
            ejectedUntil = until
            requestErrors = 0
            return .ejected(until: until)
        }

        /// Takes a status decided elsewhere (the backend's owner nodes probe it and gossip the
        /// result; see docs/cluster.md). Resets the probe streaks so local probes, if this node
        /// becomes an owner, start from that status.
        public mutating func adopt(_ s: HealthStatus) -> Change? {
            guard s != status, s != .unknown else { return nil }
            status = s
            probeFailures = 0
            probeSuccesses = 0
            return s == .healthy ? .becameHealthy : .becameUnhealthy
        }

        @inline(__always)
        public func isEjected(now: Instant) -> Bool {
            if let until = ejectedUntil { return now < until }
            return false
        }

        /// Whether traffic may go to this backend now.
        @inline(__always)
        public func isRoutable(now: Instant) -> Bool { status != .unhealthy && !isEjected(now: now) }
    }
}
