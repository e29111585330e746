import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A response as read off the wire.
public struct RawResponse: CustomStringConvertible {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    public var description: String { "HTTP \(status) \(headers) \(bodyText.prefix(300))" }
}

/// A blocking TCP client for tests: sends raw bytes, reads HTTP/1.1 responses (Content-Length,
/// chunked, or close-delimited). Bad-input tests need exactly this control over the bytes.
public final class RawClient {
    let fd: Int32
    var buffer: [UInt8] = []
    public private(set) var closedByPeer = false

    public init(port: Int, host: String = "127.0.0.1", timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestKitError.io("socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let r = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            Glibc.close(fd)
            throw TestKitError.io("connect to \(host):\(port) failed: errno \(errno)")
        }
    }

    deinit { Glibc.close(fd) }

    public func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    public func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestKitError.io("send failed: errno \(errno)") }
            off += n
        }
    }

    public func send(_ s: String) throws { try send(Array(s.utf8)) }

    /// Reads more bytes; false on EOF or timeout.
    func fill() -> Bool {
        var tmp = [UInt8](repeating: 0, count: 65536)
        let n = tmp.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { closedByPeer = n == 0; return false }
        buffer.append(contentsOf: tmp[0..<n])
        return true
    }

    func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[0..<i], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                buffer.removeFirst(i + 1)
                return line
            }
            guard fill() else { throw TestKitError.io("connection ended before a full line (have \(buffer.count) bytes)") }
        }
    }

    func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count < n { guard fill() else { throw TestKitError.io("connection ended in body (\(buffer.count)/\(n))") } }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    /// Reads one response. `onChunk` sees each chunk of a chunked body as it arrives.
    public func readResponse(onChunk: (([UInt8]) -> Void)? = nil) throws -> RawResponse {
        var status = 0
        var headers: [String: String] = [:]
        repeat {
            let statusLine = try readLine()
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let s = Int(parts[1]) else { throw TestKitError.io("bad status line '\(statusLine)'") }
            status = s
            headers = [:]
            while true {
                let l = try readLine()
                if l.isEmpty { break }
                if let c = l.firstIndex(of: ":") {
                    headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
                }
            }
        } while status == 100
        var body: [UInt8] = []
        if let cl = headers["content-length"], let n = Int(cl) {
            body = try readExactly(n)
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw TestKitError.io("bad chunk size '\(sizeLine)'") }
                if size == 0 { _ = try readLine(); break }
                let chunk = try readExactly(size)
                onChunk?(chunk)
                body += chunk
                _ = try readExactly(2)
            }
        } else if status != 204 && status != 304 {
            while fill() {}
            body = buffer
            buffer = []
        }
        return RawResponse(status: status, headers: headers, body: body)
    }

    /// Whether the peer has closed the connection (reads until EOF or timeout).
    public func waitClosed() -> Bool {
        while fill() {}
        return closedByPeer
    }
}

/// One request on a fresh connection.
public func httpRequest(port: Int, method: String = "GET", path: String, body: String? = nil,
                        headers: [String: String] = [:], timeout: Double = 10) throws -> RawResponse {
    let c = try RawClient(port: port, timeout: timeout)
    var req = "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    for (k, v) in headers { req += "\(k): \(v)\r\n" }
    if let body { req += "content-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n" }
    req += "\r\n"
    try c.send(Array(req.utf8) + Array((body ?? "").utf8))
    return try c.readResponse()
}

public func chatBody(_ content: String, model: String = "sim-llama-8b", stream: Bool = false, maxTokens: Int = 4) -> String {
    let escaped = String(data: try! JSONSerialization.data(withJSONObject: [content]), encoding: .utf8)!.dropFirst().dropLast()
    return #"{"model":"\#(model)","stream":\#(stream),"max_tokens":\#(maxTokens),"messages":[{"role":"user","content":\#(escaped)}]}"#
}
