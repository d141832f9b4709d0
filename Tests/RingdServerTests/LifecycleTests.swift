// A connection's lifecycle as a state machine, with a test clock (the worker's coarse
// milliseconds, passed in) and no socket: which transitions exist, and what the sweep decides
// about idle, lingering and slow clients, the drain and the cuts.
import RingdConfig
import Testing

@testable import RingdServer

@Suite struct LifecycleTests {
    /// A connection as `ConnectionTable.open` makes it, at `now`.
    func connection(at now: UInt32) -> Connection {
        Connection(
            lifecycle: .open, receiveArmed: true, sendInFlight: false, peerFinished: false, receivePaused: false,
            waitingForBuffers: false, streams: false, receivesBulk: false, lastActivity: now, overSoftCapSince: 0, generation: 0,
            descriptor: -1,
            queue: SendQueue(), nextFree: .max, listedAsWaiting: false, smallBulkReads: 0)
    }

    func limits(
        idle: Duration = .seconds(300), softCap: Int = 256 << 10, softTime: Duration = .seconds(30)
    ) throws -> ConnectionLimits {
        var configuration = try Configuration.load(file: nil, overrides: [])
        configuration.server.idleTimeout = idle
        configuration.io.outputSoftCap = softCap
        configuration.io.outputSoftTime = softTime
        return ConnectionLimits(configuration)
    }

    /// `connection.sweep(...)`, as a value the #expect macro can take.
    func swept(_ connection: inout Connection, now: UInt32, limits: ConnectionLimits, softCapApplies: Bool) -> SweepDecision {
        connection.sweep(now: now, limits: limits, softCapApplies: softCapApplies)
    }

    @Test func theTransitionsAreTheDrawnOnesAndNoOthers() {
        let allowed: Set<[Lifecycle]> = [
            [.free, .open], [.open, .closingAfterOutput], [.open, .markedForCut], [.open, .closing],
            [.closingAfterOutput, .lingering], [.closingAfterOutput, .markedForCutAfterService], [.closingAfterOutput, .closing],
            [.lingering, .markedForCutAfterService], [.lingering, .closing],
            [.markedForCut, .closing], [.markedForCutAfterService, .closing], [.closing, .free],
        ]
        let all: [Lifecycle] = [
            .free, .open, .closingAfterOutput, .lingering, .markedForCut, .markedForCutAfterService, .closing,
        ]
        for from in all {
            for to in all {
                #expect(from.allows(to) == allowed.contains([from, to]), "\(from) -> \(to)")
            }
        }
    }

    @Test func aClientIsClosedOnceItsIdleTimeoutHasPassed() throws {
        let limits = try limits(idle: .seconds(10))
        var client = connection(at: 1_000)
        #expect(swept(&client, now: 10_999, limits: limits, softCapApplies: false) == .keep)
        #expect(swept(&client, now: 11_000, limits: limits, softCapApplies: false) == .closeIdle(quietMilliseconds: 10_000))
        // Input moves the clock on.
        client.lastActivity = 11_000
        #expect(swept(&client, now: 11_500, limits: limits, softCapApplies: false) == .keep)
        // An idle timeout of 0 never closes.
        #expect(swept(&client, now: 900_000, limits: try self.limits(idle: .zero), softCapApplies: false) == .keep)
    }

