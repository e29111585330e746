import WRPCommon

/// Cuts a canonical prompt byte stream into fixed-size blocks and hashes each, chaining the
/// previous block's hash, starting from a seed derived from the model name.
///
/// Equal prefixes give equal chains on every node and in wrp-sim (the hash is process-independent,
/// see `Hash64`). Only full blocks enter the chain, as in vLLM's prefix cache; `tailHash` also
/// covers the last partial block so that short prompts still have an affinity key.
/// Block size is in bytes of canonical text (default 256 ≈ 64 tokens at ~4 bytes per token).
/// A class over a raw buffer: bytes arrive in runs (memcpy) on the request path, with no
/// copy-on-write checks per byte.
public final class PrefixBlockHasher {
    public let blockBytes: Int
    /// Stop chaining after this many blocks (bounds work for huge prompts; the rest is only counted).
    public let maxBlocks: Int
    let buffer: UnsafeMutableRawPointer
    var fill = 0
    var prev: UInt64 = 0
    public private(set) var hashes: [UInt64] = []
    public private(set) var totalBytes = 0

    public init(blockBytes: Int = 256, maxBlocks: Int = 4096) {
        precondition(blockBytes >= 8, "block size \(blockBytes) too small")
        self.blockBytes = blockBytes
        self.maxBlocks = maxBlocks
        buffer = .allocate(byteCount: blockBytes, alignment: 8)
        hashes.reserveCapacity(64)
    }

    deinit { buffer.deallocate() }

    public static func modelSeed(_ model: String) -> UInt64 { Hash64.hash(model, seed: Hash64.seedA) }

    /// Starts a new prompt; keeps allocated capacity.
    public func reset(seed: UInt64) {
        fill = 0
        prev = seed
        totalBytes = 0
        hashes.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    public func append(_ b: UInt8) {
        totalBytes &+= 1
        if hashes.count >= maxBlocks { return }
        buffer.storeBytes(of: b, toByteOffset: fill, as: UInt8.self)
        fill &+= 1
        if fill == blockBytes { flush() }
    }

    /// Appends a run of bytes, block by block.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        totalBytes &+= bytes.count
        var offset = 0
        while offset < bytes.count && hashes.count < maxBlocks {
            let n = min(blockBytes - fill, bytes.count - offset)
            (buffer + fill).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            fill += n
            offset += n
            if fill == blockBytes { flush() }
        }
    }

    @inline(__always)
    func flush() {
        let h = Hash64.hash(UnsafeRawBufferPointer(start: buffer, count: fill), seed: prev)
        hashes.append(h)
        prev = h
        fill = 0
    }

    /// The chain through the last full block, extended by the partial block if there is one.
    public var tailHash: UInt64 {
        if fill == 0 { return prev }
        return Hash64.hash(UnsafeRawBufferPointer(start: buffer, count: fill), seed: prev)
    }
}
