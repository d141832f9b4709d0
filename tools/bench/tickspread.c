/*
 * tickspread: broadcast subscribers that time each tick with the kernel's receive timestamps.
 *
 *   tickspread -P PORT [-c N] [-d SEC] [-W SEC] [-D SEC] [-B N]
 *
 * A cross-check for `ring-client bench broadcast`, written against nothing but libc: N
 * subscribers on one epoll thread read `\n`-terminated lines and look for `seq=N` and
 * `time=SECONDS.FRACTION` (ringd's default broadcast line). The lines of one server tick share
 * their time= and seq= (ringd counts seq per worker); per tick it keeps the first and the last
 * arrival over all subscribers, twice:
 *
 *   kernel  SO_TIMESTAMPNS, the time the segment reached the receiving socket. On loopback that
 *           happens inside the server's send, so this spread is the server's alone, whatever
 *           this client's scheduling.
 *   user    CLOCK_REALTIME when recvmsg returned: what an application would see.
 *
 * For TCP the kernel reports the timestamp of the last segment a recvmsg consumed, so when two
 * ticks wait in one socket both get the later time; each tick is one small line, so that only
 * happens when this client falls a whole interval behind.
 *
 * Ticks whose time= lies in the measured window are reported; after the window the client keeps
 * reading for -D seconds so that their last lines arrive. Lines/s counts lines received in the
 * window. Lost lines are seq jumps per subscriber. Output: a summary and one line
 * `RESULT key=value ...`. Exit 0, or 1 on a setup error, or 2 when lines were lost or a
 * subscriber was closed. Only 127.0.0.1 is targeted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 512
#define TICK_CAPACITY (1u << 17) /* open addressing; power of two */

struct subscriber {
    int fd;
    int has_seq;
    uint64_t last_seq;
    uint32_t carry_len;
    char carry[LINE_MAX_BYTES];
};

struct tick {
    uint64_t stamp; /* time= in ns since the epoch; 0 = empty slot */
    uint64_t seq;
    uint64_t kernel_first, kernel_last;
    uint64_t user_first, user_last;
    uint64_t deliveries;
};

static struct tick *ticks;
static uint64_t tick_count, untracked;

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "tickspread: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Parses `key=` at a line start or after a space; returns the value's start or NULL. */
static const char *field(const char *line, size_t len, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen < len; i++) {
        if ((i == 0 || line[i - 1] == ' ') && memcmp(line + i, key, klen) == 0) return line + i + klen;
    }
    return NULL;
}

/* `1732212345.123456` or an integer in ns; up to 9 fraction digits. */
static int parse_time(const char *p, const char *end, uint64_t *ns)
{
    uint64_t whole = 0, frac = 0;
    int digits = 0, frac_digits = 0;
    while (p < end && *p >= '0' && *p <= '9') { whole = whole * 10 + (uint64_t)(*p++ - '0'); digits++; }
    if (!digits) return 0;
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (frac_digits < 9) { frac = frac * 10 + (uint64_t)(*p - '0'); frac_digits++; }
            p++;
        }
        while (frac_digits < 9) { frac *= 10; frac_digits++; }
        *ns = whole * 1000000000ull + frac;
    } else {
        *ns = whole;
    }
    return 1;
}

static void note_tick(uint64_t stamp, uint64_t seq, uint64_t kernel, uint64_t user)
{
    uint64_t h = (stamp * 0x9E3779B97F4A7C15ull) ^ (seq * 0xC2B2AE3D27D4EB4Full);
    for (uint32_t probe = 0; probe < TICK_CAPACITY; probe++) {
        struct tick *t = &ticks[(h + probe) & (TICK_CAPACITY - 1)];
        if (t->stamp == stamp && t->seq == seq) {
            if (kernel < t->kernel_first) t->kernel_first = kernel;
            if (kernel > t->kernel_last) t->kernel_last = kernel;
            if (user < t->user_first) t->user_first = user;
            if (user > t->user_last) t->user_last = user;
            t->deliveries++;
            return;
        }
        if (t->stamp == 0) {
            if (tick_count >= TICK_CAPACITY / 2) { untracked++; return; }
            *t = (struct tick){stamp, seq, kernel, kernel, user, user, 1};
            tick_count++;
            return;
        }
    }
    untracked++;
}

