import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the built executables are: `WRP_BIN_DIR`, or beside the test bundle, or `.build/debug`.
public func binaryPath(_ name: String) -> String {
    if let dir = ProcessInfo.processInfo.environment["WRP_BIN_DIR"] { return dir + "/" + name }
    var candidates: [String] = []
    let arg0 = URL(fileURLWithPath: CommandLine.arguments[0])
    var dir = arg0.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent(name).path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/\(name)").path)
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    return candidates.last!
}

public enum TestKitError: Error, CustomStringConvertible {
    case timeout(String)
    case io(String)
    public var description: String {
        switch self { case .timeout(let m), .io(let m): return m }
    }
}

/// A child process with its output captured to a file (read on failure for diagnosis).
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: used from one test at a time; Process is thread-safe for what we call.
    public let process = Process()
    public let logPath: String
    public let name: String

    public init(_ executable: String, _ args: [String], logDir: String) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        logPath = logDir + "/\(name)-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let h = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: binaryPath(executable))
        process.arguments = args
        process.standardOutput = h
        process.standardError = h
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit up to `seconds`; returns the exit status or nil on timeout.
    public func waitExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    public func stop() {
        if process.isRunning {
            signal(SIGKILL)
            _ = waitExit(seconds: 5)
        }
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { stop() }
}

/// Polls `body` until it returns non-nil or `seconds` pass.
public func eventually<T>(_ seconds: Double, _ what: String, every: Double = 0.05, _ body: () throws -> T?) throws -> T {
    let deadline = Date().addingTimeInterval(seconds)
    var lastError: Error?
    repeat {
        do {
            if let v = try body() { return v }
        } catch {
            lastError = error
        }
        usleep(UInt32(every * 1e6))
    } while Date() < deadline
    throw TestKitError.timeout("timed out after \(seconds)s waiting for \(what)\(lastError.map { " (last error: \($0))" } ?? "")")
}

/// Reads `key=HOST:PORT` lines.
public func readPorts(_ path: String) -> [String: Int] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
    var out: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, let colon = kv[1].lastIndex(of: ":"), let p = Int(kv[1][kv[1].index(after: colon)...]) else { continue }
        out[String(kv[0])] = p
    }
    return out
}

public func makeTempDir(_ prefix: String) -> String {
    let path = NSTemporaryDirectory() + "wrp-\(prefix)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
