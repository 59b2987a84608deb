//! Every workload task, run as a host process: the output parses into the
//! expected typed fields, and the figures agree with what the host knows.

mod common;

use bench::workload::{ProcStatus, TaskResult};
use common::{expected_checksum, host_uname, only_result, require_root, run_host};

#[test]
fn startup_prints_the_marker_first_and_nothing_else() {
    let report = run_host(&["startup"]);
    let marker = report.start.as_ref().expect("a start marker");
    assert_eq!(marker.task, "startup");
    assert!(marker.mono_ns > 0);
    assert_eq!(only_result(&report), &TaskResult::Startup);
    // Nothing else: no other stdout line, nothing on stderr.
    assert_eq!(
        report.other_output_lines, 0,
        "stdout besides the marker and result: {:?}",
        report.stdout
    );
    assert_eq!(report.stdout, "");
    assert_eq!(report.stderr, "");
    let startup = report.startup_ns.expect("startup was measured");
    assert_eq!(
        startup,
        report.phase("spawn").unwrap() + report.phase("exec→marker").unwrap(),
        "startup is spawn + exec→marker"
    );
}

#[test]
fn getpid_counts_its_calls_and_reports_its_own_pid() {
    let report = run_host(&["getpid", "20000"]);
    let TaskResult::Getpid {
        iters,
        ns_per_op,
        total_ns,
        pid,
    } = only_result(&report)
    else {
        panic!("not a getpid result: {:?}", report.results);
    };
    assert_eq!(*iters, 20_000);
    assert_eq!(*pid, report.start.as_ref().unwrap().pid);
    assert!(*ns_per_op > 0.0 && *total_ns > 0);
    // ns_per_op is total/iters rounded down to two decimals.
    let expected = (*total_ns * 100 / 20_000) as f64 / 100.0;
    assert!(
        (ns_per_op - expected).abs() < 1e-9,
        "{ns_per_op} vs {expected}"
    );
}

#[test]
fn compute_gives_the_same_checksum_as_an_independent_computation() {
    for rounds in [1u64, 10, 123_457] {
        let report = run_host(&["compute", &rounds.to_string()]);
        let TaskResult::Compute {
            iters, checksum, ..
        } = only_result(&report)
        else {
            panic!("not a compute result");
        };
        assert_eq!(*iters, rounds);
        assert_eq!(*checksum, expected_checksum(rounds), "rounds {rounds}");
    }
}

#[test]
fn memtouch_touches_every_page_and_shows_in_peak_rss() {
    let report = run_host(&["memtouch", "8"]);
    let TaskResult::Memtouch { mib, pages, .. } = only_result(&report) else {
        panic!("not a memtouch result");
    };
    assert_eq!((*mib, *pages), (8, 8 * 256));
    let rss = report.memory.workload_peak_rss_bytes.unwrap();
    assert!(
        rss >= 8 << 20,
        "peak RSS {rss} must include the 8 MiB touched"
    );
}

#[test]
fn write_makes_n_lines_of_the_given_size() {
    let report = run_host(&["write", "50", "10"]);
    let TaskResult::Write {
        iters, bytes, fd, ..
    } = only_result(&report)
    else {
        panic!("not a write result");
    };
    assert_eq!((*iters, *bytes, *fd), (50, 10, 1));
    assert_eq!(
        report.other_output_lines, 50,
        "each write is one ignored line"
    );
}

#[test]
fn uname_is_the_hosts_kernel() {
    let report = run_host(&["uname"]);
    let TaskResult::Uname {
        sysname,
        release,
        version,
        machine,
        ..
    } = only_result(&report)
    else {
        panic!("not a uname result");
    };
    let (host_sysname, host_release, host_version) = host_uname();
    assert_eq!(
        (sysname, release, version),
        (&host_sysname, &host_release, &host_version)
    );
    assert_eq!(machine, "x86_64");
}

#[test]
fn ids_match_the_process() {
    let report = run_host(&["ids"]);
    let TaskResult::Ids {
        pid,
        ppid,
        uid,
        gid,
        ..
    } = only_result(&report)
    else {
        panic!("not an ids result");
    };
    assert_eq!(*pid, report.start.as_ref().unwrap().pid);
    assert_eq!(*ppid, u64::from(std::process::id()), "versus is the parent");
    // SAFETY: getuid has no preconditions and cannot fail.
    let my_uid = unsafe { libc::getuid() };
    // SAFETY: getgid has no preconditions and cannot fail.
    let my_gid = unsafe { libc::getgid() };
    assert_eq!((*uid, *gid), (u64::from(my_uid), u64::from(my_gid)));
}

