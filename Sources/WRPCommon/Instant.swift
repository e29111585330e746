/// A point in (real or virtual) time, in nanoseconds since an arbitrary epoch.
///
/// Cores never read a clock: the shell passes `now` in, the simulator passes virtual time.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)
    public static func milliseconds(_ ms: UInt64) -> Instant { Instant(nanoseconds: ms &* 1_000_000) }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Instant, d: Nanos) -> Instant { Instant(nanoseconds: a.nanoseconds &+ d) }
    /// Saturating difference: `a - b` is 0 when `b` is later than `a`.
    public static func - (a: Instant, b: Instant) -> Nanos { a.nanoseconds >= b.nanoseconds ? a.nanoseconds - b.nanoseconds : 0 }

    public var milliseconds: Double { Double(nanoseconds) / 1e6 }
    public var description: String { "\(nanoseconds)ns" }
}

/// A duration in nanoseconds.
public typealias Nanos = UInt64

public extension UInt64 {
    static func ms(_ v: UInt64) -> Nanos { v &* 1_000_000 }
    static func seconds(_ v: UInt64) -> Nanos { v &* 1_000_000_000 }
}
