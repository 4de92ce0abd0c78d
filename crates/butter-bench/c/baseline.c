/* Plain C baselines for butter-bench: the same work as the Rust rows,
 * written the way a C programmer would, with raw libc calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* n times: add 1 to the eventfd, read it back. Returns the sum read, or
 * UINT64_MAX on error. */
uint64_t butter_c_eventfd_pairs(int fd, uint64_t n) {
    uint64_t sum = 0, one = 1, v;
    for (uint64_t i = 0; i < n; i++) {
        if (write(fd, &one, 8) != 8) return UINT64_MAX;
        if (read(fd, &v, 8) != 8) return UINT64_MAX;
        sum += v;
    }
    return sum;
}

struct pong_args { int ping, pong; uint64_t n; int failed; };

static void *pong_thread(void *p) {
    struct pong_args *a = p;
    uint64_t v;
    for (uint64_t i = 0; i < a->n; i++) {
        if (read(a->ping, &v, 8) != 8 || write(a->pong, &v, 8) != 8) { a->failed = 1; break; }
    }
    return NULL;
}

/* n round trips between this thread and a second one over two blocking
 * eventfds. Returns 0 on success. */
int butter_c_eventfd_pingpong(uint64_t n) {
    struct pong_args a = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), n, 0 };
    if (a.ping < 0 || a.pong < 0) return -1;
    pthread_t t;
    if (pthread_create(&t, NULL, pong_thread, &a) != 0) return -1;
    int failed = 0;
    uint64_t v;
    for (uint64_t i = 1; i <= n && !failed; i++) {
        if (write(a.ping, &i, 8) != 8 || read(a.pong, &v, 8) != 8 || v != i) failed = 1;
    }
    pthread_join(t, NULL);
    close(a.ping);
    close(a.pong);
    return failed || a.failed ? -1 : 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A periodic CLOCK_MONOTONIC timerfd from an absolute start, read until
 * total_ns have passed. For each read, the lateness of the newest expiry
 * (now - its scheduled time) goes into lateness_ns (up to cap samples).
 * Returns the number of samples; *expirations gets the sum of the counts
 * read, *due_before and *due_after the expirations due just before and just
 * after the last read. Returns -1 on error. */
int64_t butter_c_timerfd_run(uint64_t period_ns, uint64_t total_ns, int64_t *lateness_ns, size_t cap,
                             uint64_t *expirations, uint64_t *due_before, uint64_t *due_after) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (fd < 0) return -1;
    uint64_t start = now_ns() + period_ns;
    struct itimerspec its = {
        .it_interval = { (time_t)(period_ns / 1000000000u), (long)(period_ns % 1000000000u) },
        .it_value = { (time_t)(start / 1000000000u), (long)(start % 1000000000u) },
    };
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) { close(fd); return -1; }
    uint64_t total = 0, count, before = 0, after = 0;
    size_t n = 0;
    for (;;) {
        before = now_ns();
        if (read(fd, &count, 8) != 8) { close(fd); return -1; }
        after = now_ns();
        total += count;
        if (n < cap) lateness_ns[n++] = (int64_t)(after - (start + (total - 1) * period_ns));
        if (after - start >= total_ns) break;
    }
    close(fd);
    *expirations = total;
    *due_before = before < start ? 0 : (before - start) / period_ns + 1;
    *due_after = (after - start) / period_ns + 1;
    return (int64_t)n;
}

#include <signal.h>
#include <sys/signalfd.h>

/* n times: kill(getpid(), signo) and read the record from a signalfd.
 * signo must already be blocked in every thread. Returns 0 on success. */
int butter_c_signal_kill_read(int signo, uint64_t n) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) return -1;
    struct signalfd_siginfo info;
    pid_t me = getpid();
    int failed = 0;
    for (uint64_t i = 0; i < n && !failed; i++) {
        if (kill(me, signo) != 0 || read(fd, &info, sizeof info) != sizeof info || (int)info.ssi_signo != signo)
            failed = 1;
    }
    close(fd);
    return failed ? -1 : 0;
}

/* Reads n queued records of signo from a signalfd, 256 per read(2), and
 * returns the sum of their ssi_int values (UINT64_MAX on error). The caller
 * queues them first and times only this. */
