import Testing
import MembershipCore
import NodeCore
import RoutingCore
import WRPCommon
@testable import Wire

struct MembershipCodecTests {
    static let messages: [Membership.Message] = [
        .ping(.init(seqNo: 7, targetID: "n2", sourceID: "n1", sourceAddress: "127.0.0.1:7946")),
        .ack(.init(seqNo: 7)),
        .nack(.init(seqNo: 9)),
        .pingReq(.init(seqNo: 3, targetID: "n3", targetAddress: "127.0.0.1:7948", sourceID: "n1", sourceAddress: "127.0.0.1:7946", wantNack: true)),
        .suspect(.init(incarnation: 4, id: "n3", fromID: "n1")),
        .alive(.init(incarnation: 5, id: "n4", address: "[::1]:7949", meta: [1, 2, 3])),
        .dead(.init(incarnation: 6, id: "n5", fromID: "n5")),
        .user(.init(originID: "n1", originIncarnation: 2, seqNo: 99, key: "load/n1", payload: Array(0..<200).map { UInt8($0) })),
        .ping(.init(seqNo: 0, targetID: "", sourceID: "", sourceAddress: "")),
    ]

    @Test(arguments: messages)
    func message_roundTrip_equal(_ m: Membership.Message) throws {
        let bytes = MembershipCodec.encodePacket([m])
        #expect(try MembershipCodec.decodePacket(bytes) == [m])
    }

    @Test func compoundPacket_allKinds_roundTripAndWithinEstimate() throws {
        let bytes = MembershipCodec.encodePacket(Self.messages)
        #expect(try MembershipCodec.decodePacket(bytes) == Self.messages)
    }

    @Test func pushPull_roundTrip_equal() throws {
        let s = Membership.PushPullState(sourceID: "n1", members: [
            .init(id: "n1", address: "127.0.0.1:1", status: .alive, incarnation: 1),
            .init(id: "n2", address: "127.0.0.1:2", status: .suspect, incarnation: 2, meta: [9]),
            .init(id: "n3", address: "127.0.0.1:3", status: .dead, incarnation: 3),
            .init(id: "n4", address: "127.0.0.1:4", status: .left, incarnation: 4),
        ], join: true, userState: [1, 2, 3])
        #expect(try MembershipCodec.decodePushPull(MembershipCodec.encodePushPull(s)) == s)
    }

    @Test func garbageAndTruncation_neverCrash_decodeErrorOrValue() {
        var rng = SeededRandom(seed: 42)
        let good = MembershipCodec.encodePacket(Self.messages)
        for cut in 0..<good.count {
            _ = try? MembershipCodec.decodePacket(Array(good[0..<cut]))
        }
        var decodeErrors = 0
        for _ in 0..<2000 {
            let n = rng.below(300)
            let junk = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            do { _ = try MembershipCodec.decodePacket(junk) } catch { decodeErrors += 1; #expect(error == .decode || error == .tooLarge) }
            _ = try? MembershipCodec.decodePushPull(junk)
            _ = try? StateCodec.decode(junk)
        }
        #expect(decodeErrors > 1000, "most random bytes are not valid packets (seed 42)")
    }
}

struct StateCodecTests {
    static let updates: [ClusterUpdate] = [
        .backend(BackendRecord(pool: "default", spec: Routing.BackendSpec(id: "b1", url: "http://10.0.0.1:8000", weight: 2,
                                                                         maxConcurrency: 64, costInputPerMillion: 0.1, costOutputPerMillion: 0.2),
                               removed: false, stamp: Stamp(time: 1_700_000, node: "n1"))),
        .backend(BackendRecord(pool: "default", spec: Routing.BackendSpec(id: "b2", url: "http://h:1"), removed: true,
                               stamp: Stamp(time: 5, node: "n2"))),
        .health(backendID: "b1", observer: "n2", HealthObservation(status: .unhealthy, version: 12)),
        .load(node: "n3", LoadSummary(version: 4, inFlight: ["b1": 3, "b2": 0], atMs: 1234)),
        .override(prefix: 0xDEAD_BEEF, OwnershipOverride(pool: "default", targets: ["b1", "b2"], version: 2, origin: "n1", expiresAtMs: 99)),
        .owned(namespace: "bandit", key: "ctx/model", node: "n1", OwnedEntry(version: 8, payload: [1, 2, 3])),
    ]

    @Test func updates_roundTrip_equal() throws {
        #expect(try StateCodec.decode(StateCodec.encode(Self.updates)) == Self.updates)
        #expect(try StateCodec.decode([]) == [])
    }
}

struct KeyringTests {
    static let k1 = Keyring.generateKey(), k2 = Keyring.generateKey()

    @Test func seal_openWithSameKey_roundTrips() throws {
        let ring = try Keyring(base64Keys: [Self.k1])
        let sealed = ring.seal([1, 2, 3])
        #expect(sealed.count == 3 + Keyring.overhead)
        #expect(try ring.open(sealed) == [1, 2, 3])
    }

    @Test func rotation_oldKeyStillOpens_newPrimarySeals() throws {
        let old = try Keyring(base64Keys: [Self.k1])
        let rotated = try Keyring(base64Keys: [Self.k2, Self.k1])
        #expect(try rotated.open(old.seal([7])) == [7])
        #expect(throws: WireError.decrypt) { try old.open(rotated.seal([7])) }
    }

    @Test func wrongKeyLabelOrTamper_dropped() throws {
        let a = try Keyring(base64Keys: [Self.k1], label: "prod")
        let b = try Keyring(base64Keys: [Self.k1], label: "staging")
        let sealed = a.seal([1, 2, 3, 4])
        #expect(throws: WireError.decrypt) { try b.open(sealed) }
        var tampered = sealed
        tampered[tampered.count - 20] ^= 1
        #expect(throws: WireError.decrypt) { try a.open(tampered) }
        #expect(throws: WireError.tooShort) { try a.open([1, 2, 3]) }
        var badVersion = sealed
        badVersion[0] = 9
        #expect(throws: WireError.badVersion) { try a.open(badVersion) }
    }

    @Test(arguments: [0, 8, 15, 33])
    func badKeyLength_rejected(_ n: Int) {
        #expect(throws: KeyringError.badKeyLength(n)) { try Keyring(keys: [[UInt8](repeating: 1, count: n)]) }
    }

    @Test func gossipCodec_sealedPacket_opensToMessages() throws {
        let codec = GossipCodec(keyring: try Keyring(base64Keys: [Self.k1]))
        let sealed = codec.sealPacket(MembershipCodecTests.messages)
        let opened = try sealed.withUnsafeBytes { try codec.openPacket($0) }
        #expect(opened == MembershipCodecTests.messages)
    }
}
