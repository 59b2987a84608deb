//! A program's own output, as a user of `versus … run` meets it: printed
//! live as `docker run` prints it (stdout on stdout, stderr on stderr)
//! before the report; with `--json` nothing but JSON on stdout, the output
//! inside the report; a flood of output held to a fixed amount of memory;
//! a reader that goes away (`| head -1`) ends versus quietly and leaves no
//! process behind.
//!
//! Every check runs on each backend of [`BACKENDS`].

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bench::report::{OUTPUT_KEEP_BYTES, RunReport};

/// The backends these checks run on: every one of them.
const BACKENDS: &[&str] = &["host", "container", "vm"];

/// Lines of the flood program: 50 MiB of 1 KiB lines.
const FLOOD_LINES: u64 = 50 * 1024;

/// The most memory versus may use while a program writes 50 MiB through
/// it: its own debug build, the threads' stacks and the kept 64 KiB, far
/// below the flood itself.
const FLOOD_RSS_LIMIT_BYTES: u64 = 32 << 20;

/// A C program that writes one line to stdout and one to stderr, then
/// exits with status 3.
const HELLO: &str = r#"
#include <stdio.h>
int main(void) {
    printf("hello stdout\n");
    fflush(stdout);
    fprintf(stderr, "hello stderr\n");
    return 3;
}
"#;

/// A C program that writes `FLOOD_LINES` lines of 1 KiB to stdout (and
/// 1 MiB to stderr), or with the argument `forever`, writes to stdout until
/// it is stopped.
const FLOOD: &str = r#"
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    static char line[1024];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    int forever = argc > 1 && strcmp(argv[1], "forever") == 0;
    for (long i = 0; i < 1024; i++)
        fwrite(line, 1, sizeof line, stderr);
    for (long i = 0; forever || i < 50L * 1024; i++)
        fwrite(line, 1, sizeof line, stdout);
    return 0;
}
"#;

fn versus() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("versus"))
}

/// The backends of [`BACKENDS`] that can run here; the others skip `test`
/// visibly (or fail it where CI requires them).
fn backends_here(test: &str) -> impl Iterator<Item = &'static str> + '_ {
    BACKENDS
        .iter()
        .copied()
        .filter(move |backend| available(backend, test))
}

