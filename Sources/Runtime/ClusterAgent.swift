import Foundation
import LibUV
import Logging
import MembershipCore
import NodeConfig
import NodeCore
import RoutingCore
import WRPCommon
import Wire

/// The node's cluster membership and shared state: runs `Membership.Instance` (SWIM + Lifeguard)
/// and `ClusterState` (CRDT updates) over UDP packets and TCP push-pull on the gossip port.
///
/// Thin by design: it executes the instance's directives with one `switch`, seals/opens packets
/// with the keyring, and reports state changes to the node. Everything clever is in the cores.
final class ClusterAgent {
    unowned let node: Node
    let logger: Logger
    let codec: GossipCodec
    var membership: Membership.Instance
    var state: ClusterState
    let udp: UVUDP
    let tcp: UVTCPListener
    let seeds: [String]
    let address: String
    var addressCache: [String: SocketAddress] = [:]
    var pendingReplies: [String: FramedConnection] = [:]
    var replyCounter = 0
    var joinTimer: UVTimer?
    var loadTimer: UVTimer?
    var lastPublishedLoad: [String: Int32] = [:]
    var lastLoadPublishMs: UInt64 = 0
    /// Counters for `wrp_gossip_*` metrics.
    var dropped: [String: UInt64] = [:]
    var packetsIn: UInt64 = 0, packetsOut: UInt64 = 0, bytesIn: UInt64 = 0, bytesOut: UInt64 = 0
    var leaving = false
    static let maxFrameBytes = 32 << 20

    /// - Parameter meta: carried in membership (this node's HTTP address, for forwarded feedback).
    init(node: Node, config: Config.ClusterSection, gossip: HostPort, incarnation: UInt64, meta: [UInt8], logger: Logger) throws {
        self.node = node
        self.logger = logger
        let ring: Keyring
        do {
            ring = try Keyring(base64Keys: config.keys, label: config.label)
        } catch {
            throw Node.NodeError.config("cluster.keys: \(error.description)")
        }
        codec = GossipCodec(keyring: ring)
        // UDP and TCP on the same port. With port 0 the port UDP got may be taken for TCP (by an
        // outgoing connection's ephemeral port): try again with another.
        var onAccept: ((UVTCP) -> Void)?
        var attempt = 0
        while true {
            attempt += 1
            let u: UVUDP
            do {
                u = try UVUDP(loop: node.loop, host: gossip.host, port: gossip.port)
            } catch {
                throw Node.NodeError.bind("cannot bind gossip UDP \(gossip): \(error.message)")
            }
            do {
                tcp = try UVTCPListener(loop: node.loop, host: gossip.host, port: u.address.port) { c in onAccept?(c) }
                udp = u
                break
            } catch {
                u.close()
                if gossip.port != 0 || attempt >= 20 {
                    throw Node.NodeError.bind("cannot bind gossip TCP \(gossip.host):\(u.address.port): \(error.message)")
                }
            }
        }
        let bound = udp.address
        if let adv = config.advertise {
            address = adv
        } else if bound.host == "0.0.0.0" || bound.host == "::" {
            udp.close()
            tcp.close()
            throw Node.NodeError.config("cluster.gossip binds \(gossip.host): set cluster.advertise (or --advertise) to the address peers should use")
        } else {
            address = bound.description
        }
        seeds = config.join
        let settings: Membership.Settings = config.preset == "local" ? .local : .lan
        membership = Membership.Instance(settings: settings, id: node.nodeID, address: address, incarnation: incarnation,
                                         meta: meta, seed: Hash64.hash(node.nodeID, seed: UVLoop.hrtime()))
        state = ClusterState(localNode: node.nodeID)
        onAccept = { [unowned self] c in self.acceptPushPull(c) }
    }

    var now: Instant { Instant(nanoseconds: UVLoop.hrtime()) }
    static var wallMs: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    func start() {
        udp.onMessage = { [unowned self] bytes, from in self.received(bytes, from: from) }
        udp.startReceiving()
        execute(membership.start(now: now))
        if !seeds.isEmpty { tryJoin() }
        let lt = UVTimer(loop: node.loop)
        lt.start(afterMs: 250, repeatMs: 250) { [unowned self] in
            self.publishLoad()
            self.node.syncOverrides()
        }
        loadTimer = lt
    }

    /// Joins through the seeds, and keeps trying while no other member is known (seeds may
    /// start later than us).
    func tryJoin() {
        execute(membership.join(seeds: seeds.filter { $0 != address }, now: now))
        let t = joinTimer ?? UVTimer(loop: node.loop)
        joinTimer = t
        t.start(afterMs: 2_000) { [unowned self] in
            if self.membership.liveCount <= 1 && !self.leaving { self.tryJoin() }
        }
    }

