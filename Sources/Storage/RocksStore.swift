import CRocksDB
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Every RocksDB call that can fail goes through here: a fresh nil `errptr` per call (RocksDB
// never clears it on success), and the malloc'd message is copied and freed exactly once.
@inline(__always)
private func withRocksError<T>(_ operation: String,
                               _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) throws(StorageError) -> T {
    var err: UnsafeMutablePointer<CChar>? = nil
    let result = body(&err)
    if let e = err {
        let message = String(cString: e)
        rocksdb_free(e)
        throw .io(operation: operation, detail: message)
    }
    return result
}

/// `KeyValueStore` on an embedded RocksDB (the only importer of CRocksDB).
///
/// Opens every column family in `ColumnFamily` (creating missing ones) plus any other family
/// found on disk, so an older or newer layout still opens. Size is bounded by small write
/// buffers, a WAL cap that forces flushes, leveled compaction with dynamic level sizes, and
/// `expire(before:)` on the timestamp-keyed decisions family.
///
/// Thread-safe (RocksDB's handles are); `close()` MUST come after every other user is done
/// (close the `DurableWriter` first). Deinit closes too.
public final class RocksStore: KeyValueStore, @unchecked Sendable {
    /// Tunables; defaults suit a router's small state (megabytes, not gigabytes).
    public struct Options: Sendable {
        /// Memtable size per column family. Default 4 MiB.
        public var writeBufferBytes = 4 << 20
        /// Memtables per column family before writes stall. Default 2.
        public var maxWriteBuffers: Int32 = 2
        /// All WAL files together; beyond this the oldest memtables are flushed. Default 16 MiB.
        public var maxTotalWALBytes: UInt64 = 16 << 20
        /// Target SST size. Default 8 MiB.
        public var targetFileBytes: UInt64 = 8 << 20
        /// Size of level 1 (each level 10× the previous). Default 32 MiB.
        public var maxBytesForLevelBase: UInt64 = 32 << 20
        /// Info LOG files kept, each up to 1 MiB. Default 2.
        public var keepLogFiles = 2
        public init() {}
    }

    public let path: String
    private let db: OpaquePointer
    /// Indexed by `ColumnFamily.index`.
    private let handles: [OpaquePointer]
    /// The default family and families on disk that wrp does not know; destroyed on close.
    private let otherHandles: [OpaquePointer]
    private let options: OpaquePointer
    private let readOptions: OpaquePointer
    private let syncWrite: OpaquePointer
    private let asyncWrite: OpaquePointer
    private let closed = Atomic<Bool>(false)

    public init(path: String, options opts: Options = Options()) throws(StorageError) {
        // All fallible C work happens in `open`, which cleans up after itself: once every
        // stored property is set nothing throws, so deinit never sees half-built state.
        let o = try Self.open(path: path, opts)
        self.path = path
        db = o.db
        handles = o.handles
        otherHandles = o.others
        options = o.options
        readOptions = rocksdb_readoptions_create()
        syncWrite = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWrite, 1)
        asyncWrite = rocksdb_writeoptions_create()
    }

    deinit { close() }

    /// Destroys every column-family handle, then closes the database. Idempotent.
    public func close() {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        for h in handles { rocksdb_column_family_handle_destroy(h) }
        for h in otherHandles { rocksdb_column_family_handle_destroy(h) }
        rocksdb_close(db)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(syncWrite)
        rocksdb_writeoptions_destroy(asyncWrite)
        rocksdb_options_destroy(options)
    }

    private static func makeOptions(_ opts: Options) -> OpaquePointer {
        let o = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(o, 1)
        rocksdb_options_set_create_missing_column_families(o, 1)
        rocksdb_options_set_write_buffer_size(o, opts.writeBufferBytes)
        rocksdb_options_set_max_write_buffer_number(o, opts.maxWriteBuffers)
        rocksdb_options_set_max_total_wal_size(o, opts.maxTotalWALBytes)
        rocksdb_options_set_target_file_size_base(o, opts.targetFileBytes)
        rocksdb_options_set_max_bytes_for_level_base(o, opts.maxBytesForLevelBase)
        rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1)
        rocksdb_options_set_max_background_jobs(o, 2)
        rocksdb_options_set_keep_log_file_num(o, opts.keepLogFiles)
        rocksdb_options_set_max_log_file_size(o, 1 << 20)
        return o
    }

    private static func open(path: String, _ opts: Options) throws(StorageError)
        -> (db: OpaquePointer, handles: [OpaquePointer], others: [OpaquePointer], options: OpaquePointer) {
        let options = makeOptions(opts)
        // Families already on disk (an error here just means a new database).
        var existing: [String] = []
        var count = 0
        var listErr: UnsafeMutablePointer<CChar>? = nil
        if let list = rocksdb_list_column_families(options, path, &count, &listErr) {
            for i in 0..<count { if let name = list[i] { existing.append(String(cString: name)) } }
            rocksdb_list_column_families_destroy(list, count)
        }
        if let e = listErr { rocksdb_free(e) }

        let ours = ColumnFamily.allCases.map(\.rawValue)
        let others = ["default"] + existing.filter { $0 != "default" && !ours.contains($0) }
        let names = ours + others
        var cNames: [UnsafeMutablePointer<CChar>?] = names.map { strdup($0) }
        defer { for p in cNames { free(p) } }
        var cfOptions: [OpaquePointer?] = Array(repeating: options, count: names.count)
        var cfHandles: [OpaquePointer?] = Array(repeating: nil, count: names.count)

        let db: OpaquePointer?
        do {
            db = try cNames.withUnsafeMutableBufferPointer { (n) throws(StorageError) in
                try withRocksError("open") { err in
                    n.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: n.count) { namePtr in
                        rocksdb_open_column_families(options, path, Int32(names.count), namePtr,
                                                     &cfOptions, &cfHandles, err)
                    }
                }
            }
        } catch {
            rocksdb_options_destroy(options)
            guard case .io(_, let detail) = error else { throw error }
            if detail.lowercased().contains("lock") { throw .locked(path: path, detail: detail) }
            throw .cannotOpen(path: path, detail: detail)
        }
        guard let db else {
            rocksdb_options_destroy(options)
            throw .cannotOpen(path: path, detail: "rocksdb_open_column_families returned NULL")
        }
        let all = cfHandles.map { $0! }
        return (db, Array(all[0..<ours.count]), Array(all[ours.count...]), options)
    }

    @inline(__always) private func handle(_ cf: ColumnFamily) throws(StorageError) -> OpaquePointer {
        if closed.load(ordering: .acquiring) { throw .closed }
        return handles[cf.index]
    }

    public func get(_ cf: ColumnFamily, _ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        let h = try handle(cf)
        var length = 0
        let value = try key.withUnsafeBufferPointer { (k) throws(StorageError) in
            try withRocksError("get") { err in
                k.withMemoryRebound(to: CChar.self) { kc in
                    rocksdb_get_cf(db, readOptions, h, kc.baseAddress, kc.count, &length, err)
                }
            }
        }
        guard let value else { return nil }
        // Returned memory is malloc'd by RocksDB: copy, then free.
        let out = [UInt8](UnsafeRawBufferPointer(start: value, count: length))
        rocksdb_free(value)
        return out
    }

    public func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        if closed.load(ordering: .acquiring) { throw .closed }
        let wb = rocksdb_writebatch_create()
        defer { rocksdb_writebatch_destroy(wb) }
        for op in batch.ops {
            switch op {
            case .put(let cf, let key, let value):
                key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in
                        rocksdb_writebatch_put_cf(wb, handles[cf.index], k.cString, k.count, v.cString, v.count)
                    }
                }
            case .delete(let cf, let key):
                key.withUnsafeBytes { k in rocksdb_writebatch_delete_cf(wb, handles[cf.index], k.cString, k.count) }
            case .deleteRange(let cf, let from, let to):
                // RocksDB rejects from > to; an empty range is a no-op in both stores.
                guard KeyOrder.less(from, to) else { continue }
                from.withUnsafeBytes { f in
                    to.withUnsafeBytes { t in
                        rocksdb_writebatch_delete_range_cf(wb, handles[cf.index], f.cString, f.count, t.cString, t.count)
                    }
                }
            }
        }
        try withRocksError("write") { err in rocksdb_write(db, sync ? syncWrite : asyncWrite, wb, err) }
    }

    public func iterate(_ cf: ColumnFamily, from start: [UInt8], to end: [UInt8]?,
                        _ visit: (_ key: [UInt8], _ value: [UInt8]) -> Bool) throws(StorageError) {
        let h = try handle(cf)
        let it = rocksdb_create_iterator_cf(db, readOptions, h)!
        defer { rocksdb_iter_destroy(it) }
        start.withUnsafeBytes { s in rocksdb_iter_seek(it, s.cString, s.count) }
        while rocksdb_iter_valid(it) != 0 {
            // Key and value pointers are valid only until the next move: copy them now.
            var kl = 0, vl = 0
            let kp = rocksdb_iter_key(it, &kl)
            let key = [UInt8](UnsafeRawBufferPointer(start: kp, count: kl))
            if let end, !KeyOrder.less(key, end) { break }
            let vp = rocksdb_iter_value(it, &vl)
            let value = [UInt8](UnsafeRawBufferPointer(start: vp, count: vl))
            if !visit(key, value) { break }
            rocksdb_iter_next(it)
        }
        try withRocksError("iterate") { err in rocksdb_iter_get_error(it, err) }
    }

    /// Compacts `cf` (whole family), dropping deleted and expired entries from disk. Blocking:
    /// call it off the loop thread.
    public func compact(_ cf: ColumnFamily) throws(StorageError) {
        let h = try handle(cf)
        rocksdb_compact_range_cf(db, h, nil, 0, nil, 0)
    }

    /// A RocksDB property such as `rocksdb.estimate-num-keys` for `cf` (diagnostics).
    public func property(_ name: String, _ cf: ColumnFamily) throws(StorageError) -> String? {
        let h = try handle(cf)
        guard let p = rocksdb_property_value_cf(db, h, name) else { return nil }
        defer { rocksdb_free(p) }
        return String(cString: p)
    }
}

private extension UnsafeRawBufferPointer {
    /// The bytes as `const char*` (an empty buffer may have a nil base; RocksDB reads 0 bytes).
    var cString: UnsafePointer<CChar>? { baseAddress?.assumingMemoryBound(to: CChar.self) }
}
