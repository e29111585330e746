import WRPCommon

extension Membership {
    /// Lifeguard's "Local Health Aware Suspicion": the timer before a suspect is declared dead
    /// starts at `max` and shrinks towards `min` as independent members confirm the suspicion
    /// (memberlist `suspicion.go`).
    ///
    /// `timeout(c) = max(min, max − log(c + 1) / log(k + 1) × (max − min))`, floored to whole
    /// milliseconds, where `c` counts distinct confirming members other than the first accuser and
    /// `k` is the number expected (`Settings.expectedConfirmations`); with `k < 1` the timeout is
    /// `min`. The deadline is always `start + timeout(c)`: time already elapsed counts.
    ///
    /// Deviation from memberlist: no goroutine timer; the instance re-arms `.suspicion(id)` at the
    /// new deadline after each accepted confirmation and checks `deadline` when any arm fires.
    public struct Suspicion: Sendable, Equatable {
        /// When the suspicion started (first accusation heard or raised locally).
        public let start: Instant
        public let minTimeout: Nanos
        public let maxTimeout: Nanos
        /// Confirmations expected to reach `minTimeout`.
        public let expected: Int
        /// The member whose accusation started the suspicion; its repeats are not confirmations.
        public let accuser: String
        /// Distinct confirming members (excluding `accuser`), at most `expected`.
        public private(set) var confirmers: Set<String> = []
        /// Set by the instance once it has sent the last-chance verification probe (see
        /// `Instance`), so a second expiry declares the member dead.
        public var verified = false

        public init(accuser: String, expected: Int, min: Nanos, max: Nanos, start: Instant) {
            precondition(min <= max, "suspicion min \(min) > max \(max)")
            self.accuser = accuser
            self.expected = expected
            self.minTimeout = min
            self.maxTimeout = max
            self.start = start
        }

        public var confirmations: Int { confirmers.count }

        /// The timeout after `confirmations` independent confirmations.
        public static func timeout(confirmations c: Int, expected k: Int, min: Nanos, max: Nanos) -> Nanos {
            guard k >= 1 else { return min }
            let frac = Double(c + 1).lnValue / Double(k + 1).lnValue
            let raw = Double(max) / 1e9 - frac * (Double(max) - Double(min)) / 1e9
            let ms = (1000.0 * raw + 1e-9).rounded(.down)
            let t = ms <= 0 ? 0 : UInt64(ms) * 1_000_000
            return Swift.max(t, min)
        }

        /// Current total timeout measured from `start`.
        public var timeout: Nanos {
            Suspicion.timeout(confirmations: confirmers.count, expected: expected, min: minTimeout, max: maxTimeout)
        }

        /// When the member is declared dead unless refuted.
        public var deadline: Instant { start + timeout }

        /// Records a confirmation. Returns true when it was new and counted (the deadline moved and
        /// the caller SHOULD re-gossip the suspect message); false for the accuser, a repeat, or
        /// when `expected` confirmations are already in.
        public mutating func confirm(from id: String) -> Bool {
            guard confirmers.count < expected, id != accuser else { return false }
            return confirmers.insert(id).inserted
        }
    }
}
