import WRPCommon
import MembershipCore

/// Conditions of the simulated network. UDP packets are lost and duplicated independently;
/// push-pull (TCP) is never lost or duplicated but is cut by partitions and dead nodes.
public struct NetworkConditions: Sendable, Equatable {
    /// One-way delay, uniform in `minDelay … maxDelay`.
    public var minDelay: Nanos
    public var maxDelay: Nanos
    /// Probability that a UDP packet is dropped.
    public var loss: Double
    /// Probability that a delivered UDP packet arrives a second time (with its own delay).
    public var duplication: Double

    public init(minDelay: Nanos = .ms(1), maxDelay: Nanos = .ms(5), loss: Double = 0, duplication: Double = 0) {
        precondition(minDelay <= maxDelay, "minDelay \(minDelay) > maxDelay \(maxDelay)")
        self.minDelay = minDelay; self.maxDelay = maxDelay; self.loss = loss; self.duplication = duplication
    }

    /// 1–5 ms one way, no loss, no duplication.
    public static let lan = NetworkConditions()
}

/// A deterministic simulator of a membership cluster: a virtual clock, an event queue and a faulty
/// in-memory network running real `Membership.Instance`s by interpreting their directives — the same
/// `switch` a shell runs against libuv, here against virtual time.
///
/// Everything random (delays, loss, duplication, each instance's choices) derives from `seed`, so a
/// failing run replays exactly; tests put `sim.seed` in every expectation message.
///
/// Faults: per-packet delay, loss and duplication (`network`), partitions (`partition(_:_:)`,
/// `heal()`: checked at delivery, so packets in flight are cut too), `pause`/`resume` (events for a
/// paused node wait and are handled on resume, like a SIGSTOPped process), `kill`/`restart`
/// (a killed node's timers and inbound packets vanish; a restart is a new instance with the same id
/// and address and a chosen incarnation, joining through a live node).
///
/// Bandwidth: each UDP packet counts `Membership.estimatedPacketSize` bytes to its sender; each
/// push-pull counts `Membership.estimatedSize(of:)` to its sender (separately).
public final class ClusterSimulator {
    enum Event {
        case packet(to: Int, from: Int, messages: [Membership.Message])
        case pushPull(to: Int, from: Int, state: Membership.PushPullState, isReply: Bool)
        case timer(node: Int, epoch: Int, id: Membership.TimerID)
    }

    struct Node {
        var id: String
        var address: String
        var instance: Membership.Instance
        var up = true
        var paused = false
        var epoch = 0
        var restarts = 0
        var backlog: [Event] = []
    }

    /// How the initial cluster is formed.
    public enum Formation: Sendable {
        /// Every node starts with the full member view (`Membership.Instance.adopt`), no join
        /// traffic: for large clusters.
        case bootstrap
        /// Node 0 starts alone; every other node joins through it by push-pull at start.
        case join
    }

    public let seed: UInt64
    public let settings: Membership.Settings
    public var network: NetworkConditions
    public private(set) var now: Instant = .zero
    /// Called for every `memberChanged` directive: (observer id, member, time). For tracing.
    public var onMemberChanged: ((String, Membership.Member, Instant) -> Void)?

    private var nodes: [Node] = []
    private var byAddress: [String: Int] = [:]
    private var byID: [String: Int] = [:]
    private var events = EventQueue<Event>()
    private var rng: SeededRandom
    private var group: [Int]

    /// UDP bytes sent per node (estimated sizes) since the last `resetCounters()`.
    public private(set) var udpBytesSent: [UInt64]
    /// Push-pull bytes sent per node since the last `resetCounters()`.
    public private(set) var tcpBytesSent: [UInt64]
    public private(set) var packetsSent: UInt64 = 0
    public private(set) var packetsLost: UInt64 = 0
    /// Largest estimated packet seen and the number over `settings.maxPacketBytes`.
    public private(set) var largestPacket = 0
    public private(set) var oversizedPackets = 0
    public private(set) var eventsProcessed: UInt64 = 0
    public private(set) var countersSince: Instant = .zero

    private struct Tracked {
        var origin: Int
        var start: Instant
        var delivered: [Bool]
        var times: [Nanos] = []
    }
    private var tracked: [String: Tracked] = [:]
    /// Watched member id → observer index → first time it reported the member dead or left.
    private var deadSeen: [String: [Int: Instant]] = [:]

