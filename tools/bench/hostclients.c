/*
 * hostclients: relay clients and broadcast subscribers spread over several hosts, for the
 * multi-host scenarios of tools/bench/compare.py (relay-hosts, broadcast-hosts), which run it in
 * the client namespace of tools/cluster/netns.py.
 *
 *   hostclients relay -T HOST:PORT[,HOST:PORT...] -c PER_HOST [-r LINES_PER_S] [-W S] [-d S] [-D S] [-S S]
 *   hostclients subscribe -T HOST:PORT[,...] -c PER_TARGET -p HOST:PORT -C CHANNEL [-s]
 *                         [-r PUBLISHES_PER_S] [-W S] [-d S] [-D S]
 *
 * Written against nothing but libc, like tickspread.c, and one epoll thread: ring-client's
 * `bench relay` and ../shared/bench's fanout_client target one address, and their client
 * numbers would collide across hosts, so neither can tell a line relayed across hosts from one
 * relayed within its sender's host.
 *
 * relay: PER_HOST clients on each target (client i on target i / PER_HOST, named 1...). After
 * every client has received something (ringd's welcome: it is registered), or -S seconds, it
 * prints `READY` and the clients send, together and on a fixed schedule (open loop, round-robin,
 * each at -r lines/s), `from=ID seq=N time=T\n` with T the CLOCK_MONOTONIC ns the line was
 * due. A line seen by another client is a delivery: same-host when both are on one target,
 * cross-host otherwise, each with its own count and latency (due time to the read that returned
 * it, so a late send counts against the latency: no coordinated omission). Lines without from=
 * (welcome, join and leave notices) are skipped. After -d seconds measured (after -W of
 * warm-up) sending stops and the clients read on until every line any client sent has reached
 * every other client, for at most -D seconds (a kind of delivery that has not happened at all,
 * such as across hosts from a ringd whose relay stays on one host, is not waited for); what is
 * still missing then is lost, counted per kind. Lines echoed to their sender and lines out of
 * order (seq not rising per sender and receiver) are counted too.
 *
 * subscribe: PER_TARGET subscribers on each target; with -s each sends `SUBSCRIBE CHANNEL`
 * (subscribers of a Redis), without it they only read (ringd's broadcast clients). After they
 * have connected it prints `READY`, and a publisher connected to -p sends `PUBLISH CHANNEL
 * "pub=N time=T"` -r times a second on a fixed schedule, reading each reply (the receivers it
 * reached). Per publication: how many subscribers got it, the first and the last arrival. For
 * the publications sent in the measured window: deliveries/s, lost deliveries (what has not
 * arrived when every subscriber has them all, or -D s after the window), and the spread from
 * first to last arrival and from the PUBLISH to the last arrival.
 *
 * Output: one JSON line on stdout. Exit 0, or 1 on a setup error (the message on stderr). A
 * watchdog kills the run 120 s after its planned end (connects that hang included).
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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 64
#define CARRY_BYTES 1024
#define READ_BYTES 65536
#define TIMER_TOKEN 0xffffffffu
#define PUBLISHER_TOKEN 0xfffffffeu

struct options {
    int relay;
    struct sockaddr_in targets[MAX_TARGETS];
    int target_count;
    int per_target;
    double rate;
    double warmup, seconds, drain, settle;
    struct sockaddr_in publisher;
    int has_publisher;
    const char *channel;
    int subscribe;
};

struct client {
    int fd;
    int target;
    int heard; /* received any byte */
    int closed;
    uint32_t carry_length;
    char carry[CARRY_BYTES];
};

/* Latency samples in microseconds, grown as needed, sorted for the percentiles at the end. */
struct samples {
    uint32_t *values;
    size_t count, capacity;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "hostclients: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: hostclients relay|subscribe -T HOST:PORT[,...] -c N [-r RATE] [-W S] [-d S] [-D S] [-S S] "
                    "[-p HOST:PORT -C CHANNEL [-s]]\n");
    exit(1);
}

static int parse_address(const char *text, struct sockaddr_in *address) {
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || colon - text >= (long)sizeof host) return -1;
    memcpy(host, text, colon - text);
    host[colon - text] = 0;
    memset(address, 0, sizeof *address);
    address->sin_family = AF_INET;
    address->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &address->sin_addr) == 1 && address->sin_port ? 0 : -1;
}

