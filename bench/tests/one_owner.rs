//! One owner for every host fact: on this machine, `versus doctor` answers what the
//! container launcher and the VMM answer, because it asks the same functions
//! (`container::host`, `hypervisor::kvm`). Each fact is compared side by side with
//! the crate's own answer and, where a real run reports it, with that run's report.

mod common;

use common::versus;

use std::path::Path;

use bench::doctor::{self, DoctorReport, HostView, RealProbes};
use bench::report::RunReport;
use container::host::{LsmInfo, Scan, UsernsStatus};

fn doctor_here() -> DoctorReport {
    doctor::diagnose(&HostView::real(), &RealProbes)
}

fn run_json(backend: &str, args: &[&str]) -> RunReport {
    let output = versus()
        .args([backend, "run", "--json", "--timeout", "120s"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "versus {backend} run {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The LSM facts, without the caller's own label (doctor and the launcher are
/// different processes).
fn lsm_facts(l: &LsmInfo) -> LsmInfo {
    LsmInfo {
        launcher_label: None,
        ..l.clone()
    }
}

#[test]
fn doctor_answers_what_the_crates_answer() {
    let root = Path::new("/");
    let report = doctor_here();
    // Cgroup layout: the launcher's `Layout::detect` (its `HostFacts`) and the scan.
    assert_eq!(report.cgroup, Scan::detect(root));
    assert_eq!(
        report.cgroup.layout,
        container::cgroup::layout::Layout::detect(root)
    );
    // User namespaces: the function `container run` validates a rootless launch with.
    assert_eq!(report.unprivileged_userns, UsernsStatus::detect(root));
    // LSMs and seccomp.
    assert_eq!(report.lsm, LsmInfo::detect(root));
    assert_eq!(report.seccomp, container::SeccompInfo::detect(root));
    // KVM backend: the classification behind `host_info` and the compare header.
    assert_eq!(report.kvm.backend, hypervisor::kvm::detect_backend(root));
    eprintln!(
        "doctor here: cgroup {} (named: {:?}), userns {:?}, lsm {}, kvm {}",
        report.cgroup.layout.label(),
        report.cgroup.named,
        report.unprivileged_userns,
        report.lsm.summary(),
        report.kvm.backend.label()
    );
}

#[testkit::needs(kvm)]
#[test]
fn doctor_and_the_vmm_name_the_same_kvm_backend() {
    if !common::require_kvm("doctor_and_the_vmm_name_the_same_kvm_backend") {
        return;
    }
    let report = doctor_here();
    let kvm = hypervisor::kvm::open().expect("/dev/kvm opens");
    let info = hypervisor::kvm::host_info(&kvm);
    assert_eq!(info.backend_kind, report.kvm.backend);
    assert_eq!(info.backend, report.kvm.backend.label());
    assert_eq!(info.kvm_modules, report.kvm.modules);
    assert_eq!(info.host_is_vm, report.host_is_virtual_machine);
    assert_eq!(info.software_backend, !report.kvm.backend.is_hardware());
    // A real VM run reports the same backend.
    let run = run_json("vm", &["--", "uname"]);
    let vm = run.vm.as_ref().expect("a VM report");
    assert_eq!(vm.kvm_backend, report.kvm.backend.label());
    assert_eq!(vm.software_backend, !report.kvm.backend.is_hardware());
}

#[testkit::needs(root)]
#[test]
fn doctor_and_a_container_run_see_the_same_cgroups_and_lsms() {
    if !common::require_root("doctor_and_a_container_run_see_the_same_cgroups_and_lsms") {
        return;
    }
    let report = doctor_here();
    let run = run_json("container", &["--memory", "64m", "--", "ids"]);
    let c = run.container.as_ref().expect("a container report");
    let cgroup = c.cgroup.as_ref().expect("a cgroup report");
    assert_eq!(cgroup.layout, report.cgroup.layout.label());
    assert_eq!(lsm_facts(&c.lsm), lsm_facts(&report.lsm));
}
