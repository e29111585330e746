import WRPCommon

/// Which OpenAI-compatible endpoint a body was sent to.
public enum RequestKind: Sendable {
    case chat        // /v1/chat/completions: `messages`
    case completion  // /v1/completions: `prompt`
}

/// What the router needs to know about one request: the *workload* of Workload–Router–Pool.
public struct Workload: Sendable {
    /// `model` from the body; nil when absent.
    public var model: String?
    public var stream = false
    /// `max_tokens` / `max_completion_tokens`, when given.
    public var maxTokens: Int?
    /// `user` from the body (a session hint), when given.
    public var user: String?
    /// Bytes of canonical prompt text.
    public var promptBytes = 0
    /// Chained hashes of the full prefix blocks (see `PrefixBlockHasher`).
    public var blockHashes: [UInt64] = []
    /// Hash of the whole prompt including a partial last block.
    public var tailHash: UInt64 = 0

    public init() {}

    /// Prompt tokens estimated from bytes (~4 bytes per token for English text and code).
    public var estimatedPromptTokens: Int { (promptBytes + 3) / 4 }

    /// Affinity key: the chain through the first `blocks` blocks (or the tail hash if shorter).
    public func prefixKey(blocks: Int) -> UInt64 {
        if blocks > 0 && blockHashes.count >= blocks { return blockHashes[blocks - 1] }
        return blockHashes.isEmpty ? tailHash : (blocks <= 0 ? blockHashes[0] : tailHash)
    }
}

public enum WorkloadError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidJSON(offset: Int)
    case notAnObject
    case badField(String)
    case missingField(String)

    public var description: String {
        switch self {
        case .invalidJSON(let o): return "request body is not valid JSON (at byte \(o))"
        case .notAnObject: return "request body must be a JSON object"
        case .badField(let f): return "field '\(f)' has the wrong type"
        case .missingField(let f): return "field '\(f)' is required"
        }
    }
}

/// Parses OpenAI-style request bodies into a `Workload`, reusing its buffers between requests.
///
/// Canonical prompt text (what is hashed): for chat, each message as `role` 0x1F `content` 0x1E,
/// where array content contributes its `text` parts in order; for completions, the prompt string
/// (arrays of strings are joined with 0x1E; token arrays contribute their decimal digits).
public struct WorkloadParser {
    let hasher: PrefixBlockHasher

    public init(blockBytes: Int = 256) {
        hasher = PrefixBlockHasher(blockBytes: blockBytes)
    }

    public var blockBytes: Int { hasher.blockBytes }

    public mutating func parse(_ body: UnsafeRawBufferPointer, kind: RequestKind) throws(WorkloadError) -> Workload {
        var w = Workload()
        do {
            try parseInto(&w, body, kind: kind)
        } catch let e as JSONScanner.Failure {
            switch e {
            case .syntax(let o): throw .invalidJSON(offset: o)
            case .tooDeep: throw .invalidJSON(offset: 0)
            }
        } catch let e as WorkloadError {
            throw e
        } catch {
            throw .invalidJSON(offset: 0)
        }
        return w
    }