uint64_t butter_c_signal_batch_read(int signo, uint64_t n) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) return UINT64_MAX;
    static struct signalfd_siginfo buf[256];
    uint64_t got = 0, sum = 0;
    while (got < n) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0 || r % (ssize_t)sizeof buf[0]) { close(fd); return UINT64_MAX; }
        for (ssize_t i = 0; i < r / (ssize_t)sizeof buf[0]; i++) sum += (uint64_t)buf[i].ssi_int;
        got += (uint64_t)r / sizeof buf[0];
    }
    close(fd);
    return sum;
}

#include <sys/inotify.h>

/* Reads an inotify fd with a 64 KiB buffer until `want` events have been
 * decoded (walking each record's header and name length, as a reader
 * must), or an overflow marker says events were lost. Returns the number
 * of events, or UINT64_MAX on error. */
uint64_t butter_c_inotify_read(int fd, uint64_t want) {
    static char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    uint64_t seen = 0;
    uint32_t masks = 0;
    while (seen < want) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return UINT64_MAX;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW) return seen; /* events were lost */
            masks |= ev->mask;
            seen++;
            p += sizeof *ev + ev->len;
        }
    }
    return masks ? seen : UINT64_MAX;
}

#include <fcntl.h>

/* Copies `len` bytes from `in` to `out` with splice: directly when `direct`
 * (one end is a pipe), else through a pipe grown to 1 MiB. Returns the
 * bytes copied, or UINT64_MAX on error. */
uint64_t butter_c_splice_copy(int in, int out, uint64_t len, int direct) {
    uint64_t done = 0;
    if (direct) {
        while (done < len) {
            ssize_t n = splice(in, NULL, out, NULL, len - done, SPLICE_F_MOVE);
            if (n <= 0) return n == 0 ? done : UINT64_MAX;
            done += (uint64_t)n;
        }
        return done;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return UINT64_MAX;
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    int size = fcntl(p[1], F_GETPIPE_SZ);
    while (done < len) {
        size_t want = len - done < (uint64_t)size ? (size_t)(len - done) : (size_t)size;
        ssize_t n = splice(in, NULL, p[1], NULL, want, SPLICE_F_MOVE);
        if (n <= 0) break;
        while (n > 0) {
            ssize_t m = splice(p[0], NULL, out, NULL, (size_t)n, SPLICE_F_MOVE | SPLICE_F_MORE);
            if (m <= 0) { close(p[0]); close(p[1]); return UINT64_MAX; }
            n -= m;
            done += (uint64_t)m;
        }
    }
    close(p[0]);
    close(p[1]);
    return done;
}

#include <sys/fanotify.h>

/* Reads a fanotify fd with a 64 KiB buffer until `want` events, walking each
 * event's info records and closing each event's fd. Stops on an overflow.
 * Returns the events seen, or UINT64_MAX on error. */
uint64_t butter_c_fanotify_read(int fd, uint64_t want) {
    static char buf[64 * 1024] __attribute__((aligned(8)));
    uint64_t seen = 0, records = 0;
    while (seen < want) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return UINT64_MAX;
        struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
        while (FAN_EVENT_OK(m, n)) {
            if (m->mask & FAN_Q_OVERFLOW) return seen;
            for (char *r = (char *)m + m->metadata_len; r < (char *)m + m->event_len;) {
                struct fanotify_event_info_header *h = (struct fanotify_event_info_header *)r;
                if (h->len == 0) break;
                records++;
                r += h->len;
            }
            if (m->fd >= 0) close(m->fd);
            seen++;
            m = FAN_EVENT_NEXT(m, n);
        }
    }
    return records + 1 ? seen : UINT64_MAX;
}

/* ---- ns-sys ---- */
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

/* n raw getpid syscalls (never the C library's cache); their sum. */
uint64_t butter_c_getpid_loop(uint64_t n) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += (uint64_t)syscall(SYS_getpid);
    return sum;
}

/* n times: posix_spawn of path (no arguments), waitpid. 0, or -1. */
int butter_c_posix_spawn_wait(const char *path, uint64_t n) {
    char *argv[] = {(char *)path, NULL};
    for (uint64_t i = 0; i < n; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, path, NULL, NULL, argv, environ) != 0) return -1;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    }
    return 0;
}

