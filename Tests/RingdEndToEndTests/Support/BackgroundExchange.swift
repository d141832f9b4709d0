// Runs an echo exchange on a thread of its own, so that a test can act while clients echo.
import Foundation
import TestSupport

/// Runs an `EchoExchange` on its own thread so the test thread can act meanwhile.
///
/// `@unchecked Sendable`: the conversations are touched only by the worker thread until it
/// signals `finished`, and only by the joining thread after that.
final class BackgroundExchange: @unchecked Sendable {
    private let conversations: [EchoConversation]
    private let finished = DispatchSemaphore(value: 0)
    private let idleTimeout: Duration

    init(conversations: [EchoConversation], idleTimeout: Duration = .seconds(20)) {
        self.conversations = conversations
        self.idleTimeout = idleTimeout
        Thread.detachNewThread { [self] in
            EchoExchange.run(self.conversations, idleTimeout: self.idleTimeout)
            self.finished.signal()
        }
    }

    /// Waits for the exchange (which bounds itself by its idle timeout) and returns its problems.
    func join(timeout: Duration = .seconds(300)) throws -> [String] {
        let (seconds, _) = timeout.components
        guard finished.wait(timeout: .now() + .seconds(Int(seconds))) == .success else {
            throw HarnessFailure("the background echo exchange did not finish within \(timeout)")
        }
        return EchoExchange.problems(of: conversations)
    }
}
