import WRPCommon

/// SWIM failure detection and gossip with the Lifeguard extensions, as a pure state machine.
///
/// The design follows hashicorp/memberlist (mechanics, defaults, one file per concern) and
/// apple/swift-cluster-membership (a pure `Instance` returning directives to an I/O shell):
/// - `Instance` is the protocol: probing, indirect probing with nacks, suspicion, refutation,
///   gossip, push-pull anti-entropy, graceful leave, tombstones.
/// - `Suspicion` is Lifeguard's dynamic suspicion timeout, `Awareness` its local health multiplier,
///   `BroadcastQueue` memberlist's transmit-limited queue.
///
/// The shell owns sockets, encoding (protobuf), encryption and clocks; the simulator
/// (`Sources/Simulation`) interprets the same directives against virtual time.
///
/// References: Das, Gupta, Motivala, "SWIM" (DSN 2002); Dadgar, Phillips, Currey, "Lifeguard"
/// (arXiv 1707.00788); hashicorp/memberlist `state.go`, `suspicion.go`, `awareness.go`, `queue.go`.
public enum Membership {

    /// A member's liveness as seen by one node.
    ///
    /// Ordering at equal incarnation: `alive` < `suspect` < `dead`/`left`. A higher incarnation in an
    /// `alive` message overrides any status; `suspect` and `dead` apply to the known incarnation or a
    /// newer one.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case alive, suspect, dead, left

