// swift-tools-version:6.0
import PackageDescription

// Dependencies, each for a reason:
// - argument-parser: the three executables' flags and subcommands.
// - Yams: the YAML config file.
// - swift-log: structured logs at a configured level.
// Metrics are rendered by our own small registry (Runtime/Metrics.swift): the per-request path
// then touches only preallocated counters, with no facade, locks or boxing.
let package = Package(
    name: "wrp",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wrpd", targets: ["wrpd"]),
        .executable(name: "wrpctl", targets: ["wrpctl"]),
        .executable(name: "wrp-sim", targets: ["wrp-sim"]),
        .executable(name: "wrp-replay", targets: ["wrp-replay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // MARK: C libraries (Debian packages; see scripts/setup)
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),

        // MARK: Pure cores (no I/O, no clocks, no global randomness)
        .target(name: "WRPCommon"),
        .target(name: "Workload", dependencies: ["WRPCommon"]),
        .target(name: "RoutingCore", dependencies: ["WRPCommon", "Workload"]),
        .target(name: "SimCore", dependencies: ["WRPCommon", "Workload"]),
        .target(name: "FleetSim", dependencies: ["WRPCommon", "Workload", "RoutingCore", "SimCore"]),
        .target(name: "NodeConfig", dependencies: ["WRPCommon", "RoutingCore", .product(name: "Yams", package: "Yams")]),

        // MARK: Shell (libuv, http_parser)
        .target(name: "LibUV", dependencies: ["CLibUV"]),
        .target(name: "HTTP", dependencies: ["CHTTPParser", "LibUV", "WRPCommon"]),
        .target(name: "Runtime", dependencies: [
            "LibUV", "HTTP", "WRPCommon", "Workload", "RoutingCore", "NodeConfig",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SimServer", dependencies: [
            "LibUV", "HTTP", "WRPCommon", "Workload", "SimCore",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // MARK: Executables (argument parsing and wiring only)
        .executableTarget(name: "wrpd", dependencies: [
            "Runtime", "NodeConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "wrpctl", dependencies: [
            "RoutingCore", "Workload",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "wrp-sim", dependencies: [
            "SimServer", "SimCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "wrp-replay", dependencies: [
            "FleetSim", "RoutingCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "TestKit", path: "Tests/TestKit"),
        .testTarget(name: "WorkloadTests", dependencies: ["Workload", "WRPCommon"]),
        .testTarget(name: "RoutingCoreTests", dependencies: ["RoutingCore", "Workload", "WRPCommon", "FleetSim", "SimCore"]),
        .testTarget(name: "SimCoreTests", dependencies: ["SimCore", "Workload", "WRPCommon"]),
        .testTarget(name: "NodeConfigTests", dependencies: ["NodeConfig", "RoutingCore"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "CHTTPParser"]),
        .testTarget(name: "IntegrationTests", dependencies: ["TestKit"]),
    ]
)
