import WRPCommon

extension Membership {
    /// Lifeguard's "Local Health Multiplier" (memberlist `awareness.go`): a saturating score in
    /// `0 … max − 1` that rises when this node seems slow or cut off and falls when it probes
    /// successfully. Probe interval and probe timeout are multiplied by `score + 1`, so an
    /// unhealthy node probes less often and waits longer before accusing others.
    ///
    /// Events (as memberlist): failed probe `+ (expected nacks − nacks received)`, or `+1` when no
    /// nacks were expected; refuting a suspicion about ourselves `+1`; successful probe `−1`.
    /// Deviation: memberlist leaves the probe timeout unscaled; here both scale, as in Lifeguard's
    /// paper and swift-cluster-membership, keeping timeout < interval.
    public struct Awareness: Sendable, Equatable {
        /// `AwarenessMaxMultiplier`; the score stays below it.
        public let max: Int
        public private(set) var score: Int = 0

        public init(max: Int) {
            precondition(max >= 1, "awareness max \(max) < 1")
            self.max = max
        }

        /// Adds `delta` and clamps to `0 … max − 1`. Returns the new score.
        @discardableResult
        public mutating func apply(_ delta: Int) -> Int {
            score = Swift.min(Swift.max(score + delta, 0), max - 1)
            return score
        }

        /// `t × (score + 1)`.
        public func scale(_ t: Nanos) -> Nanos { t * UInt64(score + 1) }
    }
}
