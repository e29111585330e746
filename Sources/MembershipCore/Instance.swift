import WRPCommon

extension Membership {
    /// One node's SWIM + Lifeguard protocol state, as a pure state machine (memberlist `state.go`).
    ///
    /// Inputs are the `on…` methods with an explicit `now`; outputs are `Directive`s for the shell
    /// (send a packet, push-pull over TCP, arm a timer, report a member change, deliver a user
    /// broadcast). Every random choice uses the instance's own seeded generator.
    ///
    /// Protocol, per memberlist:
    /// - **Probe** every `probeInterval × (awareness + 1)`: the next member of a shuffled round-robin
    ///   list (re-shuffled at each wrap; new members inserted at a random later position; dead and
    ///   left members skipped). A ping to a suspect carries the suspicion (Lifeguard buddy system)
    ///   so the target can refute at once. No ack within `probeTimeout × (awareness + 1)` → a
    ///   `PingReq` through `indirectChecks` random live members asking for nacks. No ack by the end
    ///   of the interval → the target is suspected and awareness rises by the missing nacks.
    /// - **Suspicion** (`Suspicion`): dead after a timeout that shrinks from max to min with
    ///   independent confirmations; new confirmations are re-gossiped.
    /// - **Refutation**: hearing itself suspected or dead (or an `alive` about itself that differs),
    ///   a node takes incarnation max(own + 1, accused + 1), broadcasts `alive`, awareness + 1.
    /// - **Ordering**: `alive` needs a strictly higher incarnation to override anything; `suspect`
    ///   applies at the known incarnation or higher to an `alive` member; `dead` applies at the known
    ///   incarnation or higher to `alive` or `suspect`; `dead` with `fromID == id` records `left`.
    /// - **Gossip** every `gossipInterval` to `gossipNodes` random members (live, or dead for less
    ///   than `gossipToTheDeadTime`), each a packet of queued broadcasts; every outgoing packet
    ///   (pings, acks, …) also piggy-backs broadcasts up to the byte budget.
    /// - **Push-pull** every `scaledPushPullInterval(n)` with one random live member, and on join.
    /// - **Tombstones**: dead and left members are kept `tombstoneTime`, then forgotten.
    ///
    /// Deviations from memberlist (see docs/cluster.md):
    /// - No TCP ping fallback during probes (indirect probes only).
    /// - Members learned from a push-pull are not re-broadcast when they are *new* to us, except the
    ///   sender itself; changes to known members are. This keeps a join from queueing n `alive`s.
    /// - Stale-accusation correction: a `suspect`/`dead` received over UDP with an incarnation
    ///   below our record of an alive member (or of ourselves) is answered directly with our newer
    ///   `alive`, so a node that missed a refutation learns it before its suspicion times out.
    /// - A push-pull is answered after merging (so a refutation triggered by the merge is already
    ///   in the reply).
    /// - Reconnect (from Serf): every `reconnectInterval`, with probability dead / alive, push-pull
    ///   with a random dead member, so partitions heal after both sides declared each other dead.
    /// - Last-chance verification: a suspicion that expires with fewer than the expected
    ///   confirmations (memberlist's "degraded" case) first sends one buddy probe (ping + suspect,
    ///   direct and through `indirectChecks` relays) and waits one probe interval; an ack restarts
    ///   the suspicion, silence declares the member dead. Confirmed suspicions are unaffected.
    /// - The probe timeout scales with awareness too (Lifeguard paper, swift-cluster-membership).
    /// - Ack and nack deadlines are timers; the end of a probe is the next probe tick.
    ///
    /// Contracts: the shell MUST call `start` once before anything else, deliver every armed timer
    /// (late is fine), and keep `incarnation` at restart ≥ the last one it saw (persisted), or
    /// accept that the node refutes its own stale records on rejoin.
    public struct Instance: Sendable {
        /// Counters for metrics and tests.
        public struct Stats: Sendable, Equatable {
            public var probes = 0
            public var failedProbes = 0
            public var indirectProbes = 0
            public var nacksSent = 0
            public var refutes = 0
            public var suspicionsStarted = 0
            /// Suspicion timeouts that fired with fewer confirmations than expected
            /// (memberlist `degraded.timeout`).
            public var degradedTimeouts = 0
            /// Last-chance probes sent when a suspicion expired with too few confirmations.
            public var verificationProbes = 0
            public var declaredDead = 0
            /// `alive` messages for a live member at another address (dropped).
            public var addressConflicts = 0
            /// Direct `alive` answers to stale `suspect`/`dead` gossip.
            public var staleCorrections = 0
            public var packetsSent = 0
            public var pushPulls = 0
            public var reconnects = 0
            public var reaped = 0
        }

