/*
 * A launcher that runs a program with io_uring_setup(2) failing, as it does under a container
 * runtime's seccomp profile or with kernel.io_uring_disabled set. The end-to-end tests compile it
 * with `cc` into a temporary directory and start ringd through it; Package.swift excludes this
 * folder from the Swift test target.
 *
 *     io_uring_denied_launcher ERRNO PROGRAM [ARGUMENT]...
 *
 * ERRNO is EPERM or ENOSYS: the error io_uring_setup returns. Every other system call is allowed.
 * The launcher installs a seccomp filter (which needs PR_SET_NO_NEW_PRIVS when not privileged),
 * then execs PROGRAM, which inherits the filter. It exits 127 with a message on stderr if it
 * cannot.
 *
 * This is C source kept under a `.h` name only because SwiftPM refuses a `.c` file in a Swift
 * target ("mixed language source files") and warns about unknown extensions; headers it ignores.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define LAUNCHER_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define LAUNCHER_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "io_uring_denied_launcher knows the audit architecture of x86_64 and aarch64 only"
#endif

/* io_uring_setup is 425 in the unified system call table of every architecture. */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static int errno_named(const char *name) {
    if (strcmp(name, "EPERM") == 0) return EPERM;
    if (strcmp(name, "ENOSYS") == 0) return ENOSYS;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 3 || errno_named(argv[1]) < 0) {
        fprintf(stderr, "usage: %s EPERM|ENOSYS PROGRAM [ARGUMENT]...\n", argv[0]);
        return 127;
    }
    int denied_with = errno_named(argv[1]);

    struct sock_filter instructions[] = {
        /* A system call of another architecture (another numbering) ends the process. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LAUNCHER_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        /* io_uring_setup fails with the chosen errno; everything else runs. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (denied_with & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {
        .len = (unsigned short)(sizeof instructions / sizeof instructions[0]),
        .filter = instructions,
    };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "io_uring_denied_launcher: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
        return 127;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        fprintf(stderr, "io_uring_denied_launcher: prctl(PR_SET_SECCOMP): %s\n", strerror(errno));
        return 127;
    }
    execv(argv[2], &argv[2]);
    fprintf(stderr, "io_uring_denied_launcher: execv(%s): %s\n", argv[2], strerror(errno));
    return 127;
}
