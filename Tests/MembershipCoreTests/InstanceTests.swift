import Testing
import MembershipCore
import WRPCommon

typealias M = Membership

/// Drives one `Membership.Instance` by hand with explicit times and fixed seeds.
struct Harness {
    var inst: M.Instance
    var now = Instant.zero
    var log: [M.Directive] = []

    init(peers: Int = 4, settings: M.Settings = .lan, incarnation: UInt64 = 0, seed: UInt64 = 42) {
        inst = M.Instance(settings: settings, id: "me", address: "10.0.0.1:7946", incarnation: incarnation, seed: seed)
        inst.adopt((1...max(peers, 1)).map { M.Member(id: "p\($0)", address: "10.0.0.\($0 + 1):7946", status: .alive, incarnation: 5) }
                    .prefix(peers).map { $0 }, now: now)
        log += inst.start(now: now)
    }

    mutating func receive(_ ms: [M.Message], from: String = "10.0.0.2:7946") { log += inst.onMessages(ms, from: from, now: now) }
    mutating func fire(_ t: M.TimerID) { log += inst.onTimer(t, now: now) }
    mutating func advance(_ d: Nanos) { now = now + d }

    /// Every message sent since the last call, with its destination.
    mutating func takeSent() -> [(to: String, messages: [M.Message])] {
        let sent = log.compactMap { d -> (String, [M.Message])? in
            if case .send(let to, let ms) = d { return (to, ms) } else { return nil }
        }
        log.removeAll()
        return sent.map { (to: $0.0, messages: $0.1) }
    }

    /// Flushes the queue with gossip rounds and returns all gossiped messages.
    mutating func gossipAll(rounds: Int = 20) -> [M.Message] {
        _ = takeSent()
        for _ in 0..<rounds { fire(.gossip) }
        return takeSent().flatMap(\.messages)
    }
}

@Suite struct StatusOrderingTests {
    enum Start { case alive, suspect, dead }

    /// (known state of p1 at incarnation 5, incoming message, expected status, expected incarnation)
    static let cases: [(Start, M.Message, M.Status, UInt64)] = [
        (.alive, .alive(.init(incarnation: 4, id: "p1", address: "10.0.0.2:7946")), .alive, 5),
        (.alive, .alive(.init(incarnation: 6, id: "p1", address: "10.0.0.2:7946")), .alive, 6),
        (.alive, .suspect(.init(incarnation: 4, id: "p1", fromID: "p2")), .alive, 5),
        (.alive, .suspect(.init(incarnation: 5, id: "p1", fromID: "p2")), .suspect, 5),
        (.alive, .dead(.init(incarnation: 4, id: "p1", fromID: "p2")), .alive, 5),
        (.alive, .dead(.init(incarnation: 5, id: "p1", fromID: "p2")), .dead, 5),
        (.alive, .dead(.init(incarnation: 5, id: "p1", fromID: "p1")), .left, 5),
        (.suspect, .alive(.init(incarnation: 5, id: "p1", address: "10.0.0.2:7946")), .suspect, 5),
        (.suspect, .alive(.init(incarnation: 6, id: "p1", address: "10.0.0.2:7946")), .alive, 6),
        (.suspect, .dead(.init(incarnation: 5, id: "p1", fromID: "p2")), .dead, 5),
        (.dead, .alive(.init(incarnation: 5, id: "p1", address: "10.0.0.2:7946")), .dead, 5),
        (.dead, .suspect(.init(incarnation: 6, id: "p1", fromID: "p2")), .dead, 5),
        (.dead, .alive(.init(incarnation: 6, id: "p1", address: "10.0.0.2:7946")), .alive, 6),
    ]

    @Test(arguments: cases)
    func message_knownState_appliesOrderingRules(start: Start, message: M.Message, status: M.Status, incarnation: UInt64) {
        var h = Harness()
        switch start {
        case .alive: break
        case .suspect: h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p3"))])
        case .dead: h.receive([.dead(.init(incarnation: 5, id: "p1", fromID: "p3"))])
        }
        h.receive([message])
        let m = h.inst.member("p1")
        #expect(m?.status == status && m?.incarnation == incarnation, "\(start) + \(message) → \(String(describing: m))")
    }

