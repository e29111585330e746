import CWireProto
import MembershipCore

/// Membership messages ⇄ protobuf (proto/wire/v1/membership.proto). The only place that knows
/// the generated C structs; unpack failures are `WireError.decode`, never a crash.
public enum MembershipCodec {
    public static let maxPacketBytes = 64 * 1024

    // MARK: encode

    public static func encodePacket(_ messages: [Membership.Message]) -> [UInt8] {
        let arena = Arena()
        let packet = arena.alloc(Wrp__Wire__V1__Packet.self)
        wrp__wire__v1__packet__init(packet)
        packet.pointee.n_messages = messages.count
        packet.pointee.messages = arena.pointers(messages) { envelope($0, arena) }
        let size = wrp__wire__v1__packet__get_packed_size(packet)
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { wrp__wire__v1__packet__pack(packet, $0.baseAddress) }
        return out
    }

    static func envelope(_ m: Membership.Message, _ a: Arena) -> UnsafeMutablePointer<Wrp__Wire__V1__Envelope> {
        let e = a.alloc(Wrp__Wire__V1__Envelope.self)
        wrp__wire__v1__envelope__init(e)
        switch m {
        case .ping(let p):
            let x = a.alloc(Wrp__Wire__V1__Ping.self)
            wrp__wire__v1__ping__init(x)
            x.pointee.seq_no = p.seqNo
            x.pointee.target_id = a.cString(p.targetID)
            x.pointee.source_id = a.cString(p.sourceID)
            x.pointee.source_address = a.cString(p.sourceAddress)
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_PING
            e.pointee.ping = x
        case .ack(let p):
            let x = a.alloc(Wrp__Wire__V1__Ack.self)
            wrp__wire__v1__ack__init(x)
            x.pointee.seq_no = p.seqNo
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_ACK
            e.pointee.ack = x
        case .nack(let p):
            let x = a.alloc(Wrp__Wire__V1__Nack.self)
            wrp__wire__v1__nack__init(x)
            x.pointee.seq_no = p.seqNo
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_NACK
            e.pointee.nack = x
        case .pingReq(let p):
            let x = a.alloc(Wrp__Wire__V1__PingReq.self)
            wrp__wire__v1__ping_req__init(x)
            x.pointee.seq_no = p.seqNo
            x.pointee.target_id = a.cString(p.targetID)
            x.pointee.target_address = a.cString(p.targetAddress)
            x.pointee.source_id = a.cString(p.sourceID)
            x.pointee.source_address = a.cString(p.sourceAddress)
            x.pointee.want_nack = p.wantNack ? 1 : 0
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_PING_REQ
            e.pointee.ping_req = x
        case .suspect(let p):
            let x = a.alloc(Wrp__Wire__V1__Suspect.self)
            wrp__wire__v1__suspect__init(x)
            x.pointee.incarnation = p.incarnation
            x.pointee.id = a.cString(p.id)
            x.pointee.from_id = a.cString(p.fromID)
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_SUSPECT
            e.pointee.suspect = x
        case .alive(let p):
            let x = a.alloc(Wrp__Wire__V1__Alive.self)
            wrp__wire__v1__alive__init(x)
            x.pointee.incarnation = p.incarnation
            x.pointee.id = a.cString(p.id)
            x.pointee.address = a.cString(p.address)
            x.pointee.meta = a.binary(p.meta)
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_ALIVE
            e.pointee.alive = x
        case .dead(let p):
            let x = a.alloc(Wrp__Wire__V1__Dead.self)
            wrp__wire__v1__dead__init(x)
            x.pointee.incarnation = p.incarnation
            x.pointee.id = a.cString(p.id)
            x.pointee.from_id = a.cString(p.fromID)
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_DEAD
            e.pointee.dead = x
        case .user(let p):
            let x = a.alloc(Wrp__Wire__V1__UserBroadcast.self)
            wrp__wire__v1__user_broadcast__init(x)
            x.pointee.origin_id = a.cString(p.originID)
            x.pointee.origin_incarnation = p.originIncarnation
            x.pointee.seq_no = p.seqNo
            x.pointee.key = a.cString(p.key)
            x.pointee.payload = a.binary(p.payload)
            e.pointee.body_case = WRP__WIRE__V1__ENVELOPE__BODY_USER
            e.pointee.user = x
        }
        return e
    }

    public static func encodePushPull(_ s: Membership.PushPullState) -> [UInt8] {
        let a = Arena()
        let pp = a.alloc(Wrp__Wire__V1__PushPull.self)
        wrp__wire__v1__push_pull__init(pp)
        pp.pointee.source_id = a.cString(s.sourceID)
        pp.pointee.join = s.join ? 1 : 0
        pp.pointee.user_state = a.binary(s.userState)
        pp.pointee.n_members = s.members.count
        pp.pointee.members = a.pointers(s.members) { m in
            let x = a.alloc(Wrp__Wire__V1__Member.self)
            wrp__wire__v1__member__init(x)
            x.pointee.id = a.cString(m.id)
            x.pointee.address = a.cString(m.address)
            x.pointee.status = Wrp__Wire__V1__MemberStatus(rawValue: statusCode(m.status))
            x.pointee.incarnation = m.incarnation
            x.pointee.meta = a.binary(m.meta)
            return x
        }
        let size = wrp__wire__v1__push_pull__get_packed_size(pp)
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { wrp__wire__v1__push_pull__pack(pp, $0.baseAddress) }
        return out
    }

