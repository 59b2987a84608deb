//! Real containers running the embedded workload (and busybox). These need root: they
//! skip with a printed reason without it, and fail instead when `VERSUS_REQUIRE_ROOT=1`
//! (as CI sets it). Every test also checks that nothing was left behind: no
//! `versus/<id>` cgroup in any hierarchy, no process, no new mount on the host.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::{busybox, cgroup_mounts, copy_executable, host_mounts, require_root, unique_id};
use container::rootfs::WORKLOAD_PATH;
use container::{
    CgroupVersion, ContainerBuilder, Error, Limits, Namespace, Outcome, Report, RootfsFile,
    RootfsSpec, SeccompMode,
};

/// One `@versus` line as key → value (quotes removed).
fn parse_line(line: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let rest = line.strip_prefix("@versus ").unwrap_or(line);
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.push(chars.next().unwrap_or('\\')),
                    c => value.push(c),
                }
            }
            chars.next(); // the space
        } else {
            value = chars.by_ref().take_while(|c| *c != ' ').collect();
        }
        out.insert(key.trim().to_string(), value);
    }
    out
}

/// Asserts that container `id` (PID 1 was `pid` on the host) left nothing behind.
fn assert_clean(id: &str, pid: Option<i32>, mounts_before: &BTreeSet<String>) {
    for m in cgroup_mounts() {
        let dir = m.join("versus").join(id);
        assert!(!dir.exists(), "cgroup {} was left behind", dir.display());
    }
    if let Some(pid) = pid {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| !s.contains("versus-workload") && !s.contains("busybox"))
                    .unwrap_or(true),
            "process {pid} is still there"
        );
    }
    let after = host_mounts();
    let new: Vec<_> = after.difference(mounts_before).collect();
    assert!(new.is_empty(), "new mounts on the host: {new:?}");
}

struct Run {
    report: Report,
    stdout: String,
    stderr: String,
    pid: i32,
}

impl Run {
    fn lines(&self) -> Vec<HashMap<String, String>> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("@versus ") && !l.starts_with("@versus start "))
            .map(parse_line)
            .collect()
    }

    fn task(&self, task: &str) -> HashMap<String, String> {
        self.lines()
            .into_iter()
            .find(|l| l.get("task").map(String::as_str) == Some(task))
            .unwrap_or_else(|| {
                panic!(
                    "no task={task} line in {:?} (stderr {:?})",
                    self.stdout, self.stderr
                )
            })
    }
}

fn workload() -> RootfsSpec {
    RootfsSpec::workload(versus_images::WORKLOAD.to_vec())
}

fn workload_cmd(args: &[&str]) -> Vec<String> {
    std::iter::once(WORKLOAD_PATH)
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

/// Runs a container to completion, collecting its output, and checks the cleanup.
fn run_with(
    id: &str,
    b: ContainerBuilder,
    timeout: Option<Duration>,
    interrupt: &AtomicBool,
) -> Result<Run, Error> {
    let before = host_mounts();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    let spec = b.stdout(out_w.into()).stderr(err_w.into()).build()?;
    let result = spec.spawn();
    let running = match result {
        Ok(r) => r,
        Err(e) => {
            assert_clean(id, None, &before);
            return Err(e);
        }
    };
    let pid = running.pid();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_r.read_to_string(&mut s);
        s
    });
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_r.read_to_string(&mut s);
        s
    });
    let report = running.wait(timeout, interrupt)?;
    let stdout = out_thread.join().unwrap();
    let stderr = err_thread.join().unwrap();
    assert_clean(id, Some(pid), &before);
    Ok(Run {
        report,
        stdout,
        stderr,
        pid,
    })
}

fn run(id: &str, b: ContainerBuilder) -> Run {
    let r = run_with(
        id,
        b,
        Some(Duration::from_secs(60)),
        &AtomicBool::new(false),
    )
    .unwrap_or_else(|e| panic!("container {id} failed: {e}"));
    assert!(r.pid > 0);
    r
}

