//! The Linux boot protocol on a real distribution kernel: Debian's
//! `linux-image-cloud-amd64` bzImage (LZ4 payload, PVH note), fetched with
//! `apt-get download` into a temporary directory and unpacked with
//! `dpkg-deb -x`, or the bzImage/vmlinux named by `VERSUS_LINUX_KERNEL`.
//!
//! Ignored by default: the download is about 26 MB. Run it with
//! `cargo test -p hypervisor --test linux_boot -- --ignored`. Where neither
//! a kernel path nor the download is available it skips with a printed
//! reason (a failure under `VERSUS_REQUIRE_ROOT=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use hypervisor::linux::{self, Compression, EntryProtocol, KernelFormat};
use hypervisor::memory::{MemoryLayout, create_guest_memory};
use testkit::guest::{LINUX_ENTRY, linux_elf};
use vm_memory::{Bytes, GuestAddress};

/// Debian's metapackage for its smallest x86-64 kernel.
const PACKAGE: &str = "linux-image-cloud-amd64";

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads the metapackage, then the kernel package it depends on, and
/// unpacks it; returns the path of its `/boot/vmlinuz-*`.
fn fetch_debian_kernel(dir: &Path) -> Result<PathBuf, String> {
    run(Command::new("apt-get")
        .arg("download")
        .arg(PACKAGE)
        .current_dir(dir))?;
    let meta = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let depends = run(Command::new("dpkg-deb").arg("-f").arg(&meta).arg("Depends"))?;
    let image = depends
        .split([',', ' '])
        .find(|d| d.starts_with("linux-image-"))
        .ok_or_else(|| format!("{PACKAGE} depends on no linux-image package: {depends}"))?;
    run(Command::new("apt-get")
        .arg("download")
        .arg(image)
        .current_dir(dir))?;
    let deb = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(image))
        })
        .ok_or("the kernel package was not downloaded")?;
    let root = dir.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    std::fs::read_dir(root.join("boot"))
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| "the package has no /boot/vmlinuz-*".into())
}

/// The kernel named by `VERSUS_LINUX_KERNEL`, or Debian's downloaded into
/// `dir`; `None` (the test skipped with the reason) when neither is there.
fn debian_kernel(test: &str, dir: &Path) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VERSUS_LINUX_KERNEL") {
        return Some(PathBuf::from(path));
    }
    match fetch_debian_kernel(dir) {
        Ok(path) => Some(path),
        Err(why) => {
            testkit::skip(
                test,
                testkit::Need::Root,
                &format!("no Debian kernel to try: {why}"),
            );
            None
        }
    }
}

#[test]
#[ignore = "downloads a 26 MB Debian kernel package"]
fn a_debian_bzimage_unpacks_and_loads_with_its_pvh_note() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = debian_kernel(
        "a_debian_bzimage_unpacks_and_loads_with_its_pvh_note",
        dir.path(),
    ) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let image = linux::image::parse(&bytes).unwrap();
    if std::env::var_os("VERSUS_LINUX_KERNEL").is_none() {
        // Debian builds its x86-64 kernels with CONFIG_KERNEL_LZ4.
        assert_eq!(image.format, KernelFormat::BzImage(Compression::Lz4));
    }
    assert!(
        image.vmlinux.len() > bytes.len(),
        "the vmlinux is larger than the bzImage"
    );
    let header = image.setup_header.expect("a bzImage has a setup header");
    assert!({ header.version } >= 0x020f);

    let layout = MemoryLayout::split(512 << 20).unwrap();
    let mem = create_guest_memory(&layout).unwrap();
    let boot = linux::load(
        &mem,
        &layout,
        &image,
        "console=ttyS0 noxsave",
        2,
        None,
        EntryProtocol::Pvh,
    )
    .unwrap();
    // Debian's kernels have CONFIG_PVH: linux-loader finds the note.
    assert_eq!(boot.protocol, EntryProtocol::Pvh);
    assert!(boot.entry >= 0x10_0000 && boot.entry < boot.kernel_end);
    let mut magic = [0u8; 4];
    mem.read_slice(&mut magic, GuestAddress(boot.boot_params))
        .unwrap();
    assert_eq!(
        u32::from_le_bytes(magic),
        0x336e_c578,
        "hvm_start_info magic"
    );

    // The 64-bit entry gets the zero page with the kernel's own header.
    let boot = linux::load(
        &mem,
        &layout,
        &image,
        "console=ttyS0",
        1,
        None,
        EntryProtocol::Linux64,
    )
    .unwrap();
    assert_eq!(boot.protocol, EntryProtocol::Linux64);
    let mut zp = [0u8; 4096];
    mem.read_slice(&mut zp, GuestAddress(boot.boot_params))
        .unwrap();
    assert_eq!(&zp[0x202..0x206], b"HdrS");
    assert_eq!(u16::from_le_bytes([zp[0x206], zp[0x207]]), {
        header.version
    });
}

