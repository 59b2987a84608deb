//! The tiny guest kernel (`guest-images/kernel`, embedded as
//! `versus_images::KERNEL`) booted by this VMM, running the real workload
//! (`versus_images::WORKLOAD`) and a few hand-made static ELFs.
//!
//! Every test returns early (after printing why) when /dev/kvm is unusable,
//! and panics instead when `VERSUS_REQUIRE_KVM=1` (CI).

use std::time::Duration;

use hypervisor::abi::{event, port, status};
use hypervisor::status::bad_workload_reason;
use hypervisor::{ExitKind, GuestStatus, Outcome, Vm, VmConfig, VmReport};

/// True if /dev/kvm can be used. Prints why not and returns false — unless
/// `VERSUS_REQUIRE_KVM=1` is set (CI), in which case it panics.
fn require_kvm() -> bool {
    testkit::require_kvm("a KVM test")
}

/// The kernel and workload with `versus-workload ARGS…` (default memory:
/// 512 MiB as two regions, low at 0 and high at 4 GiB).
fn workload(args: &[&str]) -> VmConfig {
    let argv = std::iter::once("versus-workload").chain(args.iter().copied());
    VmConfig::new(versus_images::KERNEL)
        .workload(versus_images::WORKLOAD, argv)
        .timeout(Duration::from_secs(120))
}

/// The kernel with a hand-made workload image.
fn image(elf: Vec<u8>) -> VmConfig {
    VmConfig::new(versus_images::KERNEL)
        .workload(elf, ["tiny"])
        .timeout(Duration::from_secs(30))
}

fn run(config: &VmConfig) -> VmReport {
    Vm::run(config).unwrap_or_else(|e| panic!("the VM did not run: {e}"))
}

/// Runs and expects the guest to exit with `expected`; returns the report.
fn run_expect(config: &VmConfig, expected: u32) -> VmReport {
    let report = run(config);
    assert_eq!(
        report.exit_status(),
        Some(expected),
        "outcome {:?}\nconsole:\n{}{}",
        report.outcome,
        report.console.paravirt,
        report.console.uart
    );
    report
}

/// Console lines starting with `prefix`: protocol lines and the kept
/// head of other output (a test program's own lines).
fn lines<'a>(report: &'a VmReport, prefix: &str) -> Vec<&'a str> {
    let console = &report.console;
    console
        .paravirt
        .lines()
        .chain(console.paravirt.head.lines())
        .chain(console.uart.lines())
        .chain(console.uart.head.lines())
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The value of ` key=value` in a `@versus`/`@kernel` line (bare values).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

/// The one line starting with `prefix`.
fn line<'a>(report: &'a VmReport, prefix: &str) -> &'a str {
    let found = lines(report, prefix);
    assert_eq!(
        found.len(),
        1,
        "expected one line starting with {prefix:?}; console:\n{}",
        report.console.paravirt
    );
    found[0]
}

fn marker_codes(report: &VmReport, vcpu: usize) -> Vec<u32> {
    report.per_vcpu[vcpu]
        .markers
        .iter()
        .map(|m| m.code)
        .collect()
}

fn high_resident(report: &VmReport) -> u64 {
    let high = report
        .memory
        .regions
        .iter()
        .find(|r| r.region.base >= 1 << 32)
        .expect("the default layout has a high region");
    high.resident_bytes
}

#[testkit::needs(kvm)]
#[test]
fn startup_on_one_vcpu() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["startup"]), 0);
    let start = line(&r, "@versus start ");
    assert_eq!(field(start, "task"), Some("startup"));
    assert_eq!(field(start, "pid"), Some("1"));
    assert!(field(start, "mono_ns").is_some_and(|ns| ns.parse::<u64>().is_ok()));
    line(&r, "@versus task=startup");
    assert_eq!(
        marker_codes(&r, 0),
        [
            event::KERNEL_ENTRY,
            event::KERNEL_READY,
            event::WORKLOAD_START,
            event::WORKLOAD_EXIT
        ]
    );
    assert!(r.launch_to_first_marker_ns.is_some());
    assert_eq!(
        line(&r, "@kernel exit "),
        "@kernel exit cpu=0 pid=1 status=0"
    );
    // The paravirtual console: one exit per line, nothing on the UART.
    assert_eq!(r.console.uart_bytes, 0);
    assert_eq!(
        r.exits.count(ExitKind::IoOut {
            port: port::CONSOLE
        }),
        3
    );
}

#[testkit::needs(kvm)]
#[test]
fn startup_on_every_vcpu_of_two() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["startup"]).vcpus(2).run_on_every_vcpu(true), 0);
    let mut pids: Vec<&str> = lines(&r, "@versus start ")
        .iter()
        .filter_map(|l| field(l, "pid"))
        .collect();
    pids.sort_unstable();
    assert_eq!(pids, ["1", "2"]);
    assert_eq!(lines(&r, "@versus task=startup").len(), 2);
    assert_eq!(lines(&r, "@kernel exit ").len(), 2);
    for vcpu in 0..2 {
        let codes = marker_codes(&r, vcpu);
        assert!(
            codes.contains(&event::WORKLOAD_START) && codes.contains(&event::WORKLOAD_EXIT),
            "vCPU {vcpu} markers: {codes:?}"
        );
    }
}

#[testkit::needs(kvm)]
#[test]
fn second_vcpu_idles_without_run_on_every_vcpu() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["startup"]).vcpus(2), 0);
    assert_eq!(lines(&r, "@versus start ").len(), 1);
    // vCPU 1 stops in the entry stub (if it got to run before vCPU 0 ended
    // the VM at all).
    let codes = marker_codes(&r, 1);
    assert!(
        codes.is_empty() || codes == [event::KERNEL_ENTRY],
        "{codes:?}"
    );
}