        struct NodeState: Sendable {
            var member: Member
            /// When `member.status` last changed.
            var stateChange: Instant
        }

        struct PendingProbe: Sendable {
            var seqNo: UInt32
            var targetID: String
            var targetAddress: String
            var indirectSent = false
            var expectedNacks = 0
            var nacks = 0
        }

        struct Relay: Sendable {
            var originAddress: String
            var originSeq: UInt32
            var wantNack: Bool
        }

        struct UserVersion: Sendable, Comparable {
            var incarnation: UInt64
            var seqNo: UInt64
            static func < (a: UserVersion, b: UserVersion) -> Bool {
                (a.incarnation, a.seqNo) < (b.incarnation, b.seqNo)
            }
        }

        public let settings: Settings
        public let id: String
        public let address: String
        public private(set) var awareness: Awareness
        public private(set) var stats = Stats()
        /// True once `leave` was called: no more probing, refuting or push-pull; gossip goes on.
        public private(set) var hasLeft = false

        private var nodes: [NodeState] = []
        private var index: [String: Int] = [:]
        private var statusCounts: [Status: Int] = [.alive: 0, .suspect: 0, .dead: 0, .left: 0]
        private var probeOrder: [String] = []
        private var probeIndex = 0
        private var probe: PendingProbe?
        private var relays: [UInt32: Relay] = [:]
        /// Last-chance verification probes: seqNo → suspect id.
        private var verifications: [UInt32: String] = [:]
        private var suspicions: [String: Suspicion] = [:]
        private var queue: BroadcastQueue
        private var rng: SeededRandom
        private var seq: UInt32 = 0
        private var userSeq: UInt64 = 0
        private var userSeen: [String: UserVersion] = [:]
        private var started = false
        private var out: [Directive] = []

        /// - Parameters:
        ///   - id: stable node id; MUST be unique in the cluster.
        ///   - address: this node's gossip `"host:port"` as others reach it.
        ///   - incarnation: the persisted incarnation (0 for a brand-new node); SHOULD be one more
        ///     than the last one used when restarting.
        ///   - seed: seeds every random choice.
        public init(settings: Settings, id: String, address: String, incarnation: UInt64, meta: [UInt8] = [], seed: UInt64) {
            precondition(settings.probeTimeout < settings.probeInterval,
                         "probeTimeout \(settings.probeTimeout) must be below probeInterval \(settings.probeInterval)")
            precondition(settings.packetBudget > 100, "packet budget \(settings.packetBudget) too small")
            self.settings = settings
            self.id = id
            self.address = address
            self.awareness = Awareness(max: settings.awarenessMaxMultiplier)
            self.queue = BroadcastQueue(capacity: settings.maxQueuedBroadcasts)
            self.rng = SeededRandom(seed: seed)
            insert(Member(id: id, address: address, status: .alive, incarnation: incarnation, meta: meta), now: .zero)
        }

        // MARK: Queries

        /// All known members including self and tombstones (dead/left until reclaimed), by id.
        public var members: [Member] { nodes.map(\.member).sorted { $0.id < $1.id } }
        /// The member with `id`, if known.
        public func member(_ id: String) -> Member? { index[id].map { nodes[$0].member } }
        /// Members whose status is `alive`, including self (unless it left).
        public var aliveCount: Int { statusCounts[.alive, default: 0] }
        /// Alive plus suspect members, including self: memberlist's node-count estimate.
        public var liveCount: Int { statusCounts[.alive, default: 0] + statusCounts[.suspect, default: 0] }
        /// This node's current incarnation (rises on refutation and meta updates).
        public var incarnation: UInt64 { nodes[index[id]!].member.incarnation }
        /// Broadcasts waiting for dissemination.
        public var queuedBroadcasts: Int { queue.count }
        /// The suspicion timer of a suspect member, if any.
        public func suspicion(of id: String) -> Suspicion? { suspicions[id] }
        /// The full local state, as sent in a push-pull (`userState` empty, for the shell to fill).
        public func pushPullState(join: Bool) -> PushPullState {
            PushPullState(sourceID: id, members: nodes.map(\.member), join: join)
        }

