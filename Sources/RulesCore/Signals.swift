import WRPCommon
import Workload

/// What the cheap language detector reports: a language for Latin-script text with enough
/// stopwords (en, es, fr, de), otherwise the script.
public enum Language: String, Sendable, CaseIterable {
    case en, es, fr, de
    /// Latin script, none of the four recognised.
    case latin
    case zh, ja, ko
    case cyrillic, arabic
    /// No letters, or another script.
    case unknown
}

/// Per-request signals the rules read, extracted without building `String`s from the prompt.
public struct Signals: Sendable {
    /// Estimated prompt tokens (bytes / 4, as `Workload`).
    public var promptTokens: Int
    /// `model` from the body.
    public var requestedModel: String?
    /// The tier/tenant header value the shell passed in.
    public var tier: String?
    public var language: Language
    public var hasCode: Bool
    /// The prompt text (message contents, unescaped UTF-8), at most `maxTextBytes`.
    public var text: [UInt8]

    public init(promptTokens: Int = 0, requestedModel: String? = nil, tier: String? = nil,
                language: Language = .unknown, hasCode: Bool = false, text: [UInt8] = []) {
        self.promptTokens = promptTokens
        self.requestedModel = requestedModel
        self.tier = tier
        self.language = language
        self.hasCode = hasCode
        self.text = text
    }

    /// Signals from text alone (tests, the simulator): language and has_code detected.
    public init(text: String, promptTokens: Int? = nil, requestedModel: String? = nil, tier: String? = nil) {
        let bytes = Array(text.utf8)
        self.init(promptTokens: promptTokens ?? (bytes.count + 3) / 4, requestedModel: requestedModel, tier: tier,
                  language: Detect.language(bytes), hasCode: Detect.hasCode(bytes), text: bytes)
    }

    /// Extracts the signals of one request. `body` is the request body `workload` was parsed
    /// from (MUST be valid: the parser accepted it); message contents (chat) or the prompt
    /// (completions) are re-scanned and copied, up to `maxTextBytes` (default 64 KiB: keyword,
    /// regex, language and code detection look only at that much).
    public static func extract(workload: Workload, body: UnsafeRawBufferPointer, kind: RequestKind,
                               tier: String?, maxTextBytes: Int = 64 * 1024) -> Signals {
        var text: [UInt8] = []
        text.reserveCapacity(min(workload.promptBytes, maxTextBytes))
        TextCollector.collect(body, kind: kind, into: &text, limit: maxTextBytes)
        return Signals(promptTokens: workload.estimatedPromptTokens, requestedModel: workload.model, tier: tier,
                       language: Detect.language(text), hasCode: Detect.hasCode(text), text: text)
    }

    /// Bandit context features (d = 8): bias, log₂(1 + tokens)/17, has_code, English, other
    /// recognised Latin language (es/fr/de), CJK, another script, long prompt (> 8000 tokens).
    public var features: [Double] {
        let cjk = language == .zh || language == .ja || language == .ko
        let otherScript = language == .cyrillic || language == .arabic
        return [1, min(1, log2Approx(Double(1 + promptTokens)) / 17), hasCode ? 1 : 0, language == .en ? 1 : 0,
                (language == .es || language == .fr || language == .de) ? 1 : 0, cjk ? 1 : 0, otherScript ? 1 : 0,
                promptTokens > 8_000 ? 1 : 0]
    }

    public static let featureDimension = 8

    func containsFolded(_ needle: [UInt8]) -> Bool { ByteSearch.containsFolded(text, needle) }

    func matches(_ regex: Regex<AnyRegexOutput>) -> Bool {
        let s = String(decoding: text, as: UTF8.self)
        return (try? regex.firstMatch(in: s)) != nil
    }
}

/// log₂ without Foundation: exponent plus a linear mantissa term (error < 0.09, plenty for a feature).
@inline(__always) func log2Approx(_ x: Double) -> Double {
    guard x > 0 else { return 0 }
    return Double(x.exponent) + (x.significand - 1)
}

enum ByteSearch {
    /// ASCII lowercase; other bytes unchanged.
    @inline(__always) static func fold(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }

