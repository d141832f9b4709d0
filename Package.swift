// swift-tools-version:6.0
//
// The module graph is the architecture:
//   CUring        liburing and the C shim (only URing imports it)
//   CLinux        Linux calls Swift's Glibc module hides (affinity, eventfd, SCM_RIGHTS, SO_PEERCRED)
//   RingdSystem   what ringd and ring-client share: socket addresses, writeAll, threads, clocks
//   URing         the io_uring layer: ring, submissions, completions (the one drain loop),
//                 user data, buffer ring
//   RingdConfig   the TOML-lite parser and the typed, validated configuration (no I/O)
//   RingdServer   the engine: EventLoop<S: Service> per core, listeners, connections, send queues
//   RingdServices the Service contract and one conformer per mode: events in, actions out (no I/O)
//   RingdCluster  ringd's side of Redis: the RESP encoder and decoder (no I/O); above
//                 RingdServices for its ByteWriter, below the engine, whose workers speak to Redis
//   RingdMetrics  GET /metrics on its own thread: reads the workers' published statistics (no lock
//                 a worker waits on) and renders them with swift-prometheus
//   ringd         the executable: arguments -> configuration -> start (and the metrics endpoint)
//   ring-client   the companion client and load generator (tools/ring-client)
import PackageDescription

let package = Package(
    name: "ringd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ringd", targets: ["ringd"]),
        .executable(name: "ring-client", targets: ["ring-client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CUring",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .target(name: "CLinux"),
        .target(name: "RingdSystem"),
        .target(name: "URing", dependencies: ["CUring"]),
        .target(name: "RingdServices"),
        .target(name: "RingdConfig", dependencies: ["RingdServices"]),
        .target(name: "RingdCluster", dependencies: ["RingdServices"]),
        .target(
            name: "RingdServer",
            dependencies: [
                "CLinux", "RingdSystem", "URing", "RingdConfig", "RingdServices", "RingdCluster",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RingdMetrics",
            dependencies: [
                "CLinux", "RingdServer", "RingdConfig", "RingdSystem", "URing",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "ringd",
            dependencies: [
                "RingdServer", "RingdConfig", "RingdMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ring-client",
            dependencies: [
                "RingdSystem", "URing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "tools/ring-client",
            exclude: ["MEASUREMENTS.md", "measure.sh"]
        ),
        // A sixth mode defined outside ringd, run end to end by RingdEndToEndTests.
        .executableTarget(name: "ringd-shout", dependencies: ["RingdServer", "RingdConfig", "RingdServices"], path: "Tests/ShoutMode"),
        // What every test target shares: one ChildProcess, RunningRingd, RunningRedis, SeededRandom,
        // sendAll, and the RESP reference decoder.
        .target(name: "TestSupport", dependencies: ["CLinux", "RingdSystem", "URing", "RingdCluster"], path: "Tests/TestSupport"),
        .testTarget(name: "URingTests", dependencies: ["URing", "CLinux", "TestSupport"]),
        .testTarget(name: "RingdServicesTests", dependencies: ["RingdServices"]),
        .testTarget(name: "RingdClusterTests", dependencies: ["RingdCluster", "RingdServices", "TestSupport"]),
        .testTarget(
            name: "RingdServerTests",
            dependencies: ["RingdServer", "RingdServices", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "RingClientTests", dependencies: ["CLinux", "TestSupport"]),
        .testTarget(name: "RingdMetricsTests", dependencies: ["RingdMetrics", "RingdServer"]),
        .testTarget(name: "RingdConfigTests", dependencies: ["RingdConfig", "TestSupport"]),
        .testTarget(name: "RingdEndToEndTests", dependencies: ["CLinux", "TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
