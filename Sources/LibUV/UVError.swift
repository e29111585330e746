import CLibUV

/// A libuv status code as a typed error.
public struct UVError: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public init(code: Int32, operation: String) { self.code = code; self.operation = operation }

    public var name: String { String(cString: uv_err_name(code)) }
    public var message: String { String(cString: uv_strerror(code)) }
    public var description: String { "\(operation): \(message) (\(name))" }

    public static let eof = Int32(UV_EOF.rawValue)
    public static let canceled = Int32(UV_ECANCELED.rawValue)
    public static let timedOut = Int32(UV_ETIMEDOUT.rawValue)
    public static let addrInUse = Int32(UV_EADDRINUSE.rawValue)
}

/// The one funnel every libuv status goes through.
@inline(__always)
@discardableResult
public func uvCheck(_ status: Int32, _ operation: @autoclosure () -> String) throws(UVError) -> Int32 {
    if status < 0 { throw UVError(code: status, operation: operation()) }
    return status
}

/// Closes a handle whose `data` holds a retained owner (`Unmanaged.passRetained`): the close
/// callback releases the owner and frees the handle memory.
func closeOwnedHandle(_ h: UnsafeMutablePointer<uv_handle_t>) {
    uv_close(h) { h in
        guard let h else { return }
        Unmanaged<AnyObject>.fromOpaque(h.pointee.data).release()
        UnsafeMutableRawPointer(h).deallocate()
    }
}

/// The address a socket is bound to, read by `getName` (uv_tcp_getsockname, uv_udp_getsockname).
func boundAddress(_ getName: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<Int32>) -> Int32) -> SocketAddress? {
    var a = SocketAddress()
    var len = Int32(MemoryLayout<sockaddr_storage>.size)
    let r = withUnsafeMutablePointer(to: &a.storage) { p in
        getName(UnsafeMutableRawPointer(p).assumingMemoryBound(to: sockaddr.self), &len)
    }
    return r == 0 ? a : nil
}

@inline(__always)
func asHandle<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

@inline(__always)
func asStream<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_stream_t.self)
}
