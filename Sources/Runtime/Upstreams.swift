import HTTP
import LibUV
import Logging

/// `http://host:port` split into parts.
struct BackendURL: Equatable {
    var host: String
    var port: Int
    /// `host:port`, sent as the Host header.
    var authority: String

    init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        var rest = Substring(url.dropFirst(7))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let p = Int(rest[rest.index(after: colon)...]), p > 0, p < 65536 else {
            guard !rest.isEmpty else { return nil }
            host = String(rest); port = 80; authority = String(rest)
            return
        }
        var h = String(rest[..<colon])
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        guard !h.isEmpty else { return nil }
        host = h; port = p; authority = String(rest)
    }
}

/// Keep-alive connections to one backend, plus its resolved address.
final class UpstreamPool {
    let loop: UVLoop
    let url: BackendURL
    var address: SocketAddress?
    var resolvedAtMs: UInt64 = 0
    var idle: [HTTPClientConnection] = []
    let maxIdle: Int
    static let resolveTTLMs: UInt64 = 30_000

    init(loop: UVLoop, url: BackendURL, maxIdle: Int) {
        self.loop = loop
        self.url = url
        self.maxIdle = maxIdle
    }

    /// An idle pooled connection, if one is left.
    func takeIdle() -> HTTPClientConnection? {
        while let c = idle.popLast() {
            if !c.isBroken && !c.tcp.isClosed { c.onIdleClose = nil; return c }
        }
        return nil
    }

    /// Opens a new connection (resolving the host first if needed).
    func connect(timeoutMs: UInt64, _ completion: @escaping (Result<HTTPClientConnection, HTTPClientError>) -> Void) {
        let now = loop.nowMilliseconds
        if let a = address, now < resolvedAtMs + UpstreamPool.resolveTTLMs {
            HTTPClientConnection.connect(loop: loop, to: a, timeoutMs: timeoutMs, completion)
            return
        }
        UVResolver.resolve(loop: loop, host: url.host, port: url.port) { [weak self] r in
            guard let self else { completion(.failure(.connect("backend removed"))); return }
            switch r {
            case .success(let a):
                self.address = a
                self.resolvedAtMs = self.loop.nowMilliseconds
                HTTPClientConnection.connect(loop: self.loop, to: a, timeoutMs: timeoutMs, completion)
            case .failure(let e):
                completion(.failure(.connect("cannot resolve \(self.url.host): \(e.message)")))
            }
        }
    }

    /// Returns a connection after a complete response.
    func release(_ c: HTTPClientConnection) {
        guard !c.isBroken, !c.tcp.isClosed, idle.count < maxIdle else { c.close(); return }
        c.onIdleClose = { [weak self, unowned c] in
            self?.idle.removeAll { $0 === c }
        }
        idle.append(c)
    }

    func closeAll() {
        for c in idle { c.close() }
        idle.removeAll()
    }
}
