//! The whole `versus … run` process is accounted for: the phases before the
//! launch (process start → main, arguments, prepare image) and the run, in
//! `--json`, as one line of the run report, and with `--trace` on stderr
//! (printing the report included).

mod common;

use std::time::Instant;

use assert_cmd::Command;
use bench::report::RunReport;

/// The process phases in the order they happen.
const PHASES: [&str; 4] = ["process start → main", "arguments", "prepare image", "run"];

/// Runs `versus BACKEND run --json -- startup`; returns the report and the
/// wall time the test saw the command take.
fn json_run(backend: &str) -> (RunReport, u64) {
    let began = Instant::now();
    let output = Command::cargo_bin("versus")
        .expect("the versus binary")
        .args([
            backend,
            "run",
            "--json",
            "--timeout",
            "60s",
            "--",
            "startup",
        ])
        .output()
        .expect("versus runs");
    let wall_ns = began.elapsed().as_nanos() as u64;
    assert!(
        output.status.success(),
        "versus {backend} run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_slice(&output.stdout).expect("a JSON report");
    (report, wall_ns)
}

/// The phases are all there, in order; the run phase holds the backend's
/// own phases (they are measured inside it); the whole fits in the time
/// the test saw the command take.
fn accounts_for_the_process(backend: &str) {
    let (report, wall_ns) = json_run(backend);
    let process = report.process.as_ref().expect("process phases in --json");
    let names: Vec<&str> = process.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, PHASES, "{backend}");
    let run = process.phases[3].ns;
    let backend_phases: u64 = report.phases.iter().map(|p| p.ns).sum();
    assert!(
        backend_phases <= run,
        "{backend}: the backend's phases ({backend_phases} ns) lie inside the run ({run} ns)"
    );
    assert!(
        process.total_ns() <= wall_ns,
        "{backend}: {} ns accounted in a process the test saw take {wall_ns} ns",
        process.total_ns()
    );
    let by_clock = process
        .start_to_main_by_clock_ns
        .expect("/proc/self/stat gives the process' start");
    assert!(process.start_resolution_ns > 0);
    // The kernel records the start in clock ticks (10 ms): the reading can
    // be late by up to one tick, more than a quick host run takes.
    assert!(
        by_clock <= wall_ns + process.start_resolution_ns,
        "{backend}: start → main by the clock {by_clock} ns, the test saw {wall_ns} ns"
    );
}

#[test]
fn a_host_run_accounts_for_the_whole_process() {
    accounts_for_the_process("host");
}

#[testkit::needs(kvm)]
#[test]
fn a_vm_run_accounts_for_the_whole_process() {
    if !common::require_kvm("a_vm_run_accounts_for_the_whole_process") {
        return;
    }
    accounts_for_the_process("vm");
}

#[testkit::needs(root)]
#[test]
fn a_container_run_accounts_for_the_whole_process() {
    if !common::require_root("a_container_run_accounts_for_the_whole_process") {
        return;
    }
    let (report, _) = json_run("container");
    assert!(
        report
            .process
            .is_some_and(|process| process.phases.len() == PHASES.len())
    );
}

#[test]
fn the_run_report_has_a_whole_process_line() {
    Command::cargo_bin("versus")
        .expect("the versus binary")
        .args(["host", "run", "--", "startup"])
        .assert()
        .success()
        .stdout(predicates::str::contains("whole process"));
}

#[testkit::needs(kvm)]
#[test]
fn trace_shows_every_process_phase_and_the_report_on_stderr() {
    if !common::require_kvm("trace_shows_every_process_phase_and_the_report_on_stderr") {
        return;
    }
    let output = Command::cargo_bin("versus")
        .expect("the versus binary")
        .args(["vm", "run", "--trace", "--", "startup"])
        .output()
        .expect("versus runs");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for phase in PHASES.iter().chain(&["report", "whole process"]) {
        assert!(
            stderr
                .lines()
                .any(|line| line.starts_with("[process] ") && line.contains(phase)),
            "no `{phase}` line in:\n{stderr}"
        );
    }
}