    // MARK: directives

    func execute(_ directives: [Membership.Directive]) {
        for d in directives {
            switch d {
            case .send(let to, let messages):
                guard let a = resolve(to) else { continue }
                let sealed = codec.sealPacket(messages)
                packetsOut &+= 1
                bytesOut &+= UInt64(sealed.count)
                udp.send(sealed, to: a)
            case .pushPull(let to, var s):
                s.userState = StateCodec.encode(state.snapshot())
                pushPull(to: to, state: s)
            case .replyPushPull(let to, var s):
                guard let c = pendingReplies.removeValue(forKey: to) else { continue }
                s.userState = StateCodec.encode(state.snapshot())
                c.sendFrame(codec.sealPushPull(s))
                c.closeAfterFlush()
            case .armTimer(let id, let after):
                let t = UVTimer(loop: node.loop)
                t.start(afterMs: max(1, (after + 999_999) / 1_000_000)) { [unowned self] in
                    t.close()
                    self.execute(self.membership.onTimer(id, now: self.now))
                }
            case .memberChanged(let m):
                node.memberChanged(m)
            case .deliverUser(let payload, _, let from):
                do {
                    let updates = try StateCodec.decode(payload)
                    applyRemote(updates)
                } catch {
                    dropped[error.reason, default: 0] &+= 1
                    logger.debug("undecodable state broadcast", metadata: ["from": "\(from)"])
                }
            }
        }
    }

    /// The socket address of a gossip `host:port`. Names are resolved asynchronously and cached;
    /// until then nil (a UDP packet is dropped, as lost packets are; push-pull waits).
    func resolve(_ address: String) -> SocketAddress? {
        if let a = addressCache[address] { return a }
        guard let hp = HostPort(parsing: address) else { return nil }
        if let a = SocketAddress(ip: hp.host, port: hp.port) {
            if addressCache.count > 4096 { addressCache.removeAll() }
            addressCache[address] = a
            return a
        }
        resolveName(address, hp) { _ in }
        return nil
    }

    var resolving: Set<String> = []

    func resolveName(_ address: String, _ hp: HostPort, _ done: @escaping (SocketAddress?) -> Void) {
        guard !resolving.contains(address) else { return done(nil) }
        resolving.insert(address)
        UVResolver.resolve(loop: node.loop, host: hp.host, port: hp.port) { [weak self] r in
            guard let self else { return }
            self.resolving.remove(address)
            if case .success(let a) = r {
                self.addressCache[address] = a
                // Names may move (containers restart): forget after a while.
                let t = UVTimer(loop: self.node.loop)
                t.start(afterMs: 30_000) { [weak self] in t.close(); self?.addressCache[address] = nil }
                done(a)
            } else {
                done(nil)
            }
        }
    }

    func received(_ bytes: UnsafeRawBufferPointer, from: SocketAddress) {
        packetsIn &+= 1
        bytesIn &+= UInt64(bytes.count)
        do {
            let messages = try codec.openPacket(bytes)
            execute(membership.onMessages(messages, from: from.description, now: now))
        } catch {
            dropped[error.reason, default: 0] &+= 1
        }
    }

    // MARK: push-pull over TCP

    func pushPull(to: String, state s: Membership.PushPullState) {
        guard let a = resolve(to) else {
            if let hp = HostPort(parsing: to), SocketAddress(ip: hp.host, port: hp.port) == nil {
                resolveName(to, hp) { [weak self] a in if a != nil { self?.pushPull(to: to, state: s) } }
            }
            return
        }
        let frame = codec.sealPushPull(s)
        let tcp = UVTCP(loop: node.loop)
        let conn = FramedConnection(tcp: tcp, maxFrame: ClusterAgent.maxFrameBytes)
        let timer = UVTimer(loop: node.loop)
        timer.start(afterMs: 5_000) { timer.close(); conn.close() }
        tcp.connect(to: a) { [weak self] err in
            guard let self, err == nil else {
                timer.close()
                tcp.close()
                return
            }
            conn.onFrame = { [unowned self] bytes in
                timer.close()
                conn.close()
                self.receivedPushPull(bytes, from: to, isReply: true)
            }
            conn.start()
            conn.sendFrame(frame)
        }
    }

    func acceptPushPull(_ tcp: UVTCP) {
        let conn = FramedConnection(tcp: tcp, maxFrame: ClusterAgent.maxFrameBytes)
        replyCounter += 1
        let token = "tcp#\(replyCounter)"
        let timer = UVTimer(loop: node.loop)
        timer.start(afterMs: 5_000) { [weak self] in
            timer.close()
            conn.close()
            self?.pendingReplies[token] = nil
        }
        conn.onFrame = { [unowned self] bytes in
            timer.close()
            self.pendingReplies[token] = conn
            self.receivedPushPull(bytes, from: token, isReply: false)
            if self.pendingReplies.removeValue(forKey: token) != nil { conn.close() }
        }
        conn.onBadFrame = { [unowned self] in self.dropped["too_large", default: 0] &+= 1 }
        conn.start()
    }