        // MARK: Inputs

        /// Arms the periodic timers (each with a random first delay so a fleet started together does
        /// not tick in lock-step) and reports self as alive.
        public mutating func start(now: Instant) -> [Directive] {
            precondition(!started, "start called twice on \(id)")
            started = true
            emitChanged(index[id]!)
            arm(.probe, after: stagger(settings.probeInterval))
            arm(.gossip, after: stagger(settings.gossipInterval))
            arm(.pushPull, after: stagger(settings.scaledPushPullInterval(nodes: liveCount)))
            if settings.reconnectInterval > 0 { arm(.reconnect, after: settings.reconnectInterval + stagger(settings.reconnectInterval)) }
            arm(.reap, after: settings.reapInterval)
            return drain()
        }

        /// Joins through `seeds` (gossip addresses): a push-pull with each; the shell reports each
        /// answer through `onPushPull(_:from:isReply: true, now:)`.
        public mutating func join(seeds: [String], now: Instant) -> [Directive] {
            for s in seeds where s != address {
                stats.pushPulls += 1
                out.append(.pushPull(to: s, state: pushPullState(join: true)))
            }
            return drain()
        }

        /// Installs a member view without broadcasting or reporting anything, as if a push-pull with
        /// every member had happened: for restoring a persisted view and for building large simulated
        /// clusters. Entries about self are ignored; a known member is replaced only by a higher
        /// incarnation.
        public mutating func adopt(_ members: [Member], now: Instant) {
            for m in members where m.id != id {
                if let i = index[m.id] {
                    guard m.incarnation > nodes[i].member.incarnation else { continue }
                    setStatus(i, m.status, now: now)
                    nodes[i].member = m
                } else {
                    insert(m, now: now)
                }
            }
            probeIndex = probeOrder.count  // re-shuffle at the next probe
        }

        /// Handles one received compound packet from `address` (the UDP source).
        public mutating func onMessages(_ messages: [Message], from address: String, now: Instant) -> [Directive] {
            for m in messages {
                switch m {
                case .ping(let p): handlePing(p, from: address)
                case .ack(let a): handleAck(a, now: now)
                case .nack(let n): handleNack(n)
                case .pingReq(let r): handlePingReq(r, from: address)
                case .suspect(let s): handleSuspect(s, now: now, staleReplyTo: address)
                case .alive(let a): handleAlive(a, now: now, announceNew: true)
                case .dead(let d): handleDead(d, now: now, staleReplyTo: address)
                case .user(let u): handleUser(u)
                }
            }
            return drain()
        }

        /// Merges a peer's full state: on an incoming push-pull (`isReply == false`, answered with
        /// `.replyPushPull` after merging) or on the answer to our own (`isReply == true`).
        /// Remote `alive` entries merge like `alive` messages (new members other than the sender
        /// are not re-broadcast); `left` like a leave; `suspect` and `dead` start a local suspicion
        /// (memberlist prefers suspecting to declaring dead on second-hand evidence).
        public mutating func onPushPull(_ remote: PushPullState, from address: String, isReply: Bool, now: Instant) -> [Directive] {
            for m in remote.members {
                switch m.status {
                case .alive:
                    handleAlive(Alive(incarnation: m.incarnation, id: m.id, address: m.address, meta: m.meta),
                                now: now, announceNew: m.id == remote.sourceID)
                case .left:
                    handleDead(Dead(incarnation: m.incarnation, id: m.id, fromID: m.id), now: now)
                case .suspect, .dead:
                    handleSuspect(Suspect(incarnation: m.incarnation, id: m.id, fromID: id), now: now)
                }
            }
            if !isReply { out.append(.replyPushPull(to: address, state: pushPullState(join: false))) }
            return drain()
        }

