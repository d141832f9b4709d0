// OutputBudget: reading pauses at the limit and resumes only once the queue has drained.

import RingdServices
import Testing

@Suite struct OutputBudgetTests {
    @Test func pausesAtTheLimitAndResumesAtHalf() {
        var budget = OutputBudget(limit: 1000)
        #expect(budget.queued(600) == .none)
        #expect(budget.queued(400) == .pauseReading)
        #expect(budget.isReadingPaused)
        #expect(budget.queued(300) == .none, "already paused")
        #expect(budget.sent(700) == .none, "600 queued is still above the resume level")
        #expect(budget.sent(100) == .resumeReading)
        #expect(!budget.isReadingPaused)
        #expect(budget.queuedBytes == 500)
        #expect(budget.sent(500) == .none)
    }

    @Test func aCustomResumeLevelIsHonoured() {
        var budget = OutputBudget(limit: 100, resumeLevel: 0)
        #expect(budget.queued(150) == .pauseReading)
        #expect(budget.sent(149) == .none)
        #expect(budget.sent(1) == .resumeReading)
    }

    @Test func hasRoomSaysWhetherMoreFitsUnderTheLimit() {
        var budget = OutputBudget(limit: 100)
        _ = budget.queued(60)
        #expect(budget.hasRoom(for: 40))
        #expect(!budget.hasRoom(for: 41))
    }
}
