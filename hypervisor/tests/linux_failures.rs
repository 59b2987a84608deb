//! How a Linux guest's run ends when the guest stops itself or stops making
//! progress, shown with hand-made 64-bit "kernels" (ELF files with a few
//! instructions at the Linux entry) booted through the real Linux VM path:
//! a guest that prints the kernel's power-down line and halts with
//! interrupts off ends the run at once as halted; one that goes silent ends
//! as a stalled boot with its vCPUs' RIPs, not at the timeout.

use std::time::Duration;

use hypervisor::linux::run::{self, LinuxEnd, LinuxRunConfig, VcpuActivity};
use testkit::guest::{LINUX_ENTRY, PRINT_CODE_LEN, linux_elf, prints_then};

/// A timeout far beyond what these guests need: a run that reaches it has
/// missed the end the test is about.
const TIMEOUT: Duration = Duration::from_secs(600);
/// The silence after which the looping guest counts as stalled: shorter
/// than the default minute (meant for real kernels, whose quiet stretches
/// here last up to about 11 s), long enough that only the loop explains it.
const TEST_STALL_SILENCE: Duration = Duration::from_secs(5);

fn config(code: &[u8], vcpus: u32, stall_silence: Duration) -> LinuxRunConfig {
    LinuxRunConfig {
        kernel: linux_elf(code),
        cmdline: None,
        vcpus,
        memory: 64 << 20,
        timeout: TIMEOUT,
        stall_silence,
        console_observer: None,
        stop_flag: None,
        initrd: None,
        init_args: Vec::new(),
    }
}

#[testkit::needs(kvm)]
#[test]
fn a_guest_that_powers_down_and_halts_with_interrupts_off_ends_the_run_as_halted() {
    if !testkit::require_kvm(
        "a_guest_that_powers_down_and_halts_with_interrupts_off_ends_the_run_as_halted",
    ) {
        return;
    }
    // What Linux does on `poweroff -f` without ACPI, and on `halt -f`:
    // the line, then every CPU in `cli; hlt` (the second vCPU, like an AP
    // Linux never brought up, stays waiting for its SIPI).
    let code = prints_then(
        "[    7.1] reboot: Power down\n",
        &[0xfa, 0xf4, 0xeb, 0xfd], // cli; hlt; jmp hlt
    );
    let report = run::boot(&config(&code, 2, run::STALL_SILENCE)).unwrap();
    assert_eq!(
        report.end,
        LinuxEnd::Halted {
            line: "reboot: Power down".into()
        },
        "{report:#?}"
    );
    assert_eq!(
        report.last_lines,
        ["[    7.1] reboot: Power down"],
        "{report:#?}"
    );
}

#[testkit::needs(kvm)]
#[test]
fn a_silent_guest_ends_as_a_stalled_boot_with_its_vcpus_rip() {
    if !testkit::require_kvm("a_silent_guest_ends_as_a_stalled_boot_with_its_vcpus_rip") {
        return;
    }
    // A line, then a tight loop: no console output, no exits. The run ends
    // after the stall silence of CPU time the vCPU had, not at the timeout
    // (a short one here: the default minute is for real kernels).
    let code = prints_then("booting quietly\n", &[0xeb, 0xfe]); // jmp .
    let report = run::boot(&config(&code, 1, TEST_STALL_SILENCE)).unwrap();
    let LinuxEnd::Stalled {
        silent_for,
        silent_runnable,
        vcpus,
    } = &report.end
    else {
        panic!("expected a stalled boot, got {report:#?}");
    };
    assert!(*silent_runnable >= TEST_STALL_SILENCE, "{report:#?}");
    assert!(silent_for >= silent_runnable, "{report:#?}");
    assert_eq!(vcpus.len(), 1, "{report:#?}");
    assert_eq!(
        vcpus[0].rip,
        Some(LINUX_ENTRY + PRINT_CODE_LEN),
        "{report:#?}"
    );
    assert_eq!(vcpus[0].activity, VcpuActivity::Running, "{report:#?}");
    assert_eq!(report.last_lines, ["booting quietly"]);
    let text = report.end.to_string();
    assert!(
        text.contains("stalled") && text.contains("no console output"),
        "{text}"
    );
}
