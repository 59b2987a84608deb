//! The `versus` binary as a user meets it.

mod common;

use common::versus;

use predicates::prelude::*;

#[test]
fn host_run_prints_a_table_of_results() {
    versus()
        .args(["host", "run", "--", "getpid", "1000"])
        .assert()
        .success()
        .stdout(predicate::str::contains("per call"))
        .stdout(predicate::str::contains("1,000"))
        .stdout(predicate::str::contains("startup (launch → start marker)"))
        .stdout(predicate::str::contains("exited with status 0"));
}

#[test]
fn host_run_json_is_the_full_report() {
    let output = versus()
        .args(["host", "run", "--json", "compute", "10"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.backend, "host");
    assert_eq!(report.argv, ["compute", "10"]);
    let bench::workload::TaskResult::Compute { checksum, .. } = report.results[0] else {
        panic!("not compute: {:?}", report.results);
    };
    assert_eq!(checksum, common::expected_checksum(10));
    assert!(report.startup_ns.unwrap() > 0);
}

#[test]
fn unknown_task_lists_the_tasks() {
    versus()
        .args(["host", "run", "--", "fly"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown task 'fly'"))
        .stderr(predicate::str::contains("startup getpid compute memtouch"));
}

#[test]
fn bad_counts_name_the_argument() {
    versus()
        .args(["host", "run", "--", "getpid", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "getpid: N must be an integer from 1 to 4294967295, got 'lots'",
        ));
    versus()
        .args(["host", "run", "--", "write", "10", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "BYTES must be an integer from 1 to 65536",
        ));
}

#[test]
fn a_missing_workload_names_the_path() {
    versus()
        .args(["host", "run", "--workload", "/nonexistent/wl", "--", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/wl"))
        .stderr(predicate::str::contains("No such file"));
}

#[test]
fn a_non_elf_workload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    versus()
        .args(["host", "run", "--workload"])
        .arg(&script)
        .args(["--", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("script.sh"))
        .stderr(predicate::str::contains("not an ELF file"));
}

#[test]
fn a_dynamic_workload_is_refused_with_the_fix() {
    let Some(dynamic) = ["/bin/sh", "/usr/bin/env", "/bin/ls"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        testkit::skip(
            "a_dynamic_workload_is_refused_with_the_fix",
            testkit::Need::Root,
            "no dynamically linked system binary found",
        );
        return;
    };
    versus()
        .args(["host", "run", "--workload", dynamic, "--", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dynamically linked"))
        .stderr(predicate::str::contains("-static"));
}

#[testkit::needs(cc)]
#[test]
fn a_foreign_static_binary_runs_and_its_status_comes_through() {
    // A program nobody in the project wrote, linked statically against libc.
    let dir = tempfile::tempdir().unwrap();
    let Some(binary) = testkit::c_program(
        "a_foreign_static_binary_runs_and_its_status_comes_through",
        "cc",
        "-static",
        dir.path(),
        "hello",
        "#include <stdio.h>\nint main(int c, char **v) { printf(\"hello %s\\n\", v[1]); return 3; }\n",
    ) else {
        return;
    };
    versus()
        .args(["host", "run", "--workload"])
        .arg(&binary)
        .args(["--", "world"])
        .assert()
        .code(3)
        .stdout(predicate::str::starts_with("hello world\n"))
        .stdout(predicate::str::contains("no result lines").not())
        .stdout(predicate::str::contains("printed above"))
        .stdout(predicate::str::contains("exited with status 3"));
}

#[test]
fn a_bad_timeout_is_a_usage_error() {
    versus()
        .args(["host", "run", "--timeout", "soon", "--", "startup"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--timeout"));
}

#[test]
fn the_workload_exit_status_becomes_versus_exit_status_on_timeout() {
    versus()
        .args([
            "host",
            "run",
            "--timeout",
            "200ms",
            "--",
            "getpid",
            "4294967295",
        ])
        .assert()
        .code(124)
        .stdout(predicate::str::contains(
            "stopped by versus after the 200 ms timeout",
        ));
}

#[testkit::needs(root)]
#[test]
fn doctor_times_a_cgroup_join_on_a_v1_host_and_leaves_no_cgroup() {
    if !common::require_root("doctor_times_a_cgroup_join_on_a_v1_host_and_leaves_no_cgroup") {
        return;
    }
    let pids = std::path::Path::new("/sys/fs/cgroup/pids");
    if !pids.join("tasks").exists() {
        // A cgroup v2 host: doctor has no v1 join to time (its unit tests cover that).
        eprintln!("no v1 pids hierarchy here: nothing to probe");
        return;
    }
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(["doctor", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let doctor_pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json["cgroup_join_us"].as_u64().is_some(),
        "root on a v1 host: the join is timed: {}",
        json["cgroup_join_us"]
    );
    let join = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["id"] == "cgroup.join")
        .expect("a cgroup.join check");
    assert!(
        join["detail"]
            .as_str()
            .unwrap()
            .contains("joining a new cgroup")
    );
    // The throwaway cgroup is named after doctor's pid, as every launcher's is.
    let ours = format!("run-{doctor_pid}-");
    let left: Vec<String> = std::fs::read_dir(pids.join("versus"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&ours))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "doctor left its probe cgroup: {left:?}");
}

#[test]
fn doctor_prints_every_check_and_json_parses() {
    // The list of checks comes from the one place that owns it: the
    // library's diagnosis of this same machine.
    let expected =
        bench::doctor::diagnose(&bench::doctor::HostView::real(), &bench::doctor::RealProbes);
    assert!(!expected.checks.is_empty());

    // The table shows every check's title, in the library's order (wide
    // enough that no title is wrapped).
    let output = versus()
        .arg("doctor")
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut from = 0;
    for check in &expected.checks {
        let at = text[from..].find(&check.title).unwrap_or_else(|| {
            panic!(
                "check {} ({:?}) is missing or out of order:\n{text}",
                check.id, check.title
            )
        });
        from += at + check.title.len();
    }

    // The JSON lists the same checks, by id, in the same order.
    let output = versus().args(["doctor", "--json"]).output().unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .expect("a checks array")
        .iter()
        .map(|check| check["id"].as_str().expect("every check has an id"))
        .collect();
    let expected_ids: Vec<&str> = expected.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, expected_ids);
    if std::env::var("VERSUS_REQUIRE_KVM").as_deref() == Ok("1") {
        let text = json.to_string();
        assert!(
            text.contains("api_version"),
            "CI promises a usable /dev/kvm: {text}"
        );
    }
}

/// The fresh-process runner of `versus compare`: one JSON request on stdin,
/// one JSON report on stdout, built with the library's own types.
#[test]
fn a_run_request_on_stdin_prints_its_report_and_stays_out_of_help() {
    use bench::request::{BackendSettings, RunRequest, SUBCOMMAND};
    let request = RunRequest {
        backend: BackendSettings::Host,
        workload: None,
        argv: vec!["getpid".into(), "100".into()],
        timeout: Some(std::time::Duration::from_secs(60)),
    };
    let output = versus()
        .arg(SUBCOMMAND)
        .write_stdin(serde_json::to_vec(&request).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.backend, "host");
    assert_eq!(report.argv, ["getpid", "100"]);

    // A request is checked as the flags are: an unknown task is refused.
    let bad = RunRequest {
        argv: vec!["no-such-task".into()],
        ..request
    };
    versus()
        .arg(SUBCOMMAND)
        .write_stdin(serde_json::to_vec(&bad).unwrap())
        .assert()
        .failure()
        .stderr(predicate::str::contains("no-such-task"));

    versus()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains(SUBCOMMAND).not());
}

#[test]
fn options_before_the_task_are_parsed_as_options() {
    for (line, tip) in [
        (
            "container run --memroy 64M -- startup",
            "tip: a similar argument exists: '--memory'",
        ),
        (
            "vm run --vcpu 2 -- startup",
            "tip: a similar argument exists: '--vcpus'",
        ),
        ("host run -x -- startup", "unexpected argument '-x' found"),
        (
            "host run --jsn getpid 10",
            "a similar argument exists: '--json'",
        ),
    ] {
        versus()
            .args(line.split_whitespace())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(tip))
            .stderr(predicate::str::contains("unknown task").not());
    }
}

#[test]
fn words_after_the_task_belong_to_the_task() {
    // With or without `--`, `-5` is getpid's argument, and getpid's own
    // check names it.
    for line in ["host run -- getpid -5", "host run getpid -5"] {
        versus()
            .args(line.split_whitespace())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("getpid: N must be an integer"))
            .stderr(predicate::str::contains("got '-5'"));
    }
    // An option after the task is the task's too, not versus' `--json`.
    versus()
        .args(["host", "run", "getpid", "--json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("got '--json'"));
}

#[test]
fn every_subcommand_help_has_examples() {
    let subcommands: &[&[&str]] = &[
        &[],
        &["compare"],
        &["doctor"],
        &["host"],
        &["host", "run"],
        &["container"],
        &["container", "run"],
        &["vm"],
        &["vm", "run"],
    ];
    for subcommand in subcommands {
        for help in ["-h", "--help"] {
            let mut expected = format!("Examples:\n  versus {}", subcommand.join(" "));
            if subcommand.is_empty() {
                expected.pop();
            }
            versus()
                .args(*subcommand)
                .arg(help)
                .assert()
                .success()
                .stdout(predicate::str::contains(expected));
        }
    }
    // Where a command may stand for the task, the argument says so.
    for run in ["host", "container", "vm"] {
        versus()
            .args([run, "run", "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("[TASK|COMMAND]..."))
            .stdout(predicate::str::contains("Tasks:"));
    }
}
