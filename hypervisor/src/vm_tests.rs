//! End-to-end tests with /dev/kvm and hand-built guests (see
//! `test_utils::Asm`). Each guest is a minimal ELF64 whose code starts at
//! [`CODE`] (≥ 1 MiB) and uses only ring-0 instructions the software KVM
//! backend can emulate — except where a test wants the failure.
//!
//! Every test returns early (after printing why) when /dev/kvm is unusable,
//! and panics instead when `VERSUS_REQUIRE_KVM=1` (CI).

use std::io::Write;
use std::time::Duration;

use versus_abi::{event, port};

use super::*;
use crate::cpu::{CR0_PE, CR0_PG, EFER_LMA};
use crate::exits::ExitKind;
use crate::test_utils::{Asm, ElfBuilder, R, require_kvm};
use crate::{Outcome, VmConfig};

/// Where the test guests' code is linked.
const CODE: u64 = 0x20_0000;
/// A data page of the test guests (zero-filled bss unless given bytes).
const DATA: u32 = 0x20_1000;
/// Test guests' shared "whose turn" counter.
const TURN: u32 = DATA;
/// Slots in the high region the guests write to: 4 GiB + 1 MiB.
const HIGH_SLOTS: u64 = (4 << 30) + 0x10_0000;
/// 64 MiB as 32 MiB at 0 + 32 MiB at 4 GiB.
const MEM: u64 = 64 << 20;

fn kernel(a: &mut Asm) -> Vec<u8> {
    ElfBuilder::new(CODE)
        .code(&a.finish())
        .data(u64::from(DATA), &[])
        .bss(0x1000)
        .build()
}

fn config(kernel: Vec<u8>) -> VmConfig {
    VmConfig::new(kernel)
        .memory_size(MEM)
        .timeout(Duration::from_secs(20))
}

/// `out` the value in eax to `p` (3 instructions).
fn out32(a: &mut Asm, p: u16, value: u32) {
    a.mov_r32_imm(R::Dx, u32::from(p)); // mov edx, port
    a.mov_r32_imm(R::Ax, value); // mov eax, value
    a.out_dx_eax(); // out dx, eax
}

/// The SMP guest: every vCPU writes the WORKLOAD_START marker, then — in
/// index order, taking turns through a shared counter — prints "cpu<i>\n"
/// on the UART and writes `0x7e57_0000 + i` into the high region and reads
/// it back. The BSP then waits for everyone, checks the boot info magic and
/// writes exit status 42 (0xbad on any mismatch); APs `hlt`.
fn smp_guest() -> Vec<u8> {
    let mut a = Asm::new(CODE);
    out32(&mut a, port::MARKER, event::WORKLOAD_START); // marker: "workload starts"
    a.label("wait_turn");
    a.mov_eax_abs(TURN); // mov eax, [TURN]
    a.cmp_eax_esi(); // cmp eax, esi        ; my turn? (esi = vCPU index)
    a.jne("wait_turn"); // jne wait_turn
    a.mov_r32_imm(R::Dx, u32::from(port::COM1)); // mov edx, 0x3f8
    for c in *b"cpu" {
        a.mov_r32_imm(R::Ax, u32::from(c)); // mov eax, 'c' / 'p' / 'u'
        a.out_dx_al(); // out dx, al         ; one exit per byte
    }
    a.lea_eax_rsi_disp8(b'0'); // lea eax, [rsi + '0']
    a.out_dx_al(); // out dx, al
    a.mov_r32_imm(R::Ax, u32::from(b'\n')); // mov eax, '\n'
    a.out_dx_al(); // out dx, al
    a.mov_r64_imm64(R::Bx, HIGH_SLOTS); // mov rbx, 4 GiB + 1 MiB
    a.mov_r32_imm(R::Ax, 0x7e57_0000); // mov eax, 0x7e570000
    a.add_eax_esi(); // add eax, esi
    a.mov_rbx_rsi8_rax(); // mov [rbx + rsi*8], rax   ; write high RAM
    a.mov_rcx_rbx_rsi8(); // mov rcx, [rbx + rsi*8]   ; read it back
    a.cmp_rcx_rax(); // cmp rcx, rax
    a.jne("fail"); // jne fail
    a.lock_inc_abs(TURN); // lock inc dword [TURN]  ; next vCPU's turn
    a.test_esi_esi(); // test esi, esi
    a.jne("ap_done"); // jne ap_done          ; APs stop here
    a.label("wait_all");
    a.mov_eax_abs(TURN); // mov eax, [TURN]
    a.cmp_eax_rdi_disp8(16); // cmp eax, [rdi + 16]   ; BootInfo.vcpu_count
    a.jne("wait_all"); // jne wait_all
    a.mov_eax_rdi_disp8(0); // mov eax, [rdi]        ; BootInfo.magic (low half)
    a.cmp_eax_imm(versus_abi::BOOT_INFO_MAGIC as u32); // cmp eax, "vers"
    a.jne("fail"); // jne fail
    a.mov_eax_rdi_disp8(24); // mov eax, [rdi + 24]   ; BootInfo.tsc_khz (filled at step 5)
    a.cmp_eax_imm(0); // cmp eax, 0
    a.je("fail"); // je fail
    out32(&mut a, port::EXIT, 42); // exit status 42
    a.hlt(); // hlt (not reached)
    a.label("ap_done");
    a.hlt(); // hlt                  ; nothing will wake us
    a.label("fail");
    out32(&mut a, port::EXIT, 0xbad); // exit status 0xbad
    a.hlt(); // hlt
    kernel(&mut a)
}

