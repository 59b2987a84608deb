/* Isolation probes run as PID 1 of a versus container. Each probe tries
 * one thing a container must not be able to do to its host and prints one
 * line on stderr: "probe NAME denied ERRNO-NAME" or "probe NAME allowed
 * DETAIL". The test that runs it (bench/tests/isolation_probes.rs) decides
 * which answers are acceptable; this program only reports. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static void report(const char *name, long result) {
    if (result < 0)
        fprintf(stderr, "probe %s denied %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        fprintf(stderr, "probe %s allowed %ld\n", name, result);
}

static long open_and_read(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    char byte;
    long n = read(fd, &byte, 1);
    int saved = errno;
    close(fd);
    errno = saved;
    return n;
}

int main(void) {
    /* Devices: a node for the host's KVM, made and opened. */
    long r = mknod("/dev/probe-kvm", S_IFCHR | 0600, makedev(10, 232));
    if (r == 0)
        r = open("/dev/probe-kvm", O_RDWR);
    report("mknod-open-kvm", r);
    r = mknod("/tmp-probe-disk", S_IFBLK | 0600, makedev(8, 0));
    if (r == 0)
        r = open("/tmp-probe-disk", O_RDONLY);
    report("mknod-open-disk", r);
    /* The kernel's memory and the host's modules. */
    report("read-proc-kcore", open_and_read("/proc/kcore", O_RDONLY));
    report("init-module", syscall(SYS_init_module, "", 0, ""));
    report("finit-module", syscall(SYS_finit_module, -1, "", 0));
    /* Mounting, and the syscalls Docker's profile denies. */
    report("mount-tmpfs", mount("none", "/", "tmpfs", 0, ""));
    report("unshare-user", unshare(CLONE_NEWUSER));
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
    report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("io-uring-setup", syscall(SYS_io_uring_setup, 1, NULL));
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    report("perf-event-open", syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    report("open-by-handle-at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY));
    report("reboot", reboot(RB_POWER_OFF) == 0 ? 0 : -1);
    struct timeval now;
    gettimeofday(&now, NULL);
    report("settimeofday", settimeofday(&now, NULL));
    report("swapoff", swapoff("/"));
    /* Writes to the kernel's knobs. */
    int fd = open("/proc/sys/kernel/domainname", O_WRONLY);
    report("write-proc-sys", fd < 0 ? -1 : write(fd, "x\n", 2));
    fd = open("/sys/class/net/lo/mtu", O_WRONLY);
    report("write-sys", fd < 0 ? -1 : write(fd, "1280\n", 5));
    /* Other processes: the host's are not there to be signalled or traced. */
    report("kill-other-pid", kill(2, 0));
    report("ptrace-other-pid", ptrace(PTRACE_ATTACH, 2, NULL, NULL));
    /* What can be seen: processes and network interfaces. */
    long processes = 0;
    DIR *proc = opendir("/proc");
    for (struct dirent *e; proc && (e = readdir(proc));)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            processes++;
    fprintf(stderr, "probe visible-processes count %ld\n", processes);
    long interfaces = 0;
    DIR *net = opendir("/sys/class/net");
    for (struct dirent *e; net && (e = readdir(net));)
        if (e->d_name[0] != '.')
            interfaces++;
    fprintf(stderr, "probe visible-interfaces count %ld\n", interfaces);
    fprintf(stderr, "probe no-new-privs value %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    return 0;
}
