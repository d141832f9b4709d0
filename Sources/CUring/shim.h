// CUring: liburing for Swift, plus what Swift cannot import from it.
//
// liburing's prep helpers are static inline functions, which Swift imports and inlines. What it
// cannot import is macros with arguments (io_uring_for_each_cqe), flag macros built from enum
// shifts (IOSQE_*), and fields inside anonymous unions that liburing never wraps (buf_group).
// Constants newer than the liburing-dev 2.3 that Debian bookworm ships are back-defined here;
// whether the running kernel honours them is probed at run time, never assumed.
#ifndef RINGD_CUring_SHIM_H
#define RINGD_CUring_SHIM_H

// liburing.h defines _GNU_SOURCE before including libc headers, which renames fields such as
// fd_set's __fds_bits. Swift's Glibc module sees those headers without it, and clang rejects two
// modules that disagree on a struct. Including the libc headers first, under the default
// feature macros, makes both modules see one definition; liburing needs nothing _GNU_SOURCE
// adds on glibc (cpu_set_t is defined unconditionally).
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <liburing.h>

// --- Constants newer than liburing 2.3 (values from the kernel's uapi io_uring.h) -------------

#ifndef IORING_TIMEOUT_MULTISHOT
#define IORING_TIMEOUT_MULTISHOT (1U << 6) /* Linux 6.4 */
#endif
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4) /* Linux 6.10: sqe->ioprio of a recv or send */
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14) /* Linux 6.10 */
#endif
#ifndef IORING_MSG_RING_FLAGS_PASS
#define IORING_MSG_RING_FLAGS_PASS (1U << 1) /* Linux 6.3 */
#endif

// --- SQE flags, as plain values Swift can import ----------------------------------------------

enum {
    RINGD_IOSQE_FIXED_FILE = IOSQE_FIXED_FILE,
    RINGD_IOSQE_IO_DRAIN = IOSQE_IO_DRAIN,
    RINGD_IOSQE_IO_LINK = IOSQE_IO_LINK,
    RINGD_IOSQE_IO_HARDLINK = IOSQE_IO_HARDLINK,
    RINGD_IOSQE_ASYNC = IOSQE_ASYNC,
    RINGD_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT,
    RINGD_IOSQE_CQE_SKIP_SUCCESS = IOSQE_CQE_SKIP_SUCCESS,
};

// --- Helpers for what Swift cannot reach ------------------------------------------------------

/// The completion at position `index` past the current head, without consuming it. This is the
/// body of io_uring_for_each_cqe, which is a macro. Callers check io_uring_cq_ready first and
/// call io_uring_cq_advance once for the whole batch.
static inline struct io_uring_cqe *ringd_cqe_at(struct io_uring *ring, unsigned index) {
    unsigned head = *ring->cq.khead;
    return &ring->cq.cqes[(head + index) & ring->cq.ring_mask];
}

/// Marks an SQE as selecting its buffer from provided-buffer group `group`; buf_group lives in
/// an anonymous union that Swift does not import by name.
static inline void ringd_sqe_select_buffer(struct io_uring_sqe *sqe, uint16_t group) {
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
}

/// Multishot recv that fills a bundle (Linux 6.10): each completion may span several consecutive
/// buffers of the group, its result the bytes in all of them. A nonzero `limit` is the total
/// the request may receive before it ends (a completion without IORING_CQE_F_MORE); the kernel
/// reads it from the field newer headers call `optlen`, which liburing 2.3 calls `file_index`.
/// Kernels without the limit refuse it or ignore it: KernelSupport probes which.
static inline void ringd_prep_recv_multishot_bundle(struct io_uring_sqe *sqe, int fd, uint16_t group,
                                                    uint32_t limit) {
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->ioprio |= IORING_RECVSEND_BUNDLE;
    sqe->file_index = limit;
    ringd_sqe_select_buffer(sqe, group);
}

/// Multishot timeout (Linux 6.4): one SQE that fires every `ts` until cancelled.
static inline void ringd_prep_timeout_multishot(struct io_uring_sqe *sqe,
                                                struct __kernel_timespec *ts) {
    io_uring_prep_timeout(sqe, ts, 0, IORING_TIMEOUT_MULTISHOT);
}

/// Linux 6.12 (IORING_FEAT_MIN_TIMEOUT): the field liburing 2.3 calls `pad` in the wait
/// arguments is the batch window, `min_wait_usec`.
#define RINGD_FEAT_MIN_TIMEOUT (1U << 15)

/// Submits what is queued and waits for `wait_nr` completions, but for no longer than
/// `window_usec` once at least one is ready: a batch wait (Linux 6.12). liburing 2.3 has no
/// io_uring_submit_and_wait_min_timeout, so this flushes the submission tail as liburing's own
/// submit does (no SQPOLL here) and enters with the extended wait arguments. Returns the
/// number submitted or -errno. After the window the kernel returns even with nothing ready, so
/// the caller waits this way only while completions keep coming.
static inline int ringd_submit_and_wait_batch(struct io_uring *ring, unsigned wait_nr, unsigned window_usec) {
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    unsigned submitted = tail - IO_URING_READ_ONCE(*sq->khead);
    struct io_uring_getevents_arg arguments = {0};
    arguments.pad = window_usec;
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int result = (int)syscall(__NR_io_uring_enter, ring->ring_fd, submitted, wait_nr, flags, &arguments,
                              sizeof(arguments));
    return result < 0 ? -errno : result;
}

#endif