/// True if /dev/kvm can be used; otherwise skips visibly (a failure under
/// `VERSUS_REQUIRE_KVM=1`).
fn require_kvm(test: &str) -> bool {
    testkit::require_kvm(test)
}

/// 64-bit code that reads the zero page (RSI) as Linux would: writes
/// `e820_entries` as a digit, then the command line at `cmd_line_ptr`, then
/// a newline to COM1, and resets the machine through the i8042.
const READ_ZERO_PAGE: &[u8] = &[
    0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0x0f, 0xb6, 0x86, 0xe8, 0x01, 0x00, 0x00, // movzx eax, byte [rsi+0x1e8]
    0x04, 0x30, // add al, '0'
    0xee, // out dx, al
    0x8b, 0x9e, 0x28, 0x02, 0x00, 0x00, // mov ebx, [rsi+0x228]
    0x8a, 0x03, // loop: mov al, [rbx]
    0x84, 0xc0, // test al, al
    0x74, 0x06, // jz done
    0xee, // out dx, al
    0x48, 0xff, 0xc3, // inc rbx
    0xeb, 0xf4, // jmp loop
    0xb0, 0x0a, // done: mov al, '\n'
    0xee, // out dx, al
    0xb0, 0xfe, // mov al, 0xfe
    0xe6, 0x64, // out 0x64, al
    0xf4, // hlt
];

fn tiny_config(code: &[u8], cmdline: &str) -> linux::run::LinuxRunConfig {
    linux::run::LinuxRunConfig {
        kernel: linux_elf(code),
        cmdline: Some(cmdline.into()),
        vcpus: 1,
        memory: 64 << 20,
        timeout: std::time::Duration::from_secs(60),
        stall_silence: linux::run::STALL_SILENCE,
        console_observer: None,
        stop_flag: None,
        initrd: None,
        init_args: Vec::new(),
    }
}

#[testkit::needs(kvm)]
#[test]
fn a_hand_made_kernel_reads_versus_zero_page_through_the_real_vm_path() {
    if !require_kvm("a_hand_made_kernel_reads_versus_zero_page_through_the_real_vm_path") {
        return;
    }
    let report = linux::run::boot(&tiny_config(READ_ZERO_PAGE, "hello=zero-page")).unwrap();
    assert_eq!(report.end, linux::run::LinuxEnd::Reboot, "{report:#?}");
    // A split 64 MiB layout: RAM below the MP table, the reserved legacy
    // area, RAM from 1 MiB, RAM from 4 GiB.
    let line = report.last_lines.first().cloned().unwrap_or_default();
    assert!(line.starts_with("4console=ttyS0"), "{line:?}");
    assert!(
        line.ends_with(" hello=zero-page"),
        "the user's part comes last: {line:?}"
    );
    assert_eq!(report.cmdline, line[1..]);
    assert!(
        report
            .milestones
            .iter()
            .any(|(m, _)| *m == linux::milestones::Milestone::FirstLine)
    );
    assert!(
        report
            .exits
            .count(hypervisor::ExitKind::IoOut { port: 0x3f8 })
            >= line.len() as u64
    );
}

