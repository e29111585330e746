public extension Config {
    /// Applies the `--node-id`, `--http` and `--data-dir` flags over the loaded file, checked as
    /// strictly as the file (errors name the flag). Nothing changes unless every flag is valid.
    ///
    /// Config has no memory of whether `data_dir` was written or defaulted, so a data dir equal
    /// to the old id's default (`data/<old id>`) follows a new `--node-id`: starting a second
    /// node from the same file with only `--node-id n2` must not share `data/n1`.
    mutating func apply(nodeID: String?, http: String?, dataDir: String?) throws(ConfigError) {
        var node = self.node
        let oldDefault = ConfigRules.defaultDataDir(id: node.id)
        if let nodeID {
            if let problem = ConfigRules.nodeIDProblem(nodeID) { throw ConfigError(field: "--node-id", problem) }
            node.id = nodeID
        }
        if let http {
            guard let hp = HostPort(parsing: http) else { throw ConfigError(field: "--http", ConfigRules.listenMessage(http)) }
            node.http = hp
        }
        if let dataDir {
            if let problem = ConfigRules.dataDirProblem(dataDir) { throw ConfigError(field: "--data-dir", problem) }
            node.dataDir = dataDir
        } else if node.dataDir == nil || node.dataDir == oldDefault {
            node.dataDir = ConfigRules.defaultDataDir(id: node.id)
        }
        self.node = node
    }
}
