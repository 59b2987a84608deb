//! `versus vm run --linux-kernel PATH`, as a user meets it: its flag rules,
//! a file that is not a kernel, and a hand-made 64-bit "kernel" that prints
//! Linux's last boot line on the serial console and resets — so the
//! milestone report and the exit status are checked through the real binary
//! in well under a second.

mod common;

use common::versus;

use predicates::str::contains;
use testkit::guest::{RESET_THROUGH_I8042, linux_elf, prints_then};

#[test]
fn cmdline_needs_linux_and_linux_refuses_the_tiny_kernels_flags() {
    versus()
        .args(["vm", "run", "--cmdline", "quiet", "getpid", "1"])
        .assert()
        .code(1)
        .stderr(contains("it needs --linux"));
    versus()
        .args([
            "vm",
            "run",
            "--linux",
            "--kernel",
            "/nonexistent",
            "getpid",
            "1",
        ])
        .assert()
        .failure()
        .stderr(contains("cannot be used with"));
    // The user's initramfs brings its own /init: a task beside it is refused
    // before anything is read.
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinux");
    std::fs::write(&kernel, linux_elf(&prints_then("x\n", RESET_THROUGH_I8042))).unwrap();
    versus()
        .args(["vm", "run", "--initrd"])
        .arg(dir.path())
        .arg("--linux-kernel")
        .arg(&kernel)
        .args(["getpid", "1"])
        .assert()
        .code(1)
        .stderr(contains("give one or the other"));
    // A word Linux would split cannot reach /init.
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .args(["write", "1", "two words"])
        .assert()
        .code(1)
        .stderr(contains("cannot reach /init"));
}

#[test]
fn a_file_that_is_not_a_kernel_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"just some text, not a kernel").unwrap();
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains("neither an ELF vmlinux nor a bzImage"));
    // Not read at all: a device is no kernel file.
    versus()
        .args(["vm", "run", "--linux-kernel", "/dev/zero"])
        .assert()
        .code(1)
        .stderr(contains("not a regular file"));
    versus()
        .args(["vm", "run", "--linux-kernel", "/nonexistent/vmlinuz"])
        .assert()
        .code(1)
        .stderr(contains(
            "cannot read the Linux kernel /nonexistent/vmlinuz",
        ));
}