        /// A timer armed earlier fired (possibly late).
        public mutating func onTimer(_ timer: TimerID, now: Instant) -> [Directive] {
            switch timer {
            case .probe: probeTick(now: now)
            case .probeTimeout(let s): probeTimeout(seqNo: s)
            case .relayTimeout(let s): relayTimeout(seqNo: s)
            case .gossip:
                arm(.gossip, after: settings.gossipInterval)
                gossipRound(now: now)
            case .pushPull: pushPullTick(now: now)
            case .reconnect: reconnectTick(now: now)
            case .suspicion(let sid): suspicionFired(sid, now: now)
            case .reap: reap(now: now)
            }
            return drain()
        }

        /// Queues an opaque broadcast for dissemination; a later broadcast with the same `key`
        /// supersedes it everywhere. Returns false (and queues nothing) when the payload cannot fit
        /// in one packet. Keys SHOULD come from a bounded set: each node remembers the last version
        /// seen per (origin, key).
        @discardableResult
        public mutating func broadcastUser(key: String, payload: [UInt8]) -> Bool {
            userSeq += 1
            let u = UserBroadcast(originID: id, originIncarnation: incarnation, seqNo: userSeq, key: key, payload: payload)
            let msg = Message.user(u)
            guard msg.estimatedSize <= settings.packetBudget else { return false }
            let k = userKey(id, key)
            userSeen[k] = UserVersion(incarnation: u.originIncarnation, seqNo: u.seqNo)
            queue.enqueue(msg, key: k)
            return true
        }

        /// Replaces this node's metadata: incarnation + 1 and an `alive` broadcast (memberlist
        /// `UpdateNode`).
        public mutating func updateMeta(_ meta: [UInt8], now: Instant) -> [Directive] {
            precondition(meta.count <= settings.maxMetaBytes, "meta \(meta.count) B > \(settings.maxMetaBytes)")
            let i = index[id]!
            nodes[i].member.meta = meta
            nodes[i].member.incarnation += 1
            broadcastAlive(of: i)
            emitChanged(i)
            return drain()
        }

        /// Graceful leave: records self as `left`, broadcasts the leave and gossips it at once.
        /// Probing, refuting and push-pull stop; gossip continues until the shell stops calling
        /// (it SHOULD keep the node running for a few gossip intervals, e.g. 1 s on LAN).
        public mutating func leave(now: Instant) -> [Directive] {
            guard !hasLeft else { return [] }
            hasLeft = true
            probe = nil
            let me = nodes[index[id]!].member
            handleDead(Dead(incarnation: me.incarnation, id: id, fromID: id), now: now)
            gossipRound(now: now)
            return drain()
        }

        // MARK: Member table

        private mutating func insert(_ m: Member, now: Instant) {
            precondition(index[m.id] == nil, "insert of known member \(m.id)")
            index[m.id] = nodes.count
            nodes.append(NodeState(member: m, stateChange: now))
            statusCounts[m.status, default: 0] += 1
            if m.id != id && !m.status.isDeadOrLeft { addToProbeOrder(m.id) }
        }

        private mutating func remove(at i: Int) {
            let gone = nodes[i].member
            precondition(gone.id != id, "removing self")
            statusCounts[gone.status, default: 0] -= 1
            index[gone.id] = nil
            suspicions[gone.id] = nil
            let last = nodes.count - 1
            if i != last {
                nodes[i] = nodes[last]
                index[nodes[i].member.id] = i
            }
            nodes.removeLast()
        }

        private mutating func setStatus(_ i: Int, _ s: Status, now: Instant) {
            let old = nodes[i].member.status
            guard old != s else { return }
            statusCounts[old, default: 0] -= 1
            statusCounts[s, default: 0] += 1
            nodes[i].member.status = s
            nodes[i].stateChange = now
            if old.isDeadOrLeft && !s.isDeadOrLeft && nodes[i].member.id != id { addToProbeOrder(nodes[i].member.id) }
        }

        /// New members are probed within the current round: inserted at a random position after the
        /// cursor (memberlist inserts at a random offset too).
        private mutating func addToProbeOrder(_ mid: String) {
            probeOrder.append(mid)
            let span = probeOrder.count - probeIndex
            if span > 1 { probeOrder.swapAt(probeIndex + rng.below(span), probeOrder.count - 1) }
        }