/// Two wide port writes that end on COM1's data register: `out dx, ax` to
/// 0x3f7 puts its high byte in 0x3f8, `out dx, eax` to 0x3f5 its top byte,
/// as on an ISA bus; then a reset through the i8042.
const WIDE_OUTS_TO_COM1: &[u8] = &[
    0x66, 0xba, 0xf7, 0x03, // mov dx, 0x3f7
    0x66, 0xb8, 0x00, b'O', // mov ax, 'O' << 8
    0x66, 0xef, // out dx, ax
    0x66, 0xba, 0xf5, 0x03, // mov dx, 0x3f5
    0xb8, 0x00, 0x00, 0x00, b'K', // mov eax, 'K' << 24
    0xef, // out dx, eax
    0xb0, 0xfe, // mov al, 0xfe
    0xe6, 0x64, // out 0x64, al
    0xf4, // hlt
];

/// Boots `config` and returns how it ended and every byte the guest wrote
/// to the console.
fn boot_capturing_console(
    mut config: linux::run::LinuxRunConfig,
) -> (linux::run::LinuxRunReport, Vec<u8>) {
    let console = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = console.clone();
    config.console_observer = Some(hypervisor::console::ConsoleObserver::new(move |w| {
        sink.lock().unwrap().extend_from_slice(w.bytes)
    }));
    let report = linux::run::boot(&config).unwrap();
    let console = console.lock().unwrap().clone();
    (report, console)
}

/// Runs a hand-made kernel and returns how it ended and every byte it
/// wrote to the console.
fn boot_and_capture_console(code: &[u8]) -> (linux::run::LinuxRunReport, Vec<u8>) {
    boot_capturing_console(tiny_config(code, ""))
}

/// Boots a real kernel with versus' initramfs and checks it got as far as
/// it can: "Run /init" on a software backend (where versus stops there),
/// `/init`'s clean exit elsewhere. Returns the report and the console's text.
fn boot_real_kernel_to_init(
    config: linux::run::LinuxRunConfig,
) -> (linux::run::LinuxRunReport, String) {
    let (report, console) = boot_capturing_console(config);
    let console = String::from_utf8_lossy(&console).into_owned();
    let expected = if report.backend.is_software() {
        linux::run::LinuxEnd::InitReached
    } else {
        linux::run::LinuxEnd::InitEnded(linux::milestones::InitStatus::Exited(0))
    };
    assert_eq!(report.end, expected, "{report:#?}\n{console}");
    (report, console)
}

#[testkit::needs(kvm)]
#[test]
fn a_wide_port_write_gives_each_byte_to_its_own_port() {
    if !require_kvm("a_wide_port_write_gives_each_byte_to_its_own_port") {
        return;
    }
    let (report, console) = boot_and_capture_console(WIDE_OUTS_TO_COM1);
    assert_eq!(report.end, linux::run::LinuxEnd::Reboot, "{report:#?}");
    assert_eq!(String::from_utf8_lossy(&console), "OK", "{report:#?}");
}

#[testkit::needs(kvm)]
#[test]
fn a_rep_insb_batch_reads_every_byte_from_the_uart() {
    if !require_kvm("a_rep_insb_batch_reads_every_byte_from_the_uart") {
        return;
    }
    // 16 reads of COM1's line status register: transmitter empty and
    // holding register empty (0x60, a backquote) each time, then the 16
    // bytes written back to COM1.
    const LSR: u16 = 0x3fd;
    const READS: u32 = 16;
    let (report, console) = boot_and_capture_console(&testkit::guest::rep_insb_echo_then(
        LSR,
        READS,
        testkit::guest::RESET_THROUGH_I8042,
    ));
    assert_eq!(report.end, linux::run::LinuxEnd::Reboot, "{report:#?}");
    assert_eq!(console, vec![0x60; READS as usize], "{report:#?}");
}

#[testkit::needs(kvm)]
#[test]
fn a_boot_out_of_time_on_a_software_backend_says_to_give_it_minutes() {
    if !require_kvm("a_boot_out_of_time_on_a_software_backend_says_to_give_it_minutes") {
        return;
    }
    // A line, then `jmp $` forever: busy and silent, as a distribution
    // kernel is for minutes here; the run's timeout comes long before its
    // stall window.
    let mut config = tiny_config(&testkit::guest::prints_then("booting\n", &[0xeb, 0xfe]), "");
    config.timeout = std::time::Duration::from_secs(2);
    let report = linux::run::boot(&config).unwrap();
    assert_eq!(report.end, linux::run::LinuxEnd::Timeout, "{report:#?}");
    if report.backend.is_software() {
        let advice = report.advice().expect("advice for a timeout here");
        assert!(
            advice.contains("--timeout 30m") && advice.contains("tens of minutes"),
            "{advice}"
        );
    } else {
        assert_eq!(report.advice(), None, "hardware runs the kernel at speed");
    }
}

