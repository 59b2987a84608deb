//! `versus container run` as a user meets it: the workload as PID 1 of a
//! container on the host's own kernel, and the flags Docker users know.

mod common;

use common::versus;

use bench::report::{ExitOutcome, RunReport};
use bench::workload::{ProcStatus, TaskResult};
use predicates::prelude::*;

/// Runs `versus container run --json ARGS`, expects `status`, parses the report.
fn container_json(args: &[&str], status: i32) -> RunReport {
    let output = versus()
        .args(["container", "run", "--json", "--timeout", "60s"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(status),
        "versus container run {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    let cgroups = report
        .container
        .as_ref()
        .and_then(|c| c.cgroup.as_ref())
        .map(|c| c.paths.clone())
        .unwrap_or_default();
    for path in cgroups {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    report
}

#[testkit::needs(root)]
#[test]
fn ids_show_pid_1_and_the_chosen_hostname() {
    if !common::require_root("ids_show_pid_1_and_the_chosen_hostname") {
        return;
    }
    let report = container_json(&["--hostname", "classroom", "--", "ids"], 0);
    match report.results.as_slice() {
        [
            TaskResult::Ids {
                pid,
                ppid,
                hostname,
                ..
            },
        ] => {
            assert_eq!((*pid, *ppid), (1, 0));
            assert_eq!(hostname, "classroom");
        }
        other => panic!("results: {other:?}"),
    }
    assert!(report.startup_ns.is_some(), "the start marker was seen");
    let names: Vec<&str> = report.phases.iter().map(|p| p.name.as_str()).collect();
    for phase in [
        "cgroup",
        "clone",
        "mounts+pivot_root",
        "security",
        "exec→marker",
    ] {
        assert!(names.contains(&phase), "{phase} missing from {names:?}");
    }
    let container = report.container.as_ref().expect("a container section");
    assert_eq!(container.hostname.as_deref(), Some("classroom"));
    assert!(report.memory.cgroup_memory_peak_bytes.is_some());
}

#[testkit::needs(root)]
#[test]
fn uname_in_a_container_is_the_hosts_own_kernel() {
    if !common::require_root("uname_in_a_container_is_the_hosts_own_kernel") {
        return;
    }
    let report = container_json(&["--", "uname"], 0);
    let (sysname, release, version) = common::host_uname();
    match report.results.as_slice() {
        [
            TaskResult::Uname {
                sysname: s,
                release: r,
                version: v,
                ..
            },
        ] => assert_eq!((s, r, v), (&sysname, &release, &version)),
        other => panic!("results: {other:?}"),
    }
}

#[testkit::needs(root)]
#[test]
fn seccomp_unconfined_shows_in_status_and_the_label() {
    if !common::require_root("seccomp_unconfined_shows_in_status_and_the_label") {
        return;
    }
    let confined = container_json(&["--", "status"], 0);
    let unconfined = container_json(&["--seccomp", "unconfined", "--", "status"], 0);
    let seccomp = |report: &RunReport| match report.results.as_slice() {
        [TaskResult::Status(ProcStatus::Available { seccomp, .. })] => seccomp.clone(),
        other => panic!("results: {other:?}"),
    };
    assert_eq!(seccomp(&confined).as_deref(), Some("2"));
    assert_eq!(seccomp(&unconfined).as_deref(), Some("0"));
    assert_eq!(unconfined.backend, "container (no seccomp)");
}

#[testkit::needs(root)]
#[test]
fn a_memory_limit_is_reported_as_an_oom_kill() {
    if !common::require_root("a_memory_limit_is_reported_as_an_oom_kill") {
        return;
    }
    let report = container_json(&["--memory", "16M", "--", "memtouch", "64"], 137);
    assert_eq!(report.exit, ExitOutcome::OomKilled);
}

#[testkit::needs(root, busybox)]
#[test]
fn a_busybox_command_prints_its_own_output() {
    if !common::require_root("a_busybox_command_prints_its_own_output") {
        return;
    }
    if !common::require_busybox("a_busybox_command_prints_its_own_output") {
        return;
    }
    versus()
        .args(["container", "run", "--busybox", "--hostname", "bb", "--"])
        .args(["/bin/sh", "-c", "echo pid=$$ host=$(hostname); exit 3"])
        .assert()
        .code(3)
        .stdout(
            predicate::str::contains("pid=1 host=bb")
                // The header names the root the command ran in; a command
                // has no workload results to tabulate.
                .and(predicate::str::contains("· in built tmpfs"))
                .and(predicate::str::contains("no result lines").not()),
        );
    // The same as JSON: the exit status and the cgroup removed.
    let report = container_json(&["--busybox", "--", "/bin/sh", "-c", "exit 3"], 3);
    assert_eq!(report.exit, ExitOutcome::Exited { code: 3 });
}

#[test]
fn bad_container_options_are_named() {
    // Parsed before anything is created: no root needed.
    versus()
        .args(["container", "run", "--share", "bogus", "--", "ids"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown namespace 'bogus'"));
    versus()
        .args(["container", "run", "--memory", "lots", "--", "ids"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--memory"));
    versus()
        .args(["container", "run", "--seccomp", "strict", "--", "ids"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unconfined"));
    versus()
        .args(["container", "run", "--", "nosuchtask"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown task 'nosuchtask'"));
}

#[testkit::needs(root)]
#[test]
fn bad_rootfs_and_capabilities_fail_before_anything_is_created() {
    if !common::require_root("bad_rootfs_and_capabilities_fail_before_anything_is_created") {
        return;
    }
    versus()
        .args(["container", "run", "--cap-add", "NOT_A_CAP", "--", "ids"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown capability 'NOT_A_CAP'"));
    versus()
        .args(["container", "run", "--rootfs", "/nonexistent/rootfs", "--"])
        .args(["/bin/sh"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/rootfs"));
}

#[testkit::needs(root)]
#[test]
fn ctrl_c_stops_the_container_and_removes_its_cgroup() {
    if !common::require_root("ctrl_c_stops_the_container_and_removes_its_cgroup") {
        return;
    }
    let binary = assert_cmd::cargo::cargo_bin("versus");
    let child = std::process::Command::new(binary)
        .args(["container", "run", "--json", "--", "compute", "4000000000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    // The container is running once versus' child has become the workload.
    wait_for_workload_child(pid);
    // SAFETY: kill has no memory effects; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(128 + libc::SIGINT),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.exit, ExitOutcome::Interrupted);
    let cgroup = report.container.unwrap().cgroup.expect("a cgroup was made");
    assert!(!cgroup.paths.is_empty());
    for path in cgroup.paths {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
}

/// Waits until a descendant of process `ancestor` runs the workload (its `comm`,
/// the executable's name cut to 15 bytes, is `versus-workload`: the container's
/// `execve` succeeded). A minute without it fails the test.
fn wait_for_workload_child(ancestor: i32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let descendants = descendants_of(ancestor);
        if descendants.iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "versus-workload")
        }) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "versus ({ancestor}) never started the workload; below it: {descendants:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every process below `pid`, from each thread's `children` list.
fn descendants_of(pid: i32) -> Vec<String> {
    let mut found = Vec::new();
    let mut queue = vec![pid.to_string()];
    while let Some(next) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{next}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                for child in children.split_whitespace() {
                    found.push(child.to_owned());
                    queue.push(child.to_owned());
                }
            }
        }
    }
    found
}

/// Runs `cat /proc/self/cgroup` in a busybox container through `launcher` (`None`:
/// versus itself), with `--share cgroup` (seen from the host's cgroup namespace)
/// when `host_view`, and returns the report and the lines of its own cgroup,
/// `versus/<id>`.
fn cgroup_of_pid_1(
    launcher: Option<&std::path::Path>,
    host_view: bool,
) -> (RunReport, Vec<String>) {
    let versus_path = assert_cmd::cargo::cargo_bin("versus");
    let mut command = match launcher {
        Some(wrapper) => {
            let mut c = std::process::Command::new(wrapper);
            c.arg(&versus_path);
            c
        }
        None => std::process::Command::new(&versus_path),
    };
    let output = command
        .args(["container", "run", "--json", "--timeout", "60s"])
        .args(if host_view {
            &["--share", "cgroup"][..]
        } else {
            &[]
        })
        .args(["--busybox", "--", "cat", "/proc/self/cgroup"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    let container = report.container.as_ref().expect("a container report");
    let own = format!(":/versus/{}", container.id);
    let lines = report
        .stdout
        .lines()
        .filter(|l| l.ends_with(&own))
        .map(str::to_owned)
        .collect();
    (report, lines)
}

/// Whether this host mounts a unified (cgroup v2) hierarchy, pure or hybrid.
fn host_has_unified_hierarchy() -> bool {
    std::fs::read_to_string("/proc/self/cgroup")
        .is_ok_and(|t| t.lines().any(|l| l.starts_with("0::")))
}

#[testkit::needs(root, busybox)]
#[test]
fn pid_1_runs_in_every_part_of_its_cgroup_from_its_first_instruction() {
    const TEST: &str = "pid_1_runs_in_every_part_of_its_cgroup_from_its_first_instruction";
    if !common::require_root(TEST) || !common::require_busybox(TEST) {
        return;
    }
    let (report, lines) = cgroup_of_pid_1(None, true);
    let container = report.container.as_ref().unwrap();
    let cgroup = container.cgroup.as_ref().expect("a cgroup");
    // The command's own first read of /proc/self/cgroup: already in the container's
    // cgroup of every hierarchy versus uses (one directory each), the v1 ones joined
    // while the child mounted its root included.
    assert_eq!(
        lines.len(),
        cgroup.paths.len(),
        "{lines:?} vs {:?}",
        cgroup.paths
    );
    // --trace says which way the child joined.
    versus()
        .args(["container", "run", "--trace", "--", "startup"])
        .assert()
        .success()
        .stderr(predicate::str::contains("[container] cgroup join: "))
        .stderr(predicate::str::contains(
            "beside the mounts, the launch waited",
        ));
    if host_has_unified_hierarchy() {
        assert!(
            lines.iter().any(|l| l.starts_with("0::/versus/")),
            "{lines:?}"
        );
        assert_eq!(
            container.phases.join,
            Some(container::JoinWay::CloneIntoCgroup)
        );
    }
    for path in &cgroup.paths {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    // In its own cgroup namespace (the default), created after the join, the
    // container's cgroup is the root.
    let (own_ns, lines) = cgroup_of_pid_1(None, false);
    assert!(lines.is_empty(), "{lines:?}");
    let text = own_ns.stdout;
    let expected_root = if host_has_unified_hierarchy() {
        "0::/\n"
    } else {
        "pids:/\n"
    };
    assert!(text.contains(expected_root), "{text}");
    assert!(!text.contains("/versus/"), "{text}");
}

/// A launcher whose `clone3` calls fail with `ENOSYS`, as under Docker's default
/// seccomp profile and on kernels before 5.3: it installs that filter and executes
/// its arguments.
const WITHOUT_CLONE3: &str = r#"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435 /* clone3 */, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };
    if (argc < 2 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("without_clone3");
        return 99;
    }
    execv(argv[1], argv + 1);
    perror("execv");
    return 98;
}
"#;

#[testkit::needs(root, busybox, cc)]
#[test]
fn where_clone3_is_refused_the_child_still_joins_before_it_runs() {
    const TEST: &str = "where_clone3_is_refused_the_child_still_joins_before_it_runs";
    if !common::require_root(TEST) || !common::require_busybox(TEST) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(wrapper) = testkit::c_program(
        TEST,
        "cc",
        "-static",
        dir.path(),
        "without_clone3",
        WITHOUT_CLONE3,
    ) else {
        return;
    };
    let (report, lines) = cgroup_of_pid_1(Some(&wrapper), true);
    let container = report.container.as_ref().unwrap();
    let cgroup = container.cgroup.as_ref().expect("a cgroup");
    assert_eq!(container.phases.join, Some(container::JoinWay::CgroupProcs));
    assert_eq!(
        lines.len(),
        cgroup.paths.len(),
        "{lines:?} vs {:?}",
        cgroup.paths
    );
    for path in &cgroup.paths {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    // The limits hold on this path too: the pids limit stops the workload's forks.
    let output = std::process::Command::new(&wrapper)
        .arg(assert_cmd::cargo::cargo_bin("versus"))
        .args(["container", "run", "--json", "--timeout", "60s"])
        .args(["--pids-limit", "4", "--", "spawn", "20"])
        .output()
        .unwrap();
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    match common::only_result(&report) {
        TaskResult::Spawn { spawned, errno, .. } => {
            assert!(*spawned < 20, "{spawned} children despite --pids-limit 4");
            assert_eq!(errno.as_deref(), Some("EAGAIN"));
        }
        other => panic!("not a spawn result: {other:?}"),
    }
}
