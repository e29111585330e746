import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4/IPv6 socket address.
public struct SocketAddress: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: a plain C value type (sockaddr_storage), copied, never shared by reference.
    public var storage = sockaddr_storage()

    public init() {}

    /// Parses a numeric IPv4/IPv6 address ("localhost" is 127.0.0.1); nil for names needing DNS.
    public init?(ip: String, port: Int) {
        let host = ip == "localhost" ? "127.0.0.1" : ip
        var s = sockaddr_storage()
        let ok: Bool = withUnsafeMutablePointer(to: &s) { p in
            if uv_ip4_addr(host, Int32(port), UnsafeMutableRawPointer(p).assumingMemoryBound(to: sockaddr_in.self)) == 0 { return true }
            return uv_ip6_addr(host, Int32(port), UnsafeMutableRawPointer(p).assumingMemoryBound(to: sockaddr_in6.self)) == 0
        }
        guard ok else { return nil }
        storage = s
    }

    init(_ p: UnsafePointer<sockaddr>) {
        let len = p.pointee.sa_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: p, count: len))
        }
    }

    public var port: Int {
        withUnsafeBytes(of: storage) { raw in
            let p = raw.baseAddress!
            if storage.ss_family == sa_family_t(AF_INET6) {
                return Int(UInt16(bigEndian: p.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port))
            }
            return Int(UInt16(bigEndian: p.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port))
        }
    }

    public var host: String {
        var buf = [CChar](repeating: 0, count: 64)
        withUnsafeBytes(of: storage) { raw in
            let p = raw.baseAddress!
            if storage.ss_family == sa_family_t(AF_INET6) {
                _ = uv_ip6_name(p.assumingMemoryBound(to: sockaddr_in6.self), &buf, 64)
            } else {
                _ = uv_ip4_name(p.assumingMemoryBound(to: sockaddr_in.self), &buf, 64)
            }
        }
        return String(cString: buf)
    }

    public var description: String { storage.ss_family == sa_family_t(AF_INET6) ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>) -> R) -> R {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self)) }
    }
}

/// A TCP stream (accepted or connected). Retains itself while its handle is open; closing
/// releases it after libuv's close callback. Reads are delivered synchronously from the loop's
/// shared buffer: `onRead` must copy what it keeps.
public final class UVTCP {
    public let loop: UVLoop
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public private(set) var isClosed = false
    private var closeWhenFlushed = false
    public private(set) var pendingWrites = 0

    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// EOF (nil) or a read error. The stream is not closed automatically.
    public var onEnd: ((UVError?) -> Void)?
    /// All queued writes were flushed to the kernel.
    public var onDrain: (() -> Void)?
    public var onClose: (() -> Void)?

    public init(loop: UVLoop) {
        self.loop = loop
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    static func from(_ p: UnsafeMutableRawPointer) -> UVTCP { Unmanaged<UVTCP>.fromOpaque(p).takeUnretainedValue() }

    public func setNoDelay(_ on: Bool = true) { uv_tcp_nodelay(handle, on ? 1 : 0) }

    public func setKeepAlive(seconds: UInt32) { uv_tcp_keepalive(handle, 1, seconds) }

    /// Bytes queued in libuv, not yet written to the socket (for backpressure).
    public var writeQueueSize: Int { uv_stream_get_write_queue_size(asStream(handle)) }

    public var localAddress: SocketAddress? { boundAddress { uv_tcp_getsockname(handle, $0, $1) } }

    final class ConnectBox {
        let completion: (UVError?) -> Void
        init(_ c: @escaping (UVError?) -> Void) { completion = c }
    }

    /// Connects; `completion` runs on the loop (with UV_ECANCELED if closed first).
    public func connect(to address: SocketAddress, _ completion: @escaping (UVError?) -> Void) {
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(ConnectBox(completion)).toOpaque()
        let status = address.withSockaddr { sa in
            uv_tcp_connect(req, handle, sa) { req, status in
                guard let req else { return }
                let box = Unmanaged<ConnectBox>.fromOpaque(req.pointee.data).takeRetainedValue()
                req.deallocate()
                box.completion(status < 0 ? UVError(code: status, operation: "connect") : nil)
            }
        }
        if status < 0 {
            let box = Unmanaged<ConnectBox>.fromOpaque(req.pointee.data).takeRetainedValue()
            req.deallocate()
            box.completion(UVError(code: status, operation: "connect"))
        }
    }

    public func startReading() {
        guard !isClosed else { return }
        uv_read_start(asStream(handle), { h, _, buf in
            guard let h, let buf else { return }
            let loop = UVLoop.from(h.pointee.loop)
            buf.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(UVLoop.readBufferSize))
        }, { s, nread, buf in
            guard let s else { return }
            let me = UVTCP.from(s.pointee.data)
            if nread > 0 {
                me.onRead?(UnsafeRawBufferPointer(start: buf?.pointee.base, count: nread))
            } else if nread < 0 {
                uv_read_stop(s)
                me.onEnd?(nread == Int(UVError.eof) ? nil : UVError(code: Int32(nread), operation: "read"))
            }
        })
    }

    public func stopReading() {
        guard !isClosed else { return }
        uv_read_stop(asStream(handle))
    }

    final class WriteBox {
        let bytes: UnsafeMutableRawPointer
        init(_ b: UnsafeMutableRawPointer) { bytes = b }
    }

