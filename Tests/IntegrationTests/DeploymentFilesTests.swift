import Foundation
import Testing
import TestKit

/// The committed configs and docker-compose.yml stay valid and consistent with the scripts.
struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test(arguments: ["cluster/local/wrpd.yaml", "cluster/docker/wrpd.yaml"])
    func committedConfig_checkConfig_exitsZero(_ path: String) throws {
        let p = try ChildProcess("wrpd", ["--check-config", DeploymentFilesTests.root + "/" + path], logDir: makeTempDir("cfg"))
        #expect(p.waitExit(seconds: 10) == 0, "\(p.log)")
    }

    @Test func dockerCompose_servicesMatchScriptsAndConfig() throws {
        let compose = try String(contentsOfFile: DeploymentFilesTests.root + "/docker-compose.yml", encoding: .utf8)
        let lib = try String(contentsOfFile: DeploymentFilesTests.root + "/cluster/lib.sh", encoding: .utf8)
        let config = try String(contentsOfFile: DeploymentFilesTests.root + "/cluster/docker/wrpd.yaml", encoding: .utf8)
        for i in 1...3 {
            #expect(compose.contains("wrpd-\(i):"), "service wrpd-\(i)")
            #expect(compose.contains("\"--advertise\", \"wrpd-\(i):7946\""))
            #expect(config.contains("wrpd-\(i):7946"), "join list names wrpd-\(i)")
        }
        #expect(compose.contains("./cluster/docker/wrpd.yaml:/etc/wrp/wrpd.yaml"))
        // Same simulated fleet as the local scripts: 4 backends, the same two models.
        #expect(compose.contains("\"--backends\", \"4\"") && lib.contains("--backends 4"))
        #expect(compose.contains("sim-llama-8b,sim-qwen-7b") && lib.contains("sim-llama-8b,sim-qwen-7b"))
        for port in 9001...9004 { #expect(config.contains("http://sim:\(port)")) }
    }
}