fn base(id: &str, args: &[&str]) -> ContainerBuilder {
    ContainerBuilder::new(id)
        .rootfs(workload())
        .command(workload_cmd(args))
}

#[testkit::needs(root)]
#[test]
fn ids_show_pid_1_and_the_hostname() {
    if !require_root("ids_show_pid_1_and_the_hostname") {
        return;
    }
    let id = unique_id("ids");
    let r = run(&id, base(&id, &["ids"]).hostname("box-1"));
    let ids = r.task("ids");
    assert_eq!(ids["pid"], "1");
    assert_eq!(ids["ppid"], "0");
    assert_eq!(ids["uid"], "0");
    assert_eq!(ids["hostname"], "box-1");
    assert_eq!(r.report.outcome, Outcome::Exited(0));
    assert!(
        r.stdout.starts_with("@versus start task=ids pid=1 "),
        "{}",
        r.stdout
    );
    // Phases and statistics are there.
    let p = &r.report.phases;
    assert!(p.setup_ns.is_some() && p.exec_ns.is_some() && p.run_ns.is_some());
    assert!(p.spawn_ns >= p.cgroup_ns + p.clone_ns);
    let cg = r.report.cgroup.as_ref().expect("root always gets a cgroup");
    assert!(matches!(
        cg.version,
        CgroupVersion::V1 | CgroupVersion::V2 | CgroupVersion::Hybrid
    ));
    // Every layout this runs on has a memory and a CPU accounting controller, so
    // both figures must be there (a missing file must not read as a pass).
    let peak = cg
        .stats
        .memory_peak_bytes
        .expect("memory peak read from the cgroup");
    assert!(peak > 0, "{:?}", cg.stats);
    let cpu = cg
        .stats
        .cpu_usage_ns
        .expect("CPU time read from the cgroup");
    assert!(cpu > 0, "{:?}", cg.stats);
    assert_eq!(r.report.capability_mask, "00000000a80425fb");
    assert!(r.report.launcher_peak_rss_bytes.unwrap() > 0);
    // The report serialises.
    let json = serde_json::to_string(&r.report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r.report);
}

#[testkit::needs(root)]
#[test]
fn uname_shows_the_hosts_own_kernel() {
    if !require_root("uname_shows_the_hosts_own_kernel") {
        return;
    }
    let id = unique_id("uname");
    let r = run(&id, base(&id, &["uname"]));
    let u = r.task("uname");
    let host_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(
        u["release"],
        host_release.trim(),
        "one kernel for host and container"
    );
    assert_eq!(u["nodename"], "versus");
}

#[testkit::needs(root)]
#[test]
fn status_shows_docker_caps_no_new_privs_and_seccomp() {
    if !require_root("status_shows_docker_caps_no_new_privs_and_seccomp") {
        return;
    }
    let id = unique_id("status");
    let r = run(&id, base(&id, &["status"]));
    let s = r.task("status");
    assert_eq!(s["cap_eff"], "00000000a80425fb");
    assert_eq!(s["cap_prm"], "00000000a80425fb");
    assert_eq!(s["cap_bnd"], "00000000a80425fb");
    assert_eq!(s["no_new_privs"], "1");
    assert_eq!(s["seccomp"], "2");
    assert_eq!(s["seccomp_filters"], "1");

    let id = unique_id("status-unconfined");
    let r = run(&id, base(&id, &["status"]).seccomp(SeccompMode::Unconfined));
    let s = r.task("status");
    assert_eq!(s["seccomp"], "0");
    assert_eq!(s["cap_eff"], "00000000a80425fb");

    let id = unique_id("status-capadd");
    let r = run(
        &id,
        base(&id, &["status"])
            .caps_add(["sys_admin"])
            .caps_drop(["NET_RAW"]),
    );
    let s = r.task("status");
    assert_eq!(
        s["cap_eff"],
        format!("{:016x}", (0xa80425fbu64 | 1 << 21) & !(1 << 13))
    );
}

