// CLinux: the few Linux calls Swift's Glibc module does not expose, because glibc declares
// them only under _GNU_SOURCE, which Swift's Glibc module is not built with.
#ifndef RINGD_CLINUX_H
#define RINGD_CLINUX_H

/// The CPUs the calling thread may run on, as a bit mask in `mask` (`bytes` long). Returns 0, or -1 with errno.
int ringd_get_allowed_cpus(unsigned char *mask, unsigned long bytes);

/// Pins the calling thread to `cpu`. Returns 0, or -1 with errno.
int ringd_pin_current_thread(int cpu);
/// Sets the calling thread's affinity to the CPUs in `mask` (bit i of byte i/8 = CPU i), as
/// ringd_get_allowed_cpus reads it. 0 on success, -1 with errno set.
int ringd_set_allowed_cpus(const unsigned char *mask, unsigned long bytes);

/// Names the calling thread (at most 15 bytes are kept), as top -H, ps -L and /proc/PID/task/TID/comm
/// show it. Returns 0, or -1 with errno.
int ringd_name_current_thread(const char *name);

/// A close-on-exec eventfd(2) starting at 0. Returns the descriptor, or -1 with errno.
int ringd_eventfd(void);

/// posix_spawn file action: close every descriptor >= `from` in the child (glibc 2.34). For
/// spawning processes with only the descriptors chosen for them. Returns 0 or an errno value.
int ringd_spawn_close_from(void *actions, int from);

/// The most descriptors one `ringd_send_descriptors` message carries (the kernel's SCM_MAX_FD is 253).
#define RINGD_DESCRIPTORS_PER_MESSAGE 64

/// sendmsg(2) of `length` bytes with `count` descriptors (at most RINGD_DESCRIPTORS_PER_MESSAGE)
/// attached as SCM_RIGHTS, with MSG_NOSIGNAL. Returns the bytes sent, or -1 with errno.
long ringd_send_descriptors(int socket, const void *bytes, unsigned long length, const int *descriptors, int count);

/// recvmsg(2) into `bytes` (`capacity` long), taking the SCM_RIGHTS descriptors that come with
/// it into `descriptors` (room for RINGD_DESCRIPTORS_PER_MESSAGE), close-on-exec, and their
/// number into `*count`. Returns the bytes received (0 at end of stream), or -1 with errno;
/// EMSGSIZE when the message or its descriptors were cut short (those that came are still given).
long ringd_receive_descriptors(int socket, void *bytes, unsigned long capacity, int *descriptors, int *count);

/// The process id and user id of a Unix socket's peer (SO_PEERCRED). Returns 0, or -1 with errno.
int ringd_peer_credentials(int socket, int *pid, unsigned int *uid);

#endif
