//! What `versus` does with inputs it cannot use — workload and kernel files
//! that are not regular files or are too large, VM sizes it cannot honour,
//! images the tiny kernel cannot run — and with a guest that floods its
//! console: each gets a clear message (or a bounded memory footprint),
//! checked through the real binary.

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use bench::report::RunReport;
use bench::workload::file::{self, ImageFileError, ImageKind};

/// Long enough for any of these runs on a software KVM backend; a hang
/// (the bug a fifo used to cause) fails the test instead of blocking it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

fn versus() -> Command {
    let mut command = Command::cargo_bin("versus").expect("the versus binary is built");
    command.timeout(COMMAND_TIMEOUT);
    // Wide enough that no message these tests look for is wrapped in a table.
    command.env("COLUMNS", "1000");
    command
}

/// Runs versus with `args`, expects it to fail, and returns its stderr.
fn failure(args: &[&str]) -> String {
    let output = versus().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success() && output.status.signal().is_none(),
        "versus {args:?} should fail with a message: {:?}\n{stderr}",
        output.status
    );
    stderr
}

fn assert_mentions(stderr: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(stderr.contains(w), "expected {w:?} in:\n{stderr}");
    }
}

#[test]
fn a_fifo_workload_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let path = fifo.to_str().unwrap();
    let stderr = failure(&["host", "run", "--workload", path, "--", "x"]);
    assert_mentions(&stderr, &[path, "is a fifo, not a regular file"]);
    let stderr = failure(&["vm", "run", "--kernel", path, "--", "startup"]);
    assert_mentions(&stderr, &["kernel", "is a fifo, not a regular file"]);
}

#[test]
fn devices_and_directories_are_named_as_such() {
    let stderr = failure(&["host", "run", "--workload", "/dev/zero", "--", "x"]);
    assert_mentions(
        &stderr,
        &["workload /dev/zero is a character device, not a regular file"],
    );
    let stderr = failure(&["vm", "run", "--kernel", "/dev/zero", "--", "startup"]);
    assert_mentions(
        &stderr,
        &["kernel /dev/zero is a character device, not a regular file"],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let stderr = failure(&["host", "run", "--workload", path, "--", "x"]);
    assert_mentions(&stderr, &["is a directory, not a regular file"]);
}

#[test]
fn an_oversized_file_is_refused_by_its_size() {
    // Sparse: one byte over the limit costs no disk and, since the size is
    // checked first, no reading either.
    let big = tempfile::NamedTempFile::new().unwrap();
    big.as_file().set_len(file::WORKLOAD_MAX_BYTES + 1).unwrap();
    let path = big.path().to_str().unwrap();
    let limit = file::WORKLOAD_MAX_BYTES.to_string();
    let stderr = failure(&["host", "run", "--workload", path, "--", "x"]);
    assert_mentions(&stderr, &[&limit, "at most", "64 MiB"]);
    big.as_file().set_len(file::KERNEL_MAX_BYTES + 1).unwrap();
    let stderr = failure(&["vm", "run", "--kernel", path, "--", "startup"]);
    assert_mentions(&stderr, &["kernel", "at most", "64 MiB"]);
}

#[test]
fn reading_stops_one_byte_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image");
    std::fs::write(&path, b"0123456789").unwrap();
    assert_eq!(
        file::read_limited(&path, ImageKind::Workload, 10).unwrap(),
        b"0123456789"
    );
    assert!(matches!(
        file::read_limited(&path, ImageKind::Kernel, 9),
        Err(ImageFileError::TooLarge {
            size: 10,
            limit: 9,
            ..
        })
    ));
    assert!(matches!(
        file::read_limited(Path::new("/nonexistent/versus"), ImageKind::Kernel, 9),
        Err(ImageFileError::Io { .. })
    ));
}

#[test]
fn too_little_memory_names_the_minimum() {
    for mem in ["1K", "0", "6140K"] {
        let stderr = failure(&["vm", "run", "--mem", mem, "--", "startup"]);
        assert_mentions(&stderr, &["is too small: the VM needs at least 6 MiB"]);
        assert!(!stderr.contains("region"), "{stderr}");
    }
    let stderr = failure(&["vm", "run", "--mem", "6291457", "--", "startup"]);
    assert_mentions(&stderr, &["--mem 6291457 bytes is not a multiple of 4 KiB"]);
    // `compare` refuses it up front, in the same words.
    let stderr = failure(&["compare", "--mem", "1K"]);
    assert_mentions(
        &stderr,
        &["--mem 1 KiB is too small: the VM needs at least 6 MiB"],
    );
    assert!(!stderr.contains("--mem: "), "{stderr}");
}

