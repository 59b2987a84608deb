//! `versus vm run --initrd DIR|FILE`: a program reads files in the VM.
//! `tests/programs/initrd_files.c` opens, reads, seeks, stats, lists and
//! follows links in a small tree and exits 3 only when every check passed
//! — on the host (given the tree's path) and in the VM (given `/`, the
//! tree packed into the initramfs, as a directory and as a cpio file),
//! built with glibc and with musl. Inputs versus cannot use are refused
//! before any VM starts, with exit status 2 and a message naming the
//! problem.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bench::report::vm::missing_syscalls;
use bench::report::{ExitOutcome, RunReport};

/// What `initrd_files.c` returns when every check passed.
const ALL_PASSED: i32 = 3;
/// The status of a refused command line.
const USAGE: i32 = 2;

fn versus(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(args)
        .output()
        .unwrap()
}

/// The tree the program reads: `etc/motd`, `etc/sub/deep.txt`, the link
/// `etc/link → motd` and the loop `loop → loop`.
fn tree(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc/sub")).unwrap();
    std::fs::write(root.join("etc/motd"), "hello from the initramfs\n").unwrap();
    std::fs::write(root.join("etc/sub/deep.txt"), "deep\n").unwrap();
    std::os::unix::fs::symlink("motd", root.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    root
}

fn program(test: &str, cc: &str, dir: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/initrd_files.c");
    let text = std::fs::read_to_string(source).unwrap();
    testkit::c_program(test, cc, "-static", dir, "initrd_files", &text)
}

fn assert_status(output: &Output, status: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(status),
        "{what}: stderr {}\nstdout {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The same program reads the same tree alike on the host and in the VM.
fn files_alike(test: &str, cc: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = program(test, cc, dir.path()) else {
        return;
    };
    let root = tree(dir.path());
    let host = versus(&[
        "host".as_ref(),
        "run".as_ref(),
        "--workload".as_ref(),
        program.as_os_str(),
        "--".as_ref(),
        root.as_os_str(),
    ]);
    assert_status(&host, ALL_PASSED, "on the host");
    if !common::require_kvm(test) {
        return;
    }
    // The directory, and the same tree as a cpio file made beforehand.
    let archive = dir.path().join("root.cpio");
    std::fs::write(&archive, hypervisor::initramfs::from_dir(&root).unwrap()).unwrap();
    for initrd in [&root, &archive] {
        let vm = versus(&[
            "vm".as_ref(),
            "run".as_ref(),
            "--json".as_ref(),
            "--timeout".as_ref(),
            "120s".as_ref(),
            "--initrd".as_ref(),
            initrd.as_os_str(),
            "--workload".as_ref(),
            program.as_os_str(),
            "--".as_ref(),
            "/".as_ref(),
            "ro".as_ref(),
        ]);
        assert_status(
            &vm,
            ALL_PASSED,
            &format!("in the VM with --initrd {initrd:?}"),
        );
        let report: RunReport = serde_json::from_slice(&vm.stdout).unwrap();
        assert_eq!(report.exit, ExitOutcome::Exited { code: ALL_PASSED });
        assert!(
            report.stdout.contains("initrd files: all checks passed"),
            "{}",
            report.stdout
        );
        for instance in &report.vm.as_ref().expect("a VM report").instances {
            let missing = missing_syscalls(&instance.kernel_lines);
            assert!(missing.is_empty(), "ENOSYS answers: {missing:?}");
        }
    }
}

#[testkit::needs(cc)]
#[test]
fn glibc_reads_files_alike_on_the_host_and_in_the_vm() {
    files_alike("glibc_reads_files_alike_on_the_host_and_in_the_vm", "cc");
}

#[testkit::needs(musl)]
#[test]
fn musl_reads_files_alike_on_the_host_and_in_the_vm() {
    files_alike(
        "musl_reads_files_alike_on_the_host_and_in_the_vm",
        "musl-gcc",
    );
}

/// `versus vm run --initrd PATH -- startup` must be refused with status 2,
/// nothing on stdout, and a message containing every one of `words`.
fn refused(initrd: &Path, words: &[&str]) {
    let output = versus(&[
        "vm".as_ref(),
        "run".as_ref(),
        "--initrd".as_ref(),
        initrd.as_os_str(),
        "--".as_ref(),
        "startup".as_ref(),
    ]);
    assert_status(&output, USAGE, &format!("--initrd {initrd:?}"));
    assert!(output.stdout.is_empty(), "nothing runs, nothing is printed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for word in words {
        assert!(stderr.contains(word), "{word:?} missing from: {stderr}");
    }
}

#[test]
fn a_file_that_is_not_a_newc_archive_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are notes, not a cpio archive; not at all\n").unwrap();
    refused(
        &text,
        &["notes.txt", "not a valid newc cpio archive", "070701"],
    );

    let root = tree(dir.path());
    let archive = hypervisor::initramfs::from_dir(&root).unwrap();
    let truncated = dir.path().join("truncated.cpio");
    std::fs::write(&truncated, &archive[..archive.len() - 40]).unwrap();
    refused(
        &truncated,
        &["truncated.cpio", "not a valid newc cpio archive"],
    );

    let gzipped = dir.path().join("initrd.img");
    std::fs::write(&gzipped, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03").unwrap();
    refused(&gzipped, &["gzip-compressed", "gunzip"]);

    refused(&dir.path().join("absent"), &["--initrd", "absent"]);
    // Nothing was written next to the inputs.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["initrd.img", "notes.txt", "root", "truncated.cpio"].map(std::ffi::OsString::from)
    );
}

#[test]
fn a_directory_too_large_names_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("big");
    std::fs::create_dir(&root).unwrap();
    // Sparse: 16 MiB of file takes no disk, and leaves no room for headers.
    let file = std::fs::File::create(root.join("huge.bin")).unwrap();
    file.set_len(hypervisor::layout::INITRD_MAX_SIZE).unwrap();
    refused(&root, &["16 MiB", "INITRD_MAX_SIZE", "big"]);
}

#[test]
fn a_device_in_the_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    std::os::unix::net::UnixListener::bind(root.join("etc/socket")).unwrap();
    refused(&root, &["etc/socket", "socket", "remove it"]);
}