#[testkit::needs(kvm)]
#[test]
fn uname_names_the_guest_kernel() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["uname"]), 0);
    let uname = line(&r, "@versus task=uname");
    // SAFETY: `utsname` is plain bytes; uname(2) fills it.
    let mut host: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname.
    assert_eq!(unsafe { libc::uname(&mut host) }, 0);
    let text = |f: &[libc::c_char]| {
        f.iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8 as char)
            .collect::<String>()
    };
    assert_eq!(field(uname, "sysname"), Some("versus"));
    assert_ne!(field(uname, "sysname"), Some(text(&host.sysname).as_str()));
    assert_eq!(field(uname, "nodename"), Some("versus-vm"));
    let release = field(uname, "release").expect("release");
    assert!(release.ends_with("-tiny"), "{uname}");
    assert_ne!(release, text(&host.release));
    assert_eq!(field(uname, "machine"), Some("x86_64"));
    let ids = run_expect(&workload(&["ids"]), 0);
    assert_eq!(
        line(&ids, "@versus task=ids"),
        "@versus task=ids pid=1 ppid=0 uid=0 gid=0 hostname=versus-vm"
    );
}

/// The lesson: a system call stays inside the guest kernel. A thousand
/// more `getpid`s cost the VMM not a single exit.
#[testkit::needs(kvm)]
#[test]
fn getpid_causes_no_vm_exits() {
    if !require_kvm() {
        return;
    }
    let few = run_expect(&workload(&["getpid", "10"]), 0);
    let many = run_expect(&workload(&["getpid", "1010"]), 0);
    assert_eq!(
        field(line(&many, "@versus task=getpid"), "iters"),
        Some("1010")
    );
    let exits = |r: &VmReport| r.exits.total().count;
    assert_eq!(
        exits(&few),
        exits(&many),
        "exits differ: {:?} vs {:?}",
        few.exits,
        many.exits
    );
    // And those exits are only the markers, the console lines and the exit.
    for (kind, _) in many.exits.iter() {
        assert!(
            matches!(
                kind,
                ExitKind::IoOut {
                    port: port::MARKER | port::CONSOLE | port::EXIT
                } | ExitKind::Interrupted
            ),
            "unexpected exit {kind}"
        );
    }
}

#[testkit::needs(kvm)]
#[test]
fn memtouch_uses_the_high_region() {
    if !require_kvm() {
        return;
    }
    let idle = run_expect(&workload(&["startup"]), 0);
    let r = run_expect(&workload(&["memtouch", "8"]), 0);
    let result = line(&r, "@versus task=memtouch");
    assert_eq!(field(result, "pages"), Some("2048"));
    let grown = high_resident(&r).saturating_sub(high_resident(&idle));
    assert!(
        grown >= 8 << 20,
        "the high region grew by {grown} bytes only (idle {}, memtouch {})",
        high_resident(&idle),
        high_resident(&r)
    );
}

#[testkit::needs(kvm)]
#[test]
fn unknown_system_calls_are_enosys_and_counted() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["probe"]), 0);
    assert_eq!(
        line(&r, "@versus task=probe"),
        "@versus task=probe mount=ENOSYS umount2=ENOSYS reboot=ENOSYS sethostname=ENOSYS \
         kexec_load=ENOSYS delete_module=ENOSYS"
    );
    let enosys = line(&r, "@kernel enosys ");
    assert_eq!(field(enosys, "calls"), Some("6"));
    assert_eq!(field(enosys, "nr"), Some("165,166,169,170,176,246"));
    assert_eq!(field(enosys, "counts"), Some("1,1,1,1,1,1"));

    let r = run_expect(&workload(&["spawn", "3"]), 0);
    let spawn = line(&r, "@versus task=spawn");
    assert_eq!(field(spawn, "spawned"), Some("0"));
    assert_eq!(field(spawn, "errno"), Some("ENOSYS"));
    assert_eq!(field(line(&r, "@kernel enosys "), "nr"), Some("293"));

    let r = run_expect(&workload(&["status"]), 0);
    assert_eq!(
        line(&r, "@versus task=status"),
        "@versus task=status unavailable=ENOENT"
    );
}

#[testkit::needs(kvm)]
#[test]
fn timeout_stops_a_workload_that_never_exits() {
    if !require_kvm() {
        return;
    }
    let r = run(&workload(&["getpid", "4294967295"]).timeout(Duration::from_secs(2)));
    assert!(
        matches!(r.outcome, Outcome::Timeout { after_ms: 2000 }),
        "{:?}",
        r.outcome
    );
    assert!(r.first_marker(event::WORKLOAD_START).is_some());
}

#[testkit::needs(kvm)]
#[test]
fn suite_completes() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["suite"]), 0);
    assert_eq!(
        line(&r, "@versus task=suite"),
        "@versus task=suite completed=10"
    );
    let compute = line(&r, "@versus task=compute");
    assert_eq!(field(compute, "checksum"), Some("1f43bb15f14621e8"));
}

#[testkit::needs(kvm)]
#[test]
fn the_uart_console_carries_the_same_lines() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["write", "3", "16"]).console_uart(true), 0);
    assert_eq!(r.console.paravirt_bytes, 0);
    line(&r, "@versus task=write");
    line(&r, "@kernel exit ");
    assert_eq!(r.console.uart.head.matches("...............\n").count(), 3);
    // One exit per byte.
    let uart_exits = r.exits.count(ExitKind::IoOut { port: port::COM1 });
    assert_eq!(uart_exits, r.console.uart_bytes);
}