        private mutating func rebuildProbeOrder() {
            probeOrder.removeAll(keepingCapacity: true)
            for n in nodes where n.member.id != id && !n.member.status.isDeadOrLeft { probeOrder.append(n.member.id) }
            var i = probeOrder.count - 1
            while i > 0 {
                probeOrder.swapAt(i, rng.below(i + 1))
                i -= 1
            }
            probeIndex = 0
        }

        private mutating func nextProbeTarget() -> Int? {
            var rebuilt = false
            while true {
                if probeIndex >= probeOrder.count {
                    if rebuilt { return nil }
                    rebuildProbeOrder()
                    rebuilt = true
                    if probeOrder.isEmpty { return nil }
                }
                let tid = probeOrder[probeIndex]
                probeIndex += 1
                if let i = index[tid], tid != id, !nodes[i].member.status.isDeadOrLeft { return i }
            }
        }

        /// Up to `k` distinct random members passing `filter` (memberlist `kRandomNodes`: at most
        /// 3n draws).
        private mutating func randomNodes(_ k: Int, _ filter: (NodeState) -> Bool) -> [Int] {
            var picked: [Int] = []
            let n = nodes.count
            guard k > 0, n > 0 else { return picked }
            var tries = 0
            while picked.count < k && tries < 3 * n {
                tries += 1
                let i = rng.below(n)
                if picked.contains(i) || !filter(nodes[i]) { continue }
                picked.append(i)
            }
            return picked
        }

        // MARK: Status rules

        private mutating func handleAlive(_ a: Alive, now: Instant, announceNew: Bool) {
            if a.id == id {
                guard !hasLeft else { return }
                let me = nodes[index[id]!].member
                if a.incarnation < me.incarnation { return }
                if a.incarnation == me.incarnation && a.address == me.address && a.meta == me.meta { return }
                // Someone believes in a newer (or different) us: a stale record from a previous life.
                refute(accused: a.incarnation)
                return
            }
            guard let i = index[a.id] else {
                insert(Member(id: a.id, address: a.address, status: .alive, incarnation: a.incarnation, meta: a.meta), now: now)
                if announceNew { queue.enqueue(.alive(a), key: memberKey(a.id)) }
                emitChanged(index[a.id]!)
                return
            }
            let known = nodes[i]
            var reclaim = false
            if a.address != known.member.address {
                guard known.member.status.isDeadOrLeft, now - known.stateChange >= settings.deadNodeReclaimTime else {
                    stats.addressConflicts += 1
                    return
                }
                reclaim = true
            }
            if a.incarnation <= known.member.incarnation && !reclaim { return }
            suspicions[a.id] = nil
            nodes[i].member.incarnation = a.incarnation
            nodes[i].member.address = a.address
            nodes[i].member.meta = a.meta
            setStatus(i, .alive, now: now)
            queue.enqueue(.alive(a), key: memberKey(a.id))
            emitChanged(i)
        }

        private mutating func handleSuspect(_ s: Suspect, now: Instant, staleReplyTo: String? = nil) {
            guard let i = index[s.id] else { return }
            if s.incarnation < nodes[i].member.incarnation {
                correctStale(i, replyTo: staleReplyTo)
                return
            }
            if var sus = suspicions[s.id] {
                if sus.confirm(from: s.fromID) {
                    suspicions[s.id] = sus
                    queue.enqueue(.suspect(s), key: memberKey(s.id))
                    arm(.suspicion(id: s.id), after: sus.deadline - now)
                }
                return
            }
            guard nodes[i].member.status == .alive else { return }
            if s.id == id {
                refute(accused: s.incarnation)
                return
            }
            queue.enqueue(.suspect(s), key: memberKey(s.id))
            nodes[i].member.incarnation = s.incarnation
            setStatus(i, .suspect, now: now)
            let n = liveCount
            let bounds = settings.suspicionBounds(nodes: n)
            let sus = Suspicion(accuser: s.fromID, expected: settings.expectedConfirmations(nodes: n),
                                min: bounds.min, max: bounds.max, start: now)
            suspicions[s.id] = sus
            stats.suspicionsStarted += 1
            arm(.suspicion(id: s.id), after: sus.timeout)
            emitChanged(i)
        }

