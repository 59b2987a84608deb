//! C programs nobody in the project wrote, run as a user runs theirs:
//! built with `cc -static`, given to `versus host run` and `versus container
//! run` with `--workload`. A crash ends versus as the same signal a shell
//! would report (128 + 11), after the program's own output; a program that
//! forks sees its child's status, and in a container that child is PID 2 of
//! the container's own PID namespace.

mod common;

use std::path::{Path, PathBuf};

use bench::report::{ExitOutcome, RunReport};
use common::versus;

/// Prints a line, flushes it, then writes through a null pointer.
const CRASH: &str = r#"
#include <stdio.h>
int main(void) {
    printf("about to crash\n");
    fflush(stdout);
    *(volatile int *)0 = 1;
    return 0;
}
"#;

/// Forks; the child prints its pid and exits 3; the parent prints the
/// status it reaped and exits 0 only if it was 3.
const FORK: &str = r#"
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 20; }
    if (child == 0) { printf("child pid %d\n", (int)getpid()); return 3; }
    int status = 0;
    if (waitpid(child, &status, 0) != child) { perror("waitpid"); return 21; }
    printf("parent pid %d reaped status %d\n", (int)getpid(), WEXITSTATUS(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 22;
}
"#;

/// Builds `source` with glibc, statically, as a user would.
fn build(test: &str, dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    testkit::c_program(test, "cc", "-static", dir, name, source)
}

/// `versus BACKEND run [--json] --workload PROGRAM`: its status, stdout and
/// stderr.
fn run(backend: &str, json: bool, program: &Path) -> (Option<i32>, String, String) {
    let mut command = versus();
    command.args([backend, "run", "--timeout", "60s"]);
    if json {
        command.arg("--json");
    }
    let output = command.arg("--workload").arg(program).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The backends of this file this machine can run: the host always, the
/// container as root (a printed skip otherwise).
fn backends(test: &str) -> Vec<&'static str> {
    let mut backends = vec!["host"];
    if common::require_root(test) {
        backends.push("container");
    }
    backends
}

#[testkit::needs(cc)]
#[test]
fn a_crash_ends_versus_as_the_signal_after_the_programs_output() {
    let test = "a_crash_ends_versus_as_the_signal_after_the_programs_output";
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = build(test, dir.path(), "crash", CRASH) else {
        return;
    };
    for backend in backends(test) {
        let (status, stdout, stderr) = run(backend, false, &program);
        assert_eq!(status, Some(128 + libc::SIGSEGV), "{backend}: {stderr}");
        assert!(
            stdout.starts_with("about to crash\n"),
            "{backend}: the line printed before the crash is missing: {stdout}"
        );

        let (status, stdout, stderr) = run(backend, true, &program);
        assert_eq!(status, Some(128 + libc::SIGSEGV), "{backend}: {stderr}");
        let report: RunReport = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{backend}: stdout is not a report ({e}): {stdout}"));
        assert_eq!(
            report.exit,
            ExitOutcome::Signaled {
                signal: libc::SIGSEGV,
                name: "SIGSEGV".into()
            },
            "{backend}"
        );
        assert_eq!(report.stdout, "about to crash\n", "{backend}");
    }
}

#[testkit::needs(cc)]
#[test]
fn a_forked_child_is_reaped_by_its_parent_and_is_pid_2_in_a_container() {
    let test = "a_forked_child_is_reaped_by_its_parent_and_is_pid_2_in_a_container";
    let dir = tempfile::tempdir().unwrap();
    let Some(program) = build(test, dir.path(), "forks", FORK) else {
        return;
    };
    for backend in backends(test) {
        let (status, stdout, stderr) = run(backend, true, &program);
        assert_eq!(status, Some(0), "{backend}: {stderr}\n{stdout}");
        let report: RunReport = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{backend}: stdout is not a report ({e}): {stdout}"));
        assert!(
            report.stdout.contains("reaped status 3\n"),
            "{backend}: {}",
            report.stdout
        );
        if backend == "container" {
            // PID 1 of its own namespace, and its first child is 2: the
            // program sees none of the host's processes.
            assert!(report.stdout.contains("child pid 2\n"), "{}", report.stdout);
            assert!(
                report.stdout.contains("parent pid 1 reaped"),
                "{}",
                report.stdout
            );
        }
    }
}