    /// Creates `count` nodes `n0 … n<count-1>` at `10.a.b.1:7946` and starts them.
    public init(nodes count: Int, settings: Membership.Settings, network: NetworkConditions = .lan,
                seed: UInt64, formation: Formation = .bootstrap) {
        precondition(count > 0 && count < 65_536, "node count \(count)")
        self.seed = seed
        self.settings = settings
        self.network = network
        self.rng = SeededRandom(seed: seed)
        self.group = Array(repeating: 0, count: count)
        self.udpBytesSent = Array(repeating: 0, count: count)
        self.tcpBytesSent = Array(repeating: 0, count: count)
        for i in 0..<count {
            let id = "n\(i)"
            let addr = "10.\(i / 256).\(i % 256).1:7946"
            let inst = Membership.Instance(settings: settings, id: id, address: addr, incarnation: 0,
                                           seed: Self.nodeSeed(seed, i, 0))
            nodes.append(Node(id: id, address: addr, instance: inst))
            byAddress[addr] = i
            byID[id] = i
        }
        switch formation {
        case .bootstrap:
            let all = nodes.map {
                Membership.Member(id: $0.id, address: $0.address, status: .alive, incarnation: 0)
            }
            for i in 0..<count {
                nodes[i].instance.adopt(all, now: now)
                apply(i, nodes[i].instance.start(now: now))
            }
        case .join:
            for i in 0..<count {
                apply(i, nodes[i].instance.start(now: now))
                if i > 0 { apply(i, nodes[i].instance.join(seeds: [nodes[0].address], now: now)) }
            }
        }
    }

