// The small types the event loop's files share: what a completion is for, why a client is cut,
// and the timers a worker keeps.

import URing

/// What a completion is for; the low byte of its user data. The slot and generation fields
/// carry a connection, or what each case below says.
enum Operation: UInt8, CaseIterable {
    /// Slot: the listener's index.
    case accept = 1
    case receive
    /// A recv into the bulk buffers (raw echo, a client that streams).
    case bulkReceive
    case send
    /// The close of a connection's socket, or of one refused at once; reports only a failure.
    case close
    /// A cancel of a recv, a timer or an accept; reports only a failure other than "not found".
    case cancel
    case shutdownSignal
    /// Slot: the listener whose accept paused after EMFILE/ENFILE.
    case acceptRetry
    /// The send of a send-and-close (greet, counter, the busy message); reports only a failure.
    case greetSend
    /// The close of a send-and-close. Slot: the output chunk it sent from (or `fixedMessage`);
    /// generation: the descriptor, to close by hand when a failed send cancelled the close.
    case greetClose
    /// A shutdown(SHUT_WR) before a lingering close; reports only a failure.
    case shutdownWrite
    /// The service's timer (`Service.tickInterval`). Generation: the timer's, bumped when a
    /// reload replaces it.
    case tick
    /// Another worker posted lines to this worker's inbox. Slot: the sender's index.
    case relayDoorbell
    /// Another worker is done with posted spans of this worker's arena. Slot: the chunk index;
    /// result: how many posted spans it releases.
    case chunkRelease
    /// A MSG_RING this worker sent failed.
    case messageFailed
    /// `server.drain_timeout` passed after a shutdown signal.
    case drainDeadline
    /// The periodic look for idle and lingering connections. Generation: the timer's.
    case sweep
    /// SIGHUP reloaded the configuration (this worker's eventfd became readable).
    case reload
    /// A new process took over the listeners (`WorkerGroup.handOverSignal` became readable).
    case handOver
    /// `server.drain_timeout` passed after a hand-over: the drain of SIGTERM begins.
    case handOverDeadline
    /// This process took over listeners and the old one stopped accepting
    /// (`WorkerGroup.rearmSignal` became readable).
    case rearmAccepts
    /// The connect of the worker's Redis connection. Generation: the connection's (see
    /// RedisLink), so a completion for a connection already reset is dropped; likewise below.
    case redisConnect
    /// The linked timeout that gives up a connect to Redis; needs no answer.
    case redisConnectTimeout
    case redisSend
    case redisReceive
    /// The backoff before connecting to Redis again.
    case redisRetry
}

/// Why a slow client is cut off; each is counted on its own.
enum CutReason: UInt8 {
    /// Its queued output would pass `io.output_cap`.
    case outputCap
    /// Its queued output stayed above `io.output_soft_cap` for `io.output_soft_time`.
    case softCap
    /// Output for it could not be stored: the worker's `io.output_memory` (or its segment pool)
    /// is full. This is the bound on all queued output, whatever each client's cap allows.
    case outputMemoryFull
}

/// The worker's own timers, after the listeners' entries in its `TimeoutStorage`.
enum TimerEntry: Int, CaseIterable {
    case tick, drainDeadline, sweep, handOverDeadline, redisRetry, redisConnect
}

extension Duration {
    /// Whole milliseconds, clamped to what the worker's 32-bit coarse clock can count.
    var clampedMilliseconds: UInt32 {
        UInt32(clamping: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
