import CHTTPParser

/// http_parser settings at a stable heap address: `http_parser_execute` keeps no reference, but
/// `withUnsafePointer(to: global) { $0 }` may point at a temporary copy (it did in release
/// builds), so each settings table is allocated once and never freed.
struct ParserSettings: @unchecked Sendable {
    // @unchecked: written once at initialisation, read-only afterwards, from the loop thread.
    let pointer: UnsafeMutablePointer<http_parser_settings>

    init(_ s: http_parser_settings) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: s)
    }
}