        private mutating func handleDead(_ d: Dead, now: Instant, staleReplyTo: String? = nil) {
            guard let i = index[d.id] else { return }
            if d.incarnation < nodes[i].member.incarnation {
                correctStale(i, replyTo: staleReplyTo)
                return
            }
            suspicions[d.id] = nil
            if nodes[i].member.status.isDeadOrLeft { return }
            if d.id == id && !hasLeft {
                refute(accused: d.incarnation)
                return
            }
            queue.enqueue(.dead(d), key: memberKey(d.id))
            if !verifications.isEmpty { verifications = verifications.filter { $0.value != d.id } }
            nodes[i].member.incarnation = d.incarnation
            setStatus(i, d.isLeave ? .left : .dead, now: now)
            emitChanged(i)
        }

        /// Stale-accusation correction (not in memberlist): a gossiped `suspect`/`dead` older than
        /// our `alive` record means the sender missed a refutation; answer it directly with the
        /// newer `alive` so its own suspicion cannot time out into a false `dead`.
        private mutating func correctStale(_ i: Int, replyTo: String?) {
            guard let to = replyTo, nodes[i].member.status == .alive, !(hasLeft && nodes[i].member.id == id) else { return }
            let m = nodes[i].member
            stats.staleCorrections += 1
            sendPacket(to: to, [.alive(Alive(incarnation: m.incarnation, id: m.id, address: m.address, meta: m.meta))])
        }

        private mutating func suspicionFired(_ sid: String, now: Instant) {
            guard var sus = suspicions[sid], now >= sus.deadline, let i = index[sid],
                  nodes[i].member.status == .suspect else { return }
            let target = nodes[i].member
            if sus.confirmations < sus.expected && !sus.verified && !hasLeft {
                // Degraded (too few confirmations): one last buddy probe, direct and indirect,
                // carrying the suspicion so a live target that missed it refutes to us directly.
                sus.verified = true
                suspicions[sid] = sus
                seq &+= 1
                verifications[seq] = sid
                stats.verificationProbes += 1
                sendPacket(to: target.address, [
                    .ping(Ping(seqNo: seq, targetID: sid, sourceID: id, sourceAddress: address)),
                    .suspect(Suspect(incarnation: target.incarnation, id: sid, fromID: id)),
                ])
                let me = id
                let relays = randomNodes(settings.indirectChecks) { n in
                    n.member.status == .alive && n.member.id != me && n.member.id != sid
                }
                let req = PingReq(seqNo: seq, targetID: sid, targetAddress: target.address,
                                  sourceID: id, sourceAddress: address, wantNack: false)
                for r in relays { sendPacket(to: nodes[r].member.address, [.pingReq(req)]) }
                arm(.suspicion(id: sid), after: awareness.scale(settings.probeInterval))
                return
            }
            if sus.confirmations < sus.expected { stats.degradedTimeouts += 1 }
            stats.declaredDead += 1
            handleDead(Dead(incarnation: target.incarnation, id: sid, fromID: id), now: now)
        }

        /// An ack to a verification probe: the suspect answers but its refutation has not reached
        /// us; restart the suspicion (same accuser) instead of declaring it dead.
        private mutating func verificationAcked(_ sid: String, now: Instant) {
            guard let sus = suspicions[sid], let i = index[sid], nodes[i].member.status == .suspect else { return }
            let fresh = Suspicion(accuser: sus.accuser, expected: sus.expected, min: sus.minTimeout, max: sus.maxTimeout, start: now)
            suspicions[sid] = fresh
            arm(.suspicion(id: sid), after: fresh.timeout)
        }

        private mutating func refute(accused: UInt64) {
            let i = index[id]!
            var inc = nodes[i].member.incarnation + 1
            if accused >= inc { inc = accused + 1 }
            nodes[i].member.incarnation = inc
            awareness.apply(1)
            stats.refutes += 1
            broadcastAlive(of: i)
            emitChanged(i)
        }