    @Test(arguments: [
        M.Message.suspect(.init(incarnation: 3, id: "me", fromID: "p1")),
        M.Message.dead(.init(incarnation: 3, id: "me", fromID: "p1")),
        M.Message.alive(.init(incarnation: 3, id: "me", address: "10.9.9.9:1")),
    ])
    func accusationAboutSelf_anyIncarnation_refutesWithHigherIncarnation(message: M.Message) {
        var h = Harness(incarnation: 1)
        h.receive([message])
        #expect(h.inst.member("me")?.status == .alive)
        #expect(h.inst.incarnation == 4, "skips ahead past the accused incarnation 3")
        #expect(h.inst.awareness.score == 1)
        let gossiped = h.gossipAll()
        #expect(gossiped.contains(.alive(.init(incarnation: 4, id: "me", address: "10.0.0.1:7946"))), "\(gossiped)")
    }

    @Test func suspicion_noRefutation_declaredDeadAtDeadline() {
        var h = Harness(peers: 9)
        h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p2"))])
        // Two independent confirmations → the minimum timeout.
        h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p3")), .suspect(.init(incarnation: 5, id: "p1", fromID: "p4"))])
        let sus = h.inst.suspicion(of: "p1")!
        #expect(sus.timeout == M.Settings.lan.suspicionBounds(nodes: 10).min)
        h.advance(sus.timeout - 1)
        h.fire(.suspicion(id: "p1"))
        #expect(h.inst.member("p1")?.status == .suspect, "not before the deadline")
        h.advance(1)
        h.fire(.suspicion(id: "p1"))
        #expect(h.inst.member("p1")?.status == .dead)
    }

    @Test func suspicion_unconfirmedExpiry_verifiesFirstAndAckRestarts() {
        var h = Harness(peers: 9)
        h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p2"))])
        let sus = h.inst.suspicion(of: "p1")!
        h.advance(sus.timeout)
        _ = h.takeSent()
        h.fire(.suspicion(id: "p1"))
        #expect(h.inst.member("p1")?.status == .suspect, "degraded expiry verifies first")
        let sent = h.takeSent()
        let direct = sent.first { $0.to == "10.0.0.2:7946" }
        guard case .ping(let ping)? = direct?.messages.first else {
            Issue.record("no verification ping: \(sent)")
            return
        }
        #expect(direct!.messages.contains(.suspect(.init(incarnation: 5, id: "p1", fromID: "me"))), "buddy suspect attached")
        h.receive([.ack(.init(seqNo: ping.seqNo))])
        #expect(h.inst.suspicion(of: "p1")?.start == h.now, "suspicion restarted")
        h.advance(h.inst.suspicion(of: "p1")!.timeout)
        h.fire(.suspicion(id: "p1"))
        h.advance(.seconds(1))
        h.fire(.suspicion(id: "p1"))
        #expect(h.inst.member("p1")?.status == .dead, "silence after the second verification → dead")
    }

    @Test func staleSuspect_aboutRefutedMember_answeredWithNewerAlive() {
        var h = Harness()
        h.receive([.alive(.init(incarnation: 7, id: "p1", address: "10.0.0.2:7946"))])
        _ = h.takeSent()
        h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p3"))], from: "10.0.0.4:7946")
        let sent = h.takeSent()
        #expect(sent.contains { $0.to == "10.0.0.4:7946" && $0.messages.first == .alive(.init(incarnation: 7, id: "p1", address: "10.0.0.2:7946")) }, "\(sent)")
    }
}