static uint64_t lines_window, lost, closed;
static uint64_t window_start, window_end; /* realtime ns */

static void on_line(struct subscriber *s, const char *line, size_t len, uint64_t kernel, uint64_t user)
{
    if (user >= window_start && user < window_end) lines_window++;
    const char *seqp = field(line, len, "seq=");
    const char *timep = field(line, len, "time=");
    uint64_t seq = 0, stamp = 0;
    if (seqp) {
        seq = strtoull(seqp, NULL, 10);
        if (s->has_seq && seq > s->last_seq + 1) lost += seq - s->last_seq - 1;
        s->last_seq = seq;
        s->has_seq = 1;
    }
    if (timep && parse_time(timep, line + len, &stamp) && stamp != 0) note_tick(stamp, seq, kernel, user);
}

/* Reads everything ready on `s`; returns 0 when the server closed it. */
static int drain_socket(struct subscriber *s)
{
    char buf[16384];
    char control[CMSG_SPACE(sizeof(struct timespec)) * 2];
    for (;;) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr msg = {0};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = recvmsg(s->fd, &msg, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            if (errno == EINTR) continue;
            return 0;
        }
        if (n == 0) return 0;
        uint64_t user = realtime_ns(), kernel = user;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                kernel = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
            }
        }
        const char *p = buf, *end = buf + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                size_t rest = (size_t)(end - p);
                if (s->carry_len + rest > LINE_MAX_BYTES) rest = LINE_MAX_BYTES - s->carry_len;
                memcpy(s->carry + s->carry_len, p, rest);
                s->carry_len += (uint32_t)rest;
                break;
            }
            if (s->carry_len) {
                size_t part = (size_t)(nl - p);
                if (s->carry_len + part > LINE_MAX_BYTES) part = LINE_MAX_BYTES - s->carry_len;
                memcpy(s->carry + s->carry_len, p, part);
                on_line(s, s->carry, s->carry_len + part, kernel, user);
                s->carry_len = 0;
            } else {
                on_line(s, p, (size_t)(nl - p), kernel, user);
            }
            p = nl + 1;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank, in µs. */
static double rank_us(const uint64_t *sorted, size_t n, double percent)
{
    size_t rank = (size_t)(percent / 100.0 * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)sorted[rank - 1] / 1000.0;
}

