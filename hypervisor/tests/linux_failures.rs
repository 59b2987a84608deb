//! How a Linux guest's run ends when the guest stops itself or stops making
//! progress, shown with hand-made 64-bit "kernels" (ELF files with a few
//! instructions at the Linux entry) booted through the real Linux VM path:
//! a guest that prints the kernel's power-down line and halts with
//! interrupts off ends the run at once as halted; one that goes silent ends
//! as a stalled boot with its vCPUs' RIPs, not at the timeout.

use std::time::Duration;

use hypervisor::linux::run::{self, LinuxEnd, LinuxRunConfig, VcpuActivity};

/// Where the hand-made kernel is loaded and entered.
const ENTRY: u64 = 0x10_0000;
/// A timeout far beyond what these guests need: a run that reaches it has
/// missed the end the test is about.
const TIMEOUT: Duration = Duration::from_secs(600);
/// The silence after which the looping guest counts as stalled: shorter
/// than the default minute (meant for real kernels, whose quiet stretches
/// here last up to about 11 s), long enough that only the loop explains it.
const TEST_STALL_SILENCE: Duration = Duration::from_secs(5);

/// A one-segment ELF64 executable for x86-64 with `code` at [`ENTRY`].
fn elf(code: &[u8]) -> Vec<u8> {
    const EHDR: u64 = 64;
    const PHDR: u64 = 56;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\x00"); // 64-bit, little-endian, v1
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&ENTRY.to_le_bytes()); // e_entry
    f.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes());
    f.extend_from_slice(&(PHDR as u16).to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes()); // one program header
    f.extend_from_slice(&[0; 6]); // no section headers
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // R+X
    f.extend_from_slice(&(EHDR + PHDR).to_le_bytes()); // p_offset
    f.extend_from_slice(&ENTRY.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&ENTRY.to_le_bytes()); // p_paddr
    f.extend_from_slice(&(code.len() as u64).to_le_bytes());
    f.extend_from_slice(&(code.len() as u64).to_le_bytes());
    f.extend_from_slice(&0x1000u64.to_le_bytes());
    f.extend_from_slice(code);
    f
}

/// Bytes of [`prints_then`]'s code before `tail`.
const PRINT_CODE_LEN: u64 = 23;

/// 64-bit code that writes `message` to COM1 byte by byte, then runs
/// `tail` (at `ENTRY + PRINT_CODE_LEN`).
fn prints_then(message: &str, tail: &[u8]) -> Vec<u8> {
    // The message follows the 12-byte print loop and the tail.
    let displacement = 12 + tail.len() as u32;
    let mut code = vec![0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
    code.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip + message]
    code.extend_from_slice(&displacement.to_le_bytes());
    code.extend_from_slice(&[
        0x8a, 0x06, // loop: mov al, [rsi]
        0x84, 0xc0, // test al, al
        0x74, 0x06, // jz tail
        0xee, // out dx, al
        0x48, 0xff, 0xc6, // inc rsi
        0xeb, 0xf4, // jmp loop
    ]);
    assert_eq!(code.len() as u64, PRINT_CODE_LEN);
    code.extend_from_slice(tail);
    code.extend_from_slice(message.as_bytes());
    code.push(0);
    code
}

fn config(code: &[u8], vcpus: u32, stall_silence: Duration) -> LinuxRunConfig {
    LinuxRunConfig {
        kernel: elf(code),
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
    assert_eq!(vcpus[0].rip, Some(ENTRY + PRINT_CODE_LEN), "{report:#?}");
    assert_eq!(vcpus[0].activity, VcpuActivity::Running, "{report:#?}");
    assert_eq!(report.last_lines, ["booting quietly"]);
    let text = report.end.to_string();
    assert!(
        text.contains("stalled") && text.contains("no console output"),
        "{text}"
    );
}