@Suite struct LifecycleTests {
    @Test func leave_peerHearsIt_marksLeftNotDead() {
        var a = Harness(peers: 3)
        a.log += a.inst.leave(now: a.now)
        #expect(a.inst.member("me")?.status == .left)
        let sent = a.takeSent().flatMap(\.messages)
        #expect(sent.contains(.dead(.init(incarnation: 0, id: "me", fromID: "me"))), "\(sent)")

        var b = Harness(peers: 3, seed: 7)
        b.receive([.alive(.init(incarnation: 0, id: "me2", address: "10.0.0.50:7946"))])
        b.receive([.dead(.init(incarnation: 0, id: "me2", fromID: "me2"))])
        #expect(b.inst.member("me2")?.status == .left)
        #expect(b.inst.aliveCount == 4)
    }

    @Test func leave_thenProbeTick_stopsProbing() {
        var h = Harness()
        h.log += h.inst.leave(now: h.now)
        _ = h.takeSent()
        h.fire(.probe)
        #expect(h.takeSent().isEmpty)
    }

    @Test(arguments: [(UInt64(6), UInt64(6)), (UInt64(0), UInt64(0))])
    func rejoin_deadMemberPushPull_aliveAtHigherOrRefutedIncarnation(restartInc: UInt64, expectInc: UInt64) {
        // Seed side: p1 dead at 5; p1 comes back with `restartInc`.
        var seed = Harness()
        seed.receive([.dead(.init(incarnation: 5, id: "p1", fromID: "p2"))])
        var p1 = M.Instance(settings: .lan, id: "p1", address: "10.0.0.2:7946", incarnation: restartInc, seed: 9)
        _ = p1.start(now: seed.now)
        let joinState = p1.pushPullState(join: true)
        let replies = seed.inst.onPushPull(joinState, from: "10.0.0.2:7946", isReply: false, now: seed.now)
        guard case .replyPushPull(_, let reply)? = replies.first(where: { if case .replyPushPull = $0 { return true } else { return false } }) else {
            Issue.record("no reply in \(replies)")
            return
        }
        if restartInc > 5 {
            #expect(seed.inst.member("p1")?.status == .alive && seed.inst.member("p1")?.incarnation == expectInc)
        } else {
            #expect(seed.inst.member("p1")?.status == .dead, "same-or-lower incarnation cannot override dead")
            _ = p1.onPushPull(reply, from: "10.0.0.1:7946", isReply: true, now: seed.now)
            #expect(p1.incarnation == 6, "p1 refutes its dead record at 5 with 6")
            // p1's refutation reaches the seed through gossip.
            let ds = p1.onTimer(.gossip, now: seed.now)
            for case .send(_, let ms) in ds { seed.receive(ms, from: "10.0.0.2:7946") }
            #expect(seed.inst.member("p1")?.status == .alive && seed.inst.member("p1")?.incarnation == 6)
        }
    }

    @Test func tombstone_afterTombstoneTime_reclaimed() {
        var h = Harness()
        h.receive([.dead(.init(incarnation: 5, id: "p1", fromID: "p2"))])
        h.advance(M.Settings.lan.tombstoneTime)
        h.fire(.reap)
        #expect(h.inst.member("p1")?.status == .dead, "kept for tombstoneTime")
        h.advance(1)
        h.fire(.reap)
        #expect(h.inst.member("p1") == nil)
        #expect(h.inst.members.count == 4)
    }

    @Test func userBroadcast_receivedTwice_deliveredOnceAndRegossiped() {
        var h = Harness()
        let u = M.UserBroadcast(originID: "p2", originIncarnation: 5, seqNo: 3, key: "k", payload: [1, 2, 3])
        h.receive([.user(u)])
        h.receive([.user(u)])
        let older = M.UserBroadcast(originID: "p2", originIncarnation: 5, seqNo: 2, key: "k", payload: [9])
        h.receive([.user(older)])
        let delivered = h.log.filter { if case .deliverUser = $0 { return true } else { return false } }
        #expect(delivered == [.deliverUser(payload: [1, 2, 3], key: "k", from: "p2")])
        #expect(h.gossipAll().contains(.user(u)))
    }
}