fn boots_smp(vcpus: u32) {
    if !require_kvm() {
        return;
    }
    let report = Vm::run(&config(smp_guest()).vcpus(vcpus)).unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Exited {
            vcpu: 0,
            status: 42
        },
        "{report:#?}"
    );
    let expected: String = (0..vcpus).map(|i| format!("cpu{i}\n")).collect();
    assert_eq!(report.console.uart.head, expected);
    assert_eq!(report.vcpus, vcpus);
    assert!(report.tsc_khz > 0);
    assert_eq!(report.memory.regions.len(), 2);
    assert!(
        report.memory.regions[1].resident_bytes >= 4096,
        "the high region was touched"
    );
    for v in &report.per_vcpu {
        // The exit accounting is exactly what the guest did.
        assert_eq!(
            v.exits.count(ExitKind::IoOut { port: port::COM1 }),
            5,
            "vcpu{}",
            v.index
        );
        assert_eq!(v.exits.count(ExitKind::IoOut { port: port::MARKER }), 1);
        assert_eq!(v.markers.len(), 1);
        assert_eq!(v.markers[0].code, event::WORKLOAD_START);
        assert_eq!(v.unhandled, 0);
        if v.index == 0 {
            assert_eq!(v.exits.count(ExitKind::IoOut { port: port::EXIT }), 1);
            assert_eq!(v.exits.count(ExitKind::Hlt), 0);
        } else {
            // An AP halts after its turn, unless the BSP's exit stopped it first.
            assert!(v.exits.count(ExitKind::Hlt) <= 1);
            assert_eq!(v.exits.count(ExitKind::IoOut { port: port::EXIT }), 0);
        }
    }
    assert_eq!(
        report.exits.count(ExitKind::IoOut { port: port::COM1 }),
        5 * u64::from(vcpus)
    );
    assert!(report.launch_to_first_marker_ns.is_some());
    assert!(report.phases.boot_to_first_marker_ns.unwrap() <= report.phases.run_ns);
    eprintln!("{vcpus} vCPU(s): phases {:?}", report.phases);
}

#[testkit::needs(kvm)]
#[test]
fn boots_one_vcpu_over_two_regions() {
    boots_smp(1);
}

#[testkit::needs(kvm)]
#[test]
fn boots_two_vcpus_over_two_regions() {
    boots_smp(2);
}

#[testkit::needs(kvm)]
#[test]
fn report_serializes() {
    if !require_kvm() {
        return;
    }
    let report = Vm::run(&config(smp_guest()).vcpus(1)).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"]["kind"], "exited");
    assert_eq!(json["outcome"]["status"], 42);
    assert!(json["host"]["backend"].is_string());
    assert!(
        json["exits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reason"] == "io_out" && r["port"] == 0x3f8)
    );
}