#[testkit::needs(kvm)]
#[test]
fn a_kernel_that_reaches_run_init_ends_with_status_0_and_its_milestones() {
    if !common::require_kvm("a_kernel_that_reaches_run_init_ends_with_status_0_and_its_milestones")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vmlinux");
    let text = "[    0.000000] Linux version 0.0-hand-made\n[    1.000000] Memory: 1K/2K available\n[    2.000000] Run /init as init process\n";
    std::fs::write(&path, linux_elf(&prints_then(text, RESET_THROUGH_I8042))).unwrap();
    let out = versus()
        .args(["vm", "run", "--timeout", "60s", "--linux-kernel"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The console live, then the report.
    assert!(
        stdout.starts_with("[    0.000000] Linux version 0.0-hand-made\n"),
        "{stdout}"
    );
    // On a software backend versus stops at "Run /init" (user space could
    // not make a system call there); elsewhere the kernel's reset ends it.
    let kvm = hypervisor::kvm::open().expect("/dev/kvm opens");
    let ended = if hypervisor::kvm::host_info(&kvm).backend_kind.is_software() {
        "ended:        the boot reached \"Run /init as init process\""
    } else {
        "ended:        the guest rebooted (i8042 reset)"
    };
    assert!(stdout.contains(ended), "{stdout}");
    assert!(stdout.contains("guest memory: "), "{stdout}");
    for m in [
        "first console line",
        "\"Memory:\"",
        "\"Run /init as init process\"",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(m))
            .unwrap_or_default();
        assert!(line.ends_with(" s"), "{m} has a time: {line:?}\n{stdout}");
    }
    assert!(
        stdout.contains("\"smp: Brought up\"              not reached"),
        "{stdout}"
    );
    assert!(stdout.contains("io_out 0x3f8"), "{stdout}");
}

#[testkit::needs(kvm)]
#[test]
fn json_gives_the_common_report_with_the_boot_figures_and_no_console_on_stdout() {
    let test = "json_gives_the_common_report_with_the_boot_figures_and_no_console_on_stdout";
    if !common::require_kvm(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vmlinux");
    let text =
        "[    0.000000] Linux version 0.0-hand-made\n[    2.000000] Run /init as init process\n";
    let kernel = linux_elf(&prints_then(text, RESET_THROUGH_I8042));
    std::fs::write(&path, &kernel).unwrap();
    let out = versus()
        .args(["vm", "run", "--json", "--timeout", "60s", "--linux-kernel"])
        .arg(&path)
        .args(["--", "startup"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // Nothing but the report on stdout: the console is not echoed.
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert_eq!(report["backend"], "vm (Linux)");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["VMM set-up", "boot→/init", "run", "teardown"]);
    assert!(report["startup_ns"].as_u64().unwrap() > 0, "{report}");
    let memory = &report["memory"];
    assert!(memory["guest_touched_bytes"].as_u64().unwrap() > 0);
    assert!(memory["workload_peak_rss_bytes"].is_null());
    let linux = &report["linux"];
    // Kernel + initramfs, as the tiny VM's image is kernel + workload.
    assert_eq!(linux["kernel_bytes"].as_u64(), Some(kernel.len() as u64));
    assert_eq!(
        memory["image_bytes"].as_u64(),
        Some(kernel.len() as u64 + linux["initramfs_bytes"].as_u64().unwrap())
    );
    assert_eq!(linux["exits"][0]["reason"], "io_out 0x3f8");
    assert_eq!(linux["exits"][0]["count"].as_u64(), Some(text.len() as u64));
    let not_measured: Vec<&str> = linux["not_measured"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap())
        .collect();
    assert!(not_measured.contains(&"results"), "{not_measured:?}");
    // On a software backend versus stops at "Run /init"; elsewhere the
    // hand-made kernel's reset ends the run.
    let kvm = hypervisor::kvm::open().expect("/dev/kvm opens");
    let expected = if hypervisor::kvm::host_info(&kvm).backend_kind.is_software() {
        "stopped_at_init"
    } else {
        "vm_failed"
    };
    assert_eq!(report["exit"]["kind"], expected, "{report}");
}

/// Skips (with the reason) when the minimal kernel is not built.
fn minimal_kernel_built(test: &str) -> bool {
    testkit::require_linux_guest(
        test,
        std::path::Path::new(hypervisor::linux::MINIMAL_KERNEL_PATH),
    )
}

#[testkit::needs(kvm)]
#[test]
#[ignore = "boots the minimal Linux kernel (make test-linux-guest)"]
fn the_minimal_kernel_json_report_has_its_startup_and_memory() {
    let test = "the_minimal_kernel_json_report_has_its_startup_and_memory";
    if !common::require_kvm(test) || !minimal_kernel_built(test) {
        return;
    }
    let out = versus()
        .args([
            "vm",
            "run",
            "--linux",
            "--json",
            "--timeout",
            "30m",
            "--",
            "startup",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert_eq!(report["backend"], "vm (Linux)");
    let startup = report["startup_ns"].as_u64().expect("launch → Run /init");
    let run_init = report["linux"]["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Run /init as init process")
        .expect("the milestone");
    assert_eq!(run_init["since_launch_ns"].as_u64(), Some(startup));
    // A real kernel touches megabytes, and its VMM overhead is measured.
    assert!(report["memory"]["guest_touched_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(
        report["memory"]["vmm_overhead_rss_bytes"]
            .as_u64()
            .is_some()
    );
}

#[testkit::needs(kvm)]
#[test]
#[ignore = "boots the minimal Linux kernel (make test-linux-guest)"]
fn the_minimal_kernel_in_compare_gives_vm_linux_startup_and_memory() {
    let test = "the_minimal_kernel_in_compare_gives_vm_linux_startup_and_memory";
    if !common::require_kvm(test) || !minimal_kernel_built(test) {
        return;
    }
    let out = versus()
        .args([
            "compare",
            "--linux",
            "--linux-runs",
            "1",
            "--only",
            "startup,memory",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let c: bench::compare::Comparison = serde_json::from_str(&stdout).expect("the comparison");
    let linux = bench::backend::linux::LABEL;
    for (section, figure) in [
        (
            bench::compare::Section::Startup,
            bench::compare::model::figure::STARTUP,
        ),
        (
            bench::compare::Section::Memory,
            bench::compare::model::figure::GUEST_TOUCHED,
        ),
    ] {
        let series = c
            .series
            .iter()
            .find(|s| s.section == section && s.subject == linux && s.figure == figure)
            .unwrap_or_else(|| panic!("no {figure} for {linux}: {stdout}"));
        assert!(series.failures.is_empty(), "{:?}", series.failures);
        assert_eq!(series.samples.len(), 1, "{stdout}");
    }
    assert_eq!(c.linux.as_ref().map(|l| l.runs), Some(1));
}

#[testkit::needs(kvm)]
#[test]
#[ignore = "boots the minimal kernel three times in versus compare: about a minute on a lightly loaded software backend (make test-linux-guest)"]
fn the_minimal_kernel_without_an_init_panics_and_versus_ends_with_status_1() {
    let test = "the_minimal_kernel_without_an_init_panics_and_versus_ends_with_status_1";
    if !common::require_kvm(test) {
        return;
    }
    if !minimal_kernel_built(test) {
        return;
    }
    // No task, so no initramfs: the kernel finds no root filesystem to
    // mount and panics.
    let out = versus()
        .args(["vm", "run", "--linux", "--mem", "128M", "--timeout", "30m"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ended:        the kernel panicked"),
        "{stdout}"
    );
    // The panic's own line, in the report's last console lines.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("  | ") && l.contains("Kernel panic - not syncing")),
        "{stdout}"
    );
}

/// The workload's start record and one result, as `versus host run --
/// startup` has the embedded workload print them.
const WORKLOAD_LINES: &str =
    "@versus start task=startup pid=1 mono_ns=2500000000\n@versus task=startup\n";

#[testkit::needs(kvm)]
#[test]
fn an_init_that_ran_gives_its_start_and_results_and_startup_at_the_start_line() {
    let test = "an_init_that_ran_gives_its_start_and_results_and_startup_at_the_start_line";
    if !common::require_kvm(test) {
        return;
    }
    // On a software backend versus ends the run at "Run /init" (user space
    // cannot make system calls there), so this kernel prints that line only
    // where /init would run: the workload's lines and the kernel's
    // "Attempted to kill init!" are read on either backend.
    let kvm = hypervisor::kvm::open().expect("/dev/kvm opens");
    let software = hypervisor::kvm::host_info(&kvm).backend_kind.is_software();
    let run_init = if software {
        ""
    } else {
        "[    2.000000] Run /init as init process\n"
    };
    let text = format!(
        "[    0.000000] Linux version 0.0-hand-made\n{run_init}{WORKLOAD_LINES}[    3.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vmlinux");
    std::fs::write(&path, linux_elf(&prints_then(&text, RESET_THROUGH_I8042))).unwrap();
    let out = versus()
        .args(["vm", "run", "--json", "--timeout", "60s", "--linux-kernel"])
        .arg(&path)
        .args(["--", "startup"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert_eq!(report["start"]["task"], "startup", "{report}");
    assert_eq!(report["start"]["pid"].as_u64(), Some(1));
    assert_eq!(report["results"][0]["task"], "startup", "{report}");
    assert_eq!(report["exit"]["kind"], "exited", "{report}");
    assert_eq!(report["exit"]["code"].as_i64(), Some(0), "{report}");
    // Startup is launch → the start line: after every boot line before it.
    let startup = report["startup_ns"].as_u64().expect("a startup");
    let linux = &report["linux"];
    let milestone = |name: &str| {
        linux["milestones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["since_launch_ns"].as_u64())
    };
    let before = milestone("Run /init as init process")
        .or(milestone("first console line"))
        .expect("the boot's lines");
    assert!(
        startup > before,
        "startup {startup} ns, boot line at {before} ns"
    );
    let not_measured: Vec<&str> = linux["not_measured"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap())
        .collect();
    for field in ["start", "results", "startup_ns"] {
        assert!(!not_measured.contains(&field), "{not_measured:?}");
    }

    // The text report shows the results as every `run` does.
    let text_out = versus()
        .args(["vm", "run", "--timeout", "60s", "--linux-kernel"])
        .arg(&path)
        .args(["--", "startup"])
        .output()
        .unwrap();
    let text_stdout = String::from_utf8_lossy(&text_out.stdout);
    assert_eq!(text_out.status.code(), Some(0), "{text_stdout}");
    let results = text_stdout
        .split_once("workload results:")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no results table: {text_stdout}"));
    assert!(results.contains("startup"), "{text_stdout}");
}