        private mutating func broadcastAlive(of i: Int) {
            let m = nodes[i].member
            queue.enqueue(.alive(Alive(incarnation: m.incarnation, id: m.id, address: m.address, meta: m.meta)),
                          key: memberKey(m.id))
        }

        private mutating func handleUser(_ u: UserBroadcast) {
            guard u.originID != id else { return }
            let k = userKey(u.originID, u.key)
            let v = UserVersion(incarnation: u.originIncarnation, seqNo: u.seqNo)
            if let seen = userSeen[k], !(seen < v) { return }
            userSeen[k] = v
            out.append(.deliverUser(payload: u.payload, key: u.key, from: u.originID))
            queue.enqueue(.user(u), key: k)
        }

        // MARK: Probing

        private mutating func probeTick(now: Instant) {
            guard !hasLeft else { return }
            concludeProbe(now: now)
            arm(.probe, after: awareness.scale(settings.probeInterval))
            guard let i = nextProbeTarget() else { return }
            let target = nodes[i].member
            seq &+= 1
            probe = PendingProbe(seqNo: seq, targetID: target.id, targetAddress: target.address)
            stats.probes += 1
            var msgs: [Message] = [.ping(Ping(seqNo: seq, targetID: target.id, sourceID: id, sourceAddress: address))]
            if target.status == .suspect {
                msgs.append(.suspect(Suspect(incarnation: target.incarnation, id: target.id, fromID: id)))
            }
            sendPacket(to: target.address, msgs)
            arm(.probeTimeout(seqNo: seq), after: awareness.scale(settings.probeTimeout))
        }

        /// The probe interval ended: without an ack the target is suspected.
        private mutating func concludeProbe(now: Instant) {
            guard let p = probe else { return }
            probe = nil
            stats.failedProbes += 1
            awareness.apply(p.expectedNacks > 0 ? max(0, p.expectedNacks - p.nacks) : 1)
            guard let i = index[p.targetID], !nodes[i].member.status.isDeadOrLeft else { return }
            handleSuspect(Suspect(incarnation: nodes[i].member.incarnation, id: p.targetID, fromID: id), now: now)
        }

        private mutating func probeTimeout(seqNo: UInt32) {
            guard var p = probe, p.seqNo == seqNo, !p.indirectSent else { return }
            p.indirectSent = true
            let me = id, target = p.targetID
            let relays = randomNodes(settings.indirectChecks) { n in
                n.member.status == .alive && n.member.id != me && n.member.id != target
            }
            let req = PingReq(seqNo: seqNo, targetID: p.targetID, targetAddress: p.targetAddress,
                              sourceID: id, sourceAddress: address, wantNack: true)
            for r in relays { sendPacket(to: nodes[r].member.address, [.pingReq(req)]) }
            p.expectedNacks = relays.count
            probe = p
            stats.indirectProbes += 1
        }

        private mutating func handlePing(_ p: Ping, from: String) {
            guard p.targetID.isEmpty || p.targetID == id else { return }
            sendPacket(to: p.sourceAddress.isEmpty ? from : p.sourceAddress, [.ack(Ack(seqNo: p.seqNo))])
        }

        private mutating func handleAck(_ a: Ack, now: Instant) {
            if let p = probe, p.seqNo == a.seqNo {
                probe = nil
                awareness.apply(-1)
            } else if let r = relays.removeValue(forKey: a.seqNo) {
                sendPacket(to: r.originAddress, [.ack(Ack(seqNo: r.originSeq))])
            } else if let sid = verifications.removeValue(forKey: a.seqNo) {
                verificationAcked(sid, now: now)
            }
        }

        private mutating func handleNack(_ n: Nack) {
            if var p = probe, p.seqNo == n.seqNo {
                p.nacks += 1
                probe = p
            }
        }

        private mutating func handlePingReq(_ r: PingReq, from: String) {
            seq &+= 1
            relays[seq] = Relay(originAddress: r.sourceAddress.isEmpty ? from : r.sourceAddress,
                                originSeq: r.seqNo, wantNack: r.wantNack)
            sendPacket(to: r.targetAddress, [.ping(Ping(seqNo: seq, targetID: r.targetID, sourceID: id, sourceAddress: address))])
            arm(.relayTimeout(seqNo: seq), after: Nanos(Double(settings.probeTimeout) * settings.relayTimeoutFraction))
        }

