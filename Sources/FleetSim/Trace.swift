import Foundation
import WRPCommon
import Workload

/// Namespace for the deterministic fleet simulator that replays request traces through the
/// routing policies (virtual time, no HTTP).
public enum Fleet {}

extension Fleet {
    /// One trace request, with its prefix blocks already hashed into a `Workload`.
    public struct Request: Sendable {
        /// Arrival time in seconds from the trace start (before rate scaling).
        public var arrival: Double
        public var inputTokens: Int
        public var outputTokens: Int
        public var workload: Workload

        public init(arrival: Double, inputTokens: Int, outputTokens: Int, workload: Workload) {
            self.arrival = arrival; self.inputTokens = inputTokens; self.outputTokens = outputTokens; self.workload = workload
        }
    }

    public struct Trace: Sendable {
        public var name: String
        /// Tokens per prefix block (Mooncake: 512).
        public var blockTokens: Int
        public var requests: [Request]

        public init(name: String, blockTokens: Int, requests: [Request]) {
            self.name = name; self.blockTokens = blockTokens; self.requests = requests
        }
    }

    public enum TraceError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case badLine(String, Int, String)

        public var description: String {
            switch self {
            case .unreadable(let p, let why): return "cannot read trace \(p): \(why)"
            case .badLine(let p, let n, let why): return "trace \(p) line \(n): \(why)"
            }
        }
    }

    /// Seed of every trace's block chains (the model name "" as the router would hash it).
    static let chainSeed = PrefixBlockHasher.modelSeed("")

    /// A workload whose block hashes chain `ids` (equal id prefixes → equal chains, as the router
    /// computes from equal prompt prefixes).
    public static func workload(blockIDs ids: [UInt64], inputTokens: Int, unique: UInt64) -> Workload {
        var w = Workload()
        w.promptBytes = inputTokens * 4
        var h = chainSeed
        w.blockHashes.reserveCapacity(ids.count)
        for id in ids {
            h = Hash64.combine(h, id)
            w.blockHashes.append(h)
        }
        w.tailHash = ids.isEmpty ? Hash64.combine(chainSeed, unique | 1 << 63) : h
        return w
    }

    /// Loads a trace: `.jsonl` as Mooncake (`timestamp` ms, `input_length`, `output_length`,
    /// `hash_ids`), `.csv` as the Azure LLM inference trace (`TIMESTAMP,ContextTokens,GeneratedTokens`;
    /// no prefix information, so every request gets its own block chain). `limit` keeps the first N.
    public static func load(path: String, blockTokens: Int = 512, limit: Int? = nil) throws -> Trace {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TraceError.unreadable(path, "\(error.localizedDescription)")
        }
        let name = (path as NSString).lastPathComponent
        if path.hasSuffix(".csv") { return try azure(data, path: path, name: name, blockTokens: blockTokens, limit: limit) }
        return try mooncake(data, path: path, name: name, blockTokens: blockTokens, limit: limit)
    }

    static func mooncake(_ data: Data, path: String, name: String, blockTokens: Int, limit: Int?) throws -> Trace {
        var out: [Request] = []
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            lineNo += 1
            if let l = limit, out.count >= l { break }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw TraceError.badLine(path, lineNo, "not a JSON object")
            }
            guard let ts = (obj["timestamp"] as? NSNumber)?.doubleValue,
                  let input = (obj["input_length"] as? NSNumber)?.intValue,
                  let output = (obj["output_length"] as? NSNumber)?.intValue else {
                throw TraceError.badLine(path, lineNo, "needs numeric timestamp, input_length, output_length")
            }
            let ids = (obj["hash_ids"] as? [NSNumber])?.map { UInt64(truncatingIfNeeded: $0.int64Value) } ?? []
            out.append(Request(arrival: ts / 1000, inputTokens: input, outputTokens: output,
                               workload: workload(blockIDs: ids, inputTokens: input, unique: UInt64(lineNo))))
        }
        return Trace(name: name, blockTokens: blockTokens, requests: out)
    }

    static func azure(_ data: Data, path: String, name: String, blockTokens: Int, limit: Int?) throws -> Trace {
        var out: [Request] = []
        var first: Double? = nil
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            lineNo += 1
            if lineNo == 1 { continue }
            if let l = limit, out.count >= l { break }
            let fields = line.split(separator: UInt8(ascii: ","))
            guard fields.count >= 3, let t = parseTimestamp(fields[0]),
                  let input = Int(String(decoding: fields[1], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                  let output = Int(String(decoding: fields[2], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw TraceError.badLine(path, lineNo, "expected TIMESTAMP,ContextTokens,GeneratedTokens")
            }
            if first == nil { first = t }
            let blocks = (input + blockTokens - 1) / blockTokens
            let base = UInt64(lineNo) << 24
            let ids = (0..<blocks).map { base | UInt64($0) }
            out.append(Request(arrival: t - first!, inputTokens: input, outputTokens: output,
                               workload: workload(blockIDs: ids, inputTokens: input, unique: UInt64(lineNo))))
        }
        return Trace(name: name, blockTokens: blockTokens, requests: out)
    }

    /// Seconds since the month start of `YYYY-MM-DD HH:MM:SS.fffffff`.
    static func parseTimestamp(_ s: Data.SubSequence) -> Double? {
        let str = String(decoding: s, as: UTF8.self)
        let parts = str.split(separator: " ")
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-"), time = parts[1].split(separator: ":")
        guard date.count == 3, time.count == 3, let day = Double(date[2]), let h = Double(time[0]),
              let m = Double(time[1]), let sec = Double(time[2]) else { return nil }
        return ((day * 24 + h) * 60 + m) * 60 + sec
    }

    /// A small synthetic trace for tests: `conversations` multi-turn chats sharing a system-prompt
    /// block, turns arriving every `gap` seconds, each turn extending its conversation's prefix.
    public static func synthetic(conversations: Int, turns: Int, gap: Double, blockTokens: Int = 512, seed: UInt64) -> Trace {
        var rng = SeededRandom(seed: seed)
        var out: [Request] = []
        var nextID: UInt64 = 1
        var convs: [[UInt64]] = (0..<conversations).map { _ in [0] }
        var t = 0.0
        for turn in 0..<turns {
            for c in 0..<conversations {
                let add = 1 + rng.below(3)
                for _ in 0..<add { convs[c].append(nextID); nextID += 1 }
                let input = convs[c].count * blockTokens - rng.below(blockTokens / 2)
                out.append(Request(arrival: t, inputTokens: input, outputTokens: 20 + rng.below(100),
                                   workload: workload(blockIDs: convs[c], inputTokens: input, unique: UInt64(turn * conversations + c))))
                t += gap / Double(conversations)
            }
        }
        return Trace(name: "synthetic", blockTokens: blockTokens, requests: out)
    }
}