/// `versus BACKEND run --workload PROGRAM`: its output and both streams
/// decoded.
fn run_workload(backend: &str, program: &Path) -> (std::process::Output, String, String) {
    let output = versus()
        .args([backend, "run", "--workload"])
        .arg(program)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// True when `backend` can run here; where it cannot, the test skips
/// itself, printing why (or fails when CI requires it).
fn available(backend: &str, test: &str) -> bool {
    match backend {
        "container" => common::require_root(test),
        "vm" => common::require_kvm(test),
        _ => true,
    }
}

/// Builds `source` with `cc -static` as `dir/name`; `None` (the test
/// skips, printing why) where no static C toolchain is installed, which CI
/// does not allow.
fn compile(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    // The skip line names this test file and the program it could not build.
    let test = format!("program_output ({name}.c)");
    testkit::c_program(&test, "cc", "-static", dir, name, source)
}

/// Waits for `child` and returns its exit status (as a shell shows it) and
/// its peak resident memory, read from `/proc` while it runs.
fn wait_with_peak_rss(mut child: std::process::Child) -> (i32, u64) {
    // Not `wait4`'s ru_maxrss: a process keeps the peak of the address space
    // it was forked with across `execve`, so versus would be charged with
    // this test binary's memory. VmHWM is the peak of versus' own address
    // space; it only grows, so the last reading before the exit is the peak
    // (within one polling interval).
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let code = status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .unwrap();
            return (code, peak_kib * 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Pids of running processes whose command name is `name`.
fn processes_named(name: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

#[testkit::needs(cc)]
#[test]
fn a_program_output_is_printed_live_before_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hello) = compile(dir.path(), "hello", HELLO) else {
        return;
    };
    for backend in backends_here("a_program_output_is_printed_live_before_the_report") {
        let (output, stdout, stderr) = run_workload(backend, &hello);
        assert_eq!(output.status.code(), Some(3), "{backend}: {stderr}");
        // The program's line first, then the report, which does not count
        // it again.
        assert!(
            stdout.starts_with("hello stdout\n"),
            "{backend}: stdout:\n{stdout}"
        );
        assert_eq!(stdout.matches("hello stdout").count(), 1, "{backend}");
        assert!(stdout.contains("printed above"), "{backend}:\n{stdout}");
        assert!(!stdout.contains("other output lines"), "{backend}");
        assert!(stdout.contains("exited with status 3"), "{backend}");
        // stderr stays stderr, and stays out of stdout.
        assert!(
            stderr.contains("hello stderr\n"),
            "{backend}: stderr:\n{stderr}"
        );
        assert!(!stdout.contains("hello stderr"), "{backend}:\n{stdout}");
    }
}

#[testkit::needs(cc)]
#[test]
fn a_last_line_without_its_newline_gets_one_before_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let source = r#"
#include <stdio.h>
int main(void) {
    printf("no newline");
    fflush(stdout);
    fprintf(stderr, "nor here");
    return 0;
}
"#;
    let Some(program) = compile(dir.path(), "unfinished", source) else {
        return;
    };
    for backend in backends_here("a_last_line_without_its_newline_gets_one_before_the_report") {
        let (output, stdout, stderr) = run_workload(backend, &program);
        assert_eq!(output.status.code(), Some(0), "{backend}: {stderr}");
        assert!(stdout.starts_with("no newline\n"), "{backend}: {stdout}");
        assert!(stderr.contains("nor here\n"), "{backend}: {stderr}");
    }
}

#[testkit::needs(cc)]
#[test]
fn with_json_the_output_is_in_the_report_and_stdout_is_only_json() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hello) = compile(dir.path(), "hello", HELLO) else {
        return;
    };
    for backend in backends_here("with_json_the_output_is_in_the_report_and_stdout_is_only_json") {
        let output = versus()
            .args([backend, "run", "--json", "--workload"])
            .arg(&hello)
            .args(["--", "-x", "--not-an-option"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{backend}: {stderr}");
        let report: RunReport = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{backend}: stdout is not a report ({e})"));
        assert_eq!(report.argv, ["-x", "--not-an-option"], "{backend}");
        assert_eq!(report.stdout, "hello stdout\n", "{backend}");
        assert!(report.stderr.contains("hello stderr\n"), "{backend}");
        assert!(!report.output_echoed, "{backend}");
        assert!(!stderr.contains("hello"), "{backend}: {stderr}");
    }
}

#[testkit::needs(cc)]
#[test]
fn a_flood_of_output_costs_versus_a_fixed_amount_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let Some(flood) = compile(dir.path(), "flood", FLOOD) else {
        return;
    };
    for backend in backends_here("a_flood_of_output_costs_versus_a_fixed_amount_of_memory") {
        // Printed live: all 50 MiB go through versus to its stdout.
        let child = versus()
            .args([backend, "run", "--workload"])
            .arg(&flood)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (code, peak) = wait_with_peak_rss(child);
        assert_eq!(code, 0, "{backend}");
        assert!(peak > 0, "{backend}: no reading of versus' memory");
        assert!(
            peak < FLOOD_RSS_LIMIT_BYTES,
            "{backend}: versus grew to {peak} bytes while printing 50 MiB"
        );

        // Kept in the report: the first OUTPUT_KEEP_BYTES, and a note.
        let mut child = versus()
            .args([backend, "run", "--json", "--workload"])
            .arg(&flood)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut json).unwrap();
            json
        });
        let (code, peak) = wait_with_peak_rss(child);
        let json = reader.join().unwrap();
        assert!(peak > 0, "{backend}: no reading of versus' memory");
        assert_eq!(code, 0, "{backend}");
        assert!(
            peak < FLOOD_RSS_LIMIT_BYTES,
            "{backend}: versus grew to {peak} bytes while keeping 50 MiB"
        );
        let report: RunReport = serde_json::from_slice(&json).unwrap();
        assert_eq!(report.other_output_lines, FLOOD_LINES, "{backend}");
        for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
            let (kept, note) = text
                .split_once("[versus kept the first")
                .unwrap_or_else(|| panic!("{backend}: no note in {name}"));
            assert_eq!(kept.len(), OUTPUT_KEEP_BYTES, "{backend}: {name}");
            assert!(note.contains("left out"), "{backend}: {name}: {note}");
        }
    }
}

#[testkit::needs(cc)]
#[test]
fn a_reader_that_goes_away_ends_versus_quietly_and_the_program_with_it() {
    let dir = tempfile::tempdir().unwrap();
    // A name of its own, to find the program among the host's processes.
    let name = format!("vsflood{}", std::process::id() % 100_000);
    let Some(flood) = compile(dir.path(), &name, FLOOD) else {
        return;
    };
    for backend in
        backends_here("a_reader_that_goes_away_ends_versus_quietly_and_the_program_with_it")
    {
        // `versus … | head -1`: one line read, then the pipe closes. (Its
        // stderr goes to a file: a pipe nobody reads would stop it first.)
        let stderr_path = dir.path().join(format!("{backend}.stderr"));
        let mut child = versus()
            .args([backend, "run", "--workload"])
            .arg(&flood)
            .arg("forever")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("xxx"), "{backend}: {first:?}");
        let (code, _) = wait_with_peak_rss(child);
        let stderr = std::fs::read_to_string(&stderr_path).unwrap();
        assert_eq!(code, 141, "{backend}: {stderr}");
        assert!(!stderr.contains("versus: error"), "{backend}: {stderr}");
        assert!(!stderr.contains("panicked"), "{backend}: {stderr}");
        assert_eq!(processes_named(&name), Vec::<String>::new(), "{backend}");
    }
}
