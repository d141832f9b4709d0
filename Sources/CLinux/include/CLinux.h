// CLinux: the few Linux calls Swift's Glibc module does not expose, because glibc declares
// them only under _GNU_SOURCE, which Swift's Glibc module is not built with.
#ifndef RINGD_CLINUX_H
#define RINGD_CLINUX_H

/// The CPUs the calling thread may run on, as a bit mask in `mask` (`bytes` long). Returns 0, or -1 with errno.
int ringd_get_allowed_cpus(unsigned char *mask, unsigned long bytes);

/// Pins the calling thread to `cpu`. Returns 0, or -1 with errno.
int ringd_pin_current_thread(int cpu);

/// Names the calling thread (at most 15 bytes are kept), as top -H, ps -L and /proc/PID/task/TID/comm
/// show it. Returns 0, or -1 with errno.
int ringd_name_current_thread(const char *name);

/// A close-on-exec eventfd(2) starting at 0. Returns the descriptor, or -1 with errno.
int ringd_eventfd(void);

/// posix_spawn file action: close every descriptor >= `from` in the child (glibc 2.34). For
/// spawning processes with only the descriptors chosen for them. Returns 0 or an errno value.
int ringd_spawn_close_from(void *actions, int from);

#endif