static void parse_targets(char *list, struct options *options) {
    for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
        if (options->target_count == MAX_TARGETS || parse_address(item, &options->targets[options->target_count]) < 0) {
            fprintf(stderr, "hostclients: bad target '%s' (IPv4 HOST:PORT)\n", item);
            exit(1);
        }
        options->target_count++;
    }
}

static struct options parse_options(int argc, char **argv) {
    struct options options = {.rate = 10, .warmup = 1, .seconds = 5, .drain = 1, .settle = 5, .channel = "hb"};
    if (argc < 2) usage();
    if (!strcmp(argv[1], "relay")) options.relay = 1;
    else if (strcmp(argv[1], "subscribe")) usage();
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "-s")) { options.subscribe = 1; continue; }
        if (i + 1 >= argc) usage();
        char *value = argv[++i];
        if (!strcmp(flag, "-T")) parse_targets(value, &options);
        else if (!strcmp(flag, "-c")) options.per_target = atoi(value);
        else if (!strcmp(flag, "-r")) options.rate = atof(value);
        else if (!strcmp(flag, "-W")) options.warmup = atof(value);
        else if (!strcmp(flag, "-d")) options.seconds = atof(value);
        else if (!strcmp(flag, "-D")) options.drain = atof(value);
        else if (!strcmp(flag, "-S")) options.settle = atof(value);
        else if (!strcmp(flag, "-C")) options.channel = value;
        else if (!strcmp(flag, "-p")) {
            if (parse_address(value, &options.publisher) < 0) usage();
            options.has_publisher = 1;
        } else usage();
    }
    if (!options.target_count || options.per_target < 1 || options.rate <= 0 || options.seconds <= 0) usage();
    if (options.relay && options.target_count * options.per_target < 2) usage();
    if (!options.relay && !options.has_publisher) usage();
    return options;
}

static int connect_to(const struct sockaddr_in *address) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (const struct sockaddr *)address, sizeof *address) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void watch(int epoll, int fd, uint32_t token) {
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = token};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) die("epoll_ctl");
}

static void arm(int timer, uint64_t due) {
    struct itimerspec spec = {.it_value = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)}};
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    if (timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, NULL) < 0) die("timerfd_settime");
}

