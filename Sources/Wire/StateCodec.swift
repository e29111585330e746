import CWireProto
import MembershipCore
import NodeCore
import RoutingCore

/// Cluster state updates ⇄ protobuf (proto/wire/v1/state.proto).
public enum StateCodec {
    public static func encode(_ updates: [ClusterUpdate]) -> [UInt8] {
        let a = Arena()
        let msg = a.alloc(Wrp__Wire__V1__ClusterUpdates.self)
        wrp__wire__v1__cluster_updates__init(msg)
        msg.pointee.n_updates = updates.count
        msg.pointee.updates = a.pointers(updates) { update($0, a) }
        let size = wrp__wire__v1__cluster_updates__get_packed_size(msg)
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { wrp__wire__v1__cluster_updates__pack(msg, $0.baseAddress) }
        return out
    }

    static func update(_ u: ClusterUpdate, _ a: Arena) -> UnsafeMutablePointer<Wrp__Wire__V1__ClusterUpdate> {
        let m = a.alloc(Wrp__Wire__V1__ClusterUpdate.self)
        wrp__wire__v1__cluster_update__init(m)
        switch u {
        case .backend(let r):
            let x = a.alloc(Wrp__Wire__V1__BackendRecord.self)
            wrp__wire__v1__backend_record__init(x)
            x.pointee.pool = a.cString(r.pool)
            let s = a.alloc(Wrp__Wire__V1__BackendSpec.self)
            wrp__wire__v1__backend_spec__init(s)
            s.pointee.id = a.cString(r.spec.id)
            s.pointee.url = a.cString(r.spec.url)
            s.pointee.weight = r.spec.weight
            s.pointee.max_concurrency = Int64(r.spec.maxConcurrency)
            s.pointee.cost_input_per_million = r.spec.costInputPerMillion
            s.pointee.cost_output_per_million = r.spec.costOutputPerMillion
            x.pointee.spec = s
            x.pointee.removed = r.removed ? 1 : 0
            let st = a.alloc(Wrp__Wire__V1__Stamp.self)
            wrp__wire__v1__stamp__init(st)
            st.pointee.time = r.stamp.time
            st.pointee.node = a.cString(r.stamp.node)
            x.pointee.stamp = st
            m.pointee.kind_case = WRP__WIRE__V1__CLUSTER_UPDATE__KIND_BACKEND
            m.pointee.backend = x
        case .health(let backendID, let observer, let h):
            let x = a.alloc(Wrp__Wire__V1__HealthUpdate.self)
            wrp__wire__v1__health_update__init(x)
            x.pointee.backend_id = a.cString(backendID)
            x.pointee.observer = a.cString(observer)
            x.pointee.status = UInt32(h.status.rank)
            x.pointee.version = h.version
            m.pointee.kind_case = WRP__WIRE__V1__CLUSTER_UPDATE__KIND_HEALTH
            m.pointee.health = x
        case .load(let node, let l):
            let x = a.alloc(Wrp__Wire__V1__LoadUpdate.self)
            wrp__wire__v1__load_update__init(x)
            x.pointee.node = a.cString(node)
            x.pointee.version = l.version
            x.pointee.at_ms = l.atMs
            let entries = l.inFlight.sorted { $0.key < $1.key }
            x.pointee.n_in_flight = entries.count
            x.pointee.in_flight = a.pointers(entries) { e in
                let le = a.alloc(Wrp__Wire__V1__LoadEntry.self)
                wrp__wire__v1__load_entry__init(le)
                le.pointee.backend_id = a.cString(e.key)
                le.pointee.in_flight = e.value
                return le
            }
            m.pointee.kind_case = WRP__WIRE__V1__CLUSTER_UPDATE__KIND_LOAD
            m.pointee.load = x
        case .override(let prefix, let o):
            let x = a.alloc(Wrp__Wire__V1__OwnershipUpdate.self)
            wrp__wire__v1__ownership_update__init(x)
            x.pointee.prefix = prefix
            x.pointee.pool = a.cString(o.pool)
            x.pointee.n_targets = o.targets.count
            x.pointee.targets = a.pointers(o.targets) { a.cString($0) }
            x.pointee.version = o.version
            x.pointee.origin = a.cString(o.origin)
            x.pointee.expires_at_ms = o.expiresAtMs
            m.pointee.kind_case = WRP__WIRE__V1__CLUSTER_UPDATE__KIND_OWNERSHIP
            m.pointee.ownership = x
        case .owned(let ns, let key, let node, let e):
            let x = a.alloc(Wrp__Wire__V1__OwnedUpdate.self)
            wrp__wire__v1__owned_update__init(x)
            x.pointee.ns = a.cString(ns)
            x.pointee.key = a.cString(key)
            x.pointee.node = a.cString(node)
            x.pointee.version = e.version
            x.pointee.payload = a.binary(e.payload)
            m.pointee.kind_case = WRP__WIRE__V1__CLUSTER_UPDATE__KIND_OWNED
            m.pointee.owned = x
        }
        return m
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> [ClusterUpdate] {
        if bytes.isEmpty { return [] }
        let p: UnsafeMutablePointer<Wrp__Wire__V1__ClusterUpdates>? = bytes.withUnsafeBufferPointer {
            wrp__wire__v1__cluster_updates__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let p else { throw .decode }
        defer { wrp__wire__v1__cluster_updates__free_unpacked(p, nil) }
        var out: [ClusterUpdate] = []
        out.reserveCapacity(p.pointee.n_updates)
        for i in 0..<p.pointee.n_updates {
            guard let u = p.pointee.updates[i] else { throw .decode }
            out.append(try update(u))
        }
        return out
    }

    static func update(_ m: UnsafeMutablePointer<Wrp__Wire__V1__ClusterUpdate>) throws(WireError) -> ClusterUpdate {
        switch m.pointee.kind_case {
        case WRP__WIRE__V1__CLUSTER_UPDATE__KIND_BACKEND:
            guard let x = m.pointee.backend, let s = x.pointee.spec, let st = x.pointee.stamp else { throw .decode }
            let id = swiftString(s.pointee.id)
            guard !id.isEmpty, s.pointee.weight.isFinite, s.pointee.weight >= 0, s.pointee.max_concurrency >= 0,
                  s.pointee.max_concurrency <= Int64(Int32.max) else { throw .decode }
            let spec = Routing.BackendSpec(id: id, url: swiftString(s.pointee.url), weight: s.pointee.weight,
                                           maxConcurrency: Int(s.pointee.max_concurrency),
                                           costInputPerMillion: s.pointee.cost_input_per_million,
                                           costOutputPerMillion: s.pointee.cost_output_per_million)
            return .backend(BackendRecord(pool: swiftString(x.pointee.pool), spec: spec, removed: x.pointee.removed != 0,
                                          stamp: Stamp(time: st.pointee.time, node: swiftString(st.pointee.node))))
        case WRP__WIRE__V1__CLUSTER_UPDATE__KIND_HEALTH:
            guard let x = m.pointee.health, x.pointee.status <= 2 else { throw .decode }
            return .health(backendID: swiftString(x.pointee.backend_id), observer: swiftString(x.pointee.observer),
                           HealthObservation(status: Routing.HealthStatus(rank: Int32(x.pointee.status)), version: x.pointee.version))
        case WRP__WIRE__V1__CLUSTER_UPDATE__KIND_LOAD:
            guard let x = m.pointee.load else { throw .decode }
            var inFlight: [String: Int32] = [:]
            for i in 0..<x.pointee.n_in_flight {
                guard let e = x.pointee.in_flight[i] else { throw .decode }
                inFlight[swiftString(e.pointee.backend_id)] = e.pointee.in_flight
            }
            return .load(node: swiftString(x.pointee.node), LoadSummary(version: x.pointee.version, inFlight: inFlight, atMs: x.pointee.at_ms))
        case WRP__WIRE__V1__CLUSTER_UPDATE__KIND_OWNERSHIP:
            guard let x = m.pointee.ownership else { throw .decode }
            var targets: [String] = []
            for i in 0..<x.pointee.n_targets { targets.append(swiftString(x.pointee.targets[i])) }
            return .override(prefix: x.pointee.prefix, OwnershipOverride(pool: swiftString(x.pointee.pool), targets: targets,
                                                                         version: x.pointee.version, origin: swiftString(x.pointee.origin),
                                                                         expiresAtMs: x.pointee.expires_at_ms))
        case WRP__WIRE__V1__CLUSTER_UPDATE__KIND_OWNED:
            guard let x = m.pointee.owned else { throw .decode }
            return .owned(namespace: swiftString(x.pointee.ns), key: swiftString(x.pointee.key), node: swiftString(x.pointee.node),
                          OwnedEntry(version: x.pointee.version, payload: swiftBytes(x.pointee.payload)))
        default:
            throw .decode
        }
    }
}

/// Gossip packets on the wire: protobuf, then sealed with the keyring.
public struct GossipCodec: Sendable {
    public let keyring: Keyring

    public init(keyring: Keyring) { self.keyring = keyring }

    public func sealPacket(_ messages: [Membership.Message]) -> [UInt8] {
        keyring.seal(MembershipCodec.encodePacket(messages))
    }

    public func openPacket(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [Membership.Message] {
        try MembershipCodec.decodePacket(try keyring.open(bytes))
    }

    public func sealPushPull(_ s: Membership.PushPullState) -> [UInt8] {
        keyring.seal(MembershipCodec.encodePushPull(s))
    }

    public func openPushPull(_ bytes: [UInt8]) throws(WireError) -> Membership.PushPullState {
        try MembershipCodec.decodePushPull(try keyring.open(bytes))
    }
}
