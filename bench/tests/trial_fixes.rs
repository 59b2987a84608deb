//! What a new user's trial ran into, each through the real binary: a
//! `--workload` program sees its own name as `argv[0]` (busybox finds its
//! applet), `host run` leaves no child of the program running, `-t` gives a
//! container a terminal `tty` can name and a devpts of its own, `--busybox`
//! has every applet busybox lists, and a command that cannot be launched
//! exits 127 (not found) or 126 (not executable), as a shell does.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bench::report::RunReport;
use common::versus;

/// Forks a child that sleeps for a long time; the parent prints the
/// child's pid and exits at once, leaving the child behind.
const LEAVES_A_CHILD: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(void) {
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 20; }
    if (child == 0) { sleep(600); return 0; }
    printf("child %d\n", (int)child);
    return 0;
}
"#;

/// Prints the name it was started under.
const PRINTS_ARGV0: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    printf("argv0=%s\n", argc > 0 ? argv[0] : "(none)");
    return 0;
}
"#;

/// Exits 0: only its file mode matters.
const TRIVIAL: &str = "int main(void) { return 0; }\n";

/// The host's static busybox, or a printed skip.
fn busybox(test: &str) -> Option<PathBuf> {
    if !common::require_busybox(test) {
        return None;
    }
    container::rootfs::host_busybox()
}

/// Parses a `--json` run's stdout.
fn report(stdout: &[u8]) -> RunReport {
    serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a report ({e}): {}",
            String::from_utf8_lossy(stdout)
        )
    })
}

