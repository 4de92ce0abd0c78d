/* Builds a filter with libseccomp from rules on stdin and writes its BPF
 * (seccomp_export_bpf) to stdout, for the side-by-side tests and the
 * benchmark. With an argument N, builds it N times more and prints the
 * nanoseconds per build (seccomp_init to seccomp_export_bpf into
 * /dev/null) on stderr.
 *
 *   default ACTION            (the ret value, as the kernel's u32)
 *   badarch ACTION
 *   arch NAME                 (libseccomp's names, one byte order; the
 *                              first replaces the native one)
 *   rule ACTION NAME N [IDX OP A B]*N   (OP: 1 NE .. 7 MASKED_EQ)
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RULES 4096
#define MAX_ARCHES 8

struct rule {
    uint32_t action;
    char name[64];
    unsigned int n;
    struct scmp_arg_cmp cmps[6];
};

static uint32_t def, badarch;
static int have_badarch;
static char arches[MAX_ARCHES][32];
static int narches;
static struct rule rules[MAX_RULES];
static int nrules;

static int parse(void) {
    char word[64];
    unsigned long v;
    if (scanf("%63s %lu", word, &v) != 2 || strcmp(word, "default") != 0) return 2;
    def = (uint32_t)v;
    while (scanf("%63s", word) == 1) {
        if (strcmp(word, "badarch") == 0) {
            if (scanf("%lu", &v) != 1) return 2;
            badarch = (uint32_t)v;
            have_badarch = 1;
        } else if (strcmp(word, "arch") == 0) {
            if (narches == MAX_ARCHES || scanf("%31s", arches[narches]) != 1) return 2;
            narches++;
        } else if (strcmp(word, "rule") == 0) {
            struct rule *r = &rules[nrules];
            if (nrules == MAX_RULES || scanf("%lu %63s %u", &v, r->name, &r->n) != 3 || r->n > 6) return 2;
            r->action = (uint32_t)v;
            for (unsigned int i = 0; i < r->n; i++) {
                unsigned int idx, op;
                unsigned long long x, y;
                if (scanf("%u %u %llu %llu", &idx, &op, &x, &y) != 4) return 2;
                r->cmps[i].arg = idx;
                r->cmps[i].op = (enum scmp_compare)op;
                r->cmps[i].datum_a = x;
                r->cmps[i].datum_b = y;
            }
            nrules++;
        } else {
            return 2;
        }
    }
    return 0;
}

static int build(int fd) {
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) return 3;
    if (have_badarch && seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch)) return 4;
    for (int i = 0; i < narches; i++) {
        uint32_t token = seccomp_arch_resolve_name(arches[i]);
        if (!token) return 5;
        /* The native one goes first: libseccomp refuses (EDOM) to mix
         * byte orders in one filter. */
        if (i == 0 && token != seccomp_arch_native() && seccomp_arch_remove(ctx, seccomp_arch_native())) return 7;
        if (seccomp_arch_exist(ctx, token) == -EEXIST && seccomp_arch_add(ctx, token)) return 6;
    }
    for (int i = 0; i < nrules; i++) {
        int nr = seccomp_syscall_resolve_name(rules[i].name);
        int rc = seccomp_rule_add_array(ctx, rules[i].action, nr, rules[i].n, rules[i].cmps);
        if (rc) {
            fprintf(stderr, "seccomp_rule_add_array(%s): %s\n", rules[i].name, strerror(-rc));
            return 8;
        }
    }
    if (seccomp_export_bpf(ctx, fd)) return 9;
    seccomp_release(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int rc = parse();
    if (rc) return rc;
    if (argc > 1) {
        long reps = atol(argv[1]);
        int devnull = open("/dev/null", O_WRONLY);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < reps; i++)
            if ((rc = build(devnull))) return rc;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        fprintf(stderr, "%.0f\n", ns / (double)(reps > 0 ? reps : 1));
    }
    return build(1);
}