#[test]
fn status_reads_proc_self_status() {
    let report = run_host(&["status"]);
    let TaskResult::Status(ProcStatus::Available {
        cap_eff,
        no_new_privs,
        seccomp,
        ..
    }) = only_result(&report)
    else {
        panic!("status unavailable on the host: {:?}", report.results);
    };
    let cap_eff = cap_eff
        .as_deref()
        .expect("CapEff is printed by every kernel");
    assert!(u64::from_str_radix(cap_eff, 16).is_ok(), "CapEff {cap_eff}");
    // Whatever the test runner's own state is, the child inherits it.
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_field = |name: &str| {
        own.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(no_new_privs.as_deref(), own_field("NoNewPrivs:").as_deref());
    assert_eq!(seccomp.as_deref(), own_field("Seccomp:").as_deref());
}

#[testkit::needs(root)]
#[test]
fn probe_as_root_passes_every_permission_check_harmlessly() {
    if !require_root("probe_as_root_passes_every_permission_check_harmlessly") {
        return;
    }
    let report = run_host(&["probe"]);
    let TaskResult::Probe { outcomes } = only_result(&report) else {
        panic!("not a probe result");
    };
    let calls: Vec<&str> = outcomes.keys().map(String::as_str).collect();
    assert_eq!(
        calls,
        [
            "delete_module",
            "kexec_load",
            "mount",
            "reboot",
            "sethostname",
            "umount2"
        ]
    );
    for (call, outcome) in outcomes {
        assert_ne!(outcome, "EPERM", "{call}: root passed the permission check");
        assert_ne!(outcome, "ok", "{call} must fail harmlessly, not succeed");
    }
}

#[test]
fn spawn_creates_every_child() {
    let report = run_host(&["spawn", "12"]);
    assert_eq!(
        only_result(&report),
        &match only_result(&report) {
            TaskResult::Spawn {
                total_ns,
                ns_per_op,
                ..
            } => TaskResult::Spawn {
                requested: 12,
                spawned: 12,
                errno: None,
                total_ns: *total_ns,
                ns_per_op: *ns_per_op,
            },
            other => panic!("not a spawn result: {other:?}"),
        }
    );
}

#[test]
fn suite_runs_every_task_once() {
    let report = run_host(&["suite"]);
    let names: Vec<&str> = report.results.iter().map(|r| r.task_name()).collect();
    assert_eq!(
        names,
        [
            "startup", "getpid", "compute", "memtouch", "write", "uname", "ids", "status", "probe",
            "spawn", "suite"
        ]
    );
    assert_eq!(
        report.results.last(),
        Some(&TaskResult::Suite { completed: 10 })
    );
}

#[testkit::needs(root)]
#[test]
fn probe_without_privileges_gets_eperm_everywhere() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    if !require_root("probe_without_privileges_gets_eperm_everywhere") {
        return;
    }
    // A copy of the workload that user `nobody` can reach and execute.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.path().join("versus-workload");
    std::fs::write(&binary, versus_images::WORKLOAD).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    const NOBODY: u32 = 65_534;
    let output = std::process::Command::new(&binary)
        .arg("probe")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let result = stdout
        .lines()
        .filter_map(|line| bench::workload::parse_line(line).unwrap())
        .find_map(|record| match record {
            bench::workload::Record::Result(TaskResult::Probe { outcomes }) => Some(outcomes),
            _ => None,
        })
        .expect("a probe line");
    assert_eq!(result.len(), 6);
    for (call, outcome) in &result {
        // ENOSYS: this kernel was built without the feature (modules, kexec),
        // so there is no permission check to fail.
        let optional = matches!(call.as_str(), "delete_module" | "kexec_load");
        assert!(
            outcome == "EPERM" || (optional && outcome == "ENOSYS"),
            "{call} as nobody gave {outcome}"
        );
    }
    for call in ["mount", "umount2", "reboot", "sethostname"] {
        assert_eq!(result[call], "EPERM", "{call} as nobody");
    }
}

#[test]
fn a_timeout_kills_the_workload_and_says_so() {
    use bench::backend::{Backend, Launch, host::HostBackend};
    use bench::report::ExitOutcome;

    let launch = Launch {
        workload: bench::workload::Workload::embedded(),
        argv: vec!["getpid".into(), "4294967295".into()],
        timeout: Some(std::time::Duration::from_millis(300)),
        echo: false,
    };
    let report = HostBackend.run(&launch).unwrap();
    assert_eq!(
        report.exit,
        ExitOutcome::TimedOut {
            after_ns: 300_000_000
        }
    );
    assert_eq!(report.exit.shell_status(), 124);
    let pid = report.start.expect("it had started").pid;
    // SAFETY: kill with signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    assert!(!alive, "the timed-out workload {pid} was reaped");
    assert!(report.results.is_empty());
}
