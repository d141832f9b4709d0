// What SIGHUP may change: every key the schema marks `.live` takes its new value, and every key
// marked `.restart` keeps the one ringd started with.

extension Configuration {
    /// `self`, read again on SIGHUP, with every key that only changes on a restart set back to
    /// its value in `running`; `keptPaths` names those that differed (`table.key`, in schema
    /// order), so the caller can log that their new values wait for a restart.
    public func keepingRestartValues(of running: Configuration) -> (configuration: Configuration, keptPaths: [String]) {
        var next = self
        var keptPaths: [String] = []
        for key in Schema.keys where key.reload == .restart {
            if key.keepRunningValue(running, &next) { keptPaths.append(key.path) }
        }
        return (next, keptPaths)
    }
}