#[testkit::needs(kvm)]
#[test]
fn infinite_loop_is_stopped_by_the_timeout() {
    if !require_kvm() {
        return;
    }
    let mut a = Asm::new(CODE);
    out32(&mut a, port::MARKER, event::WORKLOAD_START); // marker
    a.label("spin");
    a.jmp("spin"); // jmp spin   ; forever
    let report = Vm::run(
        &config(kernel(&mut a))
            .vcpus(2)
            .timeout(Duration::from_millis(300)),
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Timeout { after_ms: 300 });
    // Run returned: every vCPU thread was joined. Both were stopped, not halted.
    assert_eq!(report.per_vcpu.len(), 2);
    assert!(
        report
            .per_vcpu
            .iter()
            .all(|v| v.end == crate::report::VcpuEnd::Stopped)
    );
    // Both were in the spin loop when stopped: each had said the workload
    // started, and none asked to exit.
    for vcpu in &report.per_vcpu {
        let codes: Vec<u32> = vcpu.markers.iter().map(|m| m.code).collect();
        assert_eq!(codes, [event::WORKLOAD_START], "vCPU {}", vcpu.index);
    }
    assert_eq!(report.exits.count(ExitKind::IoOut { port: port::EXIT }), 0);
    // The phases of a stopped run are those of a whole one: the first marker
    // came during the run, and every step lies within the total.
    let phases = &report.phases;
    let first_marker = phases
        .boot_to_first_marker_ns
        .expect("the markers arrived, so the first one was timed");
    assert!(first_marker <= phases.run_ns, "{phases:?}");
    let steps = phases.create_vm_ns
        + phases.memory_ns
        + phases.load_ns
        + phases.vcpus_ns
        + phases.run_ns
        + phases.teardown_ns;
    assert!(steps <= phases.total_ns, "{phases:?}");
}

/// The test guest of the two tests below: the workload marker, `popcnt`
/// (which the software backend cannot emulate in ring 0), then exit 0.
/// Returns the image and where `popcnt` is.
fn popcnt_guest() -> (Vec<u8>, u64) {
    let mut a = Asm::new(CODE);
    out32(&mut a, port::MARKER, event::WORKLOAD_START); // marker
    let rip = a.here();
    a.popcnt_eax_ecx(); // popcnt eax, ecx   ; not emulated at CPL0 on software KVM
    out32(&mut a, port::EXIT, 0); // exit 0
    (kernel(&mut a), rip)
}

/// True when this host's KVM backend is of the kind `test` is about
/// (software: guest ring 0 emulated; or hardware/nested VT-x/AMD-V), as
/// [`crate::kvm::detect_backend`] classifies it; otherwise says so on stderr
/// (outside the test harness's capture) and returns false. Not a skip for
/// something missing: the test's claim is about the other kind of backend.
fn on_backend(test: &str, software: bool) -> bool {
    let backend = crate::kvm::detect_backend(std::path::Path::new("/"));
    if backend.is_software() == software {
        return true;
    }
    let wanted = if software { "a software" } else { "a hardware" };
    let _ = writeln!(
        std::io::stderr().lock(),
        "NOT APPLICABLE {test}: it is about {wanted} KVM backend; this one is {backend}"
    );
    false
}