@Suite struct ProbeTests {
    @Test(arguments: [(0, 3), (1, 2), (3, 0)])
    func probe_noAckAndNacks_suspectsAndRaisesAwarenessByMissingNacks(nacks: Int, awareness: Int) {
        var h = Harness(peers: 4)
        h.advance(.seconds(1))
        h.fire(.probe)
        let ping = h.takeSent().compactMap { s -> (String, M.Ping)? in
            if case .ping(let p)? = s.messages.first { return (s.to, p) } else { return nil }
        }.first!
        h.advance(.ms(500))
        h.fire(.probeTimeout(seqNo: ping.1.seqNo))
        let reqs = h.takeSent().filter { if case .pingReq? = $0.messages.first { return true } else { return false } }
        #expect(reqs.count == 3, "indirect checks through 3 members")
        for _ in 0..<nacks { h.receive([.nack(.init(seqNo: ping.1.seqNo))]) }
        h.advance(.ms(500))
        h.fire(.probe)
        #expect(h.inst.member(ping.1.targetID)?.status == .suspect)
        #expect(h.inst.awareness.score == awareness)
    }

    @Test func probe_ack_noSuspicionAndAwarenessDrops() {
        var h = Harness(peers: 4)
        h.fire(.probe)
        guard case .ping(let p)? = h.takeSent().first?.messages.first else { Issue.record("no ping"); return }
        h.receive([.ack(.init(seqNo: p.seqNo))])
        h.advance(.seconds(1))
        h.fire(.probe)
        #expect(h.inst.member(p.targetID)?.status == .alive)
        #expect(h.inst.stats.failedProbes == 0)
    }

    @Test func probe_suspectTarget_carriesSuspicion() {
        var h = Harness(peers: 1)
        h.receive([.suspect(.init(incarnation: 5, id: "p1", fromID: "p9"))])
        _ = h.takeSent()
        h.fire(.probe)
        let first = h.takeSent().first!
        #expect(first.messages.prefix(2) == [
            .ping(.init(seqNo: 1, targetID: "p1", sourceID: "me", sourceAddress: "10.0.0.1:7946")),
            .suspect(.init(incarnation: 5, id: "p1", fromID: "me")),
        ])
    }

    @Test func pingReq_targetSilent_relaySendsNack() {
        var h = Harness()
        h.receive([.pingReq(.init(seqNo: 77, targetID: "p3", targetAddress: "10.0.0.4:7946", sourceID: "p1",
                                  sourceAddress: "10.0.0.2:7946", wantNack: true))])
        let ping = h.takeSent().first!
        #expect(ping.to == "10.0.0.4:7946")
        guard case .ping(let p)? = ping.messages.first else { Issue.record("no relay ping"); return }
        h.fire(.relayTimeout(seqNo: p.seqNo))
        #expect(h.takeSent().first?.messages.first == .nack(.init(seqNo: 77)))
    }

    @Test(arguments: [M.Settings.lan, M.Settings.local])
    func packets_manyLargeBroadcasts_stayWithinMaxPacketBytes(settings: M.Settings) {
        var h = Harness(peers: 30, settings: settings)
        for i in 0..<300 {
            let queued = h.inst.broadcastUser(key: "k\(i)", payload: Array(repeating: UInt8(i & 0xFF), count: 37 + i * 7 % 900))
            #expect(queued)
            h.receive([.alive(.init(incarnation: 1, id: "x\(i)", address: "10.1.\(i / 256).\(i % 256):7946", meta: Array(repeating: 0, count: 64)))])
        }
        let huge = h.inst.broadcastUser(key: "huge", payload: Array(repeating: 0, count: 1_400))
        #expect(!huge, "must not fit")
        for round in 0..<50 {
            h.fire(.gossip)
            h.fire(.probe)
            h.receive([.ping(.init(seqNo: UInt32(round), targetID: "me", sourceID: "p1", sourceAddress: "10.0.0.2:7946"))])
        }
        let sent = h.takeSent()
        #expect(!sent.isEmpty)
        for s in sent {
            let size = M.estimatedPacketSize(s.messages, settings: settings)
            #expect(size <= 1_400 && s.messages.count <= 255, "packet of \(size) B, \(s.messages.count) messages")
        }
    }
}
