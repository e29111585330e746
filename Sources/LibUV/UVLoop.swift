import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Owns one libuv loop. Not thread-safe: every handle of a loop is used on the loop's thread only
/// (cross-thread work comes in through `UVAsync`).
public final class UVLoop {
    public let raw: UnsafeMutablePointer<uv_loop_t>
    /// One read buffer per loop: reads are processed synchronously in the read callback, so all
    /// streams can share it (see c-interop.md).
    let readBuffer: UnsafeMutableRawPointer
    static let readBufferSize = 64 * 1024

    public init() throws(UVError) {
        // A peer closing mid-write must be an EPIPE error, not a process-killing SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        raw = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: UVLoop.readBufferSize, alignment: 16)
        do {
            try uvCheck(uv_loop_init(raw), "uv_loop_init")
        } catch {
            raw.deallocate()
            readBuffer.deallocate()
            throw error
        }
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        // Close whatever is still open, let close callbacks run, then free the loop.
        uv_walk(raw, { h, _ in
            if let h, uv_is_closing(h) == 0 { uv_close(h, nil) }
        }, nil)
        _ = uv_run(raw, UV_RUN_DEFAULT)
        uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
    }

    /// Runs until there is nothing left to do or `stop()` is called.
    public func run() { _ = uv_run(raw, UV_RUN_DEFAULT) }

    /// Runs one iteration without blocking (tests).
    public func runOnce() { _ = uv_run(raw, UV_RUN_NOWAIT) }

    public func stop() { uv_stop(raw) }

    /// Monotonic time in nanoseconds (high resolution, not cached).
    public static func hrtime() -> UInt64 { uv_hrtime() }

    /// The loop's cached millisecond clock.
    public var nowMilliseconds: UInt64 { uv_now(raw) }

    static func from(_ loop: UnsafeMutablePointer<uv_loop_t>) -> UVLoop {
        Unmanaged<UVLoop>.fromOpaque(loop.pointee.data).takeUnretainedValue()
    }
}
