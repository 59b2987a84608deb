/* everyday.c: what an ordinary static C program does — print, read its
 * argv/env/auxv, ask the time, sleep, get random bytes, allocate, use TLS —
 * checked from inside. Built by tests/everyday_programs.rs with glibc and
 * musl and run on every backend: `everyday alpha beta` with VERSUS_TEST=1
 * in its environment where the backend passes one.
 *
 * Exit status 3: every check passed. Any other status names the first
 * check that failed (the table below), with a line on stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    ALL_PASSED = 3,
    BAD_ARGV = 10,
    BAD_AUXV = 11,
    BAD_CLOCK = 12,
    BAD_SLEEP = 13,
    BAD_RANDOM = 14,
    BAD_MALLOC = 15,
    BAD_MMAP = 16,
    BAD_MPROTECT = 17,
    BAD_TLS = 18,
    BAD_PRINT = 19,
    BAD_LIMITS = 20,
    BAD_FSTAT = 21,
};

/* How long the program sleeps (50 ms), and the most it accepts (not a
 * timing check: only that the sleep happened). */
#define SLEEP_NS 50000000L

static __thread long tls_counter = 41;

static int fail(int status, const char *what)
{
    fprintf(stderr, "everyday: check failed: %s (errno %d)\n", what, errno);
    return status;
}

static long long ns(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int check(int argc, char **argv, char **envp)
{
    if (printf("everyday: hello from %s\n", argv[0]) < 0 || fflush(stdout) != 0)
        return fail(BAD_PRINT, "printf");

    if (argc != 3 || strcmp(argv[1], "alpha") != 0 || strcmp(argv[2], "beta") != 0 || argv[3] != NULL)
        return fail(BAD_ARGV, "argv is not {PROG, alpha, beta}");
    if (envp == NULL)
        return fail(BAD_ARGV, "no envp");
    for (char **e = envp; *e != NULL; e++)
        if (strchr(*e, '=') == NULL)
            return fail(BAD_ARGV, "an environment entry without '='");

    unsigned long page = getauxval(AT_PAGESZ);
    const unsigned char *random16 = (const unsigned char *)getauxval(AT_RANDOM);
    if (page != 4096 || (unsigned long)sysconf(_SC_PAGESIZE) != page)
        return fail(BAD_AUXV, "AT_PAGESZ is not 4096");
    if (random16 == NULL)
        return fail(BAD_AUXV, "no AT_RANDOM");

    struct timespec mono0, mono1, real, res;
    if (clock_gettime(CLOCK_MONOTONIC, &mono0) != 0 || clock_gettime(CLOCK_REALTIME, &real) != 0)
        return fail(BAD_CLOCK, "clock_gettime");
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0 || ns(&res) <= 0)
        return fail(BAD_CLOCK, "clock_getres");
    if (real.tv_sec <= 0 || time(NULL) <= 0)
        return fail(BAD_CLOCK, "CLOCK_REALTIME is not after 1970");

    /* A malformed duration is refused, not slept. */
    struct timespec bad = {0, 2000000000L};
    if (nanosleep(&bad, NULL) != -1 || errno != EINVAL)
        return fail(BAD_SLEEP, "nanosleep of tv_nsec = 2e9 was not EINVAL");

    struct timespec want = {0, SLEEP_NS};
    if (nanosleep(&want, NULL) != 0)
        return fail(BAD_SLEEP, "nanosleep");
    if (clock_gettime(CLOCK_MONOTONIC, &mono1) != 0)
        return fail(BAD_CLOCK, "clock_gettime");
    if (ns(&mono1) - ns(&mono0) < SLEEP_NS)
        return fail(BAD_SLEEP, "nanosleep returned before its time");
    /* usleep and an absolute clock_nanosleep: the other two ways in. */
    if (usleep(SLEEP_NS / 1000) != 0)
        return fail(BAD_SLEEP, "usleep");
    struct timespec deadline, after;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += SLEEP_NS;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    if (rc != 0) {
        errno = rc;
        return fail(BAD_SLEEP, "clock_nanosleep TIMER_ABSTIME");
    }
    clock_gettime(CLOCK_MONOTONIC, &after);
    if (ns(&after) < ns(&deadline))
        return fail(BAD_SLEEP, "clock_nanosleep returned before its deadline");

    unsigned char r1[16], r2[16], zero[16] = {0};
    if (getrandom(r1, sizeof r1, 0) != (ssize_t)sizeof r1 ||
        getrandom(r2, sizeof r2, GRND_NONBLOCK) != (ssize_t)sizeof r2)
        return fail(BAD_RANDOM, "getrandom");
    if (memcmp(r1, zero, sizeof r1) == 0 || memcmp(r1, r2, sizeof r1) == 0)
        return fail(BAD_RANDOM, "getrandom gave zeros or the same bytes twice");

    char *small = malloc(100);
    char *large = malloc(1 << 20);
    if (small == NULL || large == NULL)
        return fail(BAD_MALLOC, "malloc");
    memset(small, 'a', 100);
    memset(large, 'b', 1 << 20);
    if (small[99] != 'a' || large[(1 << 20) - 1] != 'b')
        return fail(BAD_MALLOC, "malloc'd memory does not hold what was written");
    free(large);
    free(small);

    char *map = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return fail(BAD_MMAP, "mmap");
    if (map[0] != 0 || map[3 * 4096 - 1] != 0)
        return fail(BAD_MMAP, "fresh anonymous memory is not zero");
    map[0] = 1;
    map[2 * 4096] = 2;
    /* MAP_FIXED replaces the middle page with a fresh zero one. */
    char *fixed = mmap(map + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (fixed != map + 4096)
        return fail(BAD_MMAP, "mmap MAP_FIXED");
    map[4096] = 3;
    fixed[1] = 4;
    if (map[0] != 1 || map[4096] != 3 || map[4097] != 4 || map[2 * 4096] != 2)
        return fail(BAD_MMAP, "MAP_FIXED changed its neighbours");
    if (mprotect(map, 4096, PROT_READ) != 0)
        return fail(BAD_MPROTECT, "mprotect");
    if (munmap(map, 3 * 4096) != 0)
        return fail(BAD_MMAP, "munmap");

    struct rlimit stack;
    if (getrlimit(RLIMIT_STACK, &stack) != 0 || stack.rlim_cur == 0 || stack.rlim_cur > stack.rlim_max)
        return fail(BAD_LIMITS, "getrlimit(RLIMIT_STACK)");

    struct stat st;
    if (fstat(1, &st) != 0)
        return fail(BAD_FSTAT, "fstat(1)");

    tls_counter += 1;
    if (tls_counter != 42)
        return fail(BAD_TLS, "__thread variable");

    printf("everyday: all checks passed\n");
    fflush(stdout);
    return ALL_PASSED;
}

int main(int argc, char **argv, char **envp)
{
    return check(argc, argv, envp);
}
