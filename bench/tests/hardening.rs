//! What a user (or an attacker) can do to versus must never make it panic
//! or leave anything behind: a closed or full stdout, a signal in the
//! middle of a run on every backend, `kill -9` of versus itself, bad flags.
//! Each test drives the real binary, as a user would meet it.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn versus_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("versus")
}

fn versus() -> Command {
    Command::new(versus_path())
}

/// The status, with stderr in the message when it is not `expected`.
fn assert_status(output: &Output, expected: i32, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{what}: versus panicked: {stderr}"
    );
    assert_eq!(output.status.code(), Some(expected), "{what}: {stderr}");
}

/// Sends `signal` to `child`.
fn signal(child: &Child, signal: libc::c_int) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory effects; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Pids of processes whose command line contains `needle`, versus itself
/// (whose arguments name it too) left out.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        let is_versus = argv0.ends_with(b"/versus");
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && !is_versus {
            found.push(pid);
        }
    }
    found
}

/// Waits up to two seconds for every process with `needle` in its command
/// line to be gone; panics naming them otherwise.
fn assert_gone(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = processes_with(needle);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes with '{needle}' were left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a process with `needle` in its command line runs.
fn wait_for(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(needle).is_empty() {
        assert!(Instant::now() < deadline, "'{needle}' never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every `versus/<id>` cgroup directory on this host.
fn versus_cgroups() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "versus") {
                for run in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    if run.file_type().is_ok_and(|t| t.is_dir()) {
                        found.push(run.path());
                    }
                }
            } else if path.components().count() < 7 {
                pending.push(path);
            }
        }
    }
    found
}

/// A file that refuses every write with ENOSPC.
fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let output = versus()
        .args(["doctor", "--json"])
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_status(&output, 1, "doctor --json > /dev/full");
    assert!(String::from_utf8_lossy(&output.stderr).contains("No space left on device"));

    let output = versus()
        .args(["host", "run", "--", "startup"])
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_status(&output, 1, "host run > /dev/full");
}

#[testkit::needs(kvm)]
#[test]
fn a_full_stdout_fails_a_vm_run_cleanly() {
    if !common::require_kvm("a_full_stdout_fails_a_vm_run_cleanly") {
        return;
    }
    let output = versus()
        .args(["vm", "run", "--", "startup"])
        .stdout(dev_full())
        .output()
        .unwrap();
    assert_status(&output, 1, "vm run > /dev/full");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write to standard output"));
}

