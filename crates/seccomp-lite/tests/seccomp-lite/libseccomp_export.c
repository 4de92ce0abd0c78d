/* Builds a filter with libseccomp from rules on stdin and writes its BPF
 * (seccomp_export_bpf) to stdout, for the side-by-side tests.
 *
 *   default ACTION            (the ret value, as the kernel's u32)
 *   badarch ACTION
 *   arch NAME                 (x86_64, x32, x86, aarch64; the first
 *                              replaces the native one)
 *   rule ACTION NAME N [IDX OP A B]*N   (OP: 1 NE .. 7 MASKED_EQ)
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t act(unsigned long v) { return (uint32_t)v; }

int main(void) {
    char word[64], name[128];
    unsigned long def = 0;
    if (scanf("%63s %lu", word, &def) != 2 || strcmp(word, "default") != 0) return 2;
    scmp_filter_ctx ctx = seccomp_init(act(def));
    if (!ctx) return 3;
    int replaced = 0;
    while (scanf("%63s", word) == 1) {
        if (strcmp(word, "badarch") == 0) {
            unsigned long a;
            if (scanf("%lu", &a) != 1) return 2;
            if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, act(a))) return 4;
        } else if (strcmp(word, "arch") == 0) {
            if (scanf("%127s", name) != 1) return 2;
            uint32_t token = seccomp_arch_resolve_name(name);
            if (!token) return 5;
            if (seccomp_arch_exist(ctx, token) == -EEXIST) { /* not there yet */
                if (seccomp_arch_add(ctx, token)) return 6;
            }
            if (!replaced) {
                replaced = 1;
                if (token != seccomp_arch_native() && seccomp_arch_remove(ctx, seccomp_arch_native())) return 7;
            }
        } else if (strcmp(word, "rule") == 0) {
            unsigned long a;
            unsigned int n;
            if (scanf("%lu %127s %u", &a, name, &n) != 3 || n > 6) return 2;
            struct scmp_arg_cmp cmps[6];
            for (unsigned int i = 0; i < n; i++) {
                unsigned int idx, op;
                unsigned long long x, y;
                if (scanf("%u %u %llu %llu", &idx, &op, &x, &y) != 4) return 2;
                cmps[i].arg = idx;
                cmps[i].op = (enum scmp_compare)op;
                cmps[i].datum_a = x;
                cmps[i].datum_b = y;
            }
            int nr = seccomp_syscall_resolve_name(name);
            int rc = seccomp_rule_add_array(ctx, act(a), nr, n, cmps);
            if (rc) {
                fprintf(stderr, "seccomp_rule_add_array(%s): %s\n", name, strerror(-rc));
                return 8;
            }
        } else {
            return 2;
        }
    }
    if (seccomp_export_bpf(ctx, 1)) return 9;
    seccomp_release(ctx);
    return 0;
}