/// The exit probe: before the workload, the bootstrap CPU makes exactly N
/// ping exits between two markers, and both sides time them.
#[testkit::needs(kvm)]
#[test]
fn exit_probe_makes_exactly_n_ping_exits_then_runs_the_workload() {
    if !require_kvm() {
        return;
    }
    const N: u32 = 1000;
    let r = run_expect(&workload(&["getpid", "100"]).exit_probe(N), 0);
    assert_eq!(
        r.exits.count(ExitKind::IoOut { port: port::PING }),
        u64::from(N)
    );
    assert_eq!(
        marker_codes(&r, 0),
        [
            event::KERNEL_ENTRY,
            event::KERNEL_READY,
            event::EXIT_PROBE_START,
            event::EXIT_PROBE_END,
            event::WORKLOAD_START,
            event::WORKLOAD_EXIT
        ]
    );
    let probe = r.exit_probe.as_ref().expect("the probe was asked for");
    assert_eq!((probe.iters, probe.ping_exits), (N, u64::from(N)));
    let host = probe.host_ns_per_exit.expect("both markers arrived");
    let guest = probe
        .guest_ns_per_exit
        .expect("the kernel printed its line");
    let handler = probe.handler_ns_per_exit.expect("pings were accounted");
    assert!(host > 0.0 && guest > 0.0 && handler > 0.0, "{probe:?}");
    // The figures are those of this run's own records: the host's from the
    // two probe markers of the bootstrap CPU, the handler's from its PING
    // exits.
    let bsp = &r.per_vcpu[0];
    let at = |code: u32| {
        bsp.markers
            .iter()
            .find(|m| m.code == code)
            .map(|m| m.at_ns)
            .expect("the marker arrived")
    };
    let (probe_start, probe_end) = (at(event::EXIT_PROBE_START), at(event::EXIT_PROBE_END));
    assert_eq!(host, (probe_end - probe_start) as f64 / f64::from(N));
    let pings = bsp.exits.get(ExitKind::IoOut { port: port::PING });
    assert_eq!(handler, pings.total_ns as f64 / f64::from(N));
    // Markers come in the order the kernel wrote them, on one clock.
    assert!(
        bsp.markers.windows(2).all(|w| w[0].at_ns <= w[1].at_ns),
        "{:?}",
        bsp.markers
    );
    // Every ping was handled on this vCPU's thread between the two probe
    // markers, one after another: their handling adds up to no more than
    // the time between the markers.
    assert!(
        pings.total_ns <= probe_end - probe_start,
        "{} ns of handling in {} ns between the markers",
        pings.total_ns,
        probe_end - probe_start
    );
    let kernel_line = line(&r, "@kernel exitprobe ");
    assert_eq!(field(kernel_line, "cpu"), Some("0"));
    assert_eq!(field(kernel_line, "iters"), Some("1000"));
    assert!(
        probe.guest_tsc_cycles.is_some_and(|c| c > 0),
        "{kernel_line}"
    );
    // The workload ran as usual after it.
    assert_eq!(field(line(&r, "@versus task=getpid"), "iters"), Some("100"));
    eprintln!(
        "[measure] exit probe, {N} pings: guest {guest:.0} ns/exit, host {host:.0} ns/exit, VMM handler {handler:.0} ns/exit"
    );
}

#[testkit::needs(kvm)]
#[test]
fn without_the_exit_probe_there_are_no_ping_exits() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(&workload(&["startup"]), 0);
    assert_eq!(r.exits.count(ExitKind::IoOut { port: port::PING }), 0);
    assert!(r.exit_probe.is_none());
    assert!(lines(&r, "@kernel exitprobe ").is_empty());
}

/// Only the bootstrap CPU probes, and every instance still runs.
#[testkit::needs(kvm)]
#[test]
fn the_exit_probe_runs_on_the_bootstrap_cpu_only() {
    if !require_kvm() {
        return;
    }
    let config = workload(&["startup"])
        .vcpus(2)
        .run_on_every_vcpu(true)
        .exit_probe(100);
    let r = run_expect(&config, 0);
    let pings = |vcpu: usize| {
        r.per_vcpu[vcpu]
            .exits
            .count(ExitKind::IoOut { port: port::PING })
    };
    assert_eq!((pings(0), pings(1)), (100, 0));
    assert_eq!(lines(&r, "@versus task=startup").len(), 2);
    assert_eq!(lines(&r, "@kernel exitprobe ").len(), 1);
}

