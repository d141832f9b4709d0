// The parts of start-up and exit that a hand-over adds: taking the listeners from a running
// ringd, the control socket that lets a later ringd take them from this one, and which socket
// files stay behind at exit because a new process serves them now.

import RingdConfig
import RingdSystem
import URing

#if canImport(Glibc)
    import Glibc
#endif

extension Server {
    /// The configured listeners: adopted from `takeover` where it offers them, bound otherwise.
    /// A failure abandons the takeover, so the old process sees it and keeps serving.
    static func acquireListeners(
        _ configuration: Configuration, workers: Int, takeover: Takeover?
    ) throws(StartupError)
        -> [ListenerGroup]
    {
        do throws(StartupError) {
            let listeners = try ListenerFactory.bindAll(configuration, workers: workers, adopting: takeover)
            // The old process closes what nobody here wanted when it hands over.
            takeover?.closeUnadopted()
            return listeners
        } catch {
            takeover?.abandon()
            throw error
        }
    }

    /// The control socket of `server.control_socket`, if set; on failure the listeners close.
    static func openControlSocket(
        _ configuration: Configuration, closingOnFailure listeners: [ListenerGroup]
    ) throws(StartupError)
        -> ControlServer?
    {
        guard let path = configuration.server.controlSocket else { return nil }
        do throws(SystemError) {
            return try ControlServer(path: path)
        } catch {
            listeners.forEach { $0.close() }
            listeners.filter { !$0.adopted }.forEach { $0.unixFile?.removeIfStillOurs() }
            throw StartupError(error)
        }
    }

    /// Every worker of this process accepts now: the old process may stop (`ready`, then
    /// `released`), and the workers arm their accepts again (see EventLoop.rearmAccepts). Then
    /// this process opens its own control socket, at a path the old one has given up; systemd
    /// hears it is the main process with its READY=1. Returns why the takeover failed, or nil; a
    /// control socket that cannot be opened now is logged, not fatal, since the old process no
    /// longer accepts.
    static func completeTakeover(
        _ takeover: Takeover?, _ configuration: Configuration, group: WorkerGroup, control: inout ControlServer?, log: ServerLog
    ) -> StartupError? {
        guard let takeover else { return nil }
        do throws(StartupError) { try takeover.commit() } catch { return error }
        var one: UInt64 = 1
        _ = write(group.rearmSignal, &one, MemoryLayout<UInt64>.size)
        log.write(.notice, "took over the listeners of the ringd at \(takeover.path)")
        if let path = configuration.server.controlSocket {
            do throws(SystemError) { control = try ControlServer(path: path) } catch {
                log.write(.error, "no control socket, so no later takeover: \(StartupError(error))")
            }
        }
        return nil
    }

    /// Removes the Unix socket files ringd made, and those it adopted in a takeover that was
    /// completed, except those a later process took.
    static func removeSocketFiles(of listeners: [ListenerGroup], takenFrom takeover: Takeover?, keptBy control: ControlServer?) {
        for (index, listener) in listeners.enumerated() where control?.kept(index) != true {
            if listener.adopted && takeover?.isCommitted != true { continue }  // still the old process's file
            listener.unixFile?.removeIfStillOurs()
        }
    }
}
