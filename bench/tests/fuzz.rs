//! The guest fuzzer (`fuzz SEED N`): N system calls with random numbers and
//! hostile arguments. In the VM the tiny kernel must answer every one with a
//! result or an errno — never panic, fault in ring 0 or hang — and the
//! workload must exit normally; in a container and on the host Linux does
//! the same, and the host is not affected.

mod common;

use bench::report::{ExitOutcome, RunReport};
use bench::workload::TaskResult;

/// Runs `versus BACKEND run --json -- fuzz SEED CALLS` and checks that every
/// call was answered and the workload exited normally.
fn fuzz(backend: &str, seed: u64, calls: u64) {
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args([backend, "run", "--json", "--timeout", "120s", "--", "fuzz"])
        .args([seed.to_string(), calls.to_string()])
        .output()
        .unwrap();
    let what = format!("{backend} fuzz {seed} {calls}");
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.exit, ExitOutcome::Exited { code: 0 }, "{what}");
    let answered: Vec<_> = report
        .results
        .iter()
        .map(|result| match result {
            TaskResult::Fuzz {
                seed: reported_seed,
                calls: made,
                succeeded,
                failed,
                enosys,
            } => {
                assert_eq!((*reported_seed, *made), (seed, calls), "{what}");
                succeeded + failed + enosys
            }
            other => panic!("{what}: unexpected result {other:?}"),
        })
        .collect();
    assert_eq!(answered, [calls], "{what}: every call answered, once");
}

#[testkit::needs(kvm)]
#[test]
fn the_tiny_kernel_answers_hostile_system_calls() {
    if !common::require_kvm("the_tiny_kernel_answers_hostile_system_calls") {
        return;
    }
    for seed in 1..=4 {
        fuzz("vm", seed, 5_000);
    }
}

#[test]
fn linux_answers_the_same_calls_on_the_host_and_in_a_container() {
    fuzz("host", 1, 20_000);
    if common::require_root("linux_answers_the_same_calls_in_a_container") {
        fuzz("container", 1, 20_000);
    }
}