static void add_sample(struct samples *samples, uint64_t nanoseconds) {
    if (samples->count == samples->capacity) {
        samples->capacity = samples->capacity ? samples->capacity * 2 : 1 << 16;
        samples->values = realloc(samples->values, samples->capacity * sizeof *samples->values);
        if (!samples->values) die("realloc");
    }
    uint64_t micro = nanoseconds / 1000;
    samples->values[samples->count++] = micro > UINT32_MAX ? UINT32_MAX : (uint32_t)micro;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* `"name":{"count":N,"p50":..,"p99":..,"max":..}` in microseconds. */
static void print_samples(const char *name, struct samples *samples) {
    qsort(samples->values, samples->count, sizeof *samples->values, compare_u32);
    size_t n = samples->count;
    printf("\"%s\":{\"count\":%zu,\"p50\":%u,\"p99\":%u,\"max\":%u}", name, n, n ? samples->values[n / 2] : 0,
           n ? samples->values[(size_t)((double)n * 0.99)] : 0, n ? samples->values[n - 1] : 0);
}

/* The unsigned number after `key` in [line, end), or -1 when the key or its digits are absent. */
static int64_t field(const char *line, const char *end, const char *key, size_t key_length) {
    const char *found = memmem(line, end - line, key, key_length);
    if (!found) return -1;
    const char *digit = found + key_length;
    int64_t value = 0;
    int digits = 0;
    while (digit < end && *digit >= '0' && *digit <= '9') value = value * 10 + (*digit++ - '0'), digits++;
    return digits ? value : -1;
}

/* Reads what `client` has, hands each complete line to `line`, keeps a partial one. Returns the
 * bytes read, 0 for nothing more now, -1 once the peer closed or reset. */
static long read_lines(struct client *client, char *buffer, void (*line)(int, const char *, const char *, uint64_t),
                       int index) {
    memcpy(buffer, client->carry, client->carry_length);
    ssize_t got = read(client->fd, buffer + client->carry_length, READ_BYTES);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (got <= 0) return -1;
    client->heard = 1;
    uint64_t arrival = now_ns();
    size_t length = client->carry_length + (size_t)got, start = 0;
    for (;;) {
        char *newline = memchr(buffer + start, '\n', length - start);
        if (!newline) break;
        line(index, buffer + start, newline, arrival);
        start = (size_t)(newline - buffer) + 1;
    }
    size_t rest = length - start;
    if (rest > CARRY_BYTES) rest = 0; /* an overlong line: drop it rather than overflow */
    memmove(client->carry, buffer + length - rest, rest);
    client->carry_length = (uint32_t)rest;
    return got;
}

/* ---- relay ---- */

static struct {
    struct client *clients;
    int count, per_target;
    uint32_t *received; /* [receiver * count + sender]: lines received */
    uint32_t *last_seq; /* [receiver * count + sender] */
    uint64_t window_start, window_end;
    uint64_t delivered_same, delivered_cross, echoed, reordered, unparsed;
    struct samples latency_same, latency_cross;
} relay;

static void relay_line(int receiver, const char *line, const char *end, uint64_t arrival) {
    int64_t from = field(line, end, "from=", 5);
    if (from < 0) return; /* a welcome or a notice */
    int64_t seq = field(line, end, "seq=", 4), due = field(line, end, "time=", 5);
    if (from < 1 || from > relay.count || seq < 1 || due < 0) {
        relay.unparsed++;
        return;
    }
    int sender = (int)from - 1;
    if (sender == receiver) {
        relay.echoed++;
        return;
    }
    size_t pair = (size_t)receiver * relay.count + sender;
    if ((uint64_t)seq <= relay.last_seq[pair]) relay.reordered++;
    relay.last_seq[pair] = (uint32_t)seq;
    relay.received[pair]++;
    if (arrival < relay.window_start || arrival >= relay.window_end) return;
    int same = relay.clients[sender].target == relay.clients[receiver].target;
    if (same) {
        relay.delivered_same++;
        add_sample(&relay.latency_same, arrival - (uint64_t)due);
    } else {
        relay.delivered_cross++;
        add_sample(&relay.latency_cross, arrival - (uint64_t)due);
    }
}

/* Whether every line sent has reached every other client, leaving out a kind (same-host,
 * cross-host) with no delivery at all. */
static int relay_complete(const uint32_t *sent) {
    int count = relay.count, waits_for_same = relay.delivered_same > 0, waits_for_cross = relay.delivered_cross > 0;
    for (int r = 0; r < count; r++)
        for (int s = 0; s < count; s++) {
            if (r == s || relay.received[(size_t)r * count + s] >= sent[s]) continue;
            if (relay.clients[r].target == relay.clients[s].target ? waits_for_same : waits_for_cross) return 0;
        }
    return 1;
}

static int run_relay(const struct options *options, struct client *clients, int count, int epoll, char *buffer) {
    relay.clients = clients;
    relay.count = count;
    relay.per_target = options->per_target;
    relay.received = calloc((size_t)count * count, sizeof *relay.received);
    relay.last_seq = calloc((size_t)count * count, sizeof *relay.last_seq);
    uint32_t *sent = calloc(count, sizeof *sent);
    if (!relay.received || !relay.last_seq || !sent) die("calloc");
    struct epoll_event events[512];

    /* Settle: every client registered (it has its welcome), or -S s. */
    uint64_t settle_end = now_ns() + (uint64_t)(options->settle * 1e9);
    relay.window_start = relay.window_end = UINT64_MAX;
    int heard = 0;
    while (heard < count && now_ns() < settle_end) {
        int n = epoll_wait(epoll, events, 512, 50);
        for (int k = 0; k < n; k++) read_lines(&clients[events[k].data.u32], buffer, relay_line, (int)events[k].data.u32);
        heard = 0;
        for (int i = 0; i < count; i++) heard += clients[i].heard;
    }
    printf("READY\n");
    fflush(stdout);

    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (timer < 0) die("timerfd_create");
    watch(epoll, timer, TIMER_TOKEN);
    uint64_t first_due = now_ns() + 10000000; /* 10 ms from now */
    relay.window_start = first_due + (uint64_t)(options->warmup * 1e9);
    relay.window_end = relay.window_start + (uint64_t)(options->seconds * 1e9);
    uint64_t stop = relay.window_end + (uint64_t)(options->drain * 1e9);
    double interval = 1e9 / (options->rate * count); /* ns between two lines of all clients */
    uint64_t next = 0, send_failures = 0, closed = 0;
    uint64_t next_check = relay.window_end;
    arm(timer, first_due);
    for (uint64_t now = now_ns(); now < stop; now = now_ns()) {
        if (now >= next_check) {
            if (relay_complete(sent)) break;
            next_check = now + 100000000;
        }
        int n = epoll_wait(epoll, events, 512, 100);
        for (int k = 0; k < n; k++) {
            uint32_t token = events[k].data.u32;
            if (token == TIMER_TOKEN) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
                uint64_t current = now_ns();
                for (;;) {
                    uint64_t due = first_due + (uint64_t)(next * interval);
                    if (due > current || due >= relay.window_end) break;
                    int sender = (int)(next % count);
                    char line[96];
                    int length = snprintf(line, sizeof line, "from=%d seq=%u time=%llu\n", sender + 1, sent[sender] + 1,
                                          (unsigned long long)due);
                    if (!clients[sender].closed && write(clients[sender].fd, line, length) == length) sent[sender]++;
                    else send_failures++;
                    next++;
                }
                uint64_t due = first_due + (uint64_t)(next * interval);
                if (due < relay.window_end) arm(timer, due);
                continue;
            }
            struct client *client = &clients[token];
            if (read_lines(client, buffer, relay_line, (int)token) < 0 && !client->closed) {
                client->closed = 1;
                closed++;
                epoll_ctl(epoll, EPOLL_CTL_DEL, client->fd, NULL);
            }
        }
    }

    uint64_t sent_total = 0, expected_same = 0, expected_cross = 0, lost_same = 0, lost_cross = 0;
    for (int s = 0; s < count; s++) sent_total += sent[s];
    for (int r = 0; r < count; r++)
        for (int s = 0; s < count; s++) {
            if (r == s) continue;
            uint32_t got = relay.received[(size_t)r * count + s];
            uint64_t missing = got < sent[s] ? sent[s] - got : 0;
            if (clients[r].target == clients[s].target) expected_same += sent[s], lost_same += missing;
            else expected_cross += sent[s], lost_cross += missing;
        }
    double seconds = options->seconds;
    printf("{\"mode\":\"relay\",\"hosts\":%d,\"clients\":%d,\"rate_per_client\":%.3f,\"seconds\":%.3f,\"settled\":%d,"
           "\"lines_sent\":%llu,\"send_failures\":%llu,\"closed\":%llu,"
           "\"same_host\":{\"expected\":%llu,\"lost\":%llu,\"delivered_in_window\":%llu,\"per_second\":%.1f,",
           options->target_count, count, options->rate, seconds, heard, (unsigned long long)sent_total,
           (unsigned long long)send_failures, (unsigned long long)closed, (unsigned long long)expected_same,
           (unsigned long long)lost_same, (unsigned long long)relay.delivered_same, relay.delivered_same / seconds);
    print_samples("latency_us", &relay.latency_same);
    printf("},\"cross_host\":{\"expected\":%llu,\"lost\":%llu,\"delivered_in_window\":%llu,\"per_second\":%.1f,",
           (unsigned long long)expected_cross, (unsigned long long)lost_cross, (unsigned long long)relay.delivered_cross,
           relay.delivered_cross / seconds);
    print_samples("latency_us", &relay.latency_cross);
    printf("},\"echoed_to_sender\":%llu,\"reordered\":%llu,\"unparsed\":%llu}\n", (unsigned long long)relay.echoed,
           (unsigned long long)relay.reordered, (unsigned long long)relay.unparsed);
    return 0;
}