#[test]
fn more_memory_than_the_host_has_is_refused() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let twice = format!("{}G", (kib >> 20) * 2 + 2);
    let stderr = failure(&["vm", "run", "--mem", &twice, "--", "startup"]);
    assert_mentions(&stderr, &["is more than this host's RAM"]);
}

/// Runs `versus vm run --json ARGS` and returns its report and stderr,
/// whatever the exit status.
fn vm_report(args: &[&str]) -> (RunReport, String) {
    let output = versus()
        .args(["vm", "run", "--json", "--timeout", "120s"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("no JSON report ({err}); stderr:\n{stderr}"));
    (report, stderr)
}

#[testkit::needs(kvm)]
#[test]
fn the_minimum_boots_and_out_of_memory_is_named() {
    if !common::require_kvm("the_minimum_boots_and_out_of_memory_is_named") {
        return;
    }
    let (report, stderr) = vm_report(&["--mem", "6M", "--", "startup"]);
    assert!(report.exit.success(), "{:?}\n{stderr}", report.exit);
    // Two instances need a second 2 MiB stack page: out of memory.
    let output = versus()
        .args(["vm", "run", "--vcpus", "2", "--mem", "6M", "--", "startup"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert_mentions(
        &text,
        &["the guest kernel ran out of memory: give the VM more with --mem"],
    );
    assert!(!text.contains("exception vector"), "{text}");
}

/// A static-PIE (`cc -static-pie`: `ET_DYN`, no interpreter) passes the
/// up-front check and runs on the host; the tiny kernel maps it at a load
/// base and it relocates itself, so it runs in the VM too.
#[testkit::needs(kvm, cc)]
#[test]
fn a_static_pie_workload_runs_in_the_vm() {
    if !common::require_kvm("a_static_pie_workload_runs_in_the_vm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(pie) = testkit::c_program(
        "a_static_pie_workload_runs_in_the_vm",
        "cc",
        "-static-pie",
        dir.path(),
        "pie",
        "#include <stdio.h>\nint main(int argc, char **argv) {\n\
         printf(\"pie %s\\n\", argv[argc - 1]);\n    return 5;\n}\n",
    ) else {
        return;
    };
    let image = std::fs::read(&pie).unwrap();
    assert_eq!(u16::from_le_bytes([image[16], image[17]]), 3, "ET_DYN");
    let (report, stderr) = vm_report(&["--workload", pie.to_str().unwrap(), "--", "hello"]);
    assert_eq!(
        report.exit,
        bench::report::ExitOutcome::Exited { code: 5 },
        "{stderr}"
    );
    assert_eq!(report.other_output_lines, 1, "its one line of output");
}

/// A static x86-64 `ET_EXEC` workload of two pages whose `PT_LOAD`
/// segments are `(file offset, address, file size, memory size)`, with
/// `exit_group(0)` at offset 0x1000, entered at 0x401000.
fn workload_with(segments: &[(u64, u64, u64, u64)]) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let mut elf = vec![0u8; 0x2000];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1; // version
    elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes()); // entry
    elf[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes()); // phoff
    elf[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    elf[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    let count = u16::try_from(segments.len()).unwrap();
    elf[56..58].copy_from_slice(&count.to_le_bytes()); // phnum
    for (i, &(offset, vaddr, filesz, memsz)) in segments.iter().enumerate() {
        let ph = &mut elf[EHDR + i * PHDR..EHDR + (i + 1) * PHDR];
        ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
        for (at, v) in [
            (8, offset),
            (16, vaddr),
            (24, vaddr),
            (32, filesz),
            (40, memsz),
        ] {
            ph[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
    }
    // mov eax, 231 (exit_group); xor edi, edi; syscall
    elf[0x1000..0x1009].copy_from_slice(&[0xb8, 0xe7, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);
    elf
}

/// Workloads that pass versus' up-front check (static x86-64 ELF
/// executables) but that the tiny kernel cannot map: the VM run fails with
/// the kernel's reason in words, and versus exits with the VM-failure
/// status, not a panic.
#[testkit::needs(kvm)]
#[test]
fn a_workload_the_tiny_kernel_cannot_map_is_named() {
    if !common::require_kvm("a_workload_the_tiny_kernel_cannot_map_is_named") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let good = (0, 0x40_0000, 0x2000, 0x2000);
    let mut too_many_headers = workload_with(&[good]);
    too_many_headers[56..58].copy_from_slice(&65u16.to_le_bytes());
    let cases = [
        ("good", workload_with(&[good]), None),
        (
            "overlapping",
            workload_with(&[good, (0x1000, 0x40_1000, 0x1000, 0x1000)]),
            Some("two loadable segments overlap"),
        ),
        (
            "file-larger-than-memory",
            workload_with(&[(0, 0x40_0000, 0x2000, 0x1000)]),
            Some("a loadable segment is malformed"),
        ),
        (
            "no-segment",
            workload_with(&[]),
            Some("it has no loadable segment"),
        ),
        (
            "too-many-headers",
            too_many_headers,
            Some("its program headers are malformed"),
        ),
    ];
    for (name, image, why) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, image).unwrap();
        let output = versus()
            .args([
                "vm",
                "run",
                "--json",
                "--workload",
                path.to_str().unwrap(),
                "--",
                "x",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let report: RunReport = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{name}: no JSON report ({err}); stderr:\n{stderr}"));
        match why {
            None => assert!(report.exit.success(), "{name}: {:?}\n{stderr}", report.exit),
            Some(why) => {
                let bench::report::ExitOutcome::VmFailed { reason } = &report.exit else {
                    panic!("{name}: {:?}\n{stderr}", report.exit);
                };
                assert_mentions(reason, &["cannot run the workload image", why]);
                assert_eq!(
                    output.status.code(),
                    Some(report.exit.shell_status()),
                    "{name}"
                );
            }
        }
    }
}

/// A minimal x86-64 `ET_EXEC` kernel: one `hlt` loaded and entered at `addr`.
fn kernel_at(addr: u64) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let mut elf = vec![0u8; EHDR + PHDR + 1];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1; // version
    elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[24..32].copy_from_slice(&addr.to_le_bytes()); // entry
    elf[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes()); // phoff
    elf[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    elf[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
    let ph = &mut elf[EHDR..EHDR + PHDR];
    ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
    ph[8..16].copy_from_slice(&((EHDR + PHDR) as u64).to_le_bytes()); // offset
    ph[16..24].copy_from_slice(&addr.to_le_bytes()); // vaddr
    ph[24..32].copy_from_slice(&addr.to_le_bytes()); // paddr
    ph[32..40].copy_from_slice(&1u64.to_le_bytes()); // filesz
    ph[40..48].copy_from_slice(&1u64.to_le_bytes()); // memsz
    elf[EHDR + PHDR] = 0xf4; // hlt
    elf
}

#[testkit::needs(kvm)]
#[test]
fn a_kernel_linked_outside_ram_says_where() {
    if !common::require_kvm("a_kernel_linked_outside_ram_says_where") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kernel-at-8g");
    std::fs::write(&path, kernel_at(0x2_0000_0000)).unwrap();
    let stderr = failure(&[
        "vm",
        "run",
        "--kernel",
        path.to_str().unwrap(),
        "--",
        "startup",
    ]);
    assert_mentions(
        &stderr,
        &[
            "linked at 0x200000000",
            "outside guest RAM",
            "link it at 1 MiB",
        ],
    );
}

/// Largest peak RSS the console flood may cost versus: the VMM's own
/// overhead is about 10 MiB; before console output was bounded the flood
/// below reached well over 100 MiB in the same two seconds.
const FLOOD_RSS_MAX: u64 = 64 << 20;

#[testkit::needs(kvm)]
#[test]
fn a_console_flood_keeps_memory_flat() {
    if !common::require_kvm("a_console_flood_keeps_memory_flat") {
        return;
    }
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which also gives its peak RSS"
    )]
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(["vm", "run", "--json", "--timeout", "2s", "--"])
        .args(["write", "4294967295", "65536"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    // The JSON report holds the program's first 64 KiB of output, more
    // than a pipe buffer: read both pipes while versus runs.
    let out = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let err = std::thread::spawn(move || {
        let mut err = Vec::new();
        stderr.read_to_end(&mut err).map(|_| err)
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero is a valid `rusage` (plain integers).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 gives its peak RSS.
    // SAFETY: `pid` is our child, not yet reaped; both out-pointers are
    // valid for writes.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "{}", std::io::Error::last_os_error());
    let out = out.join().unwrap().unwrap();
    let err = err.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&err);
    let report: RunReport = serde_json::from_slice(&out)
        .unwrap_or_else(|err| panic!("no JSON report ({err}); stderr:\n{stderr}"));
    let peak = usage.ru_maxrss as u64 * 1024;
    let vm = report.vm.as_ref().expect("a VM report");
    eprintln!(
        "flood: {} console bytes, versus peak RSS {} KiB",
        vm.paravirt_bytes,
        peak >> 10
    );
    assert!(
        vm.paravirt_bytes
            > 2 * (hypervisor::console::HEAD_MAX + hypervisor::console::TAIL_MAX) as u64,
        "the flood wrote only {} bytes: too little to test the bound",
        vm.paravirt_bytes
    );
    assert!(
        peak < FLOOD_RSS_MAX,
        "versus peaked at {} MiB under a console flood",
        peak >> 20
    );
    // The run still reports its figures: it timed out, every line counted.
    assert!(
        matches!(report.exit, bench::report::ExitOutcome::TimedOut { .. }),
        "{:?}",
        report.exit
    );
    assert!(report.other_output_lines > 0);
}