/* n times: a fork-like raw clone into new user, mount, pid, uts and ipc
 * namespaces whose child execs path at once, then waitpid. This is the
 * kernel's floor for the sandbox row: no id maps, no /proc, no init. */
int butter_c_clone_ns_wait(const char *path, uint64_t n) {
    char *argv[] = {(char *)path, NULL};
    long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
    for (uint64_t i = 0; i < n; i++) {
        long pid = syscall(SYS_clone, flags, 0, 0, 0, 0);
        if (pid < 0) return -1;
        if (pid == 0) {
            execve(path, argv, environ);
            _exit(127);
        }
        int status;
        if (waitpid((pid_t)pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    }
    return 0;
}

/* ---- kernel-aio ---- */
#include <linux/aio_abi.h>
#include <stdlib.h>

/* n random 4 KiB-aligned reads of bs bytes over `blocks` blocks of fd
 * (opened O_DIRECT), depth in flight, raw io_submit/io_getevents as a C
 * programmer would write them without libaio, per_submit operations per
 * io_submit. Returns the IOs done, or -1. */
static uint64_t ns_of(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The loop alone is timed, wall and CPU (the context and buffers are made
 * before and freed after, as the Rust variant's are). */
int64_t butter_c_aio_read(int fd, uint64_t bs, uint32_t depth, uint64_t n, uint64_t blocks, uint32_t per_submit, uint32_t seq, uint64_t *wall_ns, uint64_t *cpu_ns) {
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, depth, &ctx) < 0) return -1;
    struct iocb *cbs = calloc(depth, sizeof *cbs);
    struct iocb **ptrs = calloc(depth, sizeof *ptrs);
    struct io_event *events = calloc(depth, sizeof *events);
    char *bufs = aligned_alloc(4096, bs * depth);
    uint32_t *free_slots = calloc(depth, sizeof *free_slots);
    if (!cbs || !ptrs || !events || !bufs || !free_slots) return -1;
    uint32_t nfree = depth;
    for (uint32_t i = 0; i < depth; i++) free_slots[i] = i;
    uint64_t rng = 0x2545F4914F6CDD1DULL, submitted = 0, done = 0;
    int64_t result = 0;
    uint64_t wall0 = ns_of(CLOCK_MONOTONIC), cpu0 = ns_of(CLOCK_PROCESS_CPUTIME_ID);
    while (done < n) {
        int batch = 0;
        while (nfree > 0 && submitted < n) {
            uint32_t s = free_slots[--nfree];
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            struct iocb *cb = &cbs[s];
            memset(cb, 0, sizeof *cb);
            cb->aio_data = s;
            cb->aio_lio_opcode = IOCB_CMD_PREAD;
            cb->aio_fildes = fd;
            cb->aio_buf = (uint64_t)(uintptr_t)(bufs + (uint64_t)s * bs);
            cb->aio_nbytes = bs;
            cb->aio_offset = (int64_t)((seq ? submitted % blocks : rng % blocks) * bs);
            ptrs[batch++] = cb;
            submitted++;
        }
        for (int at = 0; at < batch; at += (int)per_submit) {
            int k = batch - at < (int)per_submit ? batch - at : (int)per_submit;
            long got = syscall(SYS_io_submit, ctx, k, ptrs + at);
            if (got != k) { result = -1; break; }
        }
        if (result < 0) break;
        long ev = syscall(SYS_io_getevents, ctx, 1, depth, events, NULL);
        if (ev < 0) { result = -1; break; }
        for (long i = 0; i < ev; i++) {
            if ((int64_t)events[i].res != (int64_t)bs) { result = -1; break; }
            free_slots[nfree++] = (uint32_t)events[i].data;
            done++;
        }
        if (result < 0) break;
    }
    *wall_ns = ns_of(CLOCK_MONOTONIC) - wall0;
    *cpu_ns = ns_of(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    syscall(SYS_io_destroy, ctx);
    free(cbs); free(ptrs); free(events); free(bufs); free(free_slots);
    return result < 0 ? -1 : (int64_t)done;
}