#[testkit::needs(kvm)]
#[test]
fn emulation_failure_is_an_internal_error_with_rip() {
    if !require_kvm() {
        return;
    }
    if !on_backend("emulation_failure_is_an_internal_error_with_rip", true) {
        return;
    }
    let (image, rip) = popcnt_guest();
    let report = Vm::run(&config(image)).unwrap();
    assert!(report.host.software_backend);
    match &report.outcome {
        Outcome::InternalError {
            vcpu: 0,
            suberror,
            rip: Some(r),
            ..
        } => {
            assert_eq!(*r, rip);
            assert_eq!(*suberror, 1, "KVM_INTERNAL_ERROR_EMULATION");
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(report.exits.count(ExitKind::InternalError), 1);
    assert_eq!(report.exits.count(ExitKind::IoOut { port: port::EXIT }), 0);
}

#[testkit::needs(kvm)]
#[test]
fn hardware_kvm_runs_what_software_kvm_cannot_emulate() {
    if !require_kvm() {
        return;
    }
    if !on_backend("hardware_kvm_runs_what_software_kvm_cannot_emulate", false) {
        return;
    }
    let (image, _) = popcnt_guest();
    let report = Vm::run(&config(image)).unwrap();
    assert!(!report.host.software_backend);
    assert_eq!(report.outcome, Outcome::Exited { vcpu: 0, status: 0 });
    assert_eq!(report.exits.count(ExitKind::InternalError), 0);
}

#[testkit::needs(kvm)]
#[test]
fn int3_without_idt_is_reported_not_hung() {
    if !require_kvm() {
        return;
    }
    let mut a = Asm::new(CODE);
    a.int3(); // int3   ; emulation failure here, triple fault on hardware (no IDT)
    let report = Vm::run(&config(kernel(&mut a))).unwrap();
    // Software KVM cannot deliver the exception and names the instruction;
    // hardware delivers it, finds no IDT, and the double fault resets.
    if report.host.software_backend {
        assert!(
            matches!(
                report.outcome,
                Outcome::InternalError {
                    vcpu: 0,
                    rip: Some(CODE),
                    ..
                }
            ),
            "{:?}",
            report.outcome
        );
    } else {
        assert!(
            matches!(report.outcome, Outcome::Reset { vcpu: 0, .. }),
            "{:?}",
            report.outcome
        );
    }
}

#[testkit::needs(kvm)]
#[test]
fn triple_fault_is_a_guest_reset() {
    if !require_kvm() {
        return;
    }
    const NON_CANONICAL: u64 = 0x8000_0000_0000_0000;
    let mut a = Asm::new(CODE);
    a.mov_r64_imm64(R::Bx, NON_CANONICAL); // mov rbx, non-canonical address
    let faulting = a.here();
    a.mov_rcx_rbx_rsi8(); // mov rcx, [rbx + rsi*8]   ; #GP, no IDT: #DF, triple fault
    let report = Vm::run(&config(kernel(&mut a))).unwrap();
    let json = serde_json::to_value(&report.outcome).unwrap();
    assert_eq!(json["kind"], "reset", "{json}");
    let regs = match &report.outcome {
        Outcome::Reset {
            vcpu: 0,
            regs: Some(regs),
        } => *regs,
        o => panic!("{o:?}"),
    };
    // The registers are the guest's at the fault: RIP on the faulting load
    // (a fault does not retire its instruction), RBX holding the address it
    // used, RCX never written, and still in 64-bit paged mode.
    assert_eq!(regs.rip, faulting, "{regs:x?}");
    assert_eq!(regs.rbx, NON_CANONICAL, "{regs:x?}");
    assert_eq!(regs.rcx, 0, "{regs:x?}");
    assert_eq!(regs.cr0 & (CR0_PE | CR0_PG), CR0_PE | CR0_PG, "{regs:x?}");
    assert_eq!(regs.efer & EFER_LMA, EFER_LMA, "{regs:x?}");
    assert_eq!(report.exits.count(ExitKind::Shutdown), 1);
}

#[testkit::needs(kvm)]
#[test]
fn paravirt_console_delivers_a_buffer_in_one_exit() {
    if !require_kvm() {
        return;
    }
    let text = b"hello from the paravirtual console\n";
    let desc_addr = DATA + 0x100;
    let buf_addr = u64::from(DATA) + 0x200;
    // The data page: descriptor {addr, len} at +0x100, the text at +0x200.
    let mut data = vec![0u8; 0x200];
    data[0x100..0x108].copy_from_slice(&buf_addr.to_le_bytes());
    data[0x108..0x110].copy_from_slice(&(text.len() as u64).to_le_bytes());
    data.extend_from_slice(text);
    let mut a = Asm::new(CODE);
    out32(&mut a, port::CONSOLE, desc_addr); // the whole buffer, one exit
    out32(&mut a, port::EXIT, 0); // exit 0
    let elf = ElfBuilder::new(CODE)
        .code(&a.finish())
        .data(u64::from(DATA), &data)
        .build();
    // Trace every exit through a callback.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let trace = crate::Trace::Callback(std::sync::Arc::new(move |e: &crate::TraceEvent| {
        sink.lock().unwrap().push(e.clone());
    }));
    let report = Vm::run(&config(elf).trace(trace)).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].kind,
        ExitKind::IoOut {
            port: port::CONSOLE
        }
    );
    assert_eq!(seen[0].value, Some(u64::from(desc_addr)));
    assert_eq!(seen[1].kind, ExitKind::IoOut { port: port::EXIT });
    assert!(seen[0].at_ns <= seen[1].at_ns && seen[1].at_ns <= report.phases.total_ns);
    assert_eq!(report.exit_status(), Some(0));
    assert_eq!(report.console.paravirt.head.as_bytes(), text);
    assert_eq!(report.console.paravirt_bytes, text.len() as u64);
    assert_eq!(report.console.uart_bytes, 0);
    assert_eq!(
        report.exits.count(ExitKind::IoOut {
            port: port::CONSOLE
        }),
        1
    );
    assert_eq!(report.exits.total().count, 2);
}

