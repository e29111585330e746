/// A validating, allocation-free JSON scanner over raw bytes.
///
/// The request path needs only a handful of fields from an OpenAI body (`model`, `stream`,
/// `max_tokens`, the prompt text); building a Foundation object graph for an 8 KiB body would cost
/// more than the whole routing budget. The scanner walks the bytes once, validates structure
/// (depth-limited, so hostile input cannot blow the stack) and hands back byte ranges.
public struct JSONScanner {
    public enum Failure: Error, Equatable, Sendable {
        case syntax(offset: Int)
        case tooDeep
    }

    let base: UnsafeRawBufferPointer
    public private(set) var pos: Int
    let end: Int
    static let maxDepth = 64

    public init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.base = bytes
        self.pos = start
        self.end = end ?? bytes.count
    }

    @inline(__always) public var atEnd: Bool { pos >= end }

    @inline(__always) func byte(_ i: Int) -> UInt8 { base[i] }

    @inline(__always)
    public mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    @inline(__always)
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return pos < end ? base[pos] : nil
    }

    @inline(__always)
    public mutating func expect(_ c: UInt8) throws(Failure) {
        skipWhitespace()
        guard pos < end, base[pos] == c else { throw .syntax(offset: pos) }
        pos += 1
    }

    /// Consumes `c` if it is next; returns whether it was.
    @inline(__always)
    public mutating func consume(_ c: UInt8) -> Bool {
        skipWhitespace()
        if pos < end && base[pos] == c { pos += 1; return true }
        return false
    }

    /// Index of the first byte at or after `from` (before `end`) that is `"`, `\\` or a control
    /// byte, or `end`. Eight bytes at a time (SWAR): prompts are long strings of plain text.
    @inline(__always)
    func nextSpecial(from: Int) -> Int {
        var i = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= end {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let q = w ^ 0x2222_2222_2222_2222
            let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
            let hit = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((w &- 0x2020_2020_2020_2020) & ~w)
            if hit & highs != 0 { break }
            i += 8
        }
        while i < end {
            let c = base[i]
            if c == 0x22 || c == 0x5C || c < 0x20 { return i }
            i += 1
        }
        return end
    }

    /// Scans a string token; returns the range of its raw (still escaped) contents.
    public mutating func scanString() throws(Failure) -> Range<Int> {
        try expect(UInt8(ascii: "\""))
        let start = pos
        while pos < end {
            pos = nextSpecial(from: pos)
            guard pos < end else { break }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                let r = start..<pos
                pos += 1
                return r
            }
            if c == UInt8(ascii: "\\") {
                pos += 1
                guard pos < end else { break }
                let e = base[pos]
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 1
                case UInt8(ascii: "u"):
                    guard pos + 4 < end else { throw .syntax(offset: pos) }
                    for k in 1...4 where JSONScanner.hexValue(base[pos + k]) == nil { throw .syntax(offset: pos + k) }
                    pos += 5
                default:
                    throw .syntax(offset: pos)
                }
                continue
            }
            throw .syntax(offset: pos)
        }
        throw .syntax(offset: pos)
    }

    /// Skips any value; returns its range.
    @discardableResult
    public mutating func skipValue(depth: Int = 0) throws(Failure) -> Range<Int> {
        guard depth < JSONScanner.maxDepth else { throw .tooDeep }
        skipWhitespace()
        guard pos < end else { throw .syntax(offset: pos) }
        let start = pos
        switch base[pos] {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            pos += 1
            if !consume(UInt8(ascii: "}")) {
                repeat {
                    _ = try scanString()
                    try expect(UInt8(ascii: ":"))
                    try skipValue(depth: depth + 1)
                } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"))
            }
        case UInt8(ascii: "["):
            pos += 1
            if !consume(UInt8(ascii: "]")) {
                repeat { try skipValue(depth: depth + 1) } while consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"))
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try scanNumber()
        }
        return start..<pos
    }

    mutating func literal(_ s: StaticString) throws(Failure) {
        let n = s.utf8CodeUnitCount
        guard pos + n <= end else { throw .syntax(offset: pos) }
        let p = s.utf8Start
        for i in 0..<n where base[pos + i] != p[i] { throw .syntax(offset: pos + i) }
        pos += n
    }

    mutating func scanNumber() throws(Failure) {
        let start = pos
        if pos < end && base[pos] == UInt8(ascii: "-") { pos += 1 }
        let firstDigit = pos
        var digits = 0
        while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 { pos += 1; digits += 1 }
        guard digits > 0 else { throw .syntax(offset: start) }
        // RFC 8259 §6: no leading zeros.
        if digits > 1 && base[firstDigit] == 0x30 { throw .syntax(offset: firstDigit) }
        if pos < end && base[pos] == UInt8(ascii: ".") {
            pos += 1
            var frac = 0
            while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 { pos += 1; frac += 1 }
            guard frac > 0 else { throw .syntax(offset: pos) }
        }
        if pos < end && (base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E")) {
            pos += 1
            if pos < end && (base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-")) { pos += 1 }
            var exp = 0
            while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 { pos += 1; exp += 1 }
            guard exp > 0 else { throw .syntax(offset: pos) }
        }
    }

    /// Whether the raw string contents in `range` equal the ASCII `key` (no escapes in keys we look for).
    @inline(__always)
    public func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        guard range.count == n else { return false }
        let p = key.utf8Start
        var i = 0
        while i < n { if base[range.lowerBound + i] != p[i] { return false }; i += 1 }
        return true
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c - 0x30)
        case 0x61...0x66: return UInt32(c - 0x61 + 10)
        case 0x41...0x46: return UInt32(c - 0x41 + 10)
        default: return nil
        }
    }

    /// Decodes the (already validated) raw string contents in `range`, feeding UTF-8 bytes to `sink`.
    @inline(__always)
    public func unescape(_ range: Range<Int>, into sink: (UInt8) -> Void) {
        var i = range.lowerBound
        let e = range.upperBound
        while i < e {
            let c = base[i]
            if c != UInt8(ascii: "\\") { sink(c); i += 1; continue }
            let x = base[i + 1]
            i += 2
            switch x {
            case UInt8(ascii: "b"): sink(0x08)
            case UInt8(ascii: "f"): sink(0x0C)
            case UInt8(ascii: "n"): sink(0x0A)
            case UInt8(ascii: "r"): sink(0x0D)
            case UInt8(ascii: "t"): sink(0x09)
            case UInt8(ascii: "u"):
                var cp = hex4(i)
                i += 4
                if cp >= 0xD800 && cp < 0xDC00, i + 6 <= e, base[i] == UInt8(ascii: "\\"), base[i + 1] == UInt8(ascii: "u") {
                    let lo = hex4(i + 2)
                    if lo >= 0xDC00 && lo < 0xE000 {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    }
                }
                JSONScanner.utf8(cp, sink)
            default: sink(x)
            }
        }
    }

    /// Decodes the (already validated) raw string contents in `range` into `hasher`, copying
    /// unescaped runs in bulk.
    public func unescape(_ range: Range<Int>, into hasher: PrefixBlockHasher) {
        var i = range.lowerBound
        let e = range.upperBound
        while i < e {
            var j = i
            while j < e && base[j] != UInt8(ascii: "\\") {
                let scanner = JSONScanner(base, from: j, to: e)
                j = scanner.nextSpecial(from: j)
                if j < e && base[j] != UInt8(ascii: "\\") { j += 1 }
            }
            if j > i { hasher.append(UnsafeRawBufferPointer(rebasing: base[i..<j])) }
            guard j < e else { return }
            // One escape sequence (always complete: the range was validated).
            let escEnd = base[j + 1] == UInt8(ascii: "u") ? min(e, j + 12) : j + 2
            var k = j + 2
            if base[j + 1] == UInt8(ascii: "u") {
                k = j + 6
                if k + 6 <= escEnd && base[k] == UInt8(ascii: "\\") && base[k + 1] == UInt8(ascii: "u") {
                    let hi = hex4(j + 2), lo = hex4(k + 2)
                    if hi >= 0xD800 && hi < 0xDC00 && lo >= 0xDC00 && lo < 0xE000 { k += 6 }
                }
            }
            unescape(j..<k) { hasher.append($0) }
            i = k
        }
    }

    /// The decoded string in `range` (allocates; for fields like `model`, not for prompts).
    public func string(_ range: Range<Int>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        unescape(range) { out.append($0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses the number in `range` as an integer (nil when not an integer in range).
    public func integer(_ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        var neg = false
        if i < range.upperBound && base[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        guard i < range.upperBound else { return nil }
        var v = 0
        while i < range.upperBound {
            let c = base[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 0x30))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return neg ? -v : v
    }

    @inline(__always)
    func hex4(_ i: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | (JSONScanner.hexValue(base[i + k]) ?? 0) }
        return v
    }

    @inline(__always)
    static func utf8(_ cp: UInt32, _ sink: (UInt8) -> Void) {
        switch cp {
        case 0..<0x80: sink(UInt8(cp))
        case 0x80..<0x800:
            sink(UInt8(0xC0 | (cp >> 6))); sink(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            sink(UInt8(0xE0 | (cp >> 12))); sink(UInt8(0x80 | ((cp >> 6) & 0x3F))); sink(UInt8(0x80 | (cp & 0x3F)))
        default:
            sink(UInt8(0xF0 | (cp >> 18))); sink(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            sink(UInt8(0x80 | ((cp >> 6) & 0x3F))); sink(UInt8(0x80 | (cp & 0x3F)))
        }
    }
}