#[testkit::needs(busybox)]
#[test]
fn a_workload_program_sees_its_own_name_as_argv0() {
    let test = "a_workload_program_sees_its_own_name_as_argv0";
    let Some(busybox) = busybox(test) else {
        return;
    };
    let mut backends = vec!["host"];
    if common::require_root(test) {
        backends.push("container");
    }
    for backend in backends {
        // busybox picks its applet by argv[0]: called `versus-workload` it
        // answers "applet not found" and exits 1.
        let output = versus()
            .args([backend, "run", "--json", "--timeout", "60s", "--workload"])
            .arg(&busybox)
            .args(["--", "echo", "hi"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{backend}: {stderr}");
        assert_eq!(report(&output.stdout).stdout, "hi\n", "{backend}");
    }
}

#[testkit::needs(kvm, cc)]
#[test]
fn a_program_in_the_vm_sees_its_own_name_as_argv0() {
    let test = "a_program_in_the_vm_sees_its_own_name_as_argv0";
    if !testkit::require_kvm(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(program) =
        testkit::c_program(test, "cc", "-static", dir.path(), "named", PRINTS_ARGV0)
    else {
        return;
    };
    let output = versus()
        .args(["vm", "run", "--json", "--timeout", "120s", "--workload"])
        .arg(&program)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(report(&output.stdout).stdout, "argv0=named\n");
}

#[testkit::needs(cc)]
#[test]
fn host_run_kills_what_the_program_left_running() {
    let test = "host_run_kills_what_the_program_left_running";
    let dir = tempfile::tempdir().unwrap();
    let Some(program) =
        testkit::c_program(test, "cc", "-static", dir.path(), "leaves", LEAVES_A_CHILD)
    else {
        return;
    };
    let output = versus()
        .args(["host", "run", "--json", "--timeout", "60s", "--workload"])
        .arg(&program)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = report(&output.stdout).stdout;
    let child: i32 = printed
        .trim()
        .strip_prefix("child ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {printed:?}"));
    // versus kills the program's group at its exit and, as the children's
    // subreaper, reaps them before it reports: the child is gone, not
    // sleeping on, nor a zombie left to the system's init.
    if let Some(state) = process_state(child) {
        // SAFETY: kill has no memory effects; this cleans up after the failure.
        unsafe { libc::kill(child, libc::SIGKILL) };
        panic!("the program's child {child} is still there (state {state})");
    }
}

/// The state letter of `pid` in /proc (`S`, `R`, `Z`, ...), `None` when
/// there is no such process.
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name's closing parenthesis.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

#[testkit::needs(cc)]
#[test]
fn a_workload_that_is_not_executable_exits_126_on_the_host() {
    let test = "a_workload_that_is_not_executable_exits_126_on_the_host";
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = testkit::c_program(test, "cc", "-static", dir.path(), "plain", TRIVIAL)
    else {
        return;
    };
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = versus()
        .args(["host", "run", "--workload"])
        .arg(&program)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(126), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[testkit::needs(root, busybox)]
#[test]
fn a_container_terminal_is_named_and_has_its_own_devpts() {
    let test = "a_container_terminal_is_named_and_has_its_own_devpts";
    if !common::require_root(test) || busybox(test).is_none() {
        return;
    }
    let script = "tty; test -c /dev/pts/ptmx && echo devpts; \
                  test \"$(readlink /dev/ptmx)\" = pts/ptmx && echo ptmx";
    let output = versus()
        .args(["container", "run", "-t", "--json", "--busybox"])
        .args(["--timeout", "60s", "--", "sh", "-c", script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<String> = report(&output.stdout)
        .stdout
        .lines()
        .map(|line| line.trim_end_matches('\r').to_string())
        .collect();
    assert_eq!(lines, ["/dev/console", "devpts", "ptmx"]);
}

#[testkit::needs(root, busybox)]
#[test]
fn busybox_brings_every_applet_it_lists() {
    let test = "busybox_brings_every_applet_it_lists";
    if !common::require_root(test) {
        return;
    }
    let Some(busybox) = busybox(test) else {
        return;
    };
    let listed = std::process::Command::new(&busybox)
        .arg("--list")
        .output()
        .unwrap();
    let applets: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    // `true` and `pwd` were missing from the first, fixed list.
    for (command, expected) in [("true", ""), ("pwd", "/\n")] {
        let output = versus()
            .args(["container", "run", "--json", "--busybox", "-w", "/"])
            .args(["--", command])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{command}: {stderr}");
        assert_eq!(report(&output.stdout).stdout, expected, "{command}");
    }
    let output = versus()
        .args([
            "container",
            "run",
            "--json",
            "--busybox",
            "--",
            "ls",
            "/bin",
        ])
        .output()
        .unwrap();
    let in_bin = report(&output.stdout).stdout;
    let in_bin: Vec<&str> = in_bin.lines().collect();
    let missing: Vec<&String> = applets
        .iter()
        .filter(|applet| !in_bin.contains(&applet.as_str()))
        .collect();
    assert!(missing.is_empty(), "applets not in /bin: {missing:?}");
}

#[testkit::needs(root)]
#[test]
fn a_command_that_cannot_run_in_a_container_exits_127_or_126() {
    let test = "a_command_that_cannot_run_in_a_container_exits_127_or_126";
    if !common::require_root(test) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // What versus mounts on must exist: it never writes into a --rootfs.
    for dir in ["bin", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir(root.path().join(dir)).unwrap();
    }
    let bin = root.path().join("bin");
    write_with_mode(&bin.join("plain"), 0o644);
    let rootfs = root.path().display().to_string();
    for (command, status, words) in [
        ("/bin/missing", 127, "No such file"),
        ("missing", 127, "container's PATH"),
        ("/bin/plain", 126, "not executable"),
        // Found on PATH only as a file that cannot run: 126, as execvp.
        ("plain", 126, "container's PATH"),
    ] {
        let output = versus()
            .args(["container", "run", "--rootfs", &rootfs, "--", command])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(status), "{command}: {stderr}");
        assert!(
            stderr.contains(words),
            "{command}: '{words}' not in {stderr}"
        );
    }
}

/// A file holding one line, with `mode`.
fn write_with_mode(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
