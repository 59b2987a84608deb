//! How `versus vm run --linux-kernel PATH` reports a Linux guest's failures
//! and its own end, as a user meets them: `--linux-symbols` and its errors,
//! an emulation failure named by instruction and kernel symbol (from a
//! System.map given or found beside the kernel), and a guest that halts
//! itself after the kernel's power-down line ending with status 0 — with
//! hand-made 64-bit "kernels" that take well under a second.

mod common;

use common::versus;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use testkit::guest::{linux_elf, prints_then};

/// A System.map for the hand-made kernel: its code at
/// [`testkit::guest::LINUX_ENTRY`] is
/// `tiny_start`, and an end marker bounds it.
const SYSTEM_MAP: &str = "0000000000100000 T tiny_start\n0000000000101000 T _etext\n";

#[test]
fn linux_symbols_needs_linux_and_a_file_with_symbols() {
    let dir = tempfile::tempdir().unwrap();
    versus()
        .args([
            "vm",
            "run",
            "--linux-symbols",
            "/boot/System.map",
            "--",
            "getpid",
        ])
        .assert()
        .failure()
        .stderr(contains("--linux-symbols").and(contains("needs --linux")));
    let kernel = dir.path().join("tiny.elf");
    std::fs::write(&kernel, linux_elf(&[0xf4])).unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not symbols\n").unwrap();
    // Refused before any VM exists, naming the file and what to give.
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .arg("--linux-symbols")
        .arg(&notes)
        .assert()
        .failure()
        .stderr(contains("notes.txt").and(contains("System.map")));
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .arg("--linux-symbols")
        .arg(dir.path().join("missing.map"))
        .assert()
        .failure()
        .stderr(contains("missing.map"));
}

#[testkit::needs(kvm)]
#[test]
fn an_emulation_failure_names_the_instruction_and_the_symbol_from_a_system_map() {
    if !testkit::require_kvm(
        "an_emulation_failure_names_the_instruction_and_the_symbol_from_a_system_map",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinux");
    // popcnt eax, ecx; then reset through the i8042. A software backend's
    // emulator refuses popcnt; hardware runs it and resets.
    std::fs::write(
        &kernel,
        linux_elf(&[0xf3, 0x0f, 0xb8, 0xc1, 0xb0, 0xfe, 0xe6, 0x64, 0xf4]),
    )
    .unwrap();
    let given = dir.path().join("given.map");
    std::fs::write(&given, SYSTEM_MAP).unwrap();
    let run = versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .arg("--linux-symbols")
        .arg(&given)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    if !stdout.contains("could not emulate") {
        // Hardware KVM: popcnt runs, the guest resets.
        assert!(stdout.contains("rebooted"), "{stdout}");
        return;
    }
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("KVM could not emulate `popcnt %ecx,%eax` at RIP 0x100000 (tiny_start+0x0) (bytes f3 0f b8 c1)"),
        "{stdout}"
    );
    assert!(stdout.contains("given.map (2 code symbols)"), "{stdout}");
    // Without the flag, the System.map beside the kernel is found.
    std::fs::write(dir.path().join("System.map"), SYSTEM_MAP).unwrap();
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .assert()
        .code(1)
        .stdout(contains("(tiny_start+0x0)").and(contains("System.map (2 code symbols)")));
}

#[testkit::needs(kvm)]
#[test]
fn a_guest_that_halts_after_power_down_ends_with_status_0() {
    if !testkit::require_kvm("a_guest_that_halts_after_power_down_ends_with_status_0") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("tiny.elf");
    let code = prints_then(
        "[    7.1] reboot: Power down\n",
        &[0xfa, 0xf4, 0xeb, 0xfd], // cli; hlt; jmp hlt
    );
    std::fs::write(&kernel, linux_elf(&code)).unwrap();
    versus()
        .args(["vm", "run", "--linux-kernel"])
        .arg(&kernel)
        .assert()
        .code(0)
        .stdout(contains(
            "ended:        the guest halted every vCPU after \"reboot: Power down\"",
        ));
}
