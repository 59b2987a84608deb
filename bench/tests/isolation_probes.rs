//! Isolation probes: a C program nobody in the project's Rust code wrote
//! (`tests/probes/escape.c`, built here with `cc -static`) runs as PID 1 of
//! a versus container and tries what a container must not do to its host —
//! make and open host devices, read kernel memory, load modules, mount,
//! regain capabilities through a user namespace, use the system calls
//! Docker's profile denies, write kernel knobs, see or signal host
//! processes. Every probe must be refused, with the default profile, with a
//! user namespace, and — for what capabilities, namespaces and the device
//! list stop on their own — without seccomp. docs/en/security.md shows the
//! same table from a real run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the probe program, or explains why it cannot (no C compiler or
/// no static libc), failing instead where root tests are required (CI).
fn build_probe(dir: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes/escape.c");
    let binary = dir.join("escape");
    let built = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .output();
    match built {
        Ok(output) if output.status.success() => Some(binary),
        other => {
            let why = format!("cannot build the probe with `cc -static`: {other:?}");
            testkit::skip("isolation probes", testkit::Need::Root, &why);
            None
        }
    }
}

/// Runs the probe in a container with `flags`; every probe's answer by name
/// (`denied EPERM`, `allowed 3`, `count 1`).
fn probe(binary: &Path, flags: &[&str]) -> BTreeMap<String, String> {
    let output = Command::new(assert_cmd::cargo::cargo_bin("versus"))
        .args(["container", "run", "--json", "--timeout", "60s"])
        .args(flags)
        .arg("--workload")
        .arg(binary)
        .args(["--", "probe"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{flags:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
    report
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("probe "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, answer)| (name.to_string(), answer.to_string()))
        .collect()
}

/// Asserts that each of `names` was refused with one of `errnos`.
fn assert_denied(answers: &BTreeMap<String, String>, names: &[&str], errnos: &[&str], mode: &str) {
    for name in names {
        let answer = answers
            .get(*name)
            .unwrap_or_else(|| panic!("{mode}: probe {name} did not report: {answers:?}"));
        let refused = answer
            .strip_prefix("denied ")
            .is_some_and(|errno| errnos.contains(&errno));
        assert!(
            refused,
            "{mode}: {name} should be refused with {errnos:?}, got '{answer}'"
        );
    }
}

/// Refused by capabilities, namespaces, the device list and read-only
/// kernel filesystems — with or without seccomp.
const STOPPED_WITHOUT_SECCOMP: [&str; 6] = [
    "mknod-open-kvm",
    "mknod-open-disk",
    "mount-tmpfs",
    "reboot",
    "settimeofday",
    "swapoff",
];

/// Refused by Docker's seccomp profile (EPERM).
const STOPPED_BY_SECCOMP: [&str; 9] = [
    "init-module",
    "finit-module",
    "unshare-user",
    "keyctl",
    "bpf",
    "userfaultfd",
    "io-uring-setup",
    "perf-event-open",
    "open-by-handle-at",
];

fn assert_isolated(answers: &BTreeMap<String, String>, mode: &str, with_seccomp: bool) {
    assert_denied(
        answers,
        &STOPPED_WITHOUT_SECCOMP,
        &["EPERM", "EACCES"],
        mode,
    );
    if with_seccomp {
        assert_denied(answers, &STOPPED_BY_SECCOMP, &["EPERM"], mode);
    }
    assert_denied(
        answers,
        &["read-proc-kcore"],
        &["ENOENT", "EACCES", "EPERM"],
        mode,
    );
    assert_denied(
        answers,
        &["write-proc-sys", "write-sys"],
        &["EROFS", "EACCES", "EPERM"],
        mode,
    );
    assert_denied(
        answers,
        &["kill-other-pid", "ptrace-other-pid"],
        &["ESRCH"],
        mode,
    );
    assert_eq!(
        answers["visible-processes"], "count 1",
        "{mode}: only itself in /proc"
    );
    assert!(
        ["count 0", "count 1"].contains(&answers["visible-interfaces"].as_str()),
        "{mode}: host interfaces are visible: {}",
        answers["visible-interfaces"]
    );
    assert_eq!(answers["no-new-privs"], "value 1", "{mode}");
}

#[testkit::needs(root)]
#[test]
fn a_container_cannot_reach_its_host() {
    if !common::require_root("a_container_cannot_reach_its_host") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(binary) = build_probe(dir.path()) else {
        return;
    };
    assert_isolated(&probe(&binary, &[]), "default", true);
    assert_isolated(&probe(&binary, &["--userns"]), "--userns", true);
    assert_isolated(
        &probe(&binary, &["--seccomp", "unconfined"]),
        "--seccomp unconfined",
        false,
    );
}

/// Calls that no capability guards, so that only a seccomp filter can refuse
/// them: adding a key to the process keyring and looking a keyring up
/// (`add_key`, `keyctl`), and a vsock socket (the host's hypervisor channel);
/// and `clone3` with no arguments, which the kernel itself answers EINVAL.
/// Each line is `NAME ok` or `NAME ERRNO-NAME`.
const FILTER_ONLY_CALLS: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_SPEC_PROCESS_KEYRING (-2)
#define KEYCTL_GET_KEYRING_ID 0

static void report(const char *name, long result) {
    if (result >= 0)
        printf("%s ok\n", name);
    else
        printf("%s %s\n", name, strerrorname_np(errno));
}

int main(void) {
    report("add_key", syscall(SYS_add_key, "user", "versus-seccomp-probe", "x", 1,
                              KEY_SPEC_PROCESS_KEYRING));
    report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0));
    report("socket_vsock", socket(AF_VSOCK, SOCK_STREAM, 0));
    report("clone3", syscall(SYS_clone3, NULL, 0));
    return 0;
}
"#;