#[testkit::needs(root, busybox)]
#[test]
fn a_closed_pipe_ends_a_container_run_quietly_and_cleans_up() {
    let test = "a_closed_pipe_ends_a_container_run_quietly_and_cleans_up";
    if !common::require_root(test) || !common::require_busybox(test) {
        return;
    }
    let mut child = versus()
        .args(["container", "run", "--busybox", "--"])
        .args(["/bin/sh", "-c", "yes versus-closed-pipe-probe"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close the pipe, as `| head -c 10` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_status(&output, 141, "container run | head");
    assert!(
        output.stderr.is_empty(),
        "a closed pipe is not an error: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_gone("versus-closed-pipe-probe");
}

#[test]
fn host_run_stops_its_workload_on_sigterm_and_sigint() {
    for (sig, status, rounds) in [
        (libc::SIGTERM, 143, "4000000011"),
        (libc::SIGINT, 130, "4000000012"),
    ] {
        let child = versus()
            .args(["host", "run", "--json", "--", "compute", rounds])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&format!("compute {rounds}"));
        signal(&child, sig);
        let output = child.wait_with_output().unwrap();
        assert_status(&output, status, "host run, signalled");
        let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report.exit, bench::report::ExitOutcome::Interrupted);
        assert_gone(&format!("compute {rounds}"));
    }
}

#[test]
fn an_inherited_ignored_sigint_still_stops_the_run() {
    let mut command = versus();
    command
        .args(["host", "run", "--", "compute", "4000000013"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let ignore_sigint = || {
        // SAFETY: setting a disposition to SIG_IGN is always valid and
        // async-signal-safe.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
        Ok(())
    };
    // SAFETY: the closure runs between fork and exec and only calls
    // signal(), which is async-signal-safe.
    unsafe { command.pre_exec(ignore_sigint) };
    let child = command.spawn().unwrap();
    wait_for("compute 4000000013");
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert_status(&output, 130, "host run with SIGINT ignored");
    assert_gone("compute 4000000013");
}

#[test]
fn kill_9_of_versus_takes_the_host_workload_with_it() {
    let mut child = versus()
        .args(["host", "run", "--", "compute", "4000000014"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("compute 4000000014");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_gone("compute 4000000014");
}

#[testkit::needs(kvm)]
#[test]
fn vm_run_stops_the_guest_on_sigint_and_sigterm() {
    if !common::require_kvm("vm_run_stops_the_guest_on_sigint_and_sigterm") {
        return;
    }
    for (sig, status) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = versus()
            .args(["vm", "run", "--json", "--", "compute", "4000000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Long enough for the guest to be running its workload.
        std::thread::sleep(Duration::from_millis(700));
        signal(&child, sig);
        let output = child.wait_with_output().unwrap();
        assert_status(&output, status, "vm run, signalled");
        let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report.exit, bench::report::ExitOutcome::Interrupted);
    }
}

#[testkit::needs(root)]
#[test]
fn container_run_exits_143_on_sigterm_and_kill_9_leaves_nothing_for_long() {
    if !common::require_root("container_run_exits_143_on_sigterm_and_kill_9_leaves_nothing") {
        return;
    }
    let child = versus()
        .args(["container", "run", "--", "compute", "4000000015"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("compute 4000000015");
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_status(&output, 143, "container run, SIGTERM");
    assert_gone("compute 4000000015");

    // kill -9: the container dies with versus (parent-death signal); its
    // empty cgroup stays until the next launch sweeps it away.
    let mut child = versus()
        .args(["container", "run", "--", "compute", "4000000016"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("compute 4000000016");
    let owner = format!("run-{}-", child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_gone("compute 4000000016");
    // doctor names what was left …
    let doctor = versus().args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let stale = report["stale_cgroups"].as_array().unwrap();
    assert!(
        stale
            .iter()
            .any(|p| p.as_str().unwrap_or_default().contains(&owner)),
        "doctor does not report the stale cgroup: {stale:?}"
    );
    // … and the next launch removes it.
    let output = versus()
        .args(["container", "run", "--", "startup"])
        .output()
        .unwrap();
    assert_status(&output, 0, "the next container run");
    let left: Vec<_> = versus_cgroups()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&owner))
        .collect();
    assert!(left.is_empty(), "stale cgroups were not swept: {left:?}");
}

#[test]
fn exports_that_cannot_be_written_are_refused_before_the_first_round() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, path) in [
        ("--export-json", PathBuf::from("/proc/versus-test.json")),
        ("--export-csv", dir.path().to_path_buf()),
        ("--export-markdown", dir.path().join("missing/out.md")),
        ("--plot", PathBuf::from("/proc/versus-test.svg")),
    ] {
        let output = versus()
            .args(["compare", "--runs", "50", "--only", "startup"])
            .arg(flag)
            .arg(&path)
            .output()
            .unwrap();
        assert_status(&output, 1, flag);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{stderr}");
        assert_eq!(stderr.matches("versus: error").count(), 1, "{stderr}");
        assert!(output.stdout.is_empty(), "no round ran");
    }
}

#[test]
fn contradictory_or_misplaced_flags_are_named() {
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &[
                "container",
                "run",
                "--userns",
                "--share",
                "user",
                "--",
                "startup",
            ],
            2,
            "--share user",
        ),
        (
            &[
                "container",
                "run",
                "--network",
                "none",
                "--share",
                "net",
                "--",
                "ids",
            ],
            2,
            "--network host",
        ),
        (
            &[
                "container",
                "run",
                "--rootfs",
                "/",
                "--workload",
                "/bin/true",
                "--",
                "x",
            ],
            2,
            "--workload",
        ),
        (
            &["vm", "run", "--mem", "12X", "--", "startup"],
            2,
            "not a size",
        ),
    ];
    for (args, status, needle) in cases {
        let output = versus().args(args).output().unwrap();
        assert_status(&output, status, &format!("{args:?}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[testkit::needs(kvm)]
#[test]
fn every_size_flag_reads_the_same_grammar() {
    if !common::require_kvm("every_size_flag_reads_the_same_grammar") {
        return;
    }
    let output = versus()
        .args(["vm", "run", "--json", "--mem", "1.5G", "--", "startup"])
        .output()
        .unwrap();
    assert_status(&output, 0, "vm run --mem 1.5G");
    let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
    let regions = report.vm.expect("a VM report").regions;
    assert_eq!(regions.iter().map(|r| r.size).sum::<u64>(), 3 << 29);
}

/// Runs versus with `args` to the end, output discarded, and returns its
/// exit status and peak resident set (`ru_maxrss`, from `wait4`).
fn peak_rss_of(args: &[&str]) -> (i32, u64) {
    // Reaped below with wait4, which also returns the resource usage.
    #[allow(clippy::zombie_processes)]
    let child = versus()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid for writes; `pid` is our child.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    (code, u64::try_from(usage.ru_maxrss).unwrap() * 1024)
}

/// What versus may hold however much a workload writes: the bounded
/// parts of the report, well below what a flood of a few seconds would take.
const FLOOD_RSS_LIMIT: u64 = 64 << 20;

#[test]
fn an_output_flood_does_not_grow_versus() {
    let flood = ["write", "4294967295", "65536"];
    let mut runs = vec![vec!["host", "run", "--timeout", "3s", "--"]];
    if common::require_root("an_output_flood_does_not_grow_versus") {
        runs.push(vec!["container", "run", "--timeout", "3s", "--"]);
    }
    for mut args in runs {
        args.extend(flood);
        let (status, peak) = peak_rss_of(&args);
        assert_eq!(status, 124, "{args:?} ends at its timeout");
        assert!(
            peak < FLOOD_RSS_LIMIT,
            "{args:?}: versus grew to {} MiB",
            peak >> 20
        );
    }
}

#[testkit::needs(root, busybox)]
#[test]
fn a_fork_bomb_stops_at_the_pids_limit_and_leaves_nothing() {
    let test = "a_fork_bomb_stops_at_the_pids_limit_and_leaves_nothing";
    if !common::require_root(test) || !common::require_busybox(test) {
        return;
    }
    let output = versus()
        .args(["container", "run", "--json", "--busybox"])
        .args(["--pids-limit", "16", "--timeout", "10s", "--"])
        .args(["/bin/sh", "-c", "while true; do sleep 4000000017 & done"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
    let cgroup = report.container.unwrap().cgroup.expect("a cgroup was made");
    assert_eq!(cgroup.stats.pids_peak, Some(16), "the limit held");
    for path in cgroup.paths {
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    assert_gone("sleep 4000000017");
}

/// A reader that stops reading (a pager left open, a stuck pipe) cannot
/// keep versus from stopping: with its stdout full, SIGTERM still ends the
/// run, cleans up and exits 143 on every backend. Before, every thread that
/// printed sat in a `write` that the signal could not interrupt.
#[testkit::needs(cc)]
#[test]
fn sigterm_ends_a_run_whose_stdout_nobody_reads() {
    let dir = tempfile::tempdir().unwrap();
    let Some(flood) = testkit::c_program(
        "sigterm_ends_a_run_whose_stdout_nobody_reads",
        "cc",
        "-static",
        dir.path(),
        "flood-forever",
        "#include <stdio.h>\nint main(void) { for (;;) puts(\"a line nobody reads\"); }\n",
    ) else {
        return;
    };
    for backend in ["host", "container", "vm"] {
        let test = format!("sigterm_ends_a_run_whose_stdout_nobody_reads ({backend})");
        let ready = match backend {
            "container" => common::require_root(&test),
            "vm" => common::require_kvm(&test),
            _ => true,
        };
        if !ready {
            continue;
        }
        let marker = format!("stuck-reader-{backend}");
        let mut child = versus()
            .args([backend, "run", "--workload"])
            .arg(&flood)
            .args(["--", &marker])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The pipe is never read: let the program fill it and versus block.
        if backend != "vm" {
            wait_for(&marker);
        }
        std::thread::sleep(Duration::from_secs(1));
        signal(&child, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                signal(&child, libc::SIGKILL);
                panic!("{backend}: versus did not end on SIGTERM with its stdout full");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(143), "{backend}");
        assert_gone(&marker);
    }
}