/// A kernel that floods the paravirtual console — `FLOOD_WRITES` buffers
/// of 64 KiB, a few instructions and one exit each, no copying in the guest
/// — leaves a bounded log: head and tail only, every byte counted.
#[testkit::needs(kvm)]
#[test]
fn a_console_flood_is_kept_bounded() {
    if !require_kvm() {
        return;
    }
    const FLOOD_WRITES: u32 = 2000;
    const BUF: u64 = 0x30_0000; // zero RAM: 64 KiB of NUL bytes, no newline
    let desc_addr = DATA + 0x100;
    let mut data = vec![0u8; 0x100];
    data.extend_from_slice(&BUF.to_le_bytes());
    data.extend_from_slice(&versus_abi::CONSOLE_MAX_LEN.to_le_bytes());
    let mut a = Asm::new(CODE);
    a.mov_r32_imm(R::Cx, FLOOD_WRITES); // mov ecx, FLOOD_WRITES
    a.mov_r32_imm(R::Dx, u32::from(port::CONSOLE)); // mov edx, CONSOLE
    a.mov_r32_imm(R::Ax, desc_addr); // mov eax, descriptor
    a.label("flood");
    a.out_dx_eax(); // out dx, eax          ; 64 KiB, one exit
    a.dec_ecx(); // dec ecx
    a.jne("flood"); // jne flood
    out32(&mut a, port::EXIT, 0); // exit 0
    let elf = ElfBuilder::new(CODE)
        .code(&a.finish())
        .data(u64::from(DATA), &data)
        .build();
    let report = Vm::run(&config(elf)).unwrap();
    assert_eq!(report.exit_status(), Some(0), "{:?}", report.outcome);
    let total = u64::from(FLOOD_WRITES) * versus_abi::CONSOLE_MAX_LEN;
    let kept = (crate::console::HEAD_MAX + crate::console::TAIL_MAX) as u64;
    for log in [&report.console.paravirt, &report.per_vcpu[0].console] {
        assert_eq!((log.bytes, log.other_bytes), (total, total));
        assert_eq!(log.head.len(), crate::console::HEAD_MAX);
        assert_eq!(log.tail.len(), crate::console::TAIL_MAX);
        assert_eq!(log.other_bytes_dropped, total - kept);
        assert_eq!(log.other_lines, 1, "one unterminated line");
        assert!(log.protocol_lines.is_empty());
    }
    assert_eq!(report.console.paravirt_bytes, total);
}

#[testkit::needs(kvm)]
#[test]
fn unknown_port_reads_all_ones() {
    if !require_kvm() {
        return;
    }
    let mut a = Asm::new(CODE);
    a.mov_r32_imm(R::Dx, 0x1234); // mov edx, 0x1234   ; nobody there
    a.in_al_dx(); // in al, dx         ; -> 0xff (one byte)
    a.in_eax_dx(); // in eax, dx        ; -> 0xffffffff
    a.mov_r32_imm(R::Dx, u32::from(port::EXIT)); // mov edx, EXIT
    a.out_dx_eax(); // out dx, eax       ; exit status = what we read
    let report = Vm::run(&config(kernel(&mut a))).unwrap();
    assert_eq!(report.exit_status(), Some(0xffff_ffff));
    assert_eq!(report.per_vcpu[0].unhandled, 2);
    assert_eq!(report.exits.count(ExitKind::IoIn { port: 0x1234 }), 2);
}

