import WRPCommon

extension Membership {
    /// Protocol tunables, with memberlist's names where they exist. Durations are `Nanos`.
    ///
    /// Presets: `.lan` (memberlist `DefaultLANConfig`) and `.local` (fast timers for tests and
    /// loopback clusters). Derived values (`retransmitLimit`, `suspicionBounds`,
    /// `scaledPushPullInterval`) follow memberlist's formulas.
    public struct Settings: Sendable, Equatable {
        /// Time between probe rounds at awareness 0. LAN 1 s. Scaled by (awareness + 1).
        public var probeInterval: Nanos
        /// Wait for a direct ack before indirect probing, at awareness 0. LAN 500 ms. Scaled by
        /// (awareness + 1). MUST be below `probeInterval`: the rest of the interval is the window
        /// for indirect acks and nacks.
        public var probeTimeout: Nanos
        /// Members asked to ping a target that missed its direct ack (SWIM's k). LAN 3.
        public var indirectChecks: Int
        /// A relay waits `probeTimeout × relayTimeoutFraction` for the target before sending a
        /// nack, so the nack can reach the prober before its window closes
        /// (swift-cluster-membership's 0.8). LAN 0.8.
        public var relayTimeoutFraction: Double
        /// Time between gossip rounds. LAN 200 ms.
        public var gossipInterval: Nanos
        /// Members gossiped to per round (fan-out). LAN 3.
        public var gossipNodes: Int
        /// Dead members stay gossip targets for this long after they were declared dead, so a
        /// falsely declared member hears about it and refutes. LAN 30 s.
        public var gossipToTheDeadTime: Nanos
        /// Each broadcast is sent `retransmitMult × ⌈log10(n + 1)⌉` times. LAN 4.
        public var retransmitMult: Int
        /// Suspicion minimum = `suspicionMult × max(1, log10 n) × probeInterval`. LAN 4.
        public var suspicionMult: Int
        /// Suspicion maximum = `suspicionMaxTimeoutMult ×` minimum. LAN 6.
        public var suspicionMaxTimeoutMult: Int
        /// Push-pull period at n ≤ 32 (grows with n, see `scaledPushPullInterval`). LAN 30 s.
        public var pushPullInterval: Nanos
        /// Period of the reconnect attempt to a random dead member (Serf's reconnect; memberlist
        /// has none). Each attempt happens with probability dead / alive. LAN 30 s; 0 disables.
        public var reconnectInterval: Nanos
        /// Local health multiplier bound: awareness runs 0 … max − 1. LAN 8.
        public var awarenessMaxMultiplier: Int
        /// How long dead and left members are kept (tombstones: they reject stale `alive`s at an
        /// old incarnation and are reconnect targets) before they are forgotten. LAN 1 h.
        public var tombstoneTime: Nanos
        /// A dead or left member may come back under a new address once it has been dead this
        /// long (memberlist's `DeadNodeReclaimTime`). Live members never change address. LAN 0
        /// (at once; ids are stable and persisted, so a new address means the node moved).
        public var deadNodeReclaimTime: Nanos
        /// Period of the tombstone sweep. LAN 10 s.
        public var reapInterval: Nanos
        /// Upper bound of one UDP packet on the wire. LAN 1400 B (memberlist's UDPBufferSize).
        public var maxPacketBytes: Int
        /// Bytes the shell adds to every packet (AES-GCM 29 B, label ≤ 2 + label length, framing).
        /// The instance packs messages into `maxPacketBytes − packetOverheadBytes`. LAN 64 B.
        public var packetOverheadBytes: Int
        /// Messages per compound packet (memberlist: a count byte). LAN 255.
        public var maxMessagesPerPacket: Int
        /// Broadcasts kept in the queue; beyond it the most-sent are dropped. LAN 4096.
        public var maxQueuedBroadcasts: Int
        /// Node metadata bound in bytes (memberlist's MetaMaxSize). LAN 512.
        public var maxMetaBytes: Int

        /// memberlist `DefaultLANConfig`.
        public static let lan = Settings(
            probeInterval: .seconds(1), probeTimeout: .ms(500), indirectChecks: 3, relayTimeoutFraction: 0.8,
            gossipInterval: .ms(200), gossipNodes: 3, gossipToTheDeadTime: .seconds(30),
            retransmitMult: 4, suspicionMult: 4, suspicionMaxTimeoutMult: 6,
            pushPullInterval: .seconds(30), reconnectInterval: .seconds(30), awarenessMaxMultiplier: 8,
            tombstoneTime: .seconds(3600), deadNodeReclaimTime: 0, reapInterval: .seconds(10),
            maxPacketBytes: 1400, packetOverheadBytes: 64, maxMessagesPerPacket: 255,
            maxQueuedBroadcasts: 4096, maxMetaBytes: 512)