    /// Queues `data` (copied if it cannot be written at once).
    public func write(_ data: UnsafeRawBufferPointer) {
        guard !isClosed, data.count > 0 else { return }
        var offset = 0
        if pendingWrites == 0 {
            var buf = uv_buf_init(UnsafeMutablePointer(mutating: data.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(data.count))
            let n = uv_try_write(asStream(handle), &buf, 1)
            if n == Int32(data.count) { return }
            if n > 0 { offset = Int(n) }
            else if n != Int32(UV_EAGAIN.rawValue) && n != Int32(UV_ENOSYS.rawValue) {
                // The socket is broken; the read side reports it. Drop the bytes.
                return
            }
        }
        let remaining = data.count - offset
        let copy = UnsafeMutableRawPointer.allocate(byteCount: remaining, alignment: 1)
        copy.copyMemory(from: data.baseAddress! + offset, byteCount: remaining)
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(WriteBox(copy)).toOpaque()
        var buf = uv_buf_init(copy.assumingMemoryBound(to: CChar.self), UInt32(remaining))
        pendingWrites += 1
        let status = uv_write(req, asStream(handle), &buf, 1) { req, _ in
            guard let req else { return }
            let box = Unmanaged<WriteBox>.fromOpaque(req.pointee.data).takeRetainedValue()
            let stream = req.pointee.handle!
            box.bytes.deallocate()
            req.deallocate()
            let me = UVTCP.from(stream.pointee.data)
            me.pendingWrites -= 1
            if me.pendingWrites == 0 {
                if me.closeWhenFlushed { me.close() } else { me.onDrain?() }
            }
        }
        if status < 0 {
            pendingWrites -= 1
            Unmanaged<WriteBox>.fromOpaque(req.pointee.data).release()
            copy.deallocate()
            req.deallocate()
        }
    }

    public func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Closes once queued writes are flushed.
    public func closeAfterFlush() {
        if pendingWrites == 0 { close() } else { closeWhenFlushed = true; stopReading() }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        onRead = nil
        onEnd = nil
        onDrain = nil
        uv_close(asHandle(handle)) { h in
            guard let h else { return }
            let me = Unmanaged<UVTCP>.fromOpaque(h.pointee.data).takeRetainedValue()
            let cb = me.onClose
            me.onClose = nil
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_tcp_t.self).deallocate()
            cb?()
        }
    }
}

/// A listening TCP socket handing accepted connections to `onConnection`.
public final class UVTCPListener {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    let loop: UVLoop
    var onConnection: ((UVTCP) -> Void)?
    public private(set) var isClosed = false
    public private(set) var address = SocketAddress()

    public init(loop: UVLoop, host: String, port: Int, backlog: Int32 = 1024,
                onConnection: @escaping (UVTCP) -> Void) throws(UVError) {
        guard let addr = SocketAddress(ip: host, port: port) else {
            throw UVError(code: Int32(UV_EINVAL.rawValue), operation: "listen on \(host):\(port): not a numeric address")
        }
        self.loop = loop
        self.onConnection = onConnection
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let h = handle
        do {
            try uvCheck(addr.withSockaddr { uv_tcp_bind(h, $0, 0) }, "bind \(host):\(port)")
            try uvCheck(uv_listen(asStream(handle), backlog) { server, status in
                guard let server, status >= 0 else { return }
                let me = Unmanaged<UVTCPListener>.fromOpaque(server.pointee.data).takeUnretainedValue()
                let client = UVTCP(loop: me.loop)
                if uv_accept(server, asStream(client.handle)) == 0 {
                    me.onConnection?(client)
                } else {
                    client.close()
                }
            }, "listen \(host):\(port)")
        } catch {
            close()
            throw error
        }
        address = boundAddress { uv_tcp_getsockname(h, $0, $1) } ?? addr
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        onConnection = nil
        closeOwnedHandle(asHandle(handle))
    }
}

/// Asynchronous name resolution on libuv's thread pool.
public enum UVResolver {
    final class Box {
        let completion: (Result<SocketAddress, UVError>) -> Void
        init(_ c: @escaping (Result<SocketAddress, UVError>) -> Void) { completion = c }
    }

    /// Resolves `host` (numeric addresses answer synchronously) to its first address.
    public static func resolve(loop: UVLoop, host: String, port: Int,
                               _ completion: @escaping (Result<SocketAddress, UVError>) -> Void) {
        if let a = SocketAddress(ip: host, port: port) { completion(.success(a)); return }
        let req = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(Box(completion)).toOpaque()
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let status = uv_getaddrinfo(loop.raw, req, { req, status, res in
            guard let req else { return }
            let box = Unmanaged<Box>.fromOpaque(req.pointee.data).takeRetainedValue()
            req.deallocate()
            defer { if let res { uv_freeaddrinfo(res) } }
            guard status == 0, let res, let sa = res.pointee.ai_addr else {
                box.completion(.failure(UVError(code: status == 0 ? Int32(UV_EAI_NONAME.rawValue) : status, operation: "resolve")))
                return
            }
            box.completion(.success(SocketAddress(sa)))
        }, host, String(port), &hints)
        if status < 0 {
            let box = Unmanaged<Box>.fromOpaque(req.pointee.data).takeRetainedValue()
            req.deallocate()
            box.completion(.failure(UVError(code: status, operation: "resolve \(host)")))
        }
    }
}