    /// Whether `needle` (already folded) occurs in `hay`, ASCII case-insensitively.
    static func containsFolded(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        let n = needle.count, h = hay.count
        guard n > 0 else { return true }
        guard n <= h else { return false }
        let first = needle[0]
        return hay.withUnsafeBufferPointer { p in
            needle.withUnsafeBufferPointer { q in
                var i = 0
                while i + n <= h {
                    if fold(p[i]) == first {
                        var j = 1
                        while j < n && fold(p[i + j]) == q[j] { j += 1 }
                        if j == n { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}

/// Cheap detectors over UTF-8 bytes.
public enum Detect {
    /// Script counts over the first 4 KiB decide the script; Latin text is then tested against
    /// short stopword lists for en, es, fr and de (a language needs ≥ 2 hits and a lead).
    public static func language(_ text: [UInt8]) -> Language {
        let n = min(text.count, 4096)
        var latin = 0, cyr = 0, arab = 0, han = 0, kana = 0, hangul = 0
        var i = 0
        while i < n {
            let c = text[i]
            if c < 0x80 {
                if (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A { latin += 1 }
                i += 1
                continue
            }
            var cp: UInt32 = 0
            var len = 1
            if c & 0xE0 == 0xC0 { cp = UInt32(c & 0x1F); len = 2 }
            else if c & 0xF0 == 0xE0 { cp = UInt32(c & 0x0F); len = 3 }
            else if c & 0xF8 == 0xF0 { cp = UInt32(c & 0x07); len = 4 }
            else { i += 1; continue }
            guard i + len <= text.count else { break }
            for k in 1..<len { cp = cp << 6 | UInt32(text[i + k] & 0x3F) }
            switch cp {
            case 0x00C0...0x024F: latin += 1
            case 0x0400...0x04FF: cyr += 1
            case 0x0600...0x06FF: arab += 1
            case 0x3040...0x30FF: kana += 1
            case 0x4E00...0x9FFF: han += 1
            case 0xAC00...0xD7AF: hangul += 1
            default: break
            }
            i += len
        }
        // CJK characters carry about as much as a word; weigh them up against Latin letters.
        let scores: [(Language, Int)] = [(.latin, latin), (.cyrillic, cyr), (.arabic, arab),
                                         (.ja, kana * 3 + (kana > 0 ? han * 3 : 0)), (.zh, kana > 0 ? 0 : han * 3), (.ko, hangul * 3)]
        let best = scores.max { $0.1 < $1.1 }!
        guard best.1 > 0 else { return .unknown }
        guard best.0 == .latin else { return best.0 }
        return stopwordLanguage(text, limit: n)
    }

    static let stopwords: [(Language, Set<[UInt8]>)] = [
        (.en, Set(["the", "and", "is", "of", "to", "in", "that", "it", "with", "for", "this", "what", "how", "are", "you", "can"].map { Array($0.utf8) })),
        (.es, Set(["el", "la", "los", "las", "y", "es", "que", "de", "en", "un", "una", "por", "para", "con", "como", "del"].map { Array($0.utf8) })),
        (.fr, Set(["le", "la", "les", "et", "est", "que", "des", "un", "une", "du", "pour", "dans", "avec", "pas", "qui", "je"].map { Array($0.utf8) })),
        (.de, Set(["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "mit", "den", "von", "ich", "sie", "wie", "auf"].map { Array($0.utf8) })),
    ]

    static func stopwordLanguage(_ text: [UInt8], limit: Int) -> Language {
        var counts = [0, 0, 0, 0]
        var word: [UInt8] = []
        word.reserveCapacity(16)
        func flush() {
            if !word.isEmpty && word.count <= 6 {
                for (k, entry) in stopwords.enumerated() where entry.1.contains(word) { counts[k] += 1 }
            }
            word.removeAll(keepingCapacity: true)
        }
        for i in 0..<limit {
            let c = text[i]
            let isLetter = ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) || c >= 0x80
            if isLetter { if word.count < 16 { word.append(ByteSearch.fold(c)) } } else { flush() }
        }
        flush()
        let order = counts.indices.sorted { counts[$0] > counts[$1] }
        let top = order[0], second = order[1]
        guard counts[top] >= 2, counts[top] > counts[second] else { return .latin }
        return stopwords[top].0
    }

    static let codeMarkers: [[UInt8]] = ["def ", "class ", "function ", "#include", "import ", "return ", "public static",
                                         "=> {", "};", "fn ", "func ", "console.log", "select ", "printf(", "var ", "const ",
                                         "</div>", "#!/"].map { Array($0.utf8) }

    /// A code fence (```), or at least two distinct code markers (`def `, `#include`, `};`…).
    public static func hasCode(_ text: [UInt8]) -> Bool {
        if ByteSearch.containsFolded(text, Array("```".utf8)) { return true }
        var hits = 0
        for m in codeMarkers where ByteSearch.containsFolded(text, m) {
            hits += 1
            if hits >= 2 { return true }
        }
        return false
    }
}

/// Copies the prompt text out of a request body: chat message contents (string, or the `text`
/// of content parts), or the completion prompt (strings), separated by newlines.
enum TextCollector {
    static func collect(_ body: UnsafeRawBufferPointer, kind: RequestKind, into out: inout [UInt8], limit: Int) {
        var s = JSONScanner(body)
        guard s.consume(UInt8(ascii: "{")), !s.consume(UInt8(ascii: "}")) else { return }
        do {
            repeat {
                let key = try s.scanString()
                try s.expect(UInt8(ascii: ":"))
                let value = try s.skipValue(depth: 1)
                if kind == .chat && s.equals(key, "messages") {
                    try messages(body, value, &out, limit)
                } else if kind == .completion && s.equals(key, "prompt") {
                    try strings(body, value, &out, limit, depth: 2)
                }
            } while s.consume(UInt8(ascii: ","))
        } catch {
            return  // the parser already accepted this body; a failure here only shortens the text
        }
    }

    static func append(_ s: JSONScanner, _ range: Range<Int>, _ out: inout [UInt8], _ limit: Int) {
        guard out.count < limit else { return }
        if !out.isEmpty { out.append(0x0A) }
        s.unescape(range) { c in if out.count < limit { out.append(c) } }
    }

    /// A string, or an array of strings / `{text: …}` parts.
    static func strings(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, _ out: inout [UInt8], _ limit: Int, depth: Int) throws {
        guard !range.isEmpty else { return }
        let first = body[range.lowerBound]
        var a = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
        if first == UInt8(ascii: "\"") {
            append(a, range.dropFirst().dropLast(), &out, limit)
            return
        }
        guard first == UInt8(ascii: "[") else { return }
        try a.expect(UInt8(ascii: "["))
        if a.consume(UInt8(ascii: "]")) { return }
        repeat {
            let isObject = a.peek() == UInt8(ascii: "{")
            let part = try a.skipValue(depth: depth)
            if body[part.lowerBound] == UInt8(ascii: "\"") {
                append(a, part.dropFirst().dropLast(), &out, limit)
            } else if isObject {
                var o = JSONScanner(body, from: part.lowerBound, to: part.upperBound)
                _ = o.consume(UInt8(ascii: "{"))
                if !o.consume(UInt8(ascii: "}")) {
                    repeat {
                        let k = try o.scanString()
                        try o.expect(UInt8(ascii: ":"))
                        let isString = o.peek() == UInt8(ascii: "\"")
                        let v = try o.skipValue(depth: depth + 1)
                        if isString && o.equals(k, "text") { append(o, v.dropFirst().dropLast(), &out, limit) }
                    } while o.consume(UInt8(ascii: ","))
                }
            }
        } while a.consume(UInt8(ascii: ","))
    }

    static func messages(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, _ out: inout [UInt8], _ limit: Int) throws {
        var s = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
        try s.expect(UInt8(ascii: "["))
        if s.consume(UInt8(ascii: "]")) { return }
        repeat {
            guard s.consume(UInt8(ascii: "{")) else { _ = try s.skipValue(depth: 2); continue }
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try s.scanString()
                    try s.expect(UInt8(ascii: ":"))
                    let v = try s.skipValue(depth: 3)
                    if s.equals(key, "content") { try strings(body, v, &out, limit, depth: 4) }
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
        } while s.consume(UInt8(ascii: ","))
    }
}