/* ---- subscribe ---- */

static struct {
    uint64_t *published;  /* [pub]: when the PUBLISH was due, ns; 0 = not sent */
    uint64_t *first, *last; /* [pub]: first and last arrival */
    uint32_t *reached;    /* [pub]: subscribers that got it */
    uint64_t capacity;
    uint64_t unknown;     /* pub= outside the published range */
} publications;

static void subscriber_line(int index, const char *line, const char *end, uint64_t arrival) {
    (void)index;
    int64_t pub = field(line, end, "pub=", 4);
    if (pub < 0) return; /* a heartbeat, or Redis's subscribe confirmation */
    if (pub < 1 || (uint64_t)pub >= publications.capacity || !publications.published[pub]) {
        publications.unknown++;
        return;
    }
    if (!publications.reached[pub]++) publications.first[pub] = arrival;
    publications.last[pub] = arrival;
}

/* `*3 $7 PUBLISH $N CHANNEL $M pub=P time=T` into `command`; returns its length. */
static int publish_command(char *command, size_t size, const char *channel, uint64_t pub, uint64_t due) {
    char payload[64];
    int payload_length = snprintf(payload, sizeof payload, "pub=%llu time=%llu", (unsigned long long)pub,
                                  (unsigned long long)due);
    return snprintf(command, size, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n", strlen(channel), channel,
                    payload_length, payload);
}