/// An oversized probe is refused before /dev/kvm is even opened.
#[test]
fn an_oversized_exit_probe_is_refused() {
    let config = workload(&["startup"]).exit_probe(hypervisor::MAX_EXIT_PROBE_ITERS + 1);
    match Vm::run(&config) {
        Err(hypervisor::Error::Config(e)) => {
            assert!(e.to_string().contains("MAX_EXIT_PROBE_ITERS"), "{e}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

// Hand-made workloads: a static ELF with one R-X segment at 0x400000.

const TINY_BASE: u64 = 0x40_0000;
/// File offset (and offset from `TINY_BASE`) of the code.
const TINY_CODE: u64 = 0x78;

/// A static x86-64 executable whose entry point is `code`.
fn tiny_elf(code: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(TINY_BASE + TINY_CODE).to_le_bytes()); // e_entry
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 56, 1, 64, 0, 0] {
        out.extend_from_slice(&v.to_le_bytes()); // ehsize phentsize phnum shentsize shnum shstrndx
    }
    let size = TINY_CODE + code.len() as u64;
    out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    out.extend_from_slice(&5u32.to_le_bytes()); // R-X
    out.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    out.extend_from_slice(&TINY_BASE.to_le_bytes()); // p_vaddr
    out.extend_from_slice(&TINY_BASE.to_le_bytes()); // p_paddr
    out.extend_from_slice(&size.to_le_bytes()); // p_filesz
    out.extend_from_slice(&size.to_le_bytes()); // p_memsz
    out.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    assert_eq!(out.len() as u64, TINY_CODE);
    out.extend_from_slice(code);
    out
}

/// `mov eax, nr; mov rdi, a1; mov rsi, a2; mov edx, a3; syscall`, then
/// `exit_group(-rax)`: the exit status is the errno of the call (0 if it
/// succeeded with 0).
fn syscall_then_exit_with_errno(nr: u32, a1: u64, a2: u64, a3: u32) -> Vec<u8> {
    let mut c = vec![0xb8];
    c.extend_from_slice(&nr.to_le_bytes()); // mov eax, nr
    c.extend_from_slice(&[0x48, 0xbf]);
    c.extend_from_slice(&a1.to_le_bytes()); // mov rdi, a1
    c.extend_from_slice(&[0x48, 0xbe]);
    c.extend_from_slice(&a2.to_le_bytes()); // mov rsi, a2
    c.push(0xba);
    c.extend_from_slice(&a3.to_le_bytes()); // mov edx, a3
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    c.extend_from_slice(&[0xf7, 0xd8]); // neg eax
    c.extend_from_slice(&[0x89, 0xc7]); // mov edi, eax
    c.extend_from_slice(&[0xb8, 231, 0, 0, 0]); // mov eax, exit_group
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    c.extend_from_slice(&[0x0f, 0x0b]); // ud2
    c
}

const EFAULT: u32 = 14;

#[testkit::needs(kvm)]
#[test]
fn bad_user_pointers_are_efault() {
    if !require_kvm() {
        return;
    }
    // write(1, 0x10, 5): nothing mapped there.
    run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(1, 1, 0x10, 5))),
        EFAULT,
    );
    // write(1, <kernel image>, 5): mapped, but supervisor-only.
    let kernel = 0xffff_ffff_8010_1000;
    run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(1, 1, kernel, 5))),
        EFAULT,
    );
    // write(1, <direct map>, 5): likewise.
    let direct = 0xffff_8000_0010_0000;
    run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(1, 1, direct, 5))),
        EFAULT,
    );
    // clock_gettime(MONOTONIC, <our own read-only text>).
    run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(
            228, 1, TINY_BASE, 0,
        ))),
        EFAULT,
    );
    // uname(<non-canonical>).
    run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(63, 1 << 63, 0, 0))),
        EFAULT,
    );
    // And a good one: write(1, <our own text>, 5) writes 5 bytes: status
    // = -5 & 0xff. The kernel's exit line still starts a line of its own.
    let r = run_expect(
        &image(tiny_elf(&syscall_then_exit_with_errno(1, 1, TINY_BASE, 5))),
        251,
    );
    assert!(r.console.paravirt.head.starts_with("\x7fELF\x02"));
    line(&r, "@kernel exit ");
}

/// The Linux system-call ABI: every register but RAX, RCX and R11 survives
/// a system call, and the user's RFLAGS (here DF, set with `std`) come back.
#[testkit::needs(kvm)]
#[test]
fn system_calls_keep_registers_and_flags() {
    if !require_kvm() {
        return;
    }
    let mut c: Vec<u8> = Vec::new();
    c.extend_from_slice(&[0x41, 0xb8, 0x11, 0x11, 0, 0]); // mov r8d, 0x1111
    c.extend_from_slice(&[0x41, 0xb9, 0x22, 0x22, 0, 0]); // mov r9d, 0x2222
    c.extend_from_slice(&[0x41, 0xba, 0x33, 0x33, 0, 0]); // mov r10d, 0x3333
    c.extend_from_slice(&[0xba, 0x44, 0x44, 0, 0]); // mov edx, 0x4444
    c.extend_from_slice(&[0xbe, 0x55, 0x55, 0, 0]); // mov esi, 0x5555
    c.extend_from_slice(&[0xbf, 0x66, 0x66, 0, 0]); // mov edi, 0x6666
    c.push(0xfd); // std
    c.extend_from_slice(&[0xb8, 39, 0, 0, 0]); // mov eax, getpid
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    c.extend_from_slice(&[0x9c, 0x5b, 0xfc]); // pushfq; pop rbx; cld
    let mut to_fail = Vec::new();
    for (cmp, value) in [
        ([0x49, 0x81, 0xf8], 0x1111u32), // cmp r8, imm32
        ([0x49, 0x81, 0xf9], 0x2222),    // cmp r9, imm32
        ([0x49, 0x81, 0xfa], 0x3333),    // cmp r10, imm32
        ([0x48, 0x81, 0xfa], 0x4444),    // cmp rdx, imm32
        ([0x48, 0x81, 0xfe], 0x5555),    // cmp rsi, imm32
        ([0x48, 0x81, 0xff], 0x6666),    // cmp rdi, imm32
    ] {
        c.extend_from_slice(&cmp);
        c.extend_from_slice(&value.to_le_bytes());
        c.extend_from_slice(&[0x75, 0]); // jne fail (patched below)
        to_fail.push(c.len());
    }
    c.extend_from_slice(&[0x48, 0xc1, 0xeb, 10]); // shr rbx, 10
    c.extend_from_slice(&[0x83, 0xe3, 1]); // and ebx, 1       ; DF
    c.extend_from_slice(&[0x8d, 0x7b, 100]); // lea edi, [rbx + 100]
    c.extend_from_slice(&[0xb8, 231, 0, 0, 0, 0x0f, 0x05]); // exit_group(edi)
    let fail = c.len();
    c.extend_from_slice(&[0xbf, 1, 0, 0, 0]); // mov edi, 1
    c.extend_from_slice(&[0xb8, 231, 0, 0, 0, 0x0f, 0x05]); // exit_group(1)
    for end in to_fail {
        c[end - 1] = u8::try_from(fail - end).expect("short jump");
    }
    // 100 + DF: every register kept, DF restored from R11.
    run_expect(&image(tiny_elf(&c)), 101);
}

