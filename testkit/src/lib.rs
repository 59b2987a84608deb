//! How a versus test skips itself where the machine lacks what it needs
//! (`/dev/kvm`, root, a static busybox, a C compiler, objdump).
//!
//! Two lines of defence, both asking `testkit-probe` what is missing:
//!
//! - [`needs`], an attribute written above `#[test]`
//!   (`#[testkit::needs(root, kvm)]`), compiles the test as
//!   `#[ignore = "why, and how to get it"]` where something is missing, so
//!   `cargo test` reports it as ignored with the reason instead of passed.
//!   Under `VERSUS_REQUIRE_KVM=1` / `VERSUS_REQUIRE_ROOT=1` (as CI sets
//!   them) it never ignores.
//! - The guards in the test bodies ([`require_kvm`], [`require_root`],
//!   [`c_program`], [`skip`]) catch what the attribute cannot: a machine
//!   that changed after the build, a test that needs something for only a
//!   part of it, and CI. `cargo test` captures what a passing test prints
//!   with `eprintln!`, so [`skip`] writes its line to the process's stderr
//!   directly (outside the capture, so it shows in the run) and appends it
//!   to the file named by `VERSUS_SKIP_LOG`, from which `make test` prints a
//!   final count. Where the variable that guards the need is `1`, a skip
//!   would hide a failure, so it panics instead.

use std::io::Write;

pub mod guest;

pub use testkit_macros::needs;
pub use testkit_probe::{Need, Requirement};

/// The variable `make test` sets to the file collecting skip lines.
pub const SKIP_LOG_VAR: &str = "VERSUS_SKIP_LOG";

/// True when skipping for `need` is forbidden here (CI).
pub fn required(need: Need) -> bool {
    need.required()
}

/// Skips `test` because of `why`: panics where `need` is required, else
/// reports the skip visibly (see the crate documentation).
pub fn skip(test: &str, need: Need, why: &str) {
    let line = format!("SKIPPED {test}: {why}");
    assert!(
        !required(need),
        "{line} — and {}=1 forbids skipping",
        need.require_var()
    );
    report(&line, std::env::var_os(SKIP_LOG_VAR).as_deref());
}

/// Writes `line` to stderr and appends it to `log`. Written to the file
/// descriptor, not through `eprintln!`: the test harness captures only the
/// print macros. Failing to report a skip must not fail the test, so write
/// errors are ignored.
fn report(line: &str, log: Option<&std::ffi::OsStr>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(log) = log
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// The variable `make test-linux-guest` sets: there the minimal Linux
/// kernel has just been built, so a missing one is a failure, not a skip.
pub const REQUIRE_LINUX_GUEST_VAR: &str = "VERSUS_REQUIRE_LINUX_GUEST";

/// True when the minimal Linux kernel `make linux-guest` builds is at
/// `kernel`; otherwise `test` skips with the reason (a failure under
/// `VERSUS_REQUIRE_LINUX_GUEST=1`). `make test` and a plain `cargo test`
/// do not build it, so there the tests that boot it skip.
pub fn require_linux_guest(test: &str, kernel: &std::path::Path) -> bool {
    if kernel.is_file() {
        return true;
    }
    let line = format!(
        "SKIPPED {test}: no minimal Linux kernel at {}: `make linux-guest` builds it",
        kernel.display()
    );
    assert!(
        std::env::var(REQUIRE_LINUX_GUEST_VAR).as_deref() != Ok("1"),
        "{line} — and {REQUIRE_LINUX_GUEST_VAR}=1 forbids skipping"
    );
    report(&line, std::env::var_os(SKIP_LOG_VAR).as_deref());
    false
}

/// True when `/dev/kvm` can be opened for reading and writing; otherwise
/// `test` skips (a failure under `VERSUS_REQUIRE_KVM=1`).
pub fn require_kvm(test: &str) -> bool {
    require(test, Requirement::Kvm)
}

/// True when the test runs as root (effective uid 0); otherwise `test`
/// skips (a failure under `VERSUS_REQUIRE_ROOT=1`).
pub fn require_root(test: &str) -> bool {
    require(test, Requirement::Root)
}

/// True when the machine has `requirement`; otherwise `test` skips with
/// the probe's reason (a failure where its variable is `1`).
fn require(test: &str, requirement: Requirement) -> bool {
    match requirement.missing() {
        None => true,
        Some(why) => {
            skip(test, requirement.need(), &why);
            false
        }
    }
}

/// Compiles the C program `source` into `dir/name` with `compiler` (`cc`
/// for glibc, `musl-gcc` for musl), linked as `link` (`-static` or
/// `-static-pie`): programs nobody in the project wrote, built the way a
/// user builds theirs. Where the compiler or its static C library is missing
/// the test skips (a failure under `VERSUS_REQUIRE_ROOT=1`: CI installs
/// both) and `None` comes back.
pub fn c_program(
    test: &str,
    compiler: &str,
    link: &str,
    dir: &std::path::Path,
    name: &str,
    source: &str,
) -> Option<std::path::PathBuf> {
    let source_path = dir.join(format!("{name}.c"));
    let binary = dir.join(name);
    if let Err(err) = std::fs::write(&source_path, source) {
        panic!("cannot write {}: {err}", source_path.display());
    }
    let built = std::process::Command::new(compiler)
        .args([link, "-O1", "-o"])
        .arg(&binary)
        .arg(&source_path)
        .output();
    let why = match built {
        Ok(output) if output.status.success() => return Some(binary),
        Ok(output) => format!(
            "`{compiler} {link}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(err) => format!(
            "no `{compiler}` here ({err}); install build-essential (and musl-tools for musl-gcc)"
        ),
    };
    skip(test, Need::Root, &why);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_are_appended_to_the_log_one_line_each() {
        let log = std::env::temp_dir().join(format!("testkit-log-{}", std::process::id()));
        let _ = std::fs::remove_file(&log);
        report("SKIPPED a: no kvm", Some(log.as_os_str()));
        report("SKIPPED b: not root", Some(log.as_os_str()));
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        assert_eq!(text, "SKIPPED a: no kvm\nSKIPPED b: not root\n");
    }
}