#[testkit::needs(kvm)]
#[test]
fn an_int3_is_assisted_on_a_software_backend_and_a_triple_fault_reports_rip() {
    if !require_kvm("an_int3_is_assisted_on_a_software_backend_and_a_triple_fault_reports_rip") {
        return;
    }
    // int3 with no IDT: the #BP cannot be delivered, so the vCPU shuts down
    // (triple fault) — on hardware at once, on a software backend after
    // versus injected the #BP its emulator refused to raise.
    let report = linux::run::boot(&tiny_config(&[0xcc, 0xf4], "")).unwrap();
    assert!(
        matches!(report.end, linux::run::LinuxEnd::Shutdown { vcpu: 0, .. }),
        "{report:#?}"
    );
    if report.backend.is_software() {
        assert_eq!(
            report.assists.get("int3 (#BP injected)"),
            Some(&1),
            "{report:#?}"
        );
    }
}

#[testkit::needs(kvm)]
#[test]
fn an_emulation_failure_reports_the_guest_rip_and_the_instruction_bytes() {
    if !require_kvm("an_emulation_failure_reports_the_guest_rip_and_the_instruction_bytes") {
        return;
    }
    // popcnt eax, ecx; then reset through the i8042. A software backend's
    // emulator refuses popcnt; hardware runs it and resets.
    let code = [0xf3, 0x0f, 0xb8, 0xc1, 0xb0, 0xfe, 0xe6, 0x64, 0xf4];
    let report = linux::run::boot(&tiny_config(&code, "")).unwrap();
    if report.backend.is_software() {
        match &report.end {
            linux::run::LinuxEnd::EmulationFailure { vcpu, rip, bytes } => {
                assert_eq!((*vcpu, *rip), (0, LINUX_ENTRY));
                assert_eq!(
                    &bytes[..4],
                    &code[..4],
                    "read through the guest's page tables"
                );
                let text = report.end.to_string();
                assert!(
                    text.contains("f3 0f b8 c1") && text.contains("0x100000"),
                    "{text}"
                );
            }
            other => panic!("expected an emulation failure, got {other}"),
        }
    } else {
        assert_eq!(report.end, linux::run::LinuxEnd::Reboot);
    }
}

/// The minimal kernel `make linux-guest` builds, if it is there. `make
/// test` does not build it (a kernel build takes minutes), so there a
/// missing kernel skips with a printed reason; `make test-linux-guest`
/// builds it first and makes a missing one a failure.
fn minimal_kernel(test: &str) -> Option<Vec<u8>> {
    let path = Path::new(linux::MINIMAL_KERNEL_PATH);
    if !testkit::require_linux_guest(test, path) {
        return None;
    }
    Some(std::fs::read(path).expect("the minimal kernel is readable"))
}

/// How the e820 map versus writes appears on Linux's console
/// (`e820__print_table`: inclusive end, `usable` or `reserved`).
fn e820_console_line(entry: &linux::zeropage::E820Entry) -> String {
    let kind = if entry.kind == linux::zeropage::E820_RAM {
        "usable"
    } else {
        "reserved"
    };
    format!(
        "BIOS-e820: [mem {:#018x}-{:#018x}] {kind}",
        entry.addr,
        entry.addr + entry.size - 1
    )
}