#[testkit::needs(kvm)]
#[test]
fn all_halted_without_exit_is_reported() {
    if !require_kvm() {
        return;
    }
    let mut a = Asm::new(CODE);
    a.hlt(); // hlt   ; every vCPU
    let report = Vm::run(&config(kernel(&mut a)).vcpus(2)).unwrap();
    assert_eq!(report.outcome, Outcome::AllHalted);
    assert_eq!(report.exits.count(ExitKind::Hlt), 2);
}

#[testkit::needs(kvm)]
#[test]
fn vcpu_count_errors_are_named() {
    if !require_kvm() {
        return;
    }
    let mut a = Asm::new(CODE);
    a.hlt();
    let k = kernel(&mut a);
    assert!(matches!(
        Vm::run(&config(k.clone()).vcpus(0)),
        Err(Error::Vcpu(VcpuError::NoVcpus))
    ));
    assert!(matches!(
        Vm::run(&config(k).vcpus(10_000)),
        Err(Error::Vcpu(VcpuError::TooMany { .. }))
    ));
    assert!(matches!(
        Vm::run(&VmConfig::new(b"not an elf".to_vec())),
        Err(Error::Load(LoadError::NotElf))
    ));
    assert!(matches!(
        Vm::run(&VmConfig::new(Vec::new()).memory_regions(&[(0, 4 << 20), (3 << 30, 4096)])),
        Err(Error::Memory(MemoryError::InMmioHole { .. }))
    ));
}

#[testkit::needs(kvm)]
#[test]
fn workload_and_argv_are_placed_for_the_guest() {
    if !require_kvm() {
        return;
    }
    // The guest checks that the workload image starts with "\x7fELF" and
    // exits with BootInfo.argc.
    let mut a = Asm::new(CODE);
    a.mov_rbx_rdi_disp32(184); // mov rbx, [rdi + 184]    ; BootInfo.workload_addr
    a.mov_eax_rbx(); // mov eax, [rbx]           ; its first 4 bytes
    a.cmp_eax_imm(u32::from_le_bytes(*b"\x7fELF")); // cmp eax, "\x7fELF"
    a.jne("fail"); // jne fail
    a.mov_eax_rdi_disp32(216); // mov eax, [rdi + 216]    ; BootInfo.argc
    a.mov_r32_imm(R::Dx, u32::from(port::EXIT)); // mov edx, EXIT
    a.out_dx_eax(); // out dx, eax
    a.label("fail");
    out32(&mut a, port::EXIT, 0xbad); // exit 0xbad
    let report =
        Vm::run(&config(kernel(&mut a)).workload(b"\x7fELF...".to_vec(), ["w", "getpid", "5"]))
            .unwrap();
    assert_eq!(report.exit_status(), Some(3));
}

#[testkit::needs(kvm)]
#[test]
fn cpuid_shows_versus_leaf_and_apic_ids() {
    if !require_kvm() {
        return;
    }
    // Every vCPU reports CPUID.1:EBX[31:24] (its APIC id) as marker
    // USER_BASE + id; the BSP then exits with the first signature register.
    let mut a = Asm::new(CODE);
    a.mov_r32_imm(R::Ax, 1); // mov eax, 1
    a.cpuid(); // cpuid               ; ring 0: the VMM's table
    a.shr_ebx_imm(24); // shr ebx, 24         ; APIC id
    a.mov_eax_ebx(); // mov eax, ebx
    a.mov_r32_imm(R::Dx, u32::from(port::MARKER)); // mov edx, MARKER
    a.out_dx_eax(); // out dx, eax         ; marker = APIC id (checked below)
    a.test_esi_esi(); // test esi, esi
    a.jne("ap"); // jne ap
    a.label("wait"); // BSP: wait until the AP has reported (TURN = 1)
    a.mov_eax_abs(TURN); // mov eax, [TURN]
    a.cmp_eax_imm(1); // cmp eax, 1
    a.jne("wait"); // jne wait
    a.mov_r32_imm(R::Ax, versus_abi::cpuid::HYPERVISOR_LEAF); // mov eax, 0x40000000
    a.cpuid(); // cpuid
    a.mov_eax_ebx(); // mov eax, ebx        ; "vers"
    a.mov_r32_imm(R::Dx, u32::from(port::EXIT)); // mov edx, EXIT
    a.out_dx_eax(); // out dx, eax
    a.label("ap");
    a.lock_inc_abs(TURN); // lock inc dword [TURN]
    a.hlt(); // hlt
    let report = Vm::run(&config(kernel(&mut a)).vcpus(2)).unwrap();
    assert_eq!(
        report.exit_status(),
        Some(u32::from_le_bytes(*b"vers")),
        "{:?}",
        report.outcome
    );
    for v in &report.per_vcpu {
        assert_eq!(
            v.markers[0].code, v.index,
            "vCPU {} sees APIC id {}",
            v.index, v.markers[0].code
        );
    }
}

