import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client for the CLI (one request per connection, `connection: close`).
enum CLIHTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `url` is `http://host:port` (a node's HTTP address); returns status and body.
    static func request(_ method: String, url base: String, path: String, body: [UInt8]? = nil,
                        timeout: Double = 5) throws -> (Int, [UInt8]) {
        guard base.hasPrefix("http://") else { throw Failure(description: "--node must be http://HOST:PORT, not \(base)") }
        var hostPort = String(base.dropFirst(7))
        if let slash = hostPort.firstIndex(of: "/") { hostPort = String(hostPort[..<slash]) }
        guard let colon = hostPort.lastIndex(of: ":"), let port = UInt16(hostPort[hostPort.index(after: colon)...]) else {
            throw Failure(description: "--node needs a port: \(base)")
        }
        var host = String(hostPort[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "cannot connect to \(base): \(String(cString: strerror(errno)))")
        }
        var req = "\(method) \(path) HTTP/1.1\r\nhost: \(hostPort)\r\nconnection: close\r\nuser-agent: wrpctl\r\n"
        if let body { req += "content-type: application/json\r\ncontent-length: \(body.count)\r\n" }
        req += "\r\n"
        let out = Array(req.utf8) + (body ?? [])
        var off = 0
        while off < out.count {
            let n = out[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send to \(base) failed") }
            off += n
        }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        guard let headEnd = findHeadEnd(data) else { throw Failure(description: "no HTTP response from \(base)") }
        let head = String(decoding: data[0..<headEnd], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line from \(base)") }
        var bodyBytes = Array(data[(headEnd + 4)...])
        if head.lowercased().contains("transfer-encoding: chunked") { bodyBytes = dechunk(bodyBytes) }
        return (status, bodyBytes)
    }

    static func findHeadEnd(_ d: [UInt8]) -> Int? {
        guard d.count >= 4 else { return nil }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 { return i }
        return nil
    }

    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        var i = 0
        while i < b.count {
            guard let lineEnd = (i..<(b.count - 1)).first(where: { b[$0] == 13 && b[$0 + 1] == 10 }),
                  let size = Int(String(decoding: b[i..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            out.append(contentsOf: b[start..<min(b.count, start + size)])
            i = start + size + 2
        }
        return out
    }

    static func json(_ method: String, url: String, path: String, body: [UInt8]? = nil) throws -> Any {
        let (status, bytes) = try request(method, url: url, path: path, body: body)
        let obj = try? JSONSerialization.jsonObject(with: Data(bytes))
        guard (200..<300).contains(status) else {
            let msg = ((obj as? [String: Any])?["error"] as? [String: Any])?["message"] as? String ?? String(decoding: bytes, as: UTF8.self)
            throw Failure(description: "\(url)\(path): HTTP \(status): \(msg)")
        }
        guard let obj else { throw Failure(description: "\(url)\(path): answer is not JSON") }
        return obj
    }
}