#[testkit::needs(root)]
#[test]
fn probe_is_refused_privileged_operations() {
    if !require_root("probe_is_refused_privileged_operations") {
        return;
    }
    let id = unique_id("probe");
    let r = run(&id, base(&id, &["probe"]));
    let p = r.task("probe");
    for call in ["mount", "umount2", "reboot", "sethostname"] {
        assert_eq!(p[call], "EPERM", "{call} in {p:?}");
    }
    for call in ["kexec_load", "delete_module"] {
        assert!(
            p[call] == "EPERM" || p[call] == "ENOSYS",
            "{call}: {} (EPERM, or ENOSYS where the kernel lacks it)",
            p[call]
        );
    }
    // Even with CAP_SYS_ADMIN dropped and no seccomp, the capability check refuses.
    let id = unique_id("probe-unconfined");
    let r = run(&id, base(&id, &["probe"]).seccomp(SeccompMode::Unconfined));
    assert_eq!(r.task("probe")["sethostname"], "EPERM");
}

fn busybox_root(bb: &Path) -> RootfsSpec {
    workload().with_busybox(bb)
}

#[testkit::needs(root, busybox)]
#[test]
fn only_lo_in_the_network_namespace_and_only_own_processes_in_proc() {
    let test = "only_lo_in_the_network_namespace_and_only_own_processes_in_proc";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    let id = unique_id("net");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(busybox_root(&bb))
            .command([
                "/bin/sh",
                "-c",
                "cat /proc/net/dev; echo ---; ls /sys/class/net; echo ---; ls /proc",
            ]),
    );
    let parts: Vec<&str> = r.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 3, "{}", r.stdout);
    let ifaces: Vec<&str> = parts[0]
        .lines()
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim()))
        .collect();
    assert_eq!(ifaces, ["lo"], "{}", parts[0]);
    assert_eq!(parts[1].split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let pids: Vec<u32> = parts[2]
        .split_whitespace()
        .filter_map(|e| e.parse().ok())
        .collect();
    assert!(
        !pids.is_empty() && pids.len() <= 2 && pids.iter().all(|p| *p <= 10),
        "/proc shows {pids:?}"
    );

    // Shared: the host's interfaces appear.
    let id = unique_id("net-shared");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(busybox_root(&bb))
            .command(["/bin/cat", "/proc/net/dev"])
            .share(&[Namespace::Net]),
    );
    let n = r.stdout.lines().filter(|l| l.contains(':')).count();
    assert!(
        n > 1,
        "a shared network namespace shows the host's devices: {}",
        r.stdout
    );
}

#[testkit::needs(root)]
#[test]
fn a_memory_limit_ends_in_an_oom_kill() {
    if !require_root("a_memory_limit_ends_in_an_oom_kill") {
        return;
    }
    let id = unique_id("oom");
    let r = run(
        &id,
        base(&id, &["memtouch", "256"]).limits(Limits {
            memory: Some(32 << 20),
            ..Limits::default()
        }),
    );
    assert_eq!(r.report.outcome, Outcome::OomKilled, "{:?}", r.report);
    let stats = &r.report.cgroup.as_ref().unwrap().stats;
    // The kernel counts OOM kills in the cgroup (v1 since Linux 4.13, v2 always).
    assert!(
        stats.oom_kills.expect("oom_kill read from the cgroup") >= 1,
        "{stats:?}"
    );
    assert!(stats.memory_peak_bytes.unwrap() <= 33 << 20, "{stats:?}");
}

#[testkit::needs(root)]
#[test]
fn a_pids_limit_stops_spawn() {
    if !require_root("a_pids_limit_stops_spawn") {
        return;
    }
    let id = unique_id("pids");
    let r = run(
        &id,
        base(&id, &["spawn", "20"]).limits(Limits {
            pids: Some(5),
            ..Limits::default()
        }),
    );
    let s = r.task("spawn");
    let spawned: u32 = s["spawned"].parse().unwrap();
    assert!(spawned < 20, "{s:?}");
    assert_eq!(s["errno"], "EAGAIN");
    assert_eq!(r.report.outcome, Outcome::Exited(0));
}