    static func statusCode(_ s: Membership.Status) -> UInt32 {
        switch s { case .alive: 0; case .suspect: 1; case .dead: 2; case .left: 3 }
    }

    static func status(_ code: UInt32) -> Membership.Status? {
        switch code { case 0: .alive; case 1: .suspect; case 2: .dead; case 3: .left; default: nil }
    }

    // MARK: decode

    public static func decodePacket(_ bytes: [UInt8]) throws(WireError) -> [Membership.Message] {
        guard bytes.count <= maxPacketBytes else { throw .tooLarge }
        let p: UnsafeMutablePointer<Wrp__Wire__V1__Packet>? = bytes.withUnsafeBufferPointer {
            wrp__wire__v1__packet__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let p else { throw .decode }
        defer { wrp__wire__v1__packet__free_unpacked(p, nil) }
        var out: [Membership.Message] = []
        out.reserveCapacity(p.pointee.n_messages)
        for i in 0..<p.pointee.n_messages {
            guard let e = p.pointee.messages[i] else { throw .decode }
            out.append(try message(e))
        }
        return out
    }

    static func message(_ e: UnsafeMutablePointer<Wrp__Wire__V1__Envelope>) throws(WireError) -> Membership.Message {
        switch e.pointee.body_case {
        case WRP__WIRE__V1__ENVELOPE__BODY_PING:
            guard let x = e.pointee.ping else { throw .decode }
            return .ping(.init(seqNo: x.pointee.seq_no, targetID: swiftString(x.pointee.target_id),
                               sourceID: swiftString(x.pointee.source_id), sourceAddress: swiftString(x.pointee.source_address)))
        case WRP__WIRE__V1__ENVELOPE__BODY_ACK:
            guard let x = e.pointee.ack else { throw .decode }
            return .ack(.init(seqNo: x.pointee.seq_no))
        case WRP__WIRE__V1__ENVELOPE__BODY_NACK:
            guard let x = e.pointee.nack else { throw .decode }
            return .nack(.init(seqNo: x.pointee.seq_no))
        case WRP__WIRE__V1__ENVELOPE__BODY_PING_REQ:
            guard let x = e.pointee.ping_req else { throw .decode }
            return .pingReq(.init(seqNo: x.pointee.seq_no, targetID: swiftString(x.pointee.target_id),
                                  targetAddress: swiftString(x.pointee.target_address), sourceID: swiftString(x.pointee.source_id),
                                  sourceAddress: swiftString(x.pointee.source_address), wantNack: x.pointee.want_nack != 0))
        case WRP__WIRE__V1__ENVELOPE__BODY_SUSPECT:
            guard let x = e.pointee.suspect else { throw .decode }
            return .suspect(.init(incarnation: x.pointee.incarnation, id: swiftString(x.pointee.id), fromID: swiftString(x.pointee.from_id)))
        case WRP__WIRE__V1__ENVELOPE__BODY_ALIVE:
            guard let x = e.pointee.alive else { throw .decode }
            return .alive(.init(incarnation: x.pointee.incarnation, id: swiftString(x.pointee.id),
                                address: swiftString(x.pointee.address), meta: swiftBytes(x.pointee.meta)))
        case WRP__WIRE__V1__ENVELOPE__BODY_DEAD:
            guard let x = e.pointee.dead else { throw .decode }
            return .dead(.init(incarnation: x.pointee.incarnation, id: swiftString(x.pointee.id), fromID: swiftString(x.pointee.from_id)))
        case WRP__WIRE__V1__ENVELOPE__BODY_USER:
            guard let x = e.pointee.user else { throw .decode }
            return .user(.init(originID: swiftString(x.pointee.origin_id), originIncarnation: x.pointee.origin_incarnation,
                               seqNo: x.pointee.seq_no, key: swiftString(x.pointee.key), payload: swiftBytes(x.pointee.payload)))
        default:
            throw .decode
        }
    }

    public static func decodePushPull(_ bytes: [UInt8]) throws(WireError) -> Membership.PushPullState {
        let p: UnsafeMutablePointer<Wrp__Wire__V1__PushPull>? = bytes.withUnsafeBufferPointer {
            wrp__wire__v1__push_pull__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let p else { throw .decode }
        defer { wrp__wire__v1__push_pull__free_unpacked(p, nil) }
        var members: [Membership.Member] = []
        for i in 0..<p.pointee.n_members {
            guard let m = p.pointee.members[i], let st = status(m.pointee.status.rawValue) else { throw .decode }
            members.append(.init(id: swiftString(m.pointee.id), address: swiftString(m.pointee.address), status: st,
                                 incarnation: m.pointee.incarnation, meta: swiftBytes(m.pointee.meta)))
        }
        return .init(sourceID: swiftString(p.pointee.source_id), members: members, join: p.pointee.join != 0,
                     userState: swiftBytes(p.pointee.user_state))
    }
}
