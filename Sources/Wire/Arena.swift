import CWireProto
#if canImport(Glibc)
import Glibc
#endif

/// C memory for one encode: strings, byte buffers and message structs that protobuf-c reads
/// while packing. Everything is freed together when the arena goes away.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    func alloc<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let p = calloc(max(1, count), MemoryLayout<T>.stride)!
        blocks.append(p)
        return p.assumingMemoryBound(to: T.self)
    }

    func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        let bytes = Array(s.utf8)
        let p = alloc(CChar.self, count: bytes.count + 1)
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        p[bytes.count] = 0
        return p
    }

    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let p = alloc(UInt8.self, count: bytes.count)
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: p)
    }

    /// A C array of pointers to `items` built by `make`.
    func pointers<T, E>(_ items: [E], _ make: (E) -> UnsafeMutablePointer<T>) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        let arr = alloc(UnsafeMutablePointer<T>?.self, count: items.count)
        for (i, e) in items.enumerated() { arr[i] = make(e) }
        return arr
    }
}

@inline(__always)
func swiftString(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

@inline(__always)
func swiftBytes(_ b: ProtobufCBinaryData) -> [UInt8] {
    guard b.len > 0, let d = b.data else { return [] }
    return Array(UnsafeBufferPointer(start: d, count: b.len))
}