    static func nodeSeed(_ seed: UInt64, _ i: Int, _ restarts: Int) -> UInt64 {
        seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(restarts) &* 0xD1B5_4A32_D192_ED03)
    }

    // MARK: Queries

    public var count: Int { nodes.count }
    public var ids: [String] { nodes.map(\.id) }
    /// Ids of nodes that are running (not killed); paused nodes count as up.
    public var upIDs: [String] { nodes.filter(\.up).map(\.id) }
    public func address(of id: String) -> String { nodes[index(id)].address }
    public func isUp(_ id: String) -> Bool { nodes[index(id)].up }
    /// The running instance of `id` (its state even if killed: the last one).
    public func instance(_ id: String) -> Membership.Instance { nodes[index(id)].instance }
    /// What `observer` believes about `subject`.
    public func view(of subject: String, at observer: String) -> Membership.Member? {
        nodes[index(observer)].instance.member(subject)
    }
    /// Up nodes (other than `subject`) whose view of `subject` has `status`.
    public func observers(of subject: String, withStatus status: Membership.Status) -> Int {
        var n = 0
        for node in nodes where node.up && node.id != subject {
            if node.instance.member(subject)?.status == status { n += 1 }
        }
        return n
    }
    /// True when every up node other than `subject` sees `subject` with `status`.
    public func allUpNodes(see subject: String, as status: Membership.Status) -> Bool {
        for node in nodes where node.up && node.id != subject {
            if node.instance.member(subject)?.status != status { return false }
        }
        return true
    }
    /// True when every up node sees every up node alive and every down node not alive.
    public var converged: Bool {
        for o in nodes where o.up {
            for s in nodes where s.id != o.id {
                let st = o.instance.member(s.id)?.status
                if s.up ? st != .alive : st == .alive { return false }
            }
        }
        return true
    }
    /// The number of (observer, subject) pairs among up nodes where the observer does not see the
    /// subject alive.
    public var disagreements: Int {
        var n = 0
        for o in nodes where o.up {
            for s in nodes where s.up && s.id != o.id && o.instance.member(s.id)?.status != .alive { n += 1 }
        }
        return n
    }
    /// Up nodes whose view of some other up node is `dead` (false positives when nothing was killed).
    public var falseDeadPairs: Int {
        var n = 0
        for o in nodes where o.up {
            for s in nodes where s.up && s.id != o.id && o.instance.member(s.id)?.status == .dead { n += 1 }
        }
        return n
    }

    // MARK: Running

    /// Processes events up to and including `t`, then sets the clock to `t`.
    public func run(until t: Instant) {
        while let next = events.nextTime, next <= t {
            let (time, ev) = events.pop()!
            now = time
            eventsProcessed += 1
            process(ev)
        }
        if now < t { now = t }
    }

    public func run(for d: Nanos) { run(until: now + d) }

    /// Runs in `step`s until `condition` holds (returns the time) or `deadline` passes (nil).
    @discardableResult
    public func runUntil(deadline: Instant, step: Nanos = .ms(50), _ condition: () -> Bool) -> Instant? {
        while true {
            if condition() { return now }
            if now >= deadline { return nil }
            run(until: min(now + step, deadline))
        }
    }

    // MARK: Faults

    /// Stops `id` abruptly: its pending timers and any packets to it vanish.
    public func kill(_ id: String) {
        let i = index(id)
        nodes[i].up = false
        nodes[i].paused = false
        nodes[i].backlog = []
        nodes[i].epoch += 1
    }

    /// Starts a fresh instance for `id` at its old address with `incarnation` and joins it through
    /// `seeds` (default: the first other up node).
    public func restart(_ id: String, incarnation: UInt64, seeds: [String]? = nil) {
        let i = index(id)
        precondition(!nodes[i].up, "restart of running node \(id) (seed \(seed))")
        nodes[i].restarts += 1
        nodes[i].epoch += 1
        nodes[i].up = true
        nodes[i].instance = Membership.Instance(settings: settings, id: id, address: nodes[i].address,
                                                incarnation: incarnation, seed: Self.nodeSeed(seed, i, nodes[i].restarts))
        apply(i, nodes[i].instance.start(now: now))
        let via = seeds ?? nodes.first(where: { $0.up && $0.id != id }).map { [$0.address] } ?? []
        apply(i, nodes[i].instance.join(seeds: via, now: now))
    }

    /// `id` stops handling events until `resume`; what arrives meanwhile waits.
    public func pause(_ id: String) { nodes[index(id)].paused = true }

    /// Handles everything that waited for `id`, at the current time and in arrival order.
    public func resume(_ id: String) {
        let i = index(id)
        nodes[i].paused = false
        let backlog = nodes[i].backlog
        nodes[i].backlog = []
        for ev in backlog { process(ev) }
    }

    /// Graceful leave of `id` (it keeps running and gossiping; kill it later to stop it).
    public func leave(_ id: String) {
        let i = index(id)
        apply(i, nodes[i].instance.leave(now: now))
    }

    /// Nodes in `a` and nodes in `b` can no longer reach each other (replaces any partition).
    public func partition(_ a: [String], _ b: [String]) {
        for k in group.indices { group[k] = 0 }
        for id in a { group[index(id)] = 1 }
        for id in b { group[index(id)] = 2 }
    }

    /// Removes every partition.
    public func heal() { for k in group.indices { group[k] = 0 } }

    // MARK: User broadcasts and detection tracking

    /// Broadcasts `payload` under `key` from `id` and tracks who delivers it.
    public func broadcast(from id: String, key: String, payload: [UInt8]) {
        let i = index(id)
        precondition(nodes[i].instance.broadcastUser(key: key, payload: payload),
                     "payload of \(payload.count) B does not fit a packet (seed \(seed))")
        var delivered = Array(repeating: false, count: nodes.count)
        delivered[i] = true
        tracked[key] = Tracked(origin: i, start: now, delivered: delivered)
    }

    /// Fraction of up nodes (the origin included) that have `key`.
    public func deliveredFraction(_ key: String) -> Double {
        guard let t = tracked[key] else { return 0 }
        var up = 0, have = 0
        for (i, n) in nodes.enumerated() where n.up {
            up += 1
            if t.delivered[i] { have += 1 }
        }
        return up == 0 ? 0 : Double(have) / Double(up)
    }

    /// Time after the broadcast by which `fraction` of all nodes (origin included) had `key`.
    public func timeToDeliver(_ key: String, fraction: Double) -> Nanos? {
        guard let t = tracked[key] else { return nil }
        let needed = Int((fraction * Double(nodes.count)).rounded(.up)) - 1  // minus the origin
        if needed <= 0 { return 0 }
        guard t.times.count >= needed else { return nil }
        return t.times.sorted()[needed - 1]
    }

    /// Starts recording, per observer, when it first reports `id` dead or left.
    public func watch(_ id: String) { deadSeen[id] = [:] }

    /// For a watched `id`: the delay from `since` to each up observer's first dead/left report.
    public func detectionDelays(of id: String, since: Instant) -> [Nanos] {
        guard let seen = deadSeen[id] else { return [] }
        return seen.compactMap { (obs, t) in nodes[obs].up ? t - since : nil }.sorted()
    }

    /// Zeroes the bandwidth counters (to measure a window).
    public func resetCounters() {
        for k in udpBytesSent.indices { udpBytesSent[k] = 0; tcpBytesSent[k] = 0 }
        packetsSent = 0
        packetsLost = 0
        countersSince = now
    }

    /// Mean UDP bytes per second sent per up node since the last `resetCounters()`.
    public var meanUDPBytesPerSecond: Double {
        let secs = Double(now - countersSince) / 1e9
        guard secs > 0 else { return 0 }
        var total: UInt64 = 0, up = 0
        for (i, n) in nodes.enumerated() where n.up { total += udpBytesSent[i]; up += 1 }
        return Double(total) / Double(max(up, 1)) / secs
    }

    /// Largest per-node UDP bytes per second since the last `resetCounters()`.
    public var maxUDPBytesPerSecond: Double {
        let secs = Double(now - countersSince) / 1e9
        guard secs > 0 else { return 0 }
        return Double(udpBytesSent.max() ?? 0) / secs
    }

    // MARK: Directive interpreter

    private func index(_ id: String) -> Int {
        guard let i = byID[id] else { preconditionFailure("unknown node \(id) (seed \(seed))") }
        return i
    }

    private func delay() -> Nanos {
        let span = network.maxDelay - network.minDelay
        return network.minDelay + (span == 0 ? 0 : UInt64(rng.below(Int(clamping: span + 1))))
    }

    private func reachable(_ a: Int, _ b: Int) -> Bool {
        group[a] == 0 || group[b] == 0 || group[a] == group[b]
    }

    private func process(_ ev: Event) {
        switch ev {
        case .timer(let i, let epoch, let tid):
            guard nodes[i].up, nodes[i].epoch == epoch else { return }
            if nodes[i].paused { nodes[i].backlog.append(ev); return }
            apply(i, nodes[i].instance.onTimer(tid, now: now))
        case .packet(let to, let from, let messages):
            guard nodes[to].up, reachable(from, to) else { return }
            if nodes[to].paused { nodes[to].backlog.append(ev); return }
            apply(to, nodes[to].instance.onMessages(messages, from: nodes[from].address, now: now))
        case .pushPull(let to, let from, let state, let isReply):
            guard nodes[to].up, reachable(from, to) else { return }
            if nodes[to].paused { nodes[to].backlog.append(ev); return }
            apply(to, nodes[to].instance.onPushPull(state, from: nodes[from].address, isReply: isReply, now: now))
        }
    }

    private func apply(_ i: Int, _ directives: [Membership.Directive]) {
        for d in directives {
            switch d {
            case .send(let to, let messages):
                let size = Membership.estimatedPacketSize(messages, settings: settings)
                udpBytesSent[i] += UInt64(size)
                packetsSent += 1
                if size > largestPacket { largestPacket = size }
                if size > settings.maxPacketBytes { oversizedPackets += 1 }
                guard let j = byAddress[to] else { continue }
                if network.loss > 0 && rng.unit() < network.loss { packetsLost += 1; continue }
                events.push(.packet(to: j, from: i, messages: messages), at: now + delay())
                if network.duplication > 0 && rng.unit() < network.duplication {
                    events.push(.packet(to: j, from: i, messages: messages), at: now + delay())
                }
            case .pushPull(let to, let state):
                tcpBytesSent[i] += UInt64(Membership.estimatedSize(of: state))
                guard let j = byAddress[to] else { continue }
                events.push(.pushPull(to: j, from: i, state: state, isReply: false), at: now + delay())
            case .replyPushPull(let to, let state):
                tcpBytesSent[i] += UInt64(Membership.estimatedSize(of: state))
                guard let j = byAddress[to] else { continue }
                events.push(.pushPull(to: j, from: i, state: state, isReply: true), at: now + delay())
            case .armTimer(let tid, let after):
                events.push(.timer(node: i, epoch: nodes[i].epoch, id: tid), at: now + after)
            case .memberChanged(let m):
                onMemberChanged?(nodes[i].id, m, now)
                if m.status.isDeadOrLeft, deadSeen[m.id] != nil, deadSeen[m.id]![i] == nil {
                    deadSeen[m.id]![i] = now
                }
            case .deliverUser(_, let key, _):
                if tracked[key] != nil, !tracked[key]!.delivered[i] {
                    tracked[key]!.delivered[i] = true
                    tracked[key]!.times.append(now - tracked[key]!.start)
                }
            }
        }
    }
}
