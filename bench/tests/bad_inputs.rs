//! Bad input, as a user types it: every line of the table is a command
//! line, the exit status versus must give, and words its message must
//! contain — and after each, nothing may be left: no `versus` cgroup, no
//! new mount, no child process, no temporary file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// (arguments, exit status, words the message contains). `@FIFO`,
/// `@NOTELF` and `@DIR` stand for a fifo, a file of random bytes and a
/// directory made for the test.
const CASES: &[(&str, i32, &str)] = &[
    ("frobnicate", 2, "unrecognized subcommand"),
    ("host run", 2, "required arguments"),
    ("host run -- nope", 2, "unknown task 'nope'"),
    ("host run -- getpid 0", 2, "N must be an integer from 1"),
    (
        "host run -- getpid 99999999999",
        2,
        "N must be an integer from 1",
    ),
    ("host run -- getpid abc", 2, "got 'abc'"),
    ("host run --timeout 0s -- startup", 2, "longer than zero"),
    ("host run --timeout xyz -- startup", 2, "500ms"),
    ("host run --workload /nonexistent -- x", 2, "No such file"),
    ("host run --workload @DIR -- x", 2, "is a directory"),
    ("host run --workload /dev/zero -- x", 2, "character device"),
    ("host run --workload @FIFO -- x", 2, "is a fifo"),
    ("host run --workload @NOTELF -- x", 2, "not an ELF file"),
    (
        "container run --memory 0 -- startup",
        1,
        "the minimum is 6m",
    ),
    ("container run --memory 12Q -- startup", 2, "not a size"),
    ("container run --pids-limit 0 -- startup", 2, "--pids-limit"),
    ("container run --cpus 0 -- startup", 1, "out of range"),
    ("container run --cpus 1000 -- startup", 1, "out of range"),
    (
        "container run --hostname bad_name! -- startup",
        1,
        "not a hostname",
    ),
    (
        "container run --share nope -- startup",
        2,
        "unknown namespace",
    ),
    (
        "container run --cap-add NOPE -- startup",
        1,
        "unknown capability",
    ),
    (
        "container run --cap-drop ALL --cap-add ALL -- startup",
        1,
        "together",
    ),
    ("container run --seccomp nope -- startup", 2, "unconfined"),
    (
        "container run --rootfs /nonexistent -- /bin/sh",
        1,
        "No such file",
    ),
    (
        "container run --rootfs @NOTELF -- /bin/sh",
        1,
        "not a directory",
    ),
    // A command that is not there exits 127, as in a shell and `docker
    // run`, not 1 as a program's own failure does.
    (
        "container run -- /bin/sh",
        127,
        "not found in the built rootfs",
    ),
    (
        "container run --userns --share user -- startup",
        2,
        "--share user",
    ),
    (
        "container run --busybox -- no-such-command",
        127,
        "container's PATH",
    ),
    ("vm run --vcpus 0 -- startup", 2, "--vcpus"),
    ("vm run --vcpus 100000 -- startup", 1, "at most"),
    ("vm run --mem 0 -- startup", 1, "at least 6 MiB"),
    ("vm run --mem 1K -- startup", 1, "at least 6 MiB"),
    (
        "vm run --mem 100T -- startup",
        1,
        "more than the VM can address",
    ),
    (
        "vm run --mem-region 0x1000:1M -- startup",
        1,
        "no region starts at guest-physical 0",
    ),
    ("vm run --mem-region nonsense -- startup", 2, "ADDR:SIZE"),
    ("vm run --kernel @NOTELF -- startup", 1, "not an ELF file"),
    (
        "vm run --kernel /dev/zero -- startup",
        1,
        "character device",
    ),
    ("vm run --kernel @FIFO -- startup", 1, "is a fifo"),
    ("vm run --exit-probe 0 -- startup", 2, "--exit-probe"),
    ("vm run --console nope -- startup", 2, "possible values"),
    ("compare --runs 0", 2, "--runs"),
    ("compare --only nope", 2, "possible values"),
    ("compare --mem 1K", 1, "at least 6 MiB"),
    (
        "compare --export-json /proc/versus-x.json",
        1,
        "cannot write there",
    ),
    ("doctor --nope", 2, "unexpected argument"),
    // Options before the task are versus' own: a typo is named with the
    // option it resembles, not taken for a task.
    (
        "container run --memroy 64M -- startup",
        2,
        "similar argument exists: '--memory'",
    ),
    (
        "vm run --vcpu 2 -- startup",
        2,
        "similar argument exists: '--vcpus'",
    ),
    ("host run -x -- startup", 2, "unexpected argument '-x'"),
    ("host run -- getpid -5", 2, "got '-5'"),
];

/// What could be left behind, read before and after each case.
#[derive(Debug, PartialEq, Eq)]
struct Leftovers {
    cgroups: Vec<PathBuf>,
    mounts: usize,
    children: usize,
    temporary_files: Vec<PathBuf>,
}

impl Leftovers {
    fn take(scratch: &Path) -> Self {
        let mut cgroups = Vec::new();
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let parent = hierarchy.path().join("versus");
            for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    cgroups.push(entry.path());
                }
            }
        }
        cgroups.sort();
        let me = std::process::id();
        let children = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| container::host::parent_pid(pid) == Some(me))
            .count();
        let mut temporary_files: Vec<PathBuf> = std::fs::read_dir(scratch)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        temporary_files.sort();
        Self {
            cgroups,
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .map(|m| m.lines().count())
                .unwrap_or(0),
            children,
            temporary_files,
        }
    }
}

#[testkit::needs(root)]
#[test]
fn bad_input_is_named_and_leaves_nothing_behind() {
    // Root is needed for the container cases to reach their checks.
    if !common::require_root("bad_input_is_named_and_leaves_nothing_behind") {
        return;
    }
    let fixtures = tempfile::tempdir().unwrap();
    let fifo = fixtures.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let not_elf = fixtures.path().join("not-elf");
    std::fs::write(&not_elf, b"#!/bin/sh\necho this is not an ELF file\n").unwrap();
    let dir = fixtures.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    // versus runs in a directory of its own, where a stray temporary file
    // would show.
    let scratch = tempfile::tempdir().unwrap();

    for (line, status, words) in CASES {
        let args: Vec<String> = line
            .split_whitespace()
            .map(|arg| match arg {
                "@FIFO" => fifo.display().to_string(),
                "@NOTELF" => not_elf.display().to_string(),
                "@DIR" => dir.display().to_string(),
                other => other.to_string(),
            })
            .collect();
        let before = Leftovers::take(scratch.path());
        let output = Command::new(assert_cmd::cargo::cargo_bin("versus"))
            .args(&args)
            .current_dir(scratch.path())
            .env("TMPDIR", scratch.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "versus {line}: {stderr}");
        assert_eq!(
            output.status.code(),
            Some(*status),
            "versus {line}: {stderr}"
        );
        assert!(
            stderr.contains(words),
            "versus {line}: '{words}' not in: {stderr}"
        );
        assert_eq!(
            Leftovers::take(scratch.path()),
            before,
            "versus {line} left something"
        );
    }
}
