// ringd-shout: the engine running the Shout mode, for the end-to-end test of a mode defined
// outside ringd. Arguments are `--set` overrides (TABLE.KEY=VALUE); it prints ringd's
// `listening on` lines and stops on SIGTERM like ringd.

import RingdConfig
import RingdServer
#if canImport(Glibc)
import Glibc
#endif

do {
    let configuration = try Configuration.load(file: nil, overrides: Array(CommandLine.arguments.dropFirst()))
    try Server.run(configuration: configuration, service: { _ in Shout() }) { ready in
        for address in ready.addresses { print("ringd: shout listening on \(address) (\(ready.workers) workers)") }
        fflush(nil)
    }
} catch {
    print("ringd-shout: error: \(error)")
    exit(1)
}