static int run_subscribe(const struct options *options, struct client *clients, int count, int epoll, char *buffer) {
    int publisher = connect_to(&options->publisher);
    fcntl(publisher, F_SETFL, O_NONBLOCK);
    watch(epoll, publisher, PUBLISHER_TOKEN);
    publications.capacity = (uint64_t)(options->rate * (options->warmup + options->seconds + 1)) + 16;
    publications.published = calloc(publications.capacity, sizeof(uint64_t));
    publications.first = calloc(publications.capacity, sizeof(uint64_t));
    publications.last = calloc(publications.capacity, sizeof(uint64_t));
    publications.reached = calloc(publications.capacity, sizeof(uint32_t));
    int64_t *replies = calloc(publications.capacity, sizeof(int64_t)); /* receivers each PUBLISH reached */
    if (!publications.published || !publications.first || !publications.last || !publications.reached || !replies)
        die("calloc");
    printf("READY\n");
    fflush(stdout);

    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (timer < 0) die("timerfd_create");
    watch(epoll, timer, TIMER_TOKEN);
    uint64_t first_due = now_ns() + 10000000;
    uint64_t window_start = first_due + (uint64_t)(options->warmup * 1e9);
    uint64_t window_end = window_start + (uint64_t)(options->seconds * 1e9);
    uint64_t stop = window_end + (uint64_t)(options->drain * 1e9);
    double interval = 1e9 / options->rate;
    uint64_t next = 1, replies_read = 0, closed = 0, publish_failures = 0;
    char reply_carry[64];
    size_t reply_carry_length = 0;
    struct epoll_event events[512];
    uint64_t next_check = window_end, complete_up_to = 1;
    arm(timer, first_due);
    for (uint64_t now = now_ns(); now < stop; now = now_ns()) {
        if (now >= next_check) {
            /* Done once every publication has reached every subscriber. */
            while (complete_up_to < next && publications.reached[complete_up_to] >= (uint32_t)count) complete_up_to++;
            if (complete_up_to == next) break;
            next_check = now + 100000000;
        }
        int n = epoll_wait(epoll, events, 512, 100);
        for (int k = 0; k < n; k++) {
            uint32_t token = events[k].data.u32;
            if (token == TIMER_TOKEN) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
                uint64_t current = now_ns();
                for (;;) {
                    uint64_t due = first_due + (uint64_t)((next - 1) * interval);
                    if (due > current || due >= window_end || next >= publications.capacity) break;
                    char command[256];
                    int length = publish_command(command, sizeof command, options->channel, next, due);
                    publications.published[next] = due;
                    if (write(publisher, command, length) != length) publish_failures++;
                    next++;
                }
                uint64_t due = first_due + (uint64_t)((next - 1) * interval);
                if (due < window_end) arm(timer, due);
            } else if (token == PUBLISHER_TOKEN) {
                /* Replies are `:N\r\n`, one per PUBLISH, in order. */
                char replies_text[4096 + 64];
                memcpy(replies_text, reply_carry, reply_carry_length);
                ssize_t got = read(publisher, replies_text + reply_carry_length, 4096);
                if (got <= 0) {
                    if (got < 0 && errno == EAGAIN) continue;
                    fprintf(stderr, "hostclients: the publisher's connection closed\n");
                    return 1;
                }
                size_t length = reply_carry_length + (size_t)got, start = 0;
                char *end;
                while ((end = memmem(replies_text + start, length - start, "\r\n", 2))) {
                    if (replies_text[start] != ':') {
                        fprintf(stderr, "hostclients: PUBLISH answered %.*s\n", (int)(end - replies_text - start),
                                replies_text + start);
                        return 1;
                    }
                    replies[1 + replies_read++] = strtoll(replies_text + start + 1, NULL, 10);
                    start = (size_t)(end - replies_text) + 2;
                }
                reply_carry_length = length - start < sizeof reply_carry ? length - start : 0;
                memmove(reply_carry, replies_text + start, reply_carry_length);
            } else {
                struct client *client = &clients[token];
                if (read_lines(client, buffer, subscriber_line, (int)token) < 0 && !client->closed) {
                    client->closed = 1;
                    closed++;
                    epoll_ctl(epoll, EPOLL_CTL_DEL, client->fd, NULL);
                }
            }
        }
    }

    struct samples spread = {0}, publish_to_last = {0};
    uint64_t ticks = 0, deliveries = 0, expected = 0, least = UINT64_MAX, reached_least = UINT64_MAX, reached_most = 0;
    for (uint64_t pub = 1; pub < next; pub++) {
        if (publications.published[pub] < window_start || publications.published[pub] >= window_end) continue;
        ticks++;
        expected += count;
        deliveries += publications.reached[pub];
        if (publications.reached[pub] < least) least = publications.reached[pub];
        if (pub <= replies_read) {
            if ((uint64_t)replies[pub] < reached_least) reached_least = replies[pub];
            if ((uint64_t)replies[pub] > reached_most) reached_most = replies[pub];
        }
        if (publications.reached[pub]) {
            add_sample(&spread, publications.last[pub] - publications.first[pub]);
            add_sample(&publish_to_last, publications.last[pub] - publications.published[pub]);
        }
    }
    printf("{\"mode\":\"subscribe\",\"targets\":%d,\"subscribers\":%d,\"publishes_per_second\":%.3f,\"seconds\":%.3f,"
           "\"publications\":%llu,\"publish_failures\":%llu,\"publish_reached_min\":%lld,\"publish_reached_max\":%lld,"
           "\"closed\":%llu,\"deliveries\":%llu,\"deliveries_per_second\":%.1f,\"expected\":%llu,\"lost\":%llu,"
           "\"min_reach\":%llu,\"unknown\":%llu,",
           options->target_count, count, options->rate, options->seconds, (unsigned long long)ticks,
           (unsigned long long)publish_failures, reached_least == UINT64_MAX ? -1LL : (long long)reached_least,
           (long long)reached_most, (unsigned long long)closed, (unsigned long long)deliveries,
           deliveries / options->seconds, (unsigned long long)expected, (unsigned long long)(expected - deliveries),
           (unsigned long long)(ticks ? least : 0), (unsigned long long)publications.unknown);
    print_samples("spread_us", &spread);
    printf(",");
    print_samples("publish_to_last_us", &publish_to_last);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv) {
    struct options options = parse_options(argc, argv);
    /* A watchdog, as loadgen has: whatever the servers do, the run ends (SIGALRM kills it). */
    alarm((unsigned)(options.settle + options.warmup + options.seconds + options.drain) + 120);
    int count = options.target_count * options.per_target;
    struct rlimit limit = {(rlim_t)count + 100, (rlim_t)count + 100};
    struct rlimit current;
    if (getrlimit(RLIMIT_NOFILE, &current) == 0 && current.rlim_cur < limit.rlim_cur) setrlimit(RLIMIT_NOFILE, &limit);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) die("epoll_create1");
    struct client *clients = calloc(count, sizeof *clients);
    char *buffer = malloc(READ_BYTES + CARRY_BYTES);
    if (!clients || !buffer) die("calloc");
    char subscribe[256];
    int subscribe_length = snprintf(subscribe, sizeof subscribe, "SUBSCRIBE %s\r\n", options.channel);
    for (int i = 0; i < count; i++) {
        clients[i].target = i / options.per_target;
        clients[i].fd = connect_to(&options.targets[clients[i].target]);
        if (options.subscribe && write(clients[i].fd, subscribe, subscribe_length) != subscribe_length) die("SUBSCRIBE");
        fcntl(clients[i].fd, F_SETFL, O_NONBLOCK);
        watch(epoll, clients[i].fd, (uint32_t)i);
    }
    return options.relay ? run_relay(&options, clients, count, epoll, buffer)
                         : run_subscribe(&options, clients, count, epoll, buffer);
}
