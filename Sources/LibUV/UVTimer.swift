import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// A libuv timer calling a closure. Retains itself while its handle is open; `close()` ends that.
public final class UVTimer {
    let handle: UnsafeMutablePointer<uv_timer_t>
    var callback: (() -> Void)?
    private var closed = false

    public init(loop: UVLoop) {
        handle = .allocate(capacity: 1)
        uv_timer_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Fires once after `ms` milliseconds, then every `repeatMs` if non-zero. Restarting re-arms.
    public func start(afterMs ms: UInt64, repeatMs: UInt64 = 0, _ body: @escaping () -> Void) {
        guard !closed else { return }
        callback = body
        uv_timer_start(handle, { h in
            guard let h else { return }
            let t = Unmanaged<UVTimer>.fromOpaque(h.pointee.data).takeUnretainedValue()
            t.callback?()
        }, ms, repeatMs)
    }

    public func stop() {
        guard !closed else { return }
        uv_timer_stop(handle)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        callback = nil
        closeOwnedHandle(asHandle(handle))
    }

    /// Keeps the loop from waiting on this timer alone.
    public func unref() { uv_unref(asHandle(handle)) }
}

/// Delivers Unix signals on the loop thread.
public final class UVSignal {
    let handle: UnsafeMutablePointer<uv_signal_t>
    var callback: ((Int32) -> Void)?
    private var closed = false

    public init(loop: UVLoop, signal: Int32, _ body: @escaping (Int32) -> Void) throws(UVError) {
        // A parent may have spawned us with the signal blocked (test runners do); unblock it.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        handle = .allocate(capacity: 1)
        uv_signal_init(loop.raw, handle)
        callback = body
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        try uvCheck(uv_signal_start(handle, { h, sig in
            guard let h else { return }
            Unmanaged<UVSignal>.fromOpaque(h.pointee.data).takeUnretainedValue().callback?(sig)
        }, signal), "uv_signal_start")
        uv_unref(asHandle(handle))
    }

    public func close() {
        guard !closed else { return }
        closed = true
        callback = nil
        closeOwnedHandle(asHandle(handle))
    }
}

/// Wakes the loop from another thread (`send` is the only libuv call safe off the loop thread).
public final class UVAsync: @unchecked Sendable {
    // @unchecked: only `send()` is called from other threads, and uv_async_send is thread-safe.
    let handle: UnsafeMutablePointer<uv_async_t>
    var callback: (() -> Void)?

    public init(loop: UVLoop, _ body: @escaping () -> Void) {
        handle = .allocate(capacity: 1)
        callback = body
        uv_async_init(loop.raw, handle) { h in
            guard let h else { return }
            Unmanaged<UVAsync>.fromOpaque(h.pointee.data).takeUnretainedValue().callback?()
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func send() { uv_async_send(handle) }

    public func unref() { uv_unref(asHandle(handle)) }

    public func close() {
        callback = nil
        closeOwnedHandle(asHandle(handle))
    }
}