/// Boots the minimal kernel with `vcpus` vCPUs to "Run /init" (on a
/// software backend; to `/init`'s end elsewhere) and checks that Linux read
/// versus' e820 map and MP table and brought up every vCPU.
fn boot_minimal_kernel(test: &str, vcpus: u32) {
    if !require_kvm(test) {
        return;
    }
    let Some(kernel) = minimal_kernel(test) else {
        return;
    };
    let memory = 64 << 20;
    let config = linux::run::LinuxRunConfig {
        kernel,
        cmdline: None,
        vcpus,
        memory,
        timeout: std::time::Duration::from_secs(1800),
        stall_silence: linux::run::STALL_SILENCE,
        console_observer: None,
        stop_flag: None,
        initrd: Some(linux::initrd::workload_archive(versus_images::WORKLOAD)),
        init_args: vec!["uname".into()],
    };
    let memory = config.memory;
    let (report, console) = boot_real_kernel_to_init(config);
    // versus' MP table, found where versus put it, with its OEM id.
    assert!(
        console.contains("found SMP MP-table at [mem 0x0009fc00-0x0009fc0f]")
            && console.contains("MPTABLE: OEM ID: VERSUS"),
        "{console}"
    );
    assert!(
        console.contains(&format!("smpboot: Allowing {vcpus} CPUs")),
        "{console}"
    );
    let up = if vcpus == 1 {
        "1 CPU".to_owned()
    } else {
        format!("{vcpus} CPUs")
    };
    assert!(
        console.contains(&format!("smp: Brought up 1 node, {up}")),
        "{console}"
    );
    let layout = MemoryLayout::split(memory).unwrap();
    for entry in linux::zeropage::e820_map(&layout) {
        let line = e820_console_line(&entry);
        assert!(console.contains(&line), "{line} missing:\n{console}");
    }
    assert!(report.memory_touched > 0, "{report:#?}");
}

/// One vCPU: the boot to "Run /init" with versus' e820 map and MP table.
#[testkit::needs(kvm)]
#[test]
#[ignore = "boots the minimal kernel: about half a minute on a lightly loaded software backend (make test-linux-guest)"]
fn the_minimal_kernel_boots_to_run_init_with_versus_e820_map_and_mp_table() {
    let test = "the_minimal_kernel_boots_to_run_init_with_versus_e820_map_and_mp_table";
    if !require_kvm(test) {
        return;
    }
    boot_minimal_kernel(test, 1);
}

/// Two vCPUs: Linux finds both in versus' MP table and starts the second
/// through INIT/SIPI (on a software backend too: versus hides KVM's
/// hypercall features there, whose `vmcall` would never return).
#[testkit::needs(kvm)]
#[test]
#[ignore = "boots the minimal kernel: about half a minute on a lightly loaded software backend (make test-linux-guest)"]
fn the_minimal_kernel_brings_up_two_vcpus_from_versus_mp_table() {
    let test = "the_minimal_kernel_brings_up_two_vcpus_from_versus_mp_table";
    if !require_kvm(test) {
        return;
    }
    boot_minimal_kernel(test, 2);
}

/// Debian's cloud kernel, booted as a user's `--linux-kernel` is (versus'
/// command line and the workload as `/init`), to "Run /init" on a software
/// backend (to `/init`'s end elsewhere), with what the docs advise for a
/// distribution kernel there: 256 MiB and three parameters that spare it
/// ring-0 work.
#[testkit::needs(kvm)]
#[test]
#[ignore = "downloads and boots Debian's cloud kernel: 23 minutes to Run /init on this software backend, load average 7-8"]
fn a_debian_cloud_kernel_boots_to_run_init() {
    let test = "a_debian_cloud_kernel_boots_to_run_init";
    if !require_kvm(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = debian_kernel(test, dir.path()) else {
        return;
    };
    let config = linux::run::LinuxRunConfig {
        kernel: std::fs::read(&path).unwrap(),
        cmdline: Some("cryptomgr.notests init_on_alloc=0 audit=0".into()),
        vcpus: 1,
        memory: 256 << 20,
        timeout: std::time::Duration::from_secs(3600),
        stall_silence: linux::run::STALL_SILENCE_OTHER_KERNEL,
        console_observer: None,
        stop_flag: None,
        initrd: Some(linux::initrd::workload_archive(versus_images::WORKLOAD)),
        init_args: vec!["startup".into()],
    };
    let memory = config.memory;
    let (_, console) = boot_real_kernel_to_init(config);
    // versus' e820 map, as the distribution kernel printed it.
    let layout = MemoryLayout::split(memory).unwrap();
    for entry in linux::zeropage::e820_map(&layout) {
        let line = e820_console_line(&entry);
        assert!(console.contains(&line), "{line} missing:\n{console}");
    }
    // versus' initramfs, unpacked by the kernel, gave it /init.
    assert!(console.contains("Run /init as init process"), "{console}");
}