        /// True for `dead` and `left`: the member is not probed and is a tombstone until reclaimed.
        public var isDeadOrLeft: Bool { self == .dead || self == .left }
    }

    /// One cluster member as known locally.
    public struct Member: Sendable, Equatable, Hashable {
        /// Stable node id (persisted by the shell across restarts).
        public var id: String
        /// `"host:port"` of the member's gossip endpoint (UDP packets and TCP push-pull).
        public var address: String
        public var status: Status
        /// The member's own incarnation counter; only the member itself increments it (refutation).
        public var incarnation: UInt64
        /// Opaque node metadata (≤ `Settings.maxMetaBytes`), carried in `alive` and push-pull.
        public var meta: [UInt8]

        public init(id: String, address: String, status: Status, incarnation: UInt64, meta: [UInt8] = []) {
            self.id = id
            self.address = address
            self.status = status
            self.incarnation = incarnation
            self.meta = meta
        }
    }

    // MARK: Messages (wire payloads; protobuf-friendly: String, UInt64, UInt32, Bool, [UInt8])

    /// Direct probe. The target answers with `Ack(seqNo)` to `sourceAddress`.
    public struct Ping: Sendable, Equatable {
        public var seqNo: UInt32
        /// The id the prober expects at the address; a node with another id ignores the ping
        /// (a different process now listens there).
        public var targetID: String
        public var sourceID: String
        public var sourceAddress: String
        public init(seqNo: UInt32, targetID: String, sourceID: String, sourceAddress: String) {
            self.seqNo = seqNo; self.targetID = targetID; self.sourceID = sourceID; self.sourceAddress = sourceAddress
        }
    }

    /// Answer to a `Ping` (or forwarded by a relay for a `PingReq`), echoing the prober's `seqNo`.
    public struct Ack: Sendable, Equatable {
        public var seqNo: UInt32
        public init(seqNo: UInt32) { self.seqNo = seqNo }
    }

    /// Sent by a relay that could not reach the target of a `PingReq` in time (Lifeguard): it tells
    /// the prober that the relay itself is healthy, so the missing ack says nothing about the prober.
    public struct Nack: Sendable, Equatable {
        public var seqNo: UInt32
        public init(seqNo: UInt32) { self.seqNo = seqNo }
    }

    /// Indirect probe request: "ping `targetID` at `targetAddress` for me and forward its ack".
    public struct PingReq: Sendable, Equatable {
        public var seqNo: UInt32
        public var targetID: String
        public var targetAddress: String
        public var sourceID: String
        public var sourceAddress: String
        /// Whether the prober wants a `Nack` when the target does not answer.
        public var wantNack: Bool
        public init(seqNo: UInt32, targetID: String, targetAddress: String, sourceID: String, sourceAddress: String, wantNack: Bool) {
            self.seqNo = seqNo; self.targetID = targetID; self.targetAddress = targetAddress
            self.sourceID = sourceID; self.sourceAddress = sourceAddress; self.wantNack = wantNack
        }
    }

    /// "`fromID` suspects `id` at `incarnation`."
    public struct Suspect: Sendable, Equatable {
        public var incarnation: UInt64
        public var id: String
        public var fromID: String
        public init(incarnation: UInt64, id: String, fromID: String) {
            self.incarnation = incarnation; self.id = id; self.fromID = fromID
        }
    }

    /// "`id` is alive at `incarnation`, reachable at `address`."
    public struct Alive: Sendable, Equatable {
        public var incarnation: UInt64
        public var id: String
        public var address: String
        public var meta: [UInt8]
        public init(incarnation: UInt64, id: String, address: String, meta: [UInt8] = []) {
            self.incarnation = incarnation; self.id = id; self.address = address; self.meta = meta
        }
    }

    /// "`fromID` declares `id` dead at `incarnation`." With `fromID == id` it is a graceful leave
    /// (memberlist's encoding) and receivers record the member as `left`, not `dead`.
    public struct Dead: Sendable, Equatable {
        public var incarnation: UInt64
        public var id: String
        public var fromID: String
        public init(incarnation: UInt64, id: String, fromID: String) {
            self.incarnation = incarnation; self.id = id; self.fromID = fromID
        }
        /// True when this is a graceful leave.
        public var isLeave: Bool { id == fromID }
    }

    /// An opaque broadcast from the shell's state layer, disseminated epidemically by piggy-backing.
    ///
    /// Identity is `(originID, key)`; a newer `(originIncarnation, seqNo)` replaces an older one in
    /// every queue, and each node delivers a given version at most once (older versions arriving
    /// late are dropped, so a key behaves like a last-writer-wins register per origin).
    public struct UserBroadcast: Sendable, Equatable {
        public var originID: String
        /// The origin's incarnation when it sent; orders versions across restarts.
        public var originIncarnation: UInt64
        /// Per-origin counter, increasing within one incarnation.
        public var seqNo: UInt64
        public var key: String
        public var payload: [UInt8]
        public init(originID: String, originIncarnation: UInt64, seqNo: UInt64, key: String, payload: [UInt8]) {
            self.originID = originID; self.originIncarnation = originIncarnation; self.seqNo = seqNo
            self.key = key; self.payload = payload
        }
    }

    /// Everything that travels in a compound UDP packet.
    public enum Message: Sendable, Equatable {
        case ping(Ping)
        case ack(Ack)
        case nack(Nack)
        case pingReq(PingReq)
        case suspect(Suspect)
        case alive(Alive)
        /// Also graceful leave, when `fromID == id`.
        case dead(Dead)
        case user(UserBroadcast)
    }

    /// Full state exchanged over TCP on join and periodically (anti-entropy).
    public struct PushPullState: Sendable, Equatable {
        /// The sender's id (its own entry is among `members`).
        public var sourceID: String
        /// Every member the sender knows, including itself and tombstones.
        public var members: [Member]
        /// True when the sender is joining (the shell may log it; merging is the same).
        public var join: Bool
        /// Opaque, filled by the shell's state layer before sending and consumed by it on receipt;
        /// the instance leaves it empty and never reads it.
        public var userState: [UInt8]
        public init(sourceID: String, members: [Member], join: Bool, userState: [UInt8] = []) {
            self.sourceID = sourceID; self.members = members; self.join = join; self.userState = userState
        }
    }

    /// The timers an instance asks for. A timer that fires late or after its purpose is gone is
    /// harmless: the instance checks its state when told.
    public enum TimerID: Sendable, Hashable {
        /// Next probe round (interval scaled by awareness); also concludes the previous probe.
        case probe
        /// Direct-ack deadline of probe `seqNo`: start indirect probes.
        case probeTimeout(seqNo: UInt32)
        /// Relay deadline for a `PingReq` relayed under local `seqNo`: send a nack.
        case relayTimeout(seqNo: UInt32)
        /// Gossip round.
        case gossip
        /// Periodic push-pull with one random member.
        case pushPull
        /// Occasional push-pull with a dead member, so healed partitions merge (Serf's reconnect).
        case reconnect
        /// Suspicion deadline of member `id` (may be re-armed earlier by confirmations).
        case suspicion(id: String)
        /// Tombstone reclaim sweep.
        case reap
    }

    /// What the instance asks its shell to do, in order.
    public enum Directive: Sendable, Equatable {
        /// Send one compound UDP packet. The instance keeps
        /// `estimatedPacketSize(messages, settings)` ≤ `settings.maxPacketBytes`.
        case send(to: String, messages: [Message])
        /// Open a TCP connection to `to`, send `state` (after filling `userState`), read the peer's
        /// state and hand it to `onPushPull(_:from:isReply: true, now:)`.
        case pushPull(to: String, state: PushPullState)
        /// Answer an incoming push-pull on the same connection with `state` (fill `userState`).
        case replyPushPull(to: String, state: PushPullState)
        /// Call `onTimer(id, now:)` after `after` nanoseconds. Timers are never cancelled.
        case armTimer(TimerID, after: Nanos)
        /// A member's status, incarnation, address or meta changed (including self).
        case memberChanged(Member)
        /// A user broadcast arrived for the first time (at this version).
        case deliverUser(payload: [UInt8], key: String, from: String)
    }
}