        /// Fast timers for tests and loopback clusters (memberlist `DefaultLocalConfig` spirit):
        /// probe 200 ms, timeout 100 ms, 3 indirect checks, gossip 50 ms to 3, retransmit ×3,
        /// suspicion ×3 / max ×6 (0.6 s … 3.6 s at n ≤ 10), push-pull 5 s, reconnect 2 s,
        /// gossip-to-the-dead 5 s, tombstones 60 s.
        public static let local = Settings(
            probeInterval: .ms(200), probeTimeout: .ms(100), indirectChecks: 3, relayTimeoutFraction: 0.8,
            gossipInterval: .ms(50), gossipNodes: 3, gossipToTheDeadTime: .seconds(5),
            retransmitMult: 3, suspicionMult: 3, suspicionMaxTimeoutMult: 6,
            pushPullInterval: .seconds(5), reconnectInterval: .seconds(2), awarenessMaxMultiplier: 8,
            tombstoneTime: .seconds(60), deadNodeReclaimTime: 0, reapInterval: .seconds(5),
            maxPacketBytes: 1400, packetOverheadBytes: 64, maxMessagesPerPacket: 255,
            maxQueuedBroadcasts: 4096, maxMetaBytes: 512)

        public init(
            probeInterval: Nanos, probeTimeout: Nanos, indirectChecks: Int, relayTimeoutFraction: Double,
            gossipInterval: Nanos, gossipNodes: Int, gossipToTheDeadTime: Nanos,
            retransmitMult: Int, suspicionMult: Int, suspicionMaxTimeoutMult: Int,
            pushPullInterval: Nanos, reconnectInterval: Nanos, awarenessMaxMultiplier: Int,
            tombstoneTime: Nanos, deadNodeReclaimTime: Nanos, reapInterval: Nanos,
            maxPacketBytes: Int, packetOverheadBytes: Int, maxMessagesPerPacket: Int,
            maxQueuedBroadcasts: Int, maxMetaBytes: Int
        ) {
            self.probeInterval = probeInterval; self.probeTimeout = probeTimeout
            self.indirectChecks = indirectChecks; self.relayTimeoutFraction = relayTimeoutFraction
            self.gossipInterval = gossipInterval; self.gossipNodes = gossipNodes
            self.gossipToTheDeadTime = gossipToTheDeadTime
            self.retransmitMult = retransmitMult; self.suspicionMult = suspicionMult
            self.suspicionMaxTimeoutMult = suspicionMaxTimeoutMult
            self.pushPullInterval = pushPullInterval; self.reconnectInterval = reconnectInterval
            self.awarenessMaxMultiplier = awarenessMaxMultiplier
            self.tombstoneTime = tombstoneTime; self.deadNodeReclaimTime = deadNodeReclaimTime
            self.reapInterval = reapInterval
            self.maxPacketBytes = maxPacketBytes; self.packetOverheadBytes = packetOverheadBytes
            self.maxMessagesPerPacket = maxMessagesPerPacket; self.maxQueuedBroadcasts = maxQueuedBroadcasts
            self.maxMetaBytes = maxMetaBytes
        }

        /// Bytes available for messages in one packet.
        public var packetBudget: Int { maxPacketBytes - packetOverheadBytes }

        /// memberlist `retransmitLimit`: `retransmitMult × ⌈log10(n + 1)⌉`.
        public func retransmitLimit(nodes n: Int) -> Int {
            // ⌈log10(n + 1)⌉ in integers: the smallest d with 10^d ≥ n + 1.
            var d = 0, p = 1
            while p < max(n, 0) + 1 { p *= 10; d += 1 }
            return retransmitMult * max(d, 1)
        }

        /// memberlist `suspicionTimeout`: min = `suspicionMult × max(1, log10 n) × probeInterval`
        /// (log scale kept to 1/1000 as memberlist does), max = `suspicionMaxTimeoutMult × min`.
        public func suspicionBounds(nodes n: Int) -> (min: Nanos, max: Nanos) {
            let nodeScale = max(1.0, Double(max(1, n)).log10Value)
            let minT = UInt64(suspicionMult) * UInt64(nodeScale * 1000 + 1e-6) * probeInterval / 1000
            return (minT, UInt64(suspicionMaxTimeoutMult) * minT)
        }

        /// Confirmations expected before the suspicion timeout reaches its minimum:
        /// `suspicionMult − 2`, or 0 when fewer than that many other members could confirm.
        public func expectedConfirmations(nodes n: Int) -> Int {
            let k = max(0, suspicionMult - 2)
            return n - 2 < k ? 0 : k
        }

        /// memberlist `pushPullScale`: above 32 nodes the interval is multiplied by
        /// `⌈log2 n − log2 32⌉ + 1`.
        public func scaledPushPullInterval(nodes n: Int) -> Nanos {
            guard n > 32 else { return pushPullInterval }
            let mult = (Double(n).log2Value - 5.0 - 1e-9).rounded(.up) + 1
            return UInt64(mult) * pushPullInterval
        }
    }
}

extension Double {
    // Natural logs via the standard library only (no Foundation in cores).
    var lnValue: Double { Double.lnApprox(self) }
    var log10Value: Double { lnValue / 2.302585092994046 }
    var log2Value: Double { lnValue / 0.6931471805599453 }

    /// ln(x) for x > 0: range-reduce to [1, 2) by the exponent, then atanh series, accurate to
    /// ~1e-15 — enough for timeouts rounded to milliseconds.
    static func lnApprox(_ x: Double) -> Double {
        precondition(x > 0, "ln(\(x))")
        let e = Double(x.exponent)
        let m = x.significand  // [1, 2)
        let y = (m - 1) / (m + 1)
        let y2 = y * y
        var term = y, sum = 0.0, k = 1.0
        while k < 60 {
            sum += term / k
            term *= y2
            k += 2
            if term < 1e-18 { break }
        }
        return 2 * sum + e * 0.6931471805599453
    }
}
