/// Value checks shared by the file loader and the command-line overrides, so a value means the
/// same and fails the same way wherever it comes from. Messages never include the field name;
/// the caller knows it (`node.http` in the file, `--http` on the command line).
enum ConfigRules {
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Node ids name data directories and appear in headers and gossip, hence the small alphabet;
    /// "." and ".." would make `data/<id>` point outside `data/`.
    /// nil when `id` is fine, else why not.
    static func nodeIDProblem(_ id: String) -> String? {
        let allowed = id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        guard !id.isEmpty, allowed, id != ".", id != ".." else {
            return "must be a non-empty id of letters, digits, '.', '_' or '-' (got '\(id)')"
        }
        return nil
    }

    static func listenMessage(_ s: String) -> String {
        "must be HOST:PORT with a port in 0...65535, e.g. 127.0.0.1:8080; port 0 picks a free port (got '\(s)')"
    }

    /// Where a node keeps its state when `data_dir` is not given.
    static func defaultDataDir(id: String) -> String { "data/" + id }

    static func dataDirProblem(_ s: String) -> String? {
        s.isEmpty ? "must be a non-empty directory path" : nil
    }

    /// Backends are spoken to in plain HTTP/1.1 on a base URL; the request path is appended to it,
    /// so a path here would silently change every request. Returns the URL without a trailing "/".
    static func normalizedBackendURL(_ s: String) -> Result<String, BackendURLError> {
        if s.lowercased().hasPrefix("https://") { return .failure(.init("must be http://HOST:PORT: https is not supported (terminate TLS in front of the backend)")) }
        let form = "must be http://HOST:PORT with no path (got '\(s)')"
        guard s.hasPrefix("http://") else { return .failure(.init(form)) }
        var authority = Substring(s.dropFirst("http://".count))
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        let forbidden: Set<Character> = ["/", "?", "#", "@", " ", "\t"]
        guard !authority.isEmpty, !authority.contains(where: forbidden.contains),
              !authority.hasPrefix(":"),
              let hp = HostPort(parsing: String(authority)), hp.port >= 1,
              !hp.host.contains(":") || authority.hasPrefix("[")
        else { return .failure(.init(form)) }
        return .success("http://" + authority)
    }

    struct BackendURLError: Error { var message: String; init(_ m: String) { message = m } }
}
