//! The `park` task and the held-instance API (`HeldBackend::start`): an
//! instance started with a held stdin waits until versus finishes it, on
//! every backend, and reports how long it was parked; without a held stdin
//! (`versus … run -- park`) it ends at once.

mod common;

use std::time::Duration;

use assert_cmd::Command;
use bench::backend::container::ContainerBackend;
use bench::backend::host::HostBackend;
use bench::backend::vm::VmBackend;
use bench::backend::{HeldBackend, Launch};
use bench::report::RunReport;
use bench::workload::{TaskResult, Workload};

/// How long each test holds its instance before finishing it.
const HOLD: Duration = Duration::from_millis(300);

fn park_launch() -> Launch {
    Launch {
        workload: Workload::embedded(),
        argv: vec!["park".to_string()],
        timeout: Some(Duration::from_secs(60)),
        echo: false,
    }
}

/// The `park` result: how it was finished and how long it waited.
fn parked(report: &RunReport) -> (String, u64) {
    assert!(
        report.exit.success(),
        "park ended with {:?}; stderr: {}",
        report.exit,
        report.stderr
    );
    let result = report
        .results
        .iter()
        .find(|result| result.task_name() == "park")
        .unwrap_or_else(|| panic!("no park result in {:?}", report.results));
    let TaskResult::Other { fields, .. } = result else {
        panic!("park reported {result:?}");
    };
    let by = fields.get("by").cloned().expect("a `by` field");
    let ns = fields
        .get("parked_ns")
        .and_then(|ns| ns.parse().ok())
        .expect("a numeric `parked_ns` field");
    (by, ns)
}

/// Starts `park`, checks it is still waiting after [`HOLD`], finishes it
/// and checks its report.
fn holds_until_finished(backend: &impl HeldBackend) {
    let mut started = backend.start(&park_launch()).expect("the instance starts");
    assert!(
        started.wait_started(Duration::from_secs(60)).is_some(),
        "{}: start returned without a start marker",
        backend.name()
    );
    assert!(started.started_at() >= Some(started.launched_at()));
    std::thread::sleep(HOLD);
    assert!(
        started.is_running(),
        "{}: park ended before it was told to finish",
        backend.name()
    );
    started.finish();
    let report = started.wait().expect("the instance's report");
    let (by, parked_ns) = parked(&report);
    assert_eq!(by, "eof", "{}: finished by closing stdin", backend.name());
    assert!(
        parked_ns > 0,
        "{}: park reports the time it waited",
        backend.name()
    );
    assert!(
        report.startup_ns.is_some(),
        "{}: startup recorded",
        backend.name()
    );
}

#[test]
fn a_parked_host_process_waits_until_finished() {
    holds_until_finished(&HostBackend);
}

#[testkit::needs(root)]
#[test]
fn a_parked_container_waits_until_finished() {
    if !common::require_root("a_parked_container_waits_until_finished") {
        return;
    }
    holds_until_finished(&ContainerBackend::new());
}

#[testkit::needs(kvm)]
#[test]
fn a_parked_vm_waits_until_finished() {
    if !common::require_kvm("a_parked_vm_waits_until_finished") {
        return;
    }
    holds_until_finished(&VmBackend::new());
}

#[test]
fn several_instances_start_from_worker_threads_and_all_finish() {
    let instances: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut started = HostBackend.start(&park_launch()).expect("starts");
                    assert!(started.wait_started(Duration::from_secs(60)).is_some());
                    started
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("the worker"))
            .collect()
    });
    assert!(instances.iter().all(|started| started.is_running()));
    for started in instances {
        let (by, _) = parked(&started.wait().expect("a report"));
        assert_eq!(by, "eof");
    }
}

/// `versus BACKEND run -- park` with nothing held: stdin is /dev/null (the
/// VM: no input), end of file at once, status 0.
fn run_ends_at_once(backend: &str) {
    let output = Command::cargo_bin("versus")
        .expect("the versus binary")
        .args([backend, "run", "--json", "--timeout", "60s", "--", "park"])
        .output()
        .expect("versus runs");
    assert!(
        output.status.success(),
        "versus {backend} run -- park: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(parked(&report).0, "eof");
}

#[test]
fn park_without_held_stdin_ends_at_once_on_the_host() {
    run_ends_at_once("host");
}

#[testkit::needs(root)]
#[test]
fn park_without_held_stdin_ends_at_once_in_a_container() {
    if !common::require_root("park_without_held_stdin_ends_at_once_in_a_container") {
        return;
    }
    run_ends_at_once("container");
}

#[testkit::needs(kvm)]
#[test]
fn park_without_held_stdin_ends_at_once_in_a_vm() {
    if !common::require_kvm("park_without_held_stdin_ends_at_once_in_a_vm") {
        return;
    }
    run_ends_at_once("vm");
}

/// A `finish` line ends `park` before end of file; other lines do not.
#[test]
fn a_finish_line_ends_park() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("versus-workload");
    std::fs::write(&path, Workload::embedded().bytes()).expect("the workload written");
    let mut permissions = std::fs::metadata(&path).expect("metadata").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).expect("made executable");
    let output = Command::new(&path)
        .arg("park")
        .write_stdin("finished\nfinis\nfinish\nnot read\n")
        .output()
        .expect("the workload runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("@versus task=park ") && line.ends_with(" by=finish")),
        "{stdout}"
    );
}

/// The VM's stop flag ends a wait on stdin: a parked VM nobody finishes
/// stops at its timeout, reported as such.
#[testkit::needs(kvm)]
#[test]
fn a_parked_vm_stops_at_its_timeout() {
    if !common::require_kvm("a_parked_vm_stops_at_its_timeout") {
        return;
    }
    let launch = Launch {
        timeout: Some(Duration::from_millis(500)),
        ..park_launch()
    };
    let mut started = VmBackend::new().start(&launch).expect("the VM starts");
    assert!(started.wait_started(Duration::from_secs(60)).is_some());
    // Not finished: the instance is still held while the run ends.
    let run = std::thread::spawn(move || {
        let report = loop {
            if !started.is_running() {
                break started.wait();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        report.expect("a report")
    });
    let report = run.join().expect("the waiting thread");
    assert!(
        matches!(report.exit, bench::report::ExitOutcome::TimedOut { .. }),
        "{:?}",
        report.exit
    );
}