    @Test func aLingeringConnectionIsClosedAtTheLingerLimitWhateverTheIdleTimeout() throws {
        let limits = try limits(idle: .milliseconds(100))
        var client = connection(at: 0)
        client.move(to: .closingAfterOutput)
        client.move(to: .lingering)
        client.lastActivity = 2_000  // the FIN went out
        #expect(
            swept(&client, now: 2_000 + Connection.lingerLimitMilliseconds - 1, limits: limits, softCapApplies: false) == .keep)
        #expect(
            swept(&client, now: 2_000 + Connection.lingerLimitMilliseconds, limits: limits, softCapApplies: false)
                == .closeLingering)
    }

    @Test func aSlowReaderIsCutOnlyAfterStayingAboveTheSoftCapForItsTime() throws {
        let limits = try limits(softCap: 1_000, softTime: .seconds(2))
        var client = connection(at: 0)
        client.queue.queuedBytes = 1_001
        #expect(swept(&client, now: 100, limits: limits, softCapApplies: true) == .keep)  // the clock starts
        #expect(swept(&client, now: 2_000, limits: limits, softCapApplies: true) == .keep)
        client.queue.queuedBytes = 999  // it caught up: the clock stops
        #expect(swept(&client, now: 2_200, limits: limits, softCapApplies: true) == .keep)
        client.queue.queuedBytes = 5_000
        #expect(swept(&client, now: 3_000, limits: limits, softCapApplies: true) == .keep)
        #expect(swept(&client, now: 4_999, limits: limits, softCapApplies: true) == .keep)
        #expect(swept(&client, now: 5_001, limits: limits, softCapApplies: true) == .cutOverSoftCap)
        // A service that waits for its readers (echo) never cuts.
        #expect(swept(&client, now: 9_000, limits: limits, softCapApplies: false) == .keep)
    }

    @Test func aClientIsMarkedForCutOnceAndThenIgnoredByTheSweep() throws {
        var client = connection(at: 0)
        let marked = client.markForCut()
        #expect(marked)
        #expect(client.lifecycle == .markedForCut && client.lifecycle.serviceHoldsIt)
        let markedTwice = client.markForCut()
        #expect(!markedTwice)
        let decision = client.sweep(now: 1_000_000, limits: try limits(idle: .seconds(1)), softCapApplies: true)
        #expect(decision == .keep)
        // Cut after the service let it go: the service is not told twice.
        var leaving = connection(at: 0)
        leaving.move(to: .closingAfterOutput)
        let leavingMarked = leaving.markForCut()
        #expect(leavingMarked)
        #expect(leaving.lifecycle == .markedForCutAfterService && !leaving.lifecycle.serviceHoldsIt)
        // Neither a closing connection nor a free slot can be marked.
        var closing = connection(at: 0)
        closing.move(to: .closing)
        let closingMarked = closing.markForCut()
        #expect(!closingMarked)
    }

    @Test func theDrainWaitsOnlyForConnectionsThatAreOwedOutput() {
        var idle = connection(at: 0)
        #expect(!idle.drainsAfterOutput)
        idle.sendInFlight = true
        #expect(idle.drainsAfterOutput)
        var queued = connection(at: 0)
        queued.queue.segmentHead = 7
        #expect(queued.drainsAfterOutput)
    }
}

@Suite struct PublishedStatisticsTests {
    @Test func aSnapshotIsWhatTheWorkerLastPublished() {
        let published = PublishedStatistics()
        #expect(published.snapshot == WorkerStatistics())
        var statistics = WorkerStatistics()
        statistics.accepted = 25
        statistics.closed = 24
        statistics.connectionsOpen = 1
        statistics.outputQueuedBytes = 4096
        published.publish(statistics)
        #expect(published.snapshot == statistics)
        #expect(statistics.json.hasPrefix(#"{"accepted":25,"closed":24,"#))
    }

    @Test func anotherThreadReadsWhileTheWorkerPublishes() async {
        let published = PublishedStatistics()
        let rounds = 20_000
        async let reader: Int = {
            var highest = 0
            for _ in 0..<rounds {
                let snapshot = published.snapshot
                // Counters only grow, whatever the reader catches.
                #expect(snapshot.accepted >= highest)
                highest = snapshot.accepted
            }
            return highest
        }()
        var statistics = WorkerStatistics()
        for round in 1...rounds {
            statistics.accepted = round
            published.publish(statistics)
        }
        _ = await reader
        #expect(published.snapshot.accepted == rounds)
    }
}
