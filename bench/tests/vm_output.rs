//! `versus vm run` shows a program's own output and ending as the host
//! does: stdout and stderr printed live and apart, before the tables; kept
//! in the JSON report; a fault in the guest ends the run as the same signal
//! a host process dies of.

mod common;

use common::versus;

use std::path::{Path, PathBuf};

use bench::report::{ExitOutcome, RunReport};

/// What the test program writes to stdout (text nothing else prints).
const OUT: &str = "to-stdout-from-the-guest";
/// What it writes to stderr.
const ERR: &str = "to-stderr-from-the-guest";

/// Builds `source` with `cc -static` in `dir`; `None` (skip, printed) where
/// no static C toolchain is installed — outside CI, where it must work.
fn build_c(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    let file = dir.join(format!("{name}.c"));
    std::fs::write(&file, source).unwrap();
    let binary = dir.join(name);
    let built = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&binary)
        .arg(&file)
        .status();
    match built {
        Ok(status) if status.success() => Some(binary),
        other => {
            assert!(
                std::env::var("CI").is_err(),
                "cc -static must work in CI: {other:?}"
            );
            eprintln!("skipped: cannot build a static C program here ({other:?})");
            None
        }
    }
}

/// A program that writes [`OUT`] to stdout and [`ERR`] to stderr, then
/// exits with status 3.
fn out_err_program(dir: &Path) -> Option<PathBuf> {
    let source = format!(
        "#include <string.h>\n#include <unistd.h>\n\
         static void say(int fd, const char *s) {{ write(fd, s, strlen(s)); }}\n\
         int main(void) {{ say(1, \"{OUT}\\n\"); say(2, \"{ERR}\\n\"); return 3; }}\n"
    );
    build_c(dir, "out_err", &source)
}

/// Runs `versus BACKEND run --json --workload PROGRAM -- x` and returns the
/// report (all of stdout must be the JSON) and the process status.
fn json_run(backend: &str, program: &Path) -> (RunReport, Option<i32>) {
    let output = versus()
        .args([backend, "run", "--json", "--timeout", "120s", "--workload"])
        .arg(program)
        .args(["--", "x"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not one JSON report ({err}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code())
}

#[testkit::needs(kvm)]
#[test]
fn the_programs_stdout_and_stderr_are_printed_live_and_apart() {
    if !common::require_kvm("the_programs_stdout_and_stderr_are_printed_live_and_apart") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = out_err_program(dir.path()) else {
        return;
    };
    let output = versus()
        .args(["vm", "run", "--timeout", "120s", "--workload"])
        .arg(&program)
        .args(["--", "x"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stdout}\n{stderr}");
    // Live: the program's line comes first, the tables after it (the
    // report's title line starts them).
    let (live, tables) = stdout
        .split_once("vm · x")
        .unwrap_or_else(|| panic!("the tables follow: {stdout}"));
    assert_eq!(live, format!("{OUT}\n"));
    assert!(tables.contains("exited with status 3"), "{stdout}");
    assert!(stderr.contains(&format!("{ERR}\n")), "{stderr}");
    assert!(!stderr.contains(OUT), "stdout stays off stderr: {stderr}");
}

#[testkit::needs(kvm)]
#[test]
fn the_json_report_keeps_both_streams_and_nothing_else_is_printed() {
    if !common::require_kvm("the_json_report_keeps_both_streams_and_nothing_else_is_printed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = out_err_program(dir.path()) else {
        return;
    };
    let output = versus()
        .args(["vm", "run", "--json", "--timeout", "120s", "--workload"])
        .arg(&program)
        .args(["--", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(ERR),
        "with --json the program's stderr is in the report, not printed"
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).expect("stdout is the JSON");
    assert_eq!(report.exit, ExitOutcome::Exited { code: 3 });
    assert_eq!(report.stdout, format!("{OUT}\n"));
    assert_eq!(report.stderr, format!("{ERR}\n"));
    assert!(!report.output_echoed);
}

#[testkit::needs(kvm)]
#[test]
fn every_vcpus_lines_are_printed_whole() {
    if !common::require_kvm("every_vcpus_lines_are_printed_whole") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = out_err_program(dir.path()) else {
        return;
    };
    let output = versus()
        .args([
            "vm",
            "run",
            "--vcpus",
            "2",
            "--timeout",
            "120s",
            "--workload",
        ])
        .arg(&program)
        .args(["--", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let live: Vec<&str> = stdout.lines().take(2).collect();
    assert_eq!(live, [OUT, OUT], "{stdout}");
    assert_eq!(
        stderr.lines().filter(|line| *line == ERR).count(),
        2,
        "{stderr}"
    );
}

#[testkit::needs(kvm)]
#[test]
fn protocol_records_are_not_printed() {
    if !common::require_kvm("protocol_records_are_not_printed") {
        return;
    }
    let output = versus()
        .args(["vm", "run", "--timeout", "120s", "--", "getpid", "10"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("@versus") && !stdout.contains("@kernel"),
        "{stdout}"
    );
    assert!(stdout.contains("getpid"), "the tables follow: {stdout}");
}

/// A fault in the guest ends the run exactly as the host backend reports
/// the same program: kind, number and name, and the shell status.
fn same_signal_as_on_the_host(name: &str, source: &str, signal: i32, signal_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = build_c(dir.path(), name, source) else {
        return;
    };
    let (vm, vm_status) = json_run("vm", &program);
    let (host, host_status) = json_run("host", &program);
    let expected = ExitOutcome::Signaled {
        signal,
        name: signal_name.into(),
    };
    assert_eq!(host.exit, expected, "the host backend: {:?}", host.exit);
    assert_eq!(
        serde_json::to_value(&vm.exit).unwrap(),
        serde_json::to_value(&host.exit).unwrap()
    );
    assert_eq!(vm_status, Some(128 + signal));
    assert_eq!(vm_status, host_status);
    versus()
        .args(["vm", "run", "--timeout", "120s", "--workload"])
        .arg(&program)
        .args(["--", "x"])
        .assert()
        .code(128 + signal)
        .stdout(predicates::str::contains(format!(
            "killed by {signal_name}"
        )));
}

#[testkit::needs(kvm)]
#[test]
fn a_null_dereference_is_sigsegv_as_on_the_host() {
    if !common::require_kvm("a_null_dereference_is_sigsegv_as_on_the_host") {
        return;
    }
    same_signal_as_on_the_host(
        "null",
        "int main(void) { volatile int *p = 0; return *p; }\n",
        libc::SIGSEGV,
        "SIGSEGV",
    );
}

#[testkit::needs(kvm)]
#[test]
fn an_invalid_instruction_is_sigill_as_on_the_host() {
    if !common::require_kvm("an_invalid_instruction_is_sigill_as_on_the_host") {
        return;
    }
    same_signal_as_on_the_host(
        "ud2",
        "int main(void) { __asm__ volatile(\"ud2\"); return 0; }\n",
        libc::SIGILL,
        "SIGILL",
    );
}

#[testkit::needs(kvm)]
#[test]
fn a_program_that_exits_139_is_not_a_signal() {
    if !common::require_kvm("a_program_that_exits_139_is_not_a_signal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = build_c(dir.path(), "exit139", "int main(void) { return 139; }\n") else {
        return;
    };
    let (report, status) = json_run("vm", &program);
    assert_eq!(report.exit, ExitOutcome::Exited { code: 139 });
    assert_eq!(status, Some(139));
}
