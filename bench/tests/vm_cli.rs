//! `versus vm run` as a user meets it: the workload on the tiny kernel.

mod common;

use common::versus;

use bench::report::{ExitOutcome, RunReport};
use bench::workload::TaskResult;
use predicates::prelude::*;

/// Runs `versus vm run --json ARGS` and parses the report.
fn vm_json(args: &[&str]) -> RunReport {
    let output = versus()
        .args(["vm", "run", "--json", "--timeout", "120s"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "versus vm run {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Total exits the guest caused (every vCPU, every reason).
fn total_exits(report: &RunReport) -> u64 {
    report
        .vm
        .as_ref()
        .expect("a VM report")
        .exits
        .iter()
        .map(|row| row.count)
        .sum()
}

#[testkit::needs(kvm)]
#[test]
fn every_vcpu_reports_its_own_result() {
    if !common::require_kvm("every_vcpu_reports_its_own_result") {
        return;
    }
    let report = vm_json(&["--vcpus", "2", "--", "ids"]);
    let vm = report.vm.as_ref().unwrap();
    assert_eq!(vm.vcpus, 2);
    let vcpus: Vec<u32> = vm.instances.iter().map(|i| i.vcpu).collect();
    assert_eq!(vcpus, [0, 1]);
    for instance in &vm.instances {
        assert!(
            instance.startup_ns.is_some(),
            "vCPU {} marker",
            instance.vcpu
        );
        assert!(
            matches!(instance.results.as_slice(), [TaskResult::Ids { .. }]),
            "vCPU {}: {:?}",
            instance.vcpu,
            instance.results
        );
    }
    assert_eq!(vm.regions.len(), 2, "the default layout has two regions");
    assert_eq!(
        vm.regions[1].base,
        4 << 30,
        "the high region starts at 4 GiB"
    );
}

#[testkit::needs(kvm)]
#[test]
fn on_bsp_runs_one_instance() {
    if !common::require_kvm("on_bsp_runs_one_instance") {
        return;
    }
    let report = vm_json(&["--vcpus", "2", "--on", "bsp", "--", "startup"]);
    assert_eq!(report.results, [TaskResult::Startup]);
    assert_eq!(report.vm.unwrap().instances.len(), 1);
}

#[testkit::needs(kvm)]
#[test]
fn uname_names_the_guest_kernel_not_the_hosts() {
    if !common::require_kvm("uname_names_the_guest_kernel_not_the_hosts") {
        return;
    }
    let report = vm_json(&["--", "uname"]);
    let TaskResult::Uname {
        sysname, release, ..
    } = &report.results[0]
    else {
        panic!("not uname: {:?}", report.results);
    };
    let (host_sysname, host_release, _) = common::host_uname();
    assert_ne!(sysname, &host_sysname);
    assert_ne!(release, &host_release);
}

#[testkit::needs(kvm)]
#[test]
fn getpid_in_the_guest_causes_no_vm_exits() {
    if !common::require_kvm("getpid_in_the_guest_causes_no_vm_exits") {
        return;
    }
    // Same run, with 20 and with 220 system calls: the extra 200 calls
    // stay inside the guest kernel and cost no exits at all.
    let few = vm_json(&["--", "getpid", "20"]);
    let many = vm_json(&["--", "getpid", "220"]);
    assert_eq!(total_exits(&few), total_exits(&many));
    let TaskResult::Getpid { iters, .. } = many.results[0] else {
        panic!("not getpid");
    };
    assert_eq!(iters, 220);
}

#[testkit::needs(kvm)]
#[test]
fn compute_gives_the_same_answer_as_on_the_host() {
    if !common::require_kvm("compute_gives_the_same_answer_as_on_the_host") {
        return;
    }
    let report = vm_json(&["--", "compute", "5000"]);
    let TaskResult::Compute { checksum, .. } = report.results[0] else {
        panic!("not compute");
    };
    assert_eq!(checksum, common::expected_checksum(5000));
}

#[testkit::needs(kvm)]
#[test]
fn a_guest_that_never_finishes_is_stopped_by_the_timeout() {
    if !common::require_kvm("a_guest_that_never_finishes_is_stopped_by_the_timeout") {
        return;
    }
    let output = versus()
        .args([
            "vm",
            "run",
            "--json",
            "--timeout",
            "1s",
            "--",
            "getpid",
            "4294967295",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124), "{output:?}");
    let report: RunReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report.exit,
        ExitOutcome::TimedOut {
            after_ns: 1_000_000_000
        }
    );
}

#[test]
fn bad_vm_options_are_named() {
    versus()
        .args(["vm", "run", "--vcpus", "0", "--", "startup"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--vcpus"));
    versus()
        .args(["vm", "run", "--mem", "lots", "--", "startup"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--mem"));
    versus()
        .args(["vm", "run", "--mem-region", "4G", "--", "startup"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ADDR:SIZE"));
    versus()
        .args([
            "vm",
            "run",
            "--kernel",
            "/nonexistent/kernel",
            "--",
            "startup",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/kernel"));
}

#[testkit::needs(kvm)]
#[test]
fn bad_layouts_and_images_are_refused_by_the_vmm() {
    if !common::require_kvm("bad_layouts_and_images_are_refused_by_the_vmm") {
        return;
    }
    versus()
        .args([
            "vm",
            "run",
            "--mem-region",
            "0:256M",
            "--mem-region",
            "0xC0000000:256M",
        ])
        .args(["--", "startup"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("MMIO hole"));
    let dir = tempfile::tempdir().unwrap();
    let not_elf = dir.path().join("kernel.txt");
    std::fs::write(&not_elf, "not a kernel").unwrap();
    versus()
        .args(["vm", "run", "--kernel"])
        .arg(&not_elf)
        .args(["--", "startup"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("ELF"));
    versus()
        .args(["vm", "run", "--vcpus", "100000", "--", "startup"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("vCPU"));
}
