// CPUSet: the CPUs this process may run on, and pinning a thread to one of them.

import CLinux

enum CPUSet {
    /// The CPUs in the process's affinity mask (what `taskset` and cgroups allow), in order.
    static func allowed() -> [Int] {
        var mask = [UInt8](repeating: 0, count: 128)
        guard ringd_get_allowed_cpus(&mask, UInt(mask.count)) == 0 else { return [0] }
        var cpus: [Int] = []
        for (byteIndex, byte) in mask.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (1 << bit) != 0 { cpus.append(byteIndex * 8 + bit) }
        }
        return cpus.isEmpty ? [0] : cpus
    }

    /// Pins the calling thread to `cpu`. Returns false when the kernel refuses.
    @discardableResult
    static func pinCurrentThread(to cpu: Int) -> Bool {
        ringd_pin_current_thread(Int32(cpu)) == 0
    }
}
