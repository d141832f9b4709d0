// ClientError: a failure ring-client reports to its user, in one sentence that says what it saw.

/// A failure with a message for the person running ring-client, and the exit status to use.
struct ClientError: Error, CustomStringConvertible {
    let description: String
    /// 1 for a setup or usage failure; benchmarks use 2 for "ran, but counted data errors".
    let exitStatus: Int32

    init(_ description: String, exitStatus: Int32 = 1) {
        self.description = description
        self.exitStatus = exitStatus
    }
}