int main(int argc, char **argv)
{
    int port = 0, count = 100, spread = 1;
    double duration = 10, warmup = 1, drain_seconds = 1;
    int opt;
    while ((opt = getopt(argc, argv, "P:c:d:W:D:B:")) != -1) {
        switch (opt) {
        case 'P': port = atoi(optarg); break;
        case 'c': count = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'W': warmup = atof(optarg); break;
        case 'D': drain_seconds = atof(optarg); break;
        case 'B': spread = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s -P PORT [-c N] [-d SEC] [-W SEC] [-D SEC] [-B N]\n", argv[0]);
            return 1;
        }
    }
    if (port <= 0 || port > 65535 || count < 1 || count > 1000000 || spread < 1 || spread > 254 || duration <= 0 ||
        duration > 600 || warmup < 0 || warmup > 600 || drain_seconds < 0 || drain_seconds > 60) {
        fprintf(stderr, "tickspread: bad arguments (need -P PORT, -c 1..1000000, -d 0..600, -B 1..254)\n");
        return 1;
    }
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < (rlim_t)count + 64) {
        lim.rlim_cur = (rlim_t)count + 64 <= lim.rlim_max ? (rlim_t)count + 64 : lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    ticks = calloc(TICK_CAPACITY, sizeof *ticks);
    struct subscriber *subs = calloc((size_t)count, sizeof *subs);
    int ep = epoll_create1(0);
    if (!ticks || !subs || ep < 0) die("setup");

    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket (raise ulimit -n?)");
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        if (spread > 1) {
            struct sockaddr_in src = {.sin_family = AF_INET};
            src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % spread));
            if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind source");
        }
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        to.sin_addr.s_addr = htonl(0x7f000001u);
        if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect");
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        subs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    uint64_t start = realtime_ns();
    window_start = start + (uint64_t)(warmup * 1e9);
    window_end = window_start + (uint64_t)(duration * 1e9);
    uint64_t stop = window_end + (uint64_t)(drain_seconds * 1e9);
    int open = count;
    struct epoll_event events[512];
    while (open > 0) {
        uint64_t now = realtime_ns();
        if (now >= stop) break;
        int timeout_ms = (int)((stop - now) / 1000000) + 1;
        int n = epoll_wait(ep, events, 512, timeout_ms > 100 ? 100 : timeout_ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int e = 0; e < n; e++) {
            struct subscriber *s = &subs[events[e].data.u32];
            if (s->fd >= 0 && !drain_socket(s)) {
                close(s->fd);
                s->fd = -1;
                open--;
                if (realtime_ns() < window_end) closed++;
            }
        }
    }

    /* Ticks stamped in the window, and their spreads. */
    uint64_t *kernel_spread = malloc(tick_count * sizeof(uint64_t) + 1);
    uint64_t *user_spread = malloc(tick_count * sizeof(uint64_t) + 1);
    size_t n = 0;
    uint64_t deliveries_min = UINT64_MAX, deliveries_max = 0;
    for (uint32_t i = 0; i < TICK_CAPACITY; i++) {
        struct tick *t = &ticks[i];
        if (t->stamp < window_start || t->stamp >= window_end) continue;
        kernel_spread[n] = t->kernel_last - t->kernel_first;
        user_spread[n] = t->user_last - t->user_first;
        if (t->deliveries < deliveries_min) deliveries_min = t->deliveries;
        if (t->deliveries > deliveries_max) deliveries_max = t->deliveries;
        n++;
    }
    if (n == 0) deliveries_min = 0;
    qsort(kernel_spread, n, sizeof(uint64_t), cmp_u64);
    qsort(user_spread, n, sizeof(uint64_t), cmp_u64);
    double lps = (double)lines_window / duration;
    double k50 = n ? rank_us(kernel_spread, n, 50) : 0, k99 = n ? rank_us(kernel_spread, n, 99) : 0;
    double kmax = n ? (double)kernel_spread[n - 1] / 1000.0 : 0;
    double u50 = n ? rank_us(user_spread, n, 50) : 0, u99 = n ? rank_us(user_spread, n, 99) : 0;
    double umax = n ? (double)user_spread[n - 1] / 1000.0 : 0;
    printf("tickspread: %d subscribers, %.1f s: %llu lines in the window, %.0f lines/s, %llu lost, %llu closed\n",
           count, duration, (unsigned long long)lines_window, lps, (unsigned long long)lost, (unsigned long long)closed);
    printf("  %zu ticks stamped in the window, %llu..%llu subscribers each%s\n", n,
           (unsigned long long)deliveries_min, (unsigned long long)deliveries_max, untracked ? " (tick table full)" : "");
    printf("  spread first->last arrival, kernel receive time: p50 %.1f us p99 %.1f us max %.1f us\n", k50, k99, kmax);
    printf("  spread first->last arrival, recvmsg return time: p50 %.1f us p99 %.1f us max %.1f us\n", u50, u99, umax);
    printf("RESULT mode=tickspread conns=%d secs=%.3f lines=%llu lps=%.0f lost=%llu closed=%llu ticks=%zu "
           "deliveries_min=%llu deliveries_max=%llu kernel_p50_us=%.1f kernel_p99_us=%.1f kernel_max_us=%.1f "
           "user_p50_us=%.1f user_p99_us=%.1f user_max_us=%.1f\n",
           count, duration, (unsigned long long)lines_window, lps, (unsigned long long)lost, (unsigned long long)closed, n,
           (unsigned long long)deliveries_min, (unsigned long long)deliveries_max, k50, k99, kmax, u50, u99, umax);
    return lost || closed ? 2 : 0;
}
