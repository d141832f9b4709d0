// See include/CLinux.h.
#define _GNU_SOURCE
#include "CLinux.h"
#include <sched.h>
#include <string.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

int ringd_get_allowed_cpus(unsigned char *mask, unsigned long bytes) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    memset(mask, 0, bytes);
    for (int cpu = 0; cpu < CPU_SETSIZE && (unsigned long)(cpu / 8) < bytes; cpu++) {
        if (CPU_ISSET(cpu, &set)) mask[cpu / 8] |= (unsigned char)(1u << (cpu % 8));
    }
    return 0;
}

int ringd_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

int ringd_name_current_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

int ringd_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC);
}

int ringd_spawn_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
