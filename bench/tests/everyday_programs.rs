//! Everyday C programs: `tests/programs/everyday.c` — print, argv/env/auxv,
//! the clocks, sleeping, random bytes, malloc/mmap/munmap/mprotect, TLS,
//! limits, `fstat` — built here statically with glibc (`cc -static`) and
//! with musl (`musl-gcc -static`), must behave the same on the host, in a
//! container and in the VM: exit status 3, which the program returns only
//! when every one of its checks passed. In the VM the tiny kernel must
//! answer every call they make (no `ENOSYS`), and sleeping and random bytes
//! show as their own exit reasons. `tests/programs/tiny_kernel_answers.c`
//! checks the tiny kernel's answers where they differ from a full Linux.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bench::report::vm::missing_syscalls;
use bench::report::{ExitOutcome, RunReport};

/// What `everyday.c` returns when every check passed.
const ALL_PASSED: i32 = 3;

/// A C library to build with: its name and compiler driver.
struct Libc {
    name: &'static str,
    cc: &'static str,
}

const GLIBC: Libc = Libc {
    name: "glibc",
    cc: "cc",
};

const MUSL: Libc = Libc {
    name: "musl",
    cc: "musl-gcc",
};

/// Builds `source` statically with `libc` into `dir`, or skips, saying why
/// (failing instead where `VERSUS_REQUIRE_ROOT=1`, as in CI).
fn build(libc: &Libc, source: &Path, dir: &Path) -> Option<PathBuf> {
    let stem = source.file_stem().unwrap().to_string_lossy();
    let name = format!("{stem}-{}", libc.name);
    let text = std::fs::read_to_string(source).unwrap();
    let test = format!("everyday_programs ({name})");
    testkit::c_program(&test, libc.cc, "-static", dir, &name, &text)
}

fn everyday_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/everyday.c")
}

/// Runs `versus BACKEND run --json --workload PROGRAM -- ARGS`, expects
/// versus to exit with `status`, and parses the report.
fn run(backend: &str, flags: &[&str], program: &Path, args: &[&str], status: i32) -> RunReport {
    let output = Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args([backend, "run", "--json"])
        .args(flags)
        .arg("--workload")
        .arg(program)
        .arg("--")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(status),
        "versus {backend} run {program:?}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The everyday program built with `libc` passes every check on every
/// backend this machine can run.
fn everyday_on_every_backend(libc: &Libc) {
    let test = format!("everyday_{}", libc.name);
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = build(libc, &everyday_source(), dir.path()) else {
        return;
    };
    let args = ["alpha", "beta"];
    let passed = ExitOutcome::Exited { code: ALL_PASSED };

    let host = run("host", &["--timeout", "60s"], &program, &args, ALL_PASSED);
    assert_eq!(host.exit, passed, "host stderr: {}", host.stderr);

    if common::require_root(&test) {
        let container = run(
            "container",
            &["--timeout", "60s"],
            &program,
            &args,
            ALL_PASSED,
        );
        assert_eq!(
            container.exit, passed,
            "container stderr: {}",
            container.stderr
        );
    }

    if common::require_kvm(&test) {
        let vm = run("vm", &["--timeout", "120s"], &program, &args, ALL_PASSED);
        assert_eq!(vm.exit, passed, "vm stderr: {}", vm.stderr);
        let details = vm.vm.as_ref().expect("a VM report");
        for instance in &details.instances {
            let missing = missing_syscalls(&instance.kernel_lines);
            assert!(
                missing.is_empty(),
                "the tiny kernel answered ENOSYS to {}: {:?}",
                libc.name,
                missing.iter().map(ToString::to_string).collect::<Vec<_>>()
            );
        }
        // Three sleeps at least (nanosleep, usleep, clock_nanosleep) and
        // random bytes: each a paravirtual request of its own reason.
        let count = |reason: &str| -> u64 {
            details
                .exits
                .iter()
                .filter(|row| row.reason == reason)
                .map(|row| row.count)
                .sum()
        };
        assert!(count("sleep") >= 3, "exits: {:?}", details.exits);
        assert!(count("random") >= 2, "exits: {:?}", details.exits);
    }
}

#[testkit::needs(cc)]
#[test]
fn a_glibc_everyday_program_behaves_the_same_on_every_backend() {
    everyday_on_every_backend(&GLIBC);
}

#[testkit::needs(musl)]
#[test]
fn a_musl_everyday_program_behaves_the_same_on_every_backend() {
    everyday_on_every_backend(&MUSL);
}

/// A guest asleep for an hour still ends at `--timeout`: the VMM's sleep
/// looks at the VM's stop flag (were it not to, this test would hang).
#[testkit::needs(kvm, cc)]
#[test]
fn a_sleeping_guest_still_stops_at_the_timeout() {
    if !common::require_kvm("a_sleeping_guest_still_stops_at_the_timeout") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("sleeper.c");
    std::fs::write(
        &source,
        "#include <unistd.h>\nint main(void) { sleep(3600); return 0; }\n",
    )
    .unwrap();
    let Some(program) = build(&GLIBC, &source, dir.path()) else {
        return;
    };
    let report = run("vm", &["--timeout", "1s"], &program, &["an-hour"], 124);
    assert!(
        matches!(report.exit, ExitOutcome::TimedOut { .. }),
        "{:?}",
        report.exit
    );
}

/// The tiny kernel's own answers where it differs from a full Linux — no
/// files, one thread, fixed limits, rseq refused on purpose — as
/// `docs/en/workload.md` documents them (`tests/programs/tiny_kernel_answers.c`,
/// raw system calls; exit status 3 when every answer matched).
#[testkit::needs(kvm, cc)]
#[test]
fn the_tiny_kernel_answers_as_documented() {
    if !common::require_kvm("the_tiny_kernel_answers_as_documented") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/tiny_kernel_answers.c");
    let Some(program) = build(&GLIBC, &source, dir.path()) else {
        return;
    };
    let report = run(
        "vm",
        &["--timeout", "120s"],
        &program,
        &["check"],
        ALL_PASSED,
    );
    assert_eq!(report.exit, ExitOutcome::Exited { code: ALL_PASSED });
    let details = report.vm.as_ref().expect("a VM report");
    // rseq's ENOSYS is deliberate: not reported as a missing call.
    for instance in &details.instances {
        assert_eq!(missing_syscalls(&instance.kernel_lines), []);
    }
}