#[testkit::needs(kvm)]
#[test]
fn a_user_fault_ends_the_instance_with_its_signal() {
    if !require_kvm() {
        return;
    }
    // xor eax, eax; mov [rax], eax — a store to address 0.
    let r = run_expect(&image(tiny_elf(&[0x31, 0xc0, 0x89, 0x00])), 128 + 11);
    let fault = line(&r, "@kernel fault ");
    assert_eq!(field(fault, "signal"), Some("SIGSEGV"));
    let store = format!("{:#x}", TINY_BASE + TINY_CODE + 2);
    assert_eq!(field(fault, "rip"), Some(store.as_str()));
    assert_eq!(field(fault, "addr"), Some("0x0"));
    assert_eq!(field(fault, "error"), Some("0x6")); // user, write, not present
    assert_eq!(
        line(&r, "@kernel exit "),
        "@kernel exit cpu=0 pid=1 status=139"
    );

    // ud2 → SIGILL.
    let r = run_expect(&image(tiny_elf(&[0x0f, 0x0b])), 128 + 4);
    assert_eq!(field(line(&r, "@kernel fault "), "signal"), Some("SIGILL"));

    // Reading the kernel's own image from user mode: supervisor-only.
    let mut read_kernel = vec![0x48, 0xb8];
    read_kernel.extend_from_slice(&0xffff_ffff_8010_1000u64.to_le_bytes()); // mov rax, imm64
    read_kernel.extend_from_slice(&[0x8b, 0x00]); // mov eax, [rax]
    let r = run_expect(&image(tiny_elf(&read_kernel)), 128 + 11);
    assert_eq!(field(line(&r, "@kernel fault "), "error"), Some("0x5")); // user, read, present

    // Executing the stack: NX (EFER.NXE), an instruction-fetch fault.
    let r = run_expect(&image(tiny_elf(&[0xff, 0xe4])), 128 + 11); // jmp rsp
    let fault = line(&r, "@kernel fault ");
    assert_eq!(field(fault, "error"), Some("0x15")); // user, fetch, present
    assert_eq!(field(fault, "rip"), field(fault, "addr"));

    // Port I/O from user mode (the VMM's exit port): #GP.
    let out_exit = [0xba, 0x04, 0x06, 0, 0, 0xee]; // mov edx, 0x604; out dx, al
    let r = run_expect(&image(tiny_elf(&out_exit)), 128 + 11);
    assert_eq!(field(line(&r, "@kernel fault "), "vector"), Some("13"));
}

#[testkit::needs(kvm)]
#[test]
fn a_file_that_is_not_a_static_executable_is_refused() {
    if !require_kvm() {
        return;
    }
    let r = run_expect(
        &image(b"#!/bin/sh\necho not an ELF\n".to_vec()),
        status::KERNEL_BAD_WORKLOAD,
    );
    assert_eq!(field(line(&r, "@kernel error "), "reason"), Some("not-elf"));
}

