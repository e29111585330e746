@preconcurrency import Crypto
import Foundation

/// Shared gossip keys: one primary key that seals, plus older keys still accepted while a
/// rotation rolls through the cluster (memberlist's keyring, with AES-GCM).
///
/// Sealed packet layout: `version(1) | nonce(12) | ciphertext | tag(16)`. The optional cluster
/// label is authenticated as associated data, so packets from another cluster (or with another
/// label) fail to open even under the same key.
public struct Keyring: Sendable {
    public static let version: UInt8 = 1
    public static let overhead = 1 + 12 + 16

    let keys: [SymmetricKey]
    public let label: [UInt8]

    /// `keys[0]` is the primary. Each key is 16, 24 or 32 bytes (AES-128/192/256).
    public init(keys: [[UInt8]], label: String = "") throws(KeyringError) {
        guard !keys.isEmpty else { throw .noKeys }
        for k in keys where ![16, 24, 32].contains(k.count) { throw .badKeyLength(k.count) }
        self.keys = keys.map { SymmetricKey(data: $0) }
        self.label = Array(label.utf8)
    }

    /// Keys given as base64 strings (config and `wrpctl keygen` use base64).
    public init(base64Keys: [String], label: String = "") throws(KeyringError) {
        var raw: [[UInt8]] = []
        for (i, k) in base64Keys.enumerated() {
            guard let d = Data(base64Encoded: k) else { throw .notBase64(index: i) }
            raw.append(Array(d))
        }
        try self.init(keys: raw, label: label)
    }

    public static func generateKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        // AES-GCM with a random 96-bit nonce: safe for far more packets than a node sends per key.
        let box = try! AES.GCM.seal(plaintext, using: keys[0], authenticating: label)
        var out = [UInt8]()
        out.reserveCapacity(plaintext.count + Keyring.overhead)
        out.append(Keyring.version)
        out.append(contentsOf: box.nonce)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
        return out
    }

    /// Opens a sealed packet with any key of the ring; throws when none authenticates it.
    public func open(_ sealed: UnsafeRawBufferPointer) throws(WireError) -> [UInt8] {
        guard sealed.count >= Keyring.overhead else { throw .tooShort }
        guard sealed[0] == Keyring.version else { throw .badVersion }
        let nonceBytes = Data(sealed[1..<13])
        let ct = Data(sealed[13..<(sealed.count - 16)])
        let tag = Data(sealed[(sealed.count - 16)...])
        guard let nonce = try? AES.GCM.Nonce(data: nonceBytes),
              let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: ct, tag: tag) else { throw .decrypt }
        for k in keys {
            if let p = try? AES.GCM.open(box, using: k, authenticating: label) { return Array(p) }
        }
        throw .decrypt
    }

    public func open(_ sealed: [UInt8]) throws(WireError) -> [UInt8] {
        var r: Result<[UInt8], WireError> = .failure(.tooShort)
        sealed.withUnsafeBytes { p in
            do throws(WireError) { r = .success(try open(p)) } catch { r = .failure(error) }
        }
        return try r.get()
    }
}

public enum KeyringError: Error, Equatable, CustomStringConvertible {
    case noKeys
    case badKeyLength(Int)
    case notBase64(index: Int)

    public var description: String {
        switch self {
        case .noKeys: return "the keyring needs at least one key (generate one with `wrpctl keygen`)"
        case .badKeyLength(let n): return "a gossip key must be 16, 24 or 32 bytes, not \(n)"
        case .notBase64(let i): return "gossip key \(i) is not valid base64"
        }
    }
}

/// Why an incoming gossip packet was dropped (`wrp_gossip_dropped_total{reason}`).
public enum WireError: Error, Equatable, Sendable {
    case tooShort
    case badVersion
    case decrypt
    case decode
    case tooLarge

    public var reason: String {
        switch self {
        case .tooShort: return "too_short"
        case .badVersion: return "bad_version"
        case .decrypt: return "decrypt"
        case .decode: return "decode"
        case .tooLarge: return "too_large"
        }
    }
}