// MARK: Size estimates

extension Membership {
    @inline(__always)
    static func varintSize(_ v: UInt64) -> Int {
        var n = 1, x = v
        while x >= 0x80 { x >>= 7; n += 1 }
        return n
    }
    /// Upper bound of a protobuf varint field: 2-byte tag (field numbers up to 2047) + value.
    @inline(__always)
    static func intField(_ v: UInt64) -> Int { 2 + varintSize(v) }
    /// Upper bound of a length-delimited field (string, bytes, nested message).
    @inline(__always)
    static func lenField(_ n: Int) -> Int { 2 + varintSize(UInt64(n)) + n }

    /// Upper bound of one message inside a compound packet, for a protobuf encoding
    /// `Packet { repeated Envelope messages = 1 }`, `Envelope { oneof { Ping ping = 1; … } }`
    /// with field numbers ≤ 2047: every field is counted with a 2-byte tag and its real varint
    /// length (proto3 omits zero values, which only makes the encoding smaller), plus 10 bytes of
    /// envelope framing (two tags and two length prefixes).
    public static let envelopeOverhead = 10
}

extension Membership.Message {
    /// Conservative encoded size in bytes, including its envelope (see `Membership.envelopeOverhead`).
    public var estimatedSize: Int {
        typealias M = Membership
        let body: Int
        switch self {
        case .ping(let p):
            body = M.intField(UInt64(p.seqNo)) + M.lenField(p.targetID.utf8.count)
                + M.lenField(p.sourceID.utf8.count) + M.lenField(p.sourceAddress.utf8.count)
        case .ack(let a):
            body = M.intField(UInt64(a.seqNo))
        case .nack(let n):
            body = M.intField(UInt64(n.seqNo))
        case .pingReq(let r):
            body = M.intField(UInt64(r.seqNo)) + M.lenField(r.targetID.utf8.count) + M.lenField(r.targetAddress.utf8.count)
                + M.lenField(r.sourceID.utf8.count) + M.lenField(r.sourceAddress.utf8.count) + M.intField(1)
        case .suspect(let s):
            body = M.intField(s.incarnation) + M.lenField(s.id.utf8.count) + M.lenField(s.fromID.utf8.count)
        case .alive(let a):
            body = M.intField(a.incarnation) + M.lenField(a.id.utf8.count) + M.lenField(a.address.utf8.count)
                + M.lenField(a.meta.count)
        case .dead(let d):
            body = M.intField(d.incarnation) + M.lenField(d.id.utf8.count) + M.lenField(d.fromID.utf8.count)
        case .user(let u):
            body = M.lenField(u.originID.utf8.count) + M.intField(u.originIncarnation) + M.intField(u.seqNo)
                + M.lenField(u.key.utf8.count) + M.lenField(u.payload.count)
        }
        return body + M.varintSize(UInt64(body)) + M.envelopeOverhead
    }
}

extension Membership {
    /// Conservative size of a compound packet: the messages plus the shell's fixed per-packet
    /// overhead (`settings.packetOverheadBytes`: encryption, label, framing).
    public static func estimatedPacketSize(_ messages: [Message], settings: Settings) -> Int {
        var total = settings.packetOverheadBytes
        for m in messages { total += m.estimatedSize }
        return total
    }

    /// Conservative size of a push-pull state (TCP), excluding `userState` framing overhead.
    public static func estimatedSize(of state: PushPullState) -> Int {
        var total = lenField(state.sourceID.utf8.count) + intField(1) + lenField(state.userState.count)
        for m in state.members {
            let body = lenField(m.id.utf8.count) + lenField(m.address.utf8.count) + intField(3)
                + intField(m.incarnation) + lenField(m.meta.count)
            total += lenField(body)
        }
        return total
    }
}