    func receivedPushPull(_ bytes: [UInt8], from: String, isReply: Bool) {
        let remote: Membership.PushPullState
        do {
            remote = try codec.openPushPull(bytes)
        } catch {
            dropped[error.reason, default: 0] &+= 1
            return
        }
        do {
            applyRemote(try StateCodec.decode(remote.userState))
        } catch {
            dropped[error.reason, default: 0] &+= 1
        }
        execute(membership.onPushPull(remote, from: from, isReply: isReply, now: now))
    }

    // MARK: shared state

    func applyRemote(_ updates: [ClusterUpdate]) {
        let changed = state.apply(contentsOf: updates)
        if !changed.isEmpty { node.clusterStateChanged(changed) }
    }

    /// Broadcasts local updates (already applied to `state`).
    func broadcast(_ updates: [ClusterUpdate]) {
        for u in updates {
            _ = membership.broadcastUser(key: ClusterAgent.key(u), payload: StateCodec.encode([u]))
        }
    }

    static func key(_ u: ClusterUpdate) -> String {
        switch u {
        case .backend(let r): return "b/" + r.spec.id
        case .health(let b, let o, _): return "h/" + b + "/" + o
        case .load(let n, _): return "l/" + n
        case .override(let p, let o): return "o/" + o.pool + "/" + String(p, radix: 16)
        case .owned(let ns, let k, let n, _): return "e/" + ns + "/" + k + "/" + n
        }
    }

    /// Publishes this node's in-flight counts when they changed (at most every 250 ms), and at
    /// least every 2 s so peers can tell fresh summaries from stale ones.
    func publishLoad() {
        var counts: [String: Int32] = [:]
        for p in node.pools {
            for b in p.backends where !b.removed && b.load.inFlight > 0 { counts[b.spec.id] = Int32(b.load.inFlight) }
        }
        let nowMs = ClusterAgent.wallMs
        guard counts != lastPublishedLoad || nowMs >= lastLoadPublishMs + 2_000 else { return }
        lastPublishedLoad = counts
        lastLoadPublishMs = nowMs
        broadcast([state.publishLoad(inFlight: counts, nowMs: nowMs)])
    }

    var aliveMemberIDs: Set<String> {
        Set(membership.members.filter { $0.status == .alive || $0.status == .suspect }.map(\.id))
    }

    /// Graceful leave: broadcast it and keep gossiping for `gossipMs` before `done`.
    func leave(gossipMs: UInt64, done: @escaping () -> Void) {
        guard !leaving else { return done() }
        leaving = true
        execute(membership.leave(now: now))
        let t = UVTimer(loop: node.loop)
        t.start(afterMs: gossipMs) { [unowned self] in
            t.close()
            self.stop()
            done()
        }
    }

    func stop() {
        joinTimer?.close()
        joinTimer = nil
        loadTimer?.close()
        loadTimer = nil
        udp.close()
        tcp.close()
        for c in pendingReplies.values { c.close() }
        pendingReplies.removeAll()
    }
}

/// Length-prefixed frames (4-byte big-endian length) over a TCP stream, for push-pull.
final class FramedConnection {
    let tcp: UVTCP
    let maxFrame: Int
    var buffer: [UInt8] = []
    var onFrame: (([UInt8]) -> Void)?
    var onBadFrame: (() -> Void)?

    init(tcp: UVTCP, maxFrame: Int) {
        self.tcp = tcp
        self.maxFrame = maxFrame
    }

    func start() {
        tcp.onRead = { [self] data in
            buffer.append(contentsOf: data)
            while buffer.count >= 4 {
                let n = Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
                if n > maxFrame {
                    onBadFrame?()
                    close()
                    return
                }
                guard buffer.count >= 4 + n else { return }
                let frame = Array(buffer[4..<(4 + n)])
                buffer.removeFirst(4 + n)
                onFrame?(frame)
                if tcp.isClosed { return }
            }
        }
        tcp.onEnd = { [self] _ in close() }
        tcp.startReading()
    }

    func sendFrame(_ bytes: [UInt8]) {
        let n = bytes.count
        var out = [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        out.append(contentsOf: bytes)
        tcp.write(out)
    }

    func closeAfterFlush() {
        onFrame = nil
        tcp.closeAfterFlush()
    }

    func close() {
        onFrame = nil
        onBadFrame = nil
        tcp.close()
    }
}