#[testkit::needs(root)]
#[test]
fn a_cpu_limit_is_accepted_and_applied() {
    if !require_root("a_cpu_limit_is_accepted_and_applied") {
        return;
    }
    // A fifth of a CPU: low enough that even on a busy machine the loop exhausts
    // its quota in most periods, so the kernel throttles it.
    let id = unique_id("cpu");
    let before = host_mounts();
    let running = base(&id, &["compute", "4000000000"])
        .limits(Limits {
            cpus: Some(0.2),
            ..Limits::default()
        })
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let pid = running.pid();
    let paths = running.cgroup_paths();
    let bandwidth = CpuBandwidth::of(&paths);
    assert_eq!(
        (bandwidth.quota_us, bandwidth.period_us),
        (20_000, 100_000),
        "the live cgroup's CFS bandwidth ({paths:?})"
    );
    // Throttling is what the limit does: wait until the kernel has throttled the loop
    // a few times, then measure over the next periods.
    let first = bandwidth.wait_until(|s| s.nr_throttled >= 3);
    let last = bandwidth.wait_until(|s| s.nr_periods >= first.nr_periods + 20);
    drop(running);
    assert_clean(&id, Some(pid), &before);
    let periods = last.nr_periods - first.nr_periods;
    let used_ns = last.usage_ns - first.usage_ns;
    // Per period the cgroup may run for at most its quota; two more periods' worth
    // cover the two counters being read one after the other.
    let allowed_ns = (periods + 2) * bandwidth.quota_us * 1000;
    assert!(
        used_ns <= allowed_ns,
        "{used_ns} ns of CPU in {periods} periods of 100 ms: more than the 20 ms quota each"
    );
    assert!(last.nr_throttled > first.nr_throttled, "{first:?} {last:?}");
}

/// The CFS bandwidth files of a live container cgroup: `cpu.cfs_quota_us` and
/// `cpu.cfs_period_us` (v1) or `cpu.max` (v2), `cpu.stat`, and the CPU time used
/// (`cpuacct.usage` in v1, `usage_usec` of `cpu.stat` in v2).
struct CpuBandwidth {
    quota_us: u64,
    period_us: u64,
    cpu_stat: std::path::PathBuf,
    /// v1 `cpuacct.usage` (ns); `None` on v2, where `cpu.stat` has `usage_usec`.
    cpuacct_usage: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy)]
struct CpuSample {
    nr_periods: u64,
    nr_throttled: u64,
    usage_ns: u64,
}