/// One program header of a hand-made workload image.
#[derive(Clone, Copy)]
struct ProgramHeader {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
/// Size of the images [`elf_with`] makes: two pages, the code on the second.
const IMAGE_SIZE: u64 = 0x2000;
/// The tiny kernel's lowest user address (`layout::USER_MIN` of
/// guest-images/kernel): no segment may start below it.
const GUEST_USER_MIN: u64 = 0x1_0000;
/// The tiny kernel's mmap area (`layout::MMAP_BASE`): segments end below it.
const GUEST_MMAP_BASE: u64 = 0x0000_7f00_0000_0000;

impl ProgramHeader {
    /// A `PT_LOAD` of `len` file bytes from `offset`, mapped at `vaddr`.
    fn load(offset: u64, vaddr: u64, len: u64) -> Self {
        ProgramHeader {
            kind: PT_LOAD,
            offset,
            vaddr,
            filesz: len,
            memsz: len,
        }
    }
}

/// A 64-bit x86-64 `ET_EXEC` of [`IMAGE_SIZE`] bytes with `headers` at
/// offset 64 and, at offset 0x1000 (entry `TINY_BASE + 0x1000`),
/// `exit_group(0)`.
fn elf_with(headers: &[ProgramHeader]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(TINY_BASE + 0x1000).to_le_bytes()); // e_entry
    out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    let count = u16::try_from(headers.len()).expect("a handful of headers");
    for v in [64u16, 56, count, 64, 0, 0] {
        out.extend_from_slice(&v.to_le_bytes()); // ehsize phentsize phnum shentsize shnum shstrndx
    }
    for h in headers {
        out.extend_from_slice(&h.kind.to_le_bytes());
        out.extend_from_slice(&5u32.to_le_bytes()); // R-X
        for v in [h.offset, h.vaddr, h.vaddr, h.filesz, h.memsz, 0x1000] {
            out.extend_from_slice(&v.to_le_bytes()); // offset vaddr paddr filesz memsz align
        }
    }
    out.resize(0x1000, 0);
    // mov eax, 231 (exit_group); xor edi, edi; syscall
    out.extend_from_slice(&[0xb8, 0xe7, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);
    out.resize(IMAGE_SIZE as usize, 0);
    out
}

/// [`elf_with`] one `PT_LOAD` of the whole file at `TINY_BASE`, with
/// `patch` applied: a header field changed in place.
fn patched(patch: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut elf = elf_with(&[ProgramHeader::load(0, TINY_BASE, IMAGE_SIZE)]);
    patch(&mut elf);
    elf
}

/// Every reason the tiny kernel's ELF loader (guest-images/kernel/src/elf.rs)
/// has to refuse an image, each met by the one defect that should cause it:
/// the kernel ends the VM with the bad-workload status and names the reason.
#[testkit::needs(kvm)]
#[test]
fn every_malformed_workload_image_is_refused_with_its_reason() {
    if !require_kvm() {
        return;
    }
    // The unchanged image runs: each case below fails by its one defect.
    run_expect(
        &image(elf_with(&[ProgramHeader::load(0, TINY_BASE, IMAGE_SIZE)])),
        0,
    );
    let set_u16 =
        |at: usize, v: u16| move |e: &mut Vec<u8>| e[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let set_u64 =
        |at: usize, v: u64| move |e: &mut Vec<u8>| e[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let load = ProgramHeader::load;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "32-bit class",
            patched(|e| e[4] = 1),
            "not-x86-64-executable",
        ),
        ("big-endian", patched(|e| e[5] = 2), "not-x86-64-executable"),
        (
            "relocatable object",
            patched(set_u16(16, 1)),
            "not-x86-64-executable",
        ),
        (
            "aarch64",
            patched(set_u16(18, 183)),
            "not-x86-64-executable",
        ),
        (
            "64-byte program headers",
            patched(set_u16(54, 64)),
            "not-x86-64-executable",
        ),
        (
            "65 program headers",
            patched(set_u16(56, 65)),
            "bad-program-headers",
        ),
        (
            "table past the end",
            patched(set_u64(32, IMAGE_SIZE - 8)),
            "bad-program-headers",
        ),
        (
            "table offset past the end",
            patched(set_u64(32, IMAGE_SIZE + 8)),
            "bad-program-headers",
        ),
        (
            "an interpreter",
            elf_with(&[
                ProgramHeader {
                    kind: PT_INTERP,
                    ..load(0x200, 0, 28)
                },
                load(0, TINY_BASE, IMAGE_SIZE),
            ]),
            "dynamically-linked",
        ),
        (
            "file size above memory size",
            elf_with(&[ProgramHeader {
                memsz: 0x1000,
                ..load(0, TINY_BASE, IMAGE_SIZE)
            }]),
            "bad-segment",
        ),
        (
            "data past the end of the file",
            elf_with(&[load(0x1000, TINY_BASE + 0x1000, IMAGE_SIZE)]),
            "bad-segment",
        ),
        (
            "offset past the end of the file",
            elf_with(&[ProgramHeader {
                memsz: 0x1000,
                ..load(IMAGE_SIZE + 0x1000, TINY_BASE, 0)
            }]),
            "bad-segment",
        ),
        (
            "address and offset disagree within the page",
            elf_with(&[load(0, TINY_BASE + 0x10, IMAGE_SIZE)]),
            "bad-segment",
        ),
        (
            "below the lowest user address",
            elf_with(&[load(0, GUEST_USER_MIN - 0x1000, IMAGE_SIZE)]),
            "bad-segment",
        ),
        (
            "in the mmap area",
            elf_with(&[load(0, GUEST_MMAP_BASE, IMAGE_SIZE)]),
            "bad-segment",
        ),
        (
            "reaching into the mmap area",
            elf_with(&[ProgramHeader {
                memsz: GUEST_MMAP_BASE,
                ..load(0, TINY_BASE, IMAGE_SIZE)
            }]),
            "bad-segment",
        ),
        (
            "memory size that wraps the address space",
            elf_with(&[ProgramHeader {
                memsz: u64::MAX,
                ..load(0, TINY_BASE, IMAGE_SIZE)
            }]),
            "bad-segment",
        ),
        (
            "segments out of order",
            elf_with(&[
                load(0x1000, TINY_BASE + 0x10_1000, 0x1000),
                load(0, TINY_BASE, 0x1000),
            ]),
            "bad-segment",
        ),
        (
            "a segment inside another",
            elf_with(&[
                load(0, TINY_BASE, IMAGE_SIZE),
                load(0x1000, TINY_BASE + 0x1000, 0x1000),
            ]),
            "overlapping-segments",
        ),
        (
            "two segments sharing a page",
            elf_with(&[
                load(0, TINY_BASE, 0x1800),
                load(0x1800, TINY_BASE + 0x1800, 0x800),
            ]),
            "overlapping-segments",
        ),
        ("no program headers", elf_with(&[]), "no-segment"),
        (
            "only a note",
            elf_with(&[ProgramHeader {
                kind: PT_NOTE,
                ..load(0x200, 0, 16)
            }]),
            "no-segment",
        ),
        (
            "only an empty segment",
            elf_with(&[ProgramHeader {
                memsz: 0,
                ..load(0, TINY_BASE, 0)
            }]),
            "no-segment",
        ),
    ];
    for (defect, elf, reason) in cases {
        let r = run(&image(elf));
        assert_eq!(
            r.exit_status(),
            Some(status::KERNEL_BAD_WORKLOAD),
            "{defect}: {:?}\n{}",
            r.outcome,
            r.console.paravirt
        );
        assert_eq!(
            field(line(&r, "@kernel error "), "reason"),
            Some(reason),
            "{defect}"
        );
    }
}

/// Where a mutation of a workload image writes, as (offset, width in
/// bytes): the entry point, where the program headers are and how many,
/// and every field of both program headers the tiny kernel reads (type,
/// flags, offset, address, sizes). The identity fields (class, machine,
/// type) have their one test each above; mutated at random they would
/// mostly stop the loader before it reaches the segments.
const WORKLOAD_FIELDS: &[(usize, usize)] = &[
    (24, 8), // e_entry
    (32, 8), // e_phoff
    (56, 2), // e_phnum
    (64, 4),
    (68, 4),
    (72, 8),
    (80, 8),
    (96, 8),
    (104, 8),
    (120, 4),
    (124, 4),
    (128, 8),
    (136, 8),
    (152, 8),
    (160, 8),
];

/// Values a mutated field takes: the edges where the loader's checks sit,
/// page-sized steps around the image's addresses, and anything at all.
fn workload_field_value() -> impl proptest::strategy::Strategy<Value = u64> {
    use proptest::prelude::*;
    prop_oneof![
        Just(0u64),
        (0u64..0x80).prop_map(|d| u64::MAX - d),
        0u64..0x100,
        (0u64..0x20).prop_map(|k| k * 0x1000),
        (0u64..0x1_0000).prop_map(|k| k << 20),
        (0u64..0x3000).prop_map(|d| TINY_BASE + d),
        (0u64..0x20).prop_map(|k| GUEST_MMAP_BASE - 0x10_0000 + k * 0x1000),
        any::<u64>(),
    ]
}

/// The tiny kernel against header fields set to anything: the image runs
/// (its own exit status, or a signal's when its code faults in user mode),
/// runs on until stopped (an entry into a loop), or is refused with a
/// reason the VMM knows, or memory runs out — the kernel itself never takes
/// an exception, panics or brings the VM down.
#[testkit::needs(kvm)]
#[test]
fn a_mutated_workload_image_never_brings_the_kernel_down() {
    if !require_kvm() {
        return;
    }
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let base = elf_with(&[
        ProgramHeader::load(0, TINY_BASE, 0x1000),
        ProgramHeader {
            memsz: 0x3000,
            ..ProgramHeader::load(0x1000, TINY_BASE + 0x1000, 0x1000)
        },
    ]);
    run_expect(&image(base.clone()), 0);
    let mutations =
        proptest::collection::vec((0..WORKLOAD_FIELDS.len(), workload_field_value()), 1..4);
    let mut runner = TestRunner::new(Config::with_cases(128));
    let result = runner.run(&mutations, |mutations| {
        let mut elf = base.clone();
        for &(field, value) in &mutations {
            let (at, width) = WORKLOAD_FIELDS[field];
            elf[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        }
        // Small memory and a short timeout: an image that asks for all of
        // RAM, or loops, ends soon.
        let config = image(elf)
            .memory_size(32 << 20)
            .timeout(Duration::from_secs(3));
        let r = run(&config);
        let fail = |why: String| TestCaseError::fail(format!("{why}\n{}", r.console.paravirt));
        match (&r.outcome, r.exit_status().map(GuestStatus::decode)) {
            (Outcome::Timeout { .. }, _) => {}
            (_, Some(GuestStatus::Workload(_) | GuestStatus::OutOfMemory)) => {}
            (_, Some(GuestStatus::BadWorkload)) => {
                let reason = field(line(&r, "@kernel error "), "reason").unwrap_or("");
                if bad_workload_reason(reason) == bad_workload_reason("") {
                    return Err(fail(format!("an unknown reason {reason:?}")));
                }
            }
            (outcome, _) => return Err(fail(format!("the kernel went down: {outcome:?}"))),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Builds a static C program with `cc -static` (CI installs a static
/// libc); `None` (after saying why) where that is impossible outside CI.
fn static_c_program(source: &str) -> Option<Vec<u8>> {
    c_program(source, "-static")
}

/// [`static_c_program`] linked with `link` (`-static`, `-static-pie`).
fn c_program(source: &str, link: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let binary = testkit::c_program("a C program test", "cc", link, dir.path(), "prog", source)?;
    Some(std::fs::read(&binary).expect("read the program"))
}

/// A static glibc program: its start-up needs the auxiliary vector
/// (AT_RANDOM, AT_PHDR), `arch_prctl` for thread-local storage, `brk` and
/// `mmap` for `malloc`, and answers the calls the kernel lacks with
/// `ENOSYS` gracefully.
#[testkit::needs(kvm, cc)]
#[test]
fn a_static_glibc_program_runs() {
    if !require_kvm() {
        return;
    }
    let Some(elf) = static_c_program(
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
__thread int counter = 41;
int main(int argc, char **argv) {
    struct utsname u;
    uname(&u);
    char *small = malloc(100000), *big = malloc(10 << 20);
    memset(small, 1, 100000);
    big[(10 << 20) - 1] = 2;
    counter++;
    printf("hello argc=%d arg=%s pid=%d sys=%s tls=%d heap=%d\n", argc, argv[argc - 1],
           getpid(), u.sysname, counter, small[99999] + big[(10 << 20) - 1]);
    return 7;
}
"#,
    ) else {
        return;
    };
    let config = VmConfig::new(versus_images::KERNEL)
        .workload(elf, ["hello", "world"])
        .timeout(Duration::from_secs(60));
    let r = run_expect(&config, 7);
    assert_eq!(
        line(&r, "hello "),
        "hello argc=2 arg=world pid=1 sys=versus tls=42 heap=3"
    );
}

/// A static-PIE (`ET_DYN`, no interpreter): the kernel maps it at its load
/// base and it relocates itself — globals, TLS and `malloc` included, the
/// program's own addresses at that base.
#[testkit::needs(kvm, cc)]
#[test]
fn a_static_pie_glibc_program_runs() {
    if !require_kvm() {
        return;
    }
    let Some(elf) = c_program(
        r#"#include <stdio.h>
#include <stdlib.h>
static const char *names[] = {"zero", "one", "two"};
__thread int counter = 1;
int main(int argc, char **argv) {
    char *heap = malloc(1000);
    heap[999] = 2;
    counter += heap[999];
    printf("pie argc=%d arg=%s name=%s tls=%d main=%s\n", argc, argv[1], names[argc],
           counter, (unsigned long)&main >= 0x400000 ? "based" : "unrelocated");
    return 3;
}
"#,
        "-static-pie",
    ) else {
        return;
    };
    assert_eq!(u16::from_le_bytes([elf[16], elf[17]]), 3, "an ET_DYN image");
    let config = VmConfig::new(versus_images::KERNEL)
        .workload(elf, ["pie", "x"])
        .timeout(Duration::from_secs(60));
    let r = run_expect(&config, 3);
    assert_eq!(
        line(&r, "pie "),
        "pie argc=2 arg=x name=two tls=3 main=based"
    );
}

/// `munmap` in the middle of a 2 MiB page splits it; `PROT_NONE` memory
/// comes back with `mprotect`; a read-only page and an unmapped hole fault.
#[testkit::needs(kvm, cc)]
#[test]
fn munmap_and_mprotect_change_mappings() {
    if !require_kvm() {
        return;
    }
    let Some(elf) = static_c_program(
        r#"#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
int main(int argc, char **argv) {
    char *p = mmap(0, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 10;
    memset(p, 1, 4 << 20);
    if (munmap(p + (1 << 20), 1 << 20)) return 11;
    p[0] = 3;
    p[(1 << 20) - 1] = 3;
    p[3 << 20] = 2;
    char *n = mmap(0, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (n == MAP_FAILED) return 12;
    if (mprotect(n, 8192, PROT_READ | PROT_WRITE)) return 13;
    n[8191] = 5;
    if (mprotect(n, 4096, PROT_READ)) return 14;
    char *hole = p + (1 << 20) + 4096;
    printf("ok %d %d %d hole=%p ro=%p\n", p[(1 << 20) - 1], p[3 << 20], n[8191], hole, n);
    fflush(stdout);
    if (argv[1][0] == 'h') *hole = 1; else n[0] = 1;
    return 0;
}
"#,
    ) else {
        return;
    };
    for (arg, what) in [("hole", "hole"), ("ro", "ro")] {
        let config = VmConfig::new(versus_images::KERNEL)
            .workload(elf.clone(), ["prog", arg])
            .timeout(Duration::from_secs(60));
        let r = run_expect(&config, 128 + 11);
        let ok = line(&r, "ok ");
        assert!(ok.starts_with("ok 3 2 5 "), "{ok}");
        let fault = line(&r, "@kernel fault ");
        assert_eq!(field(fault, "addr"), field(ok, what), "{fault}");
    }
}

/// Kernel-mode instructions of vCPU 0 (single-stepped): to the workload's
/// start, and in the whole run.
fn kernel_instructions(report: &VmReport) -> (u64, u64) {
    let vcpu = &report.per_vcpu[0];
    let count = vcpu.instructions.expect("counting was asked for");
    let at_start = vcpu
        .markers
        .iter()
        .find(|m| m.code == event::WORKLOAD_START)
        .and_then(|m| m.kernel_instructions)
        .expect("the workload-start marker carries the count");
    (at_start, count.kernel)
}

#[testkit::needs(kvm)]
#[test]
fn single_stepping_counts_the_kernels_work() {
    if !require_kvm() {
        return;
    }
    let counted = |args: &[&str]| {
        let report = run_expect(&workload(args).count_kernel_instructions(true), 0);
        // The single-step traps are not device exits: the accounting is
        // the same as without counting.
        assert!(
            report
                .exits
                .iter()
                .all(|(kind, _)| !matches!(kind, ExitKind::Other)),
            "{:?}",
            report.exits
        );
        kernel_instructions(&report)
    };
    let (boot, startup_total) = counted(&["startup"]);
    assert!(
        boot > 0 && boot <= startup_total,
        "{boot} / {startup_total}"
    );
    // A boot of the tiny kernel is short work: far below what a Linux boot
    // executes (millions); the bound leaves room for a growing kernel.
    assert!(boot < 100_000, "{boot} kernel instructions to the workload");
    // Each extra getpid adds the same short kernel path.
    let (_, few) = counted(&["getpid", "10"]);
    let (_, many) = counted(&["getpid", "110"]);
    let per_call = (many - few) as f64 / 100.0;
    assert!(
        (5.0..500.0).contains(&per_call),
        "{per_call} kernel instructions per getpid ({few} vs {many})"
    );
    // Without counting there is no count.
    let plain = run_expect(&workload(&["startup"]), 0);
    assert!(plain.per_vcpu[0].instructions.is_none());
    assert!(
        plain.per_vcpu[0]
            .markers
            .iter()
            .all(|m| m.kernel_instructions.is_none())
    );
}