/// Each call's answer from the output of [`FILTER_ONLY_CALLS`].
fn answers(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, answer)| (name.to_string(), answer.to_string()))
        .collect()
}

#[testkit::needs(root, cc)]
#[test]
fn the_seccomp_filter_alone_refuses_what_capabilities_allow() {
    let test = "the_seccomp_filter_alone_refuses_what_capabilities_allow";
    if !common::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(binary) = testkit::c_program(
        test,
        "cc",
        "-static",
        dir.path(),
        "filter_only",
        FILTER_ONLY_CALLS,
    ) else {
        return;
    };
    let in_container = |flags: &[&str]| {
        let output = Command::new(assert_cmd::cargo::cargo_bin("versus"))
            .args(["container", "run", "--json", "--timeout", "60s"])
            .args(flags)
            .arg("--workload")
            .arg(&binary)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: bench::report::RunReport = serde_json::from_slice(&output.stdout).unwrap();
        answers(&report.stdout)
    };
    let expect = |pairs: [(&str, &str); 4]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, answer)| (name.to_string(), answer.to_string()))
            .collect()
    };
    // On the host, as any user may, the calls go through (clone3 to the kernel's own
    // argument check; a vsock socket where the host has the vsock module, else the
    // kernel's EAFNOSUPPORT — never a refusal).
    let host = Command::new(&binary).output().unwrap();
    let host = answers(&String::from_utf8_lossy(&host.stdout));
    assert_eq!(
        (host["add_key"].as_str(), host["keyctl"].as_str()),
        ("ok", "ok"),
        "on the host: {host:?}"
    );
    assert_eq!(host["clone3"], "EINVAL", "on the host: {host:?}");
    assert_ne!(host["socket_vsock"], "EPERM", "on the host: {host:?}");
    // The same container without the filter, capabilities unchanged: as on the host.
    assert_eq!(
        in_container(&["--seccomp", "unconfined"]),
        host,
        "--seccomp unconfined"
    );
    // With Docker's profile: EPERM, and ENOSYS for clone3 (so a C library falls back
    // to clone, whose flags the filter can read).
    assert_eq!(
        in_container(&[]),
        expect([
            ("add_key", "EPERM"),
            ("keyctl", "EPERM"),
            ("socket_vsock", "EPERM"),
            ("clone3", "ENOSYS"),
        ]),
        "the default profile"
    );
}
