/// 64-bit hashing used for prefix blocks and hash rings.
///
/// Deterministic across processes and machines (unlike `Hasher`, which is seeded per process):
/// every router node and wrp-sim must compute the same values for the same bytes.
/// Word-at-a-time multiply-mix (in the spirit of wyhash/murmur3's finaliser), so an 8 KiB prompt
/// hashes in about a microsecond.
public enum Hash64 {
    public static let seedA: UInt64 = 0x9E37_79B9_7F4A_7C15
    public static let seedB: UInt64 = 0xC2B2_AE3D_27D4_EB4F

    /// murmur3's 64-bit finaliser: a bijective avalanche mix.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }

    @inline(__always)
    public static func combine(_ h: UInt64, _ v: UInt64) -> UInt64 {
        mix(h ^ (v &* 0x8754_1A2B_C3D4_E5F7) &+ 0x2545_F491_4F6C_DD1D)
    }

    /// Hashes `bytes` starting from `seed`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(bytes.count) &* 0x9FB2_1C65_1E98_DF25)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ mix(w &* 0x87C3_7B91_1142_53D5)) &* 0x4CF5_AD43_2745_937F
            h = (h << 31) | (h >> 33)
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { tail |= UInt64(bytes[i]) << shift; shift += 8; i += 1 }
            h = (h ^ mix(tail &* 0x87C3_7B91_1142_53D5)) &* 0x4CF5_AD43_2745_937F
        }
        return mix(h)
    }

    public static func hash(_ s: String, seed: UInt64) -> UInt64 {
        var s = s
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }
}
