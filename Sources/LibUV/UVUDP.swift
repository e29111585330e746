import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// A bound UDP socket delivering datagrams to `onMessage` (synchronously, from the loop's shared
/// read buffer: copy what you keep).
public final class UVUDP {
    let handle: UnsafeMutablePointer<uv_udp_t>
    let loop: UVLoop
    public var onMessage: ((UnsafeRawBufferPointer, SocketAddress) -> Void)?
    public private(set) var isClosed = false
    public private(set) var address = SocketAddress()

    public init(loop: UVLoop, host: String, port: Int) throws(UVError) {
        guard let addr = SocketAddress(ip: host, port: port) else {
            throw UVError(code: Int32(UV_EINVAL.rawValue), operation: "bind udp \(host):\(port): not a numeric address")
        }
        self.loop = loop
        handle = .allocate(capacity: 1)
        uv_udp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let h = handle
        do {
            try uvCheck(addr.withSockaddr { uv_udp_bind(h, $0, 0) }, "bind udp \(host):\(port)")
        } catch {
            close()
            throw error
        }
        address = boundAddress { uv_udp_getsockname(h, $0, $1) } ?? addr
    }

    public func startReceiving() {
        uv_udp_recv_start(handle, { h, _, buf in
            guard let h, let buf else { return }
            let loop = UVLoop.from(h.pointee.loop)
            buf.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(UVLoop.readBufferSize))
        }, { h, nread, buf, addr, _ in
            // nread == 0 with addr == nil means "nothing to read"; with addr it is an empty datagram.
            guard let h, nread >= 0, let addr, let buf else { return }
            let me = Unmanaged<UVUDP>.fromOpaque(h.pointee.data).takeUnretainedValue()
            me.onMessage?(UnsafeRawBufferPointer(start: buf.pointee.base, count: nread), SocketAddress(addr))
        })
    }

    final class SendBox {
        let bytes: UnsafeMutableRawPointer
        init(_ b: UnsafeMutableRawPointer) { bytes = b }
    }

    /// Sends one datagram (best effort: UDP).
    public func send(_ data: [UInt8], to address: SocketAddress) {
        guard !isClosed, !data.isEmpty else { return }
        let sent: Int32 = data.withUnsafeBytes { raw in
            var buf = uv_buf_init(UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(raw.count))
            return address.withSockaddr { uv_udp_try_send(handle, &buf, 1, $0) }
        }
        if sent >= 0 { return }
        guard sent == Int32(UV_EAGAIN.rawValue) else { return }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: data.count, alignment: 1)
        data.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let req = UnsafeMutablePointer<uv_udp_send_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(SendBox(copy)).toOpaque()
        var buf = uv_buf_init(copy.assumingMemoryBound(to: CChar.self), UInt32(data.count))
        let status = address.withSockaddr { sa in
            uv_udp_send(req, handle, &buf, 1, sa) { req, _ in
                guard let req else { return }
                let box = Unmanaged<SendBox>.fromOpaque(req.pointee.data).takeRetainedValue()
                box.bytes.deallocate()
                req.deallocate()
            }
        }
        if status < 0 {
            Unmanaged<SendBox>.fromOpaque(req.pointee.data).release()
            copy.deallocate()
            req.deallocate()
        }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        onMessage = nil
        closeOwnedHandle(asHandle(handle))
    }
}
