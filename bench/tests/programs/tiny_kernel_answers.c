/* tiny_kernel_answers.c: the tiny kernel's documented answers to the calls
 * that differ from a full Linux (docs/en/workload.md, "Ordinary static C
 * programs in the VM"), made with raw syscall(2) so the C library adds
 * nothing. Run in the VM only by tests/everyday_programs.rs.
 *
 * Exit status 3: every answer was as documented. Any other status is the
 * line number of the first check that failed, printed on stderr too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "tiny_kernel_answers: line %d: %s (errno %d)\n",      \
                    __LINE__, #cond, errno);                                     \
            return __LINE__ % 250 + 4;                                           \
        }                                                                        \
    } while (0)

/* A raw call: -1 and errno set on failure. */
#define SYS(...) syscall(__VA_ARGS__)

int main(void)
{
    char buf[64];
    struct stat st;
    struct rlimit64 { uint64_t cur, max; } lim;
    struct timespec ts;

    /* The console is a character device; paths name no file. */
    CHECK(SYS(SYS_fstat, 1, &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(SYS(SYS_newfstatat, 2, "", &st, AT_EMPTY_PATH) == 0 && S_ISCHR(st.st_mode));
    CHECK(SYS(SYS_newfstatat, AT_FDCWD, "", &st, AT_EMPTY_PATH) == 0 && S_ISDIR(st.st_mode));
    CHECK(SYS(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0) == -1 && errno == ENOENT);
    CHECK(SYS(SYS_fstat, 7, &st) == -1 && errno == EBADF);
    CHECK(SYS(SYS_readlink, "/proc/self/exe", buf, sizeof buf) == -1 && errno == ENOENT);
    CHECK(SYS(SYS_readlinkat, AT_FDCWD, NULL, buf, sizeof buf) == -1 && errno == EFAULT);
    CHECK(SYS(SYS_getcwd, buf, sizeof buf) == 2 && strcmp(buf, "/") == 0);
    CHECK(SYS(SYS_getcwd, buf, 1) == -1 && errno == ERANGE);

    /* Limits: the real ones, read-only. */
    CHECK(SYS(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &lim) == 0 && lim.cur == 2 << 20 && lim.max == 2 << 20);
    CHECK(SYS(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) == 0 && lim.cur == 3 + 16); /* console + initramfs */
    CHECK(SYS(SYS_prlimit64, 0, RLIMIT_AS, NULL, &lim) == 0 && lim.cur == UINT64_MAX);
    CHECK(SYS(SYS_prlimit64, 0, RLIMIT_STACK, &lim, NULL) == -1 && errno == EPERM);
    CHECK(SYS(SYS_prlimit64, 0, 99, NULL, &lim) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_prlimit64, 4242, RLIMIT_STACK, NULL, &lim) == -1 && errno == ESRCH);

    /* One CPU: this one. */
    uint64_t mask[2] = {0, 0};
    CHECK(SYS(SYS_sched_getaffinity, 0, sizeof mask, mask) == 8 && mask[0] != 0 && (mask[0] & (mask[0] - 1)) == 0);
    CHECK(SYS(SYS_sched_getaffinity, 0, 4, mask) == -1 && errno == EINVAL);

    /* Clocks and sleeps: malformed requests are refused. */
    CHECK(SYS(SYS_clock_getres, CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec == 1);
    CHECK(SYS(SYS_clock_getres, CLOCK_PROCESS_CPUTIME_ID, &ts) == -1 && errno == EINVAL);
    ts.tv_sec = 0;
    ts.tv_nsec = 1000;
    CHECK(SYS(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &ts, NULL) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_clock_nanosleep, CLOCK_MONOTONIC, 2, &ts, NULL) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_nanosleep, NULL, NULL) == -1 && errno == EFAULT);
    ts.tv_sec = -1;
    CHECK(SYS(SYS_nanosleep, &ts, NULL) == -1 && errno == EINVAL);
    /* A deadline already past returns at once. */
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    CHECK(SYS(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == 0);

    /* Random bytes: flags checked, a bad buffer is EFAULT. */
    CHECK(SYS(SYS_getrandom, buf, 16, 0x2 | 0x4) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_getrandom, buf, 16, 0x80) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_getrandom, (void *)8, 16, 0) == -1 && errno == EFAULT);
    CHECK(SYS(SYS_getrandom, buf, 0, 0) == 0);

    /* Futexes of a single thread. */
    uint32_t word = 7;
    struct timespec short_wait = {0, 1000000};
    CHECK(SYS(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
    CHECK(SYS(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 8, NULL, NULL, 0) == -1 && errno == EAGAIN);
    CHECK(SYS(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 7, &short_wait, NULL, 0) == -1 && errno == ETIMEDOUT);
    CHECK(SYS(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 7, NULL, NULL, 0) == -1 && errno == EDEADLK);
    CHECK(SYS(SYS_futex, (char *)&word + 1, FUTEX_WAKE, 1, NULL, NULL, 0) == -1 && errno == EINVAL);

    /* Accepted bookkeeping, and rseq's deliberate ENOSYS. */
    CHECK(SYS(SYS_set_robust_list, buf, 24) == 0);
    CHECK(SYS(SYS_set_robust_list, buf, 23) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_madvise, buf - ((uintptr_t)buf & 4095), 4096, 4) == 0);
    CHECK(SYS(SYS_madvise, (void *)1, 4096, 4) == -1 && errno == EINVAL);
    CHECK(SYS(SYS_rseq, NULL, 0, 0, 0) == -1 && errno == ENOSYS);
    return 3;
}