        private mutating func relayTimeout(seqNo: UInt32) {
            guard let r = relays.removeValue(forKey: seqNo), r.wantNack else { return }
            stats.nacksSent += 1
            sendPacket(to: r.originAddress, [.nack(Nack(seqNo: r.originSeq))])
        }

        // MARK: Gossip, push-pull, reconnect, reap

        private mutating func gossipRound(now: Instant) {
            guard !queue.isEmpty else { return }
            let me = id, ttd = settings.gossipToTheDeadTime
            let targets = randomNodes(settings.gossipNodes) { n in
                guard n.member.id != me else { return false }
                switch n.member.status {
                case .alive, .suspect: return true
                case .dead: return now - n.stateChange <= ttd
                case .left: return false
                }
            }
            let limit = settings.retransmitLimit(nodes: liveCount)
            for t in targets {
                let msgs = queue.take(budget: settings.packetBudget, maxCount: settings.maxMessagesPerPacket, transmitLimit: limit)
                if msgs.isEmpty { break }
                stats.packetsSent += 1
                out.append(.send(to: nodes[t].member.address, messages: msgs))
            }
        }

        private mutating func pushPullTick(now: Instant) {
            arm(.pushPull, after: settings.scaledPushPullInterval(nodes: liveCount))
            guard !hasLeft else { return }
            let me = id
            guard let t = randomNodes(1, { $0.member.status == .alive && $0.member.id != me }).first else { return }
            stats.pushPulls += 1
            out.append(.pushPull(to: nodes[t].member.address, state: pushPullState(join: false)))
        }

        private mutating func reconnectTick(now: Instant) {
            arm(.reconnect, after: settings.reconnectInterval)
            let dead = statusCounts[.dead, default: 0]
            guard !hasLeft, dead > 0 else { return }
            let prob = Double(dead) / Double(max(1, aliveCount))
            guard rng.unit() < prob else { return }
            let me = id
            guard let t = randomNodes(1, { $0.member.status == .dead && $0.member.id != me }).first else { return }
            stats.reconnects += 1
            out.append(.pushPull(to: nodes[t].member.address, state: pushPullState(join: false)))
        }

        private mutating func reap(now: Instant) {
            arm(.reap, after: settings.reapInterval)
            guard statusCounts[.dead, default: 0] + statusCounts[.left, default: 0] > 0 else { return }
            var i = nodes.count - 1
            while i >= 0 {
                let n = nodes[i]
                if n.member.id != id, n.member.status.isDeadOrLeft, now - n.stateChange > settings.tombstoneTime {
                    remove(at: i)
                    stats.reaped += 1
                }
                i -= 1
            }
        }

        // MARK: Output

        /// Sends `primary` plus as many queued broadcasts as fit in the packet budget.
        private mutating func sendPacket(to target: String, _ primary: [Message]) {
            var used = 0
            for m in primary { used += m.estimatedSize }
            precondition(used <= settings.packetBudget, "primary messages \(used) B exceed budget \(settings.packetBudget) B")
            var msgs = primary
            if !queue.isEmpty {
                msgs += queue.take(budget: settings.packetBudget - used,
                                   maxCount: settings.maxMessagesPerPacket - primary.count,
                                   transmitLimit: settings.retransmitLimit(nodes: liveCount))
            }
            stats.packetsSent += 1
            out.append(.send(to: target, messages: msgs))
        }

        private mutating func arm(_ t: TimerID, after: Nanos) { out.append(.armTimer(t, after: after)) }

        private mutating func emitChanged(_ i: Int) { out.append(.memberChanged(nodes[i].member)) }

        private mutating func stagger(_ d: Nanos) -> Nanos { d == 0 ? 0 : UInt64(rng.below(Int(clamping: d))) }

        private mutating func drain() -> [Directive] {
            var r: [Directive] = []
            swap(&r, &out)
            return r
        }

        private func memberKey(_ mid: String) -> String { "m/" + mid }
        private func userKey(_ origin: String, _ key: String) -> String { "u/" + origin + "/" + key }
    }
}
