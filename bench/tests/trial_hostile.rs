//! Arguments a careless or hostile user gives `versus container run`, met
//! through the real binary: the host's own `/` as the root filesystem
//! (however it is spelled), and amounts that are no amounts (`--cpus -1`,
//! `--timeout -1s`). Each is refused before anything is created, with
//! status 2 and a message naming the problem and the fix.

mod common;

use common::versus;

/// Runs `versus container run ARGS` and returns its status and stderr,
/// checking that stdout stayed empty (no report of a run that never was).
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let output = versus()
        .args(["container", "run"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.stdout.is_empty(),
        "{args:?}: stdout holds {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.code(), stderr)
}

#[test]
fn the_hosts_own_root_as_rootfs_is_refused_however_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("looks-like-a-rootfs");
    std::os::unix::fs::symlink("/", &link).unwrap();
    let link = link.to_str().unwrap().to_string();
    let spellings = ["/", "/.", "/tmp/..", link.as_str()];
    for rootfs in spellings {
        for extra in [&[][..], &["--rootfs-overlay"][..], &["--read-only"][..]] {
            let mut args = vec!["--rootfs", rootfs];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--", "/bin/true"]);
            let (status, stderr) = refused(&args);
            assert_eq!(status, Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!(
                    "--rootfs {rootfs} is the host's own root directory"
                )),
                "{args:?} does not name the problem: {stderr}"
            );
            assert!(
                stderr.contains("--busybox"),
                "{args:?} names no fix: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    // A directory beside it is not mistaken for the host's root: the
    // refusal names what that directory lacks instead.
    let (_, stderr) = refused(&["--rootfs", dir.path().to_str().unwrap(), "--", "/bin/true"]);
    assert!(
        !stderr.contains("host's own root directory"),
        "an ordinary directory taken for /: {stderr}"
    );
}

#[test]
fn cpus_and_timeouts_that_are_not_amounts_are_named() {
    for cpus in ["-1", "-0.5", "inf", "NaN", "two"] {
        let (status, stderr) = refused(&["--cpus", cpus, "--", "startup"]);
        assert_eq!(status, Some(2), "--cpus {cpus}: {stderr}");
        assert!(
            stderr.contains(&format!("'{cpus}' is not a number of CPUs")),
            "--cpus {cpus}: {stderr}"
        );
        assert!(
            stderr.contains("write it like 0.5 or 2"),
            "--cpus {cpus} names no fix: {stderr}"
        );
    }

    let (status, stderr) = refused(&["--timeout", "-1s", "--", "startup"]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("'-1s' is negative"), "{stderr}");

    // An option forgotten after --timeout is not called a negative duration.
    let (status, stderr) = refused(&["--timeout", "--json", "--", "startup"]);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(!stderr.contains("negative"), "{stderr}");
    assert!(stderr.contains("'--json'"), "{stderr}");
}

#[test]
fn negative_and_zero_counts_are_named_with_their_fix() {
    let cases: [(&[&str], &str); 5] = [
        (&["--pids-limit", "0"], "not even its PID 1"),
        (&["--pids-limit", "-2"], "'-2' is not a number of processes"),
        (&["--pids-limit", "many"], "or -1 for no limit"),
        (&["-u", "-1"], "uid \"-1\" is not a number"),
        (&["--user", "-5:0"], "give numeric ids"),
    ];
    for (flags, wanted) in cases {
        let mut args = flags.to_vec();
        args.extend_from_slice(&["--", "startup"]);
        let (status, stderr) = refused(&args);
        assert_eq!(status, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("tip: to pass"),
            "{args:?}: clap took the value for an option: {stderr}"
        );
    }
}

/// Docker's `--pids-limit -1` means no limit: the container runs with none.
#[testkit::needs(root)]
#[test]
fn pids_limit_minus_one_is_no_limit_as_in_docker() {
    if !common::require_root("pids_limit_minus_one_is_no_limit_as_in_docker") {
        return;
    }
    let limit = |value: &str| {
        let output = versus()
            .args(["container", "run", "--json", "--pids-limit", value])
            .args(["--", "startup"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "--pids-limit {value}: {stderr}"
        );
        let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
        report.container.expect("a container report").limits.pids
    };
    assert_eq!(limit("-1"), None);
    assert_eq!(limit("7"), Some(7));
}

/// A Docker habit (`container run alpine sh`) or a program's name where a
/// task belongs (`host run ls`) is answered with the way to run it; a real
/// task with a bad argument gets no such hint.
#[test]
fn a_word_that_is_no_task_is_answered_with_how_to_run_a_program() {
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["container", "run", "alpine", "sh"],
            &[
                "unknown task 'alpine'",
                "--busybox",
                "--rootfs DIR",
                "--workload PATH",
            ],
        ),
        (
            &["host", "run", "ls"],
            &["unknown task 'ls'", "--workload PATH"],
        ),
        (
            &["vm", "run", "--", "/bin/ls"],
            &["unknown task '/bin/ls'", "--workload PATH"],
        ),
        (
            &["host", "run", "--", "getpid", "x"],
            &["getpid: N must be an integer"],
        ),
    ];
    for (args, wanted) in cases {
        let output = versus().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
        for word in wanted {
            assert!(stderr.contains(word), "{args:?} lacks {word:?}: {stderr}");
        }
        if args.contains(&"getpid") {
            assert!(!stderr.contains("--workload"), "{args:?}: {stderr}");
        }
    }
}

/// `vm run --linux` with a task name that is no task is refused before the
/// kernel is even read: on a software KVM backend the boot stops at "Run
/// /init", so after tens of seconds nothing would have named the typo.
#[test]
fn a_linux_boot_with_no_such_task_is_refused_before_the_boot() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_kernel = dir.path().join("vmlinuz");
    std::fs::write(&not_a_kernel, b"not read: the task is checked first").unwrap();
    let kernel = not_a_kernel.to_str().unwrap();
    for flags in [&["--linux"][..], &["--linux-kernel", kernel][..]] {
        let output = versus()
            .args(["vm", "run"])
            .args(flags)
            .args(["--", "getpidd", "10"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains("unknown task 'getpidd'"),
            "{flags:?}: {stderr}"
        );
        assert!(stderr.contains("--workload PATH"), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{flags:?}");
    }
}