impl CpuBandwidth {
    fn of(paths: &[std::path::PathBuf]) -> Self {
        let read = |p: &Path| {
            std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let cpuacct_usage = paths
            .iter()
            .map(|p| p.join("cpuacct.usage"))
            .find(|p| p.exists());
        for dir in paths {
            if dir.join("cpu.cfs_quota_us").exists() {
                return CpuBandwidth {
                    quota_us: read(&dir.join("cpu.cfs_quota_us")).trim().parse().unwrap(),
                    period_us: read(&dir.join("cpu.cfs_period_us")).trim().parse().unwrap(),
                    cpu_stat: dir.join("cpu.stat"),
                    cpuacct_usage: Some(cpuacct_usage.expect("a v1 cpuacct directory")),
                };
            }
            if dir.join("cpu.max").exists() {
                let max = read(&dir.join("cpu.max"));
                let (quota, period) = max.trim().split_once(' ').expect("cpu.max: QUOTA PERIOD");
                return CpuBandwidth {
                    quota_us: quota.parse().unwrap_or_else(|_| panic!("cpu.max {max:?}")),
                    period_us: period.parse().unwrap(),
                    cpu_stat: dir.join("cpu.stat"),
                    cpuacct_usage: None,
                };
            }
        }
        panic!("no cgroup directory with CPU bandwidth files among {paths:?}")
    }

    fn sample(&self) -> CpuSample {
        let stat = std::fs::read_to_string(&self.cpu_stat).unwrap();
        let key = |k: &str| {
            stat.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {stat:?}"))
        };
        let usage_ns = match &self.cpuacct_usage {
            Some(p) => std::fs::read_to_string(p).unwrap().trim().parse().unwrap(),
            None => key("usage_usec") * 1000,
        };
        CpuSample {
            nr_periods: key("nr_periods"),
            nr_throttled: key("nr_throttled"),
            usage_ns,
        }
    }

    /// Samples every 10 ms until `done` holds; a minute without it fails the test.
    fn wait_until(&self, done: impl Fn(&CpuSample) -> bool) -> CpuSample {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.sample();
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "cpu.stat never got there: {s:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[testkit::needs(root, busybox)]
#[test]
fn an_external_busybox_rootfs_runs_a_shell() {
    let test = "an_external_busybox_rootfs_runs_a_shell";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["bin", "proc", "dev", "tmp", "sys"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    copy_executable(&bb, &root.join("bin/busybox"));
    for a in ["sh", "echo", "hostname", "ls", "touch"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    let id = unique_id("ext");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(RootfsSpec::Dir(root.to_path_buf()))
            .command(["/bin/sh", "-c", "echo hi; hostname"])
            .hostname("extbox"),
    );
    assert_eq!(r.stdout, "hi\nextbox\n");
    assert_eq!(r.report.outcome, Outcome::Exited(0));

    // --read-only: writing to / fails, /tmp is a private tmpfs; the host dir is untouched.
    let id = unique_id("ext-ro");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(RootfsSpec::Dir(root.to_path_buf()))
            .command([
                "/bin/sh",
                "-c",
                "touch /x || echo ro; touch /tmp/y && echo tmp-ok",
            ])
            .read_only(true),
    );
    assert!(
        r.stdout.contains("ro\n") && r.stdout.contains("tmp-ok"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    assert!(!root.join("x").exists() && !root.join("tmp/y").exists());
    let mut entries: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bin", "dev", "proc", "sys", "tmp"]);
}

#[testkit::needs(root)]
#[test]
fn a_setup_failure_is_explained_and_leaves_nothing() {
    if !require_root("a_setup_failure_is_explained_and_leaves_nothing") {
        return;
    }
    // A dynamically linked program without its loader: execve fails with ENOENT
    // after every mount and every security step has been done.
    let dynamic = ["/bin/ls", "/usr/bin/ls", "/bin/true", "/usr/bin/true"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists() && matches!(container::rootfs::elf_interpreter(p), Some(Some(_))))
        .expect("a dynamically linked ls or true on the host");
    let id = unique_id("fail");
    let b = ContainerBuilder::new(&id)
        .rootfs(RootfsSpec::Build {
            files: vec![RootfsFile::host("/bin/prog", dynamic)],
        })
        .command(["/bin/prog"])
        .limits(Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        });
    let e = run_with(&id, b, None, &AtomicBool::new(false))
        .err()
        .expect("exec must fail");
    let msg = e.to_string();
    assert!(msg.contains("execve /bin/prog failed: ENOENT"), "{msg}");
    assert!(msg.contains("dynamic loader"), "{msg}");
}

#[testkit::needs(root)]
#[test]
fn a_timeout_kills_and_cleans_up() {
    if !require_root("a_timeout_kills_and_cleans_up") {
        return;
    }
    let id = unique_id("timeout");
    let r = run_with(
        &id,
        base(&id, &["getpid", "4000000000"]).limits(Limits {
            pids: Some(4),
            ..Limits::default()
        }),
        Some(Duration::from_millis(300)),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(r.report.outcome, Outcome::TimedOut);
    assert_eq!(
        r.report.exit,
        Some(container::ExitStatus::Signaled(libc::SIGKILL))
    );
    // Cut short: four billion getpid calls never got to print their result.
    assert!(
        r.lines()
            .iter()
            .all(|l| l.get("task").map(String::as_str) != Some("getpid")),
        "{}",
        r.stdout
    );
}

#[testkit::needs(root)]
#[test]
fn an_interrupt_stops_pid_1_then_kills_it_and_cleans_up() {
    let test = "an_interrupt_stops_pid_1_then_kills_it_and_cleans_up";
    if !require_root(test) {
        return;
    }
    // PID 1 catches SIGTERM, says so, and carries on: only SIGKILL ends it.
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = testkit::c_program(
        test,
        "cc",
        "-static",
        dir.path(),
        "stubborn",
        STUBBORN_PID_1,
    ) else {
        return;
    };
    let id = unique_id("intr");
    let before = host_mounts();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let running = ContainerBuilder::new(&id)
        .rootfs(RootfsSpec::Build {
            files: vec![RootfsFile::host("/bin/stubborn", &program)],
        })
        .command(["/bin/stubborn"])
        // Long enough for the handler to run even on a loaded machine; the SIGKILL
        // comes after it whatever happens.
        .stop_grace(Duration::from_secs(2))
        .stdout(out_w.into())
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let pid = running.pid();
    let mut reader = BufReader::new(out_r);
    let mut ready = String::new();
    reader.read_line(&mut ready).unwrap();
    assert_eq!(ready, "handler installed\n");
    // Interrupted from the start: the stop signal goes out at once.
    let report = running
        .wait(Some(Duration::from_secs(60)), &AtomicBool::new(true))
        .unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_clean(&id, Some(pid), &before);
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert_eq!(rest, "caught SIGTERM\n", "PID 1 saw the stop signal first");
    assert_eq!(
        report.exit,
        Some(container::ExitStatus::Signaled(libc::SIGKILL)),
        "then the SIGKILL after the grace period"
    );
}

/// A PID 1 that reports SIGTERM and keeps waiting, so that only SIGKILL ends it.
const STUBBORN_PID_1: &str = r#"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_term(int sig) {
    (void)sig;
    static const char line[] = "caught SIGTERM\n";
    write(1, line, sizeof line - 1);
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_term;
    if (sigaction(SIGTERM, &action, NULL) != 0) return 1;
    static const char ready[] = "handler installed\n";
    write(1, ready, sizeof ready - 1);
    for (;;) pause();
}
"#;

#[testkit::needs(root)]
#[test]
fn dropping_a_running_container_cleans_up() {
    if !require_root("dropping_a_running_container_cleans_up") {
        return;
    }
    let id = unique_id("drop");
    let before = host_mounts();
    let running = base(&id, &["getpid", "4000000000"])
        .limits(Limits {
            memory: Some(32 << 20),
            ..Limits::default()
        })
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let pid = running.pid();
    let paths = running.cgroup_paths();
    assert!(!paths.is_empty() && paths.iter().all(|p| p.is_dir()));
    drop(running);
    assert_clean(&id, Some(pid), &before);
}

#[testkit::needs(root, busybox)]
#[test]
fn a_process_left_behind_by_pid_1_is_killed_and_its_cgroup_removed() {
    let test = "a_process_left_behind_by_pid_1_is_killed_and_its_cgroup_removed";
    if !require_root(test) {
        return;
    }
    let Some(bb) = busybox(test) else { return };
    // In the host's PID namespace nothing ends PID 1's children with it: the
    // background sleep outlives the shell and sits in the cgroup until versus kills
    // everything there (v1: each pid of cgroup.procs; v2: cgroup.kill).
    let id = unique_id("orphan");
    let r = run(
        &id,
        ContainerBuilder::new(&id)
            .rootfs(busybox_root(&bb))
            .command(["/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"])
            .share(&[Namespace::Pid]),
    );
    assert_eq!(r.report.outcome, Outcome::Exited(0), "{}", r.stderr);
    let orphan: i32 = r
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{:?}", r.stdout));
    // `run` already checked that no cgroup directory is left; the sleep itself is
    // gone, or at most a zombie its new parent has not reaped yet.
    let state = std::fs::read_to_string(format!("/proc/{orphan}/stat"))
        .ok()
        .filter(|stat| stat.contains("(sleep)"))
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
        });
    assert!(
        matches!(state, None | Some('Z')),
        "the orphaned sleep {orphan} is still running ({state:?})"
    );
}

#[testkit::needs(root)]
#[test]
fn the_start_marker_can_be_timed_from_the_pipe() {
    if !require_root("the_start_marker_can_be_timed_from_the_pipe") {
        return;
    }
    let id = unique_id("marker");
    let (out_r, out_w) = std::io::pipe().unwrap();
    let running = base(&id, &["startup"])
        .stdout(out_w.into())
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(out_r);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let marker_at = Instant::now();
    // Keep reading: a closed pipe would kill the workload with SIGPIPE at its next line.
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("@versus task=startup"), "{rest}");
    assert!(
        first.starts_with("@versus start task=startup pid=1 "),
        "{first}"
    );
    // The child's own clock reading at execve, carried over to the parent's clock,
    // must fall between the launch and the parent seeing the exec succeed, and
    // before the marker the program printed after it: a wrong clock or a wrong
    // anchor in the conversion puts it outside.
    let exec_at = running.exec_started_at();
    assert!(
        running.launched_at() < exec_at,
        "exec stamped at the launch itself"
    );
    assert!(
        exec_at <= running.spawned_at(),
        "exec stamped {:?} after spawn returned",
        exec_at - running.spawned_at()
    );
    assert!(exec_at <= marker_at);
    let report = running.wait(None, &AtomicBool::new(false)).unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
}

#[testkit::needs(root)]
#[test]
fn a_user_namespace_as_root_maps_to_an_unprivileged_range() {
    if !require_root("a_user_namespace_as_root_maps_to_an_unprivileged_range") {
        return;
    }
    // A parked container, to read what the kernel applied to the live PID 1.
    let id = unique_id("userns");
    let before = host_mounts();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (stdin_r, stdin_w) = std::io::pipe().unwrap();
    let running = base(&id, &["park"])
        .user_namespace(true)
        .stdin(stdin_r.into())
        .stdout(out_w.into())
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    let pid = running.pid();
    let mut reader = BufReader::new(out_r);
    let mut marker = String::new();
    reader.read_line(&mut marker).unwrap();
    assert!(marker.starts_with("@versus start task=park"), "{marker}");
    let proc_file = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/{name}")).unwrap();
    let columns = |text: String| {
        text.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // Read from the host: uid/gid 0 inside is 100000 outside, 65536 ids.
    assert_eq!(columns(proc_file("uid_map")), ["0", "100000", "65536"]);
    assert_eq!(columns(proc_file("gid_map")), ["0", "100000", "65536"]);
    // Root on the host wrote the maps, so setgroups stays allowed (versus clears the
    // groups itself); an unprivileged writer must deny it first.
    assert_eq!(proc_file("setgroups").trim(), "allow");
    let user_ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).unwrap();
    assert_ne!(
        user_ns(&pid.to_string()),
        user_ns("self"),
        "its own user namespace"
    );
    let status = proc_file("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    assert_eq!(
        field("Uid:"),
        ["100000"; 4],
        "host ids of the container's root"
    );
    assert_eq!(field("CapEff:"), ["00000000a80425fb"]);
    drop(stdin_w);
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    let report = running.wait(Some(Duration::from_secs(60)), &AtomicBool::new(false));
    assert_clean(&id, Some(pid), &before);
    assert_eq!(report.unwrap().outcome, Outcome::Exited(0), "{rest}");

    // Its capabilities count only in its own namespaces: it keeps CAP_MKNOD (Docker's
    // set) as the same container without a user namespace does, but making a device
    // node (null, on the allow-list) needs it in the host's initial namespace. The
    // control run shows that nothing else (seccomp, the device list) refuses it.
    let test = "a_user_namespace_as_root_maps_to_an_unprivileged_range";
    let Some(bb) = busybox(test) else { return };
    let make_null = |userns: bool| {
        let id = unique_id("userns-mknod");
        let r = run(
            &id,
            ContainerBuilder::new(&id)
                .rootfs(busybox_root(&bb))
                .command([
                    "/bin/sh",
                    "-c",
                    "grep CapEff /proc/self/status; mknod /tmp/null c 1 3 && echo made",
                ])
                .user_namespace(userns),
        );
        (r.stdout, r.stderr)
    };
    let (without, stderr) = make_null(false);
    assert_eq!(without, "CapEff:\t00000000a80425fb\nmade\n", "{stderr}");
    let (with, stderr) = make_null(true);
    assert_eq!(with, "CapEff:\t00000000a80425fb\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
}

/// The rootless half of `rootless_works_for_an_unprivileged_user`, which runs it as
/// uid 65534 in a subprocess (so every root run of the suite runs it). Ignored by
/// itself: it means something only as an unprivileged user with the variable set, e.g.
/// `setpriv --reuid 65534 --regid 65534 --clear-groups env VERSUS_ROOTLESS_HELPER=1
/// target/debug/deps/containers-<hash> --ignored --exact rootless_helper --nocapture`
/// from a directory that user may write.
#[test]
#[ignore = "run by rootless_works_for_an_unprivileged_user as uid 65534 (see its doc comment)"]
fn rootless_helper() {
    if std::env::var("VERSUS_ROOTLESS_HELPER").is_err() {
        // Asked for by name without its setup: say so rather than pass in silence.
        let _ = writeln!(
            std::io::stderr().lock(),
            "rootless_helper: not run (VERSUS_ROOTLESS_HELPER is unset; see its doc comment)"
        );
        return;
    }
    // SAFETY: getuid cannot fail.
    assert_eq!(unsafe { libc::getuid() }, 65534);
    let id = unique_id("rootless");
    let r = run(&id, base(&id, &["ids"]));
    let ids = r.task("ids");
    assert_eq!(ids["uid"], "0", "uid 0 inside the user namespace");
    assert_eq!(ids["pid"], "1");
    assert!(r.report.rootless);
    assert_eq!(
        r.report.user_namespace.as_ref().unwrap().uid_map.outside,
        65534
    );
    assert!(r.report.cgroup.is_none());
    let status = run(&id, base(&id, &["status"])).task("status");
    assert_eq!(status["cap_eff"], "00000000a80425fb");
    assert_eq!(status["seccomp"], "2");
    // A limit without a delegated cgroup is a clear error.
    let e = base(&id, &["ids"])
        .limits(Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        })
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot apply --memory"), "{e}");
    println!("ROOTLESS-HELPER-OK");
}

#[testkit::needs(root)]
#[test]
fn rootless_works_for_an_unprivileged_user() {
    if !require_root("rootless_works_for_an_unprivileged_user") {
        return;
    }
    // Copy the test binary where uid 65534 may run it, then run only the helper.
    let dir = tempfile::Builder::new()
        .prefix("versus-rootless")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("containers-test");
    copy_executable(&std::env::current_exe().unwrap(), &exe);
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args([
        "--ignored",
        "--exact",
        "rootless_helper",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("VERSUS_ROOTLESS_HELPER", "1")
    .current_dir(dir.path());
    fn drop_to_nobody() -> std::io::Result<()> {
        // SAFETY: setgroups with an empty list; async-signal-safe.
        let a = unsafe { libc::setgroups(0, std::ptr::null()) };
        // SAFETY: plain id change; async-signal-safe.
        let b = unsafe { libc::setgid(65534) };
        // SAFETY: as above.
        let c = unsafe { libc::setuid(65534) };
        if a != 0 || b != 0 || c != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    // SAFETY: the hook makes only async-signal-safe calls between fork and exec.
    unsafe { cmd.pre_exec(drop_to_nobody) };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ROOTLESS-HELPER-OK"),
        "rootless helper failed: {}\n{stdout}\n{stderr}",
        out.status
    );
}