    public mutating func parse(_ body: [UInt8], kind: RequestKind) throws(WorkloadError) -> Workload {
        var result: Result<Workload, WorkloadError> = .failure(.invalidJSON(offset: 0))
        body.withUnsafeBytes { p in
            do throws(WorkloadError) { result = .success(try parse(p, kind: kind)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    mutating func parseInto(_ w: inout Workload, _ body: UnsafeRawBufferPointer, kind: RequestKind) throws {
        var s = JSONScanner(body)
        guard s.peek() == UInt8(ascii: "{") else {
            if s.atEnd { throw WorkloadError.invalidJSON(offset: 0) }
            try s.skipValue()
            throw WorkloadError.notAnObject
        }
        _ = s.consume(UInt8(ascii: "{"))
        var promptRange: Range<Int>? = nil
        if !s.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try s.scanString()
                try s.expect(UInt8(ascii: ":"))
                let first = s.peek()
                let value = try s.skipValue(depth: 1)
                if s.equals(key, "model") {
                    guard first == UInt8(ascii: "\"") else { throw WorkloadError.badField("model") }
                    w.model = s.string(value.dropFirst().dropLast())
                } else if s.equals(key, "stream") {
                    if first == UInt8(ascii: "t") { w.stream = true }
                    else if first == UInt8(ascii: "f") || first == UInt8(ascii: "n") { w.stream = false }
                    else { throw WorkloadError.badField("stream") }
                } else if s.equals(key, "max_tokens") || s.equals(key, "max_completion_tokens") {
                    if first == UInt8(ascii: "n") { continue }
                    guard let v = s.integer(value), v >= 0 else { throw WorkloadError.badField(s.equals(key, "max_tokens") ? "max_tokens" : "max_completion_tokens") }
                    w.maxTokens = v
                } else if s.equals(key, "user") {
                    if first == UInt8(ascii: "\"") { w.user = s.string(value.dropFirst().dropLast()) }
                } else if kind == .chat && s.equals(key, "messages") {
                    guard first == UInt8(ascii: "[") else { throw WorkloadError.badField("messages") }
                    promptRange = value
                } else if kind == .completion && s.equals(key, "prompt") {
                    promptRange = value
                }
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
        }
        s.skipWhitespace()
        guard s.atEnd else { throw WorkloadError.invalidJSON(offset: s.pos) }
        guard let range = promptRange else {
            throw WorkloadError.missingField(kind == .chat ? "messages" : "prompt")
        }
        hasher.reset(seed: PrefixBlockHasher.modelSeed(w.model ?? ""))
        if kind == .chat { try hashMessages(body, range) } else { try hashPrompt(body, range) }
        w.promptBytes = hasher.totalBytes
        w.blockHashes = hasher.hashes
        w.tailHash = hasher.tailHash
    }

    mutating func hashMessages(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) throws {
        var s = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
        try s.expect(UInt8(ascii: "["))
        if s.consume(UInt8(ascii: "]")) { return }
        repeat {
            guard s.peek() == UInt8(ascii: "{") else { throw WorkloadError.badField("messages") }
            _ = s.consume(UInt8(ascii: "{"))
            var role: Range<Int>? = nil
            var content: Range<Int>? = nil
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try s.scanString()
                    try s.expect(UInt8(ascii: ":"))
                    let v = try s.skipValue(depth: 3)
                    if s.equals(key, "role") { role = v } else if s.equals(key, "content") { content = v }
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
            if let r = role, body[r.lowerBound] == UInt8(ascii: "\"") {
                s.unescape(r.dropFirst().dropLast(), into: hasher)
            }
            hasher.append(0x1F)
            if let c = content { try hashContent(body, c) }
            hasher.append(0x1E)
        } while s.consume(UInt8(ascii: ","))
        try s.expect(UInt8(ascii: "]"))
    }

    /// Content is a string, null, or an array of parts whose `text` fields are hashed.
    mutating func hashContent(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) throws {
        let first = body[range.lowerBound]
        let s = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
        if first == UInt8(ascii: "\"") {
            s.unescape(range.dropFirst().dropLast(), into: hasher)
        } else if first == UInt8(ascii: "[") {
            var a = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
            try a.expect(UInt8(ascii: "["))
            if a.consume(UInt8(ascii: "]")) { return }
            repeat {
                let isObject = a.peek() == UInt8(ascii: "{")
                let part = try a.skipValue(depth: 4)
                if isObject {
                    var o = JSONScanner(body, from: part.lowerBound, to: part.upperBound)
                    _ = o.consume(UInt8(ascii: "{"))
                    if !o.consume(UInt8(ascii: "}")) {
                        repeat {
                            let k = try o.scanString()
                            try o.expect(UInt8(ascii: ":"))
                            let isString = o.peek() == UInt8(ascii: "\"")
                            let v = try o.skipValue(depth: 5)
                            if isString && o.equals(k, "text") { o.unescape(v.dropFirst().dropLast(), into: hasher) }
                        } while o.consume(UInt8(ascii: ","))
                    }
                } else if body[part.lowerBound] == UInt8(ascii: "\"") {
                    a.unescape(part.dropFirst().dropLast(), into: hasher)
                }
            } while a.consume(UInt8(ascii: ","))
        } else if first != UInt8(ascii: "n") {
            throw WorkloadError.badField("content")
        }
    }

    mutating func hashPrompt(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) throws {
        let first = body[range.lowerBound]
        if first == UInt8(ascii: "\"") {
            let s = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
            s.unescape(range.dropFirst().dropLast(), into: hasher)
            return
        }
        guard first == UInt8(ascii: "[") else { throw WorkloadError.badField("prompt") }
        var a = JSONScanner(body, from: range.lowerBound, to: range.upperBound)
        try a.expect(UInt8(ascii: "["))
        if a.consume(UInt8(ascii: "]")) { return }
        var index = 0
        repeat {
            let v = try a.skipValue(depth: 2)
            let c = body[v.lowerBound]
            if index > 0 { hasher.append(0x1E) }
            if c == UInt8(ascii: "\"") {
                a.unescape(v.dropFirst().dropLast(), into: hasher)
            } else if c == UInt8(ascii: "[") || (c >= 0x30 && c <= 0x39) {
                for i in v where body[i] != 0x20 && body[i] != 0x0A && body[i] != 0x09 && body[i] != 0x0D { hasher.append(body[i]) }
            } else {
                throw WorkloadError.badField("prompt")
            }
            index += 1
        } while a.consume(UInt8(ascii: ","))
    }
}
