/// Appends JSON to a byte buffer without building intermediate `String`s.
///
/// The caller is responsible for structure (commas, nesting); helpers keep it short:
/// `w.object { w.key("a"); w.int(1) }`.
public struct JSONWriter {
    public var bytes: [UInt8]
    var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"name":`; the next value follows without a comma.
    public mutating func key(_ name: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { buf in for c in buf { escape(c) } }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func string(bytes b: some Sequence<UInt8>) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        for c in b { escape(c) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    @inline(__always) mutating func escape(_ c: UInt8) {
        switch c {
        case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(c)
        case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(c)
        case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
        case 0..<0x20:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
        default: bytes.append(c)
        }
    }

    public mutating func int(_ v: Int) {
        comma()
        JSONWriter.appendDecimal(v, to: &bytes)
        needsComma = true
    }

    public mutating func uint64(_ v: UInt64) {
        comma()
        if v == 0 { bytes.append(0x30) } else {
            var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                         UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var n = 0
            var x = v
            withUnsafeMutableBytes(of: &digits) { d in
                while x > 0 { d[n] = UInt8(x % 10) + 0x30; x /= 10; n += 1 }
                while n > 0 { n -= 1; bytes.append(d[n]) }
            }
        }
        needsComma = true
    }

    public mutating func double(_ v: Double) {
        comma()
        if v.isFinite {
            if v == v.rounded() && abs(v) < 1e15 { JSONWriter.appendDecimal(Int(v), to: &bytes) } else { bytes.append(contentsOf: Array("\(v)".utf8)) }
        } else {
            bytes.append(contentsOf: Array("null".utf8))
        }
        needsComma = true
    }

    public mutating func bool(_ v: Bool) {
        comma()
        bytes.append(contentsOf: v ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        needsComma = true
    }

    public mutating func null() {
        comma()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        needsComma = true
    }

    /// Appends already-encoded JSON.
    public mutating func raw(_ b: some Sequence<UInt8>) {
        comma()
        bytes.append(contentsOf: b)
        needsComma = true
    }

    public static func appendDecimal(_ v: Int, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var x = v.magnitude
        if x == 0 { out.append(0x30); return }
        let start = out.count
        while x > 0 { out.append(UInt8(x % 10) + 0x30); x /= 10 }
        out[start...].reverse()
    }
}

/// The OpenAI error shape: `{"error":{"message","type","code"}}`.
public func openAIErrorBody(message: String, type: String, code: String) -> [UInt8] {
    var w = JSONWriter(capacity: 96 + message.utf8.count)
    w.object { w in
        w.key("error")
        w.object { w in
            w.key("message"); w.string(message)
            w.key("type"); w.string(type)
            w.key("code"); w.string(code)
        }
    }
    return w.bytes
}