/// Launch → first marker with 1 vCPU, and the ping-port round trip.
/// Printed, not asserted (shared, noisy machines).
#[testkit::needs(kvm)]
#[test]
fn measure_startup_and_exit_round_trip() {
    if !require_kvm() {
        return;
    }
    // Startup: marker, then exit.
    let mut a = Asm::new(CODE);
    out32(&mut a, port::MARKER, event::WORKLOAD_START); // marker
    out32(&mut a, port::EXIT, 0); // exit
    let k = kernel(&mut a);
    let mut launch = Vec::new();
    let mut boot = Vec::new();
    let mut total = Vec::new();
    for _ in 0..11 {
        let r = Vm::run(&VmConfig::new(k.clone()).memory_size(512 << 20)).unwrap();
        launch.push(r.launch_to_first_marker_ns.unwrap());
        boot.push(r.phases.boot_to_first_marker_ns.unwrap());
        total.push(r.phases.total_ns);
    }
    let med = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2] as f64 / 1e6
    };
    let last = Vm::run(&VmConfig::new(k).memory_size(512 << 20)).unwrap();
    eprintln!(
        "[measure] 1 vCPU, 512 MiB: launch->first marker median {:.3} ms (vCPU start->marker {:.3} ms), launch->teardown done {:.3} ms; phases of one run: {:?}; guest touched {} KiB, VMM overhead RSS {:?} KiB; backend {}",
        med(&mut launch),
        med(&mut boot),
        med(&mut total),
        last.phases,
        last.memory.guest_touched_bytes / 1024,
        last.memory.vmm_overhead_rss_bytes.map(|b| b / 1024),
        last.host.backend,
    );

    // Ping: N outs between two markers, unrolled by 10 so the loop
    // instructions (emulated at CPL0, ~1 µs each) matter little.
    const ITERS: u32 = 2_000;
    const UNROLL: u32 = 10;
    let mut a = Asm::new(CODE);
    a.mov_r32_imm(R::Cx, ITERS / UNROLL); // mov ecx, iterations
    a.mov_r32_imm(R::Dx, u32::from(port::MARKER)); // mov edx, MARKER
    a.mov_r32_imm(R::Ax, event::USER_BASE); // mov eax, USER_BASE
    a.out_dx_eax(); // out dx, eax        ; marker: loop starts
    a.mov_r32_imm(R::Dx, u32::from(port::PING)); // mov edx, PING
    a.label("loop");
    for _ in 0..UNROLL {
        a.out_dx_al(); // out dx, al         ; one exit, nothing done
    }
    a.dec_ecx(); // dec ecx
    a.jne("loop"); // jne loop
    a.mov_r32_imm(R::Dx, u32::from(port::MARKER)); // mov edx, MARKER
    a.mov_r32_imm(R::Ax, event::USER_BASE + 1); // mov eax, USER_BASE + 1
    a.out_dx_eax(); // out dx, eax        ; marker: loop done
    out32(&mut a, port::EXIT, 0); // exit
    let r = Vm::run(&config(kernel(&mut a))).unwrap();
    assert_eq!(r.exit_status(), Some(0));
    let pings = r.exits.get(ExitKind::IoOut { port: port::PING });
    assert_eq!(pings.count, u64::from(ITERS));
    let m = &r.per_vcpu[0].markers;
    let span = m[1].at_ns - m[0].at_ns;
    eprintln!(
        "[measure] ping port: {} exits, {:.2} µs per round trip (guest loop, host time / N), {:.0} ns of that in the VMM's handler",
        pings.count,
        span as f64 / f64::from(ITERS) / 1e3,
        pings.total_ns as f64 / pings.count as f64,
    );
}
