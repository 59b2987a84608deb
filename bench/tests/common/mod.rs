//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use bench::backend::host::HostBackend;
use bench::backend::{Backend, Launch};
use bench::report::RunReport;
use bench::workload::{TaskInvocation, TaskResult, Workload};

// Each test binary uses its own subset.
#[allow(unused_imports)]
pub use testkit::{require_kvm, require_root};

/// The `versus` binary of this build, as an assert_cmd command.
pub fn versus() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("versus").expect("the versus binary is built")
}

/// Runs the embedded workload on the host with `argv` (validated first).
pub fn run_host(argv: &[&str]) -> RunReport {
    let invocation = TaskInvocation::parse(argv).expect("a valid task");
    let launch = Launch {
        workload: Workload::embedded(),
        argv: invocation.argv(),
        timeout: Some(std::time::Duration::from_secs(60)),
        echo: false,
    };
    let report = HostBackend.run(&launch).expect("the host backend runs");
    assert!(
        report.exit.success(),
        "{argv:?} ended with {:?}; stderr: {}",
        report.exit,
        report.stderr
    );
    report
}

/// The only result of a run.
pub fn only_result(report: &RunReport) -> &TaskResult {
    assert_eq!(report.results.len(), 1, "results: {:?}", report.results);
    &report.results[0]
}

/// The compute task's checksum, computed independently of the workload.
pub fn expected_checksum(rounds: u64) -> u64 {
    let (mut x, mut sum) = (0x9E37_79B9_7F4A_7C15u64, 0u64);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum = sum.wrapping_add(x);
    }
    sum
}

/// This host's `uname` fields (sysname, release, version).
pub fn host_uname() -> (String, String, String) {
    // SAFETY: an all-zero utsname is a valid value of this plain C struct.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is valid for writes for the duration of the call.
    assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
    let field = |raw: &[libc::c_char]| {
        let bytes: Vec<u8> = raw
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (
        field(&uts.sysname),
        field(&uts.release),
        field(&uts.version),
    )
}

/// True when the host has a static busybox (for `--busybox` runs). Where it
/// is missing the test skips itself, printing why — unless
/// `VERSUS_REQUIRE_ROOT=1` (as in CI), where it panics instead.
pub fn require_busybox(test: &str) -> bool {
    if container::rootfs::host_busybox().is_some() {
        return true;
    }
    testkit::skip(
        test,
        testkit::Need::Root,
        "needs a static busybox (apt-get install busybox-static)",
    );
    false
}

/// The lines of `text` that hold an English phrase: four or more words in
/// a row made of lowercase ASCII letters alone, one of them a word English
/// cannot do without ("guest user mode runs natively, but"). Korean output
/// may name commands, options, kernels, files and subjects in ASCII
/// ("--runs 3", "vm ×2", "bin dev proc sys tmp"), but never runs such a
/// phrase.
pub fn english_lines(text: &str) -> Vec<&str> {
    const WORDS_IN_A_ROW: usize = 4;
    const FUNCTION_WORDS: &[&str] = &[
        "a", "an", "the", "is", "are", "was", "be", "not", "no", "of", "to", "in", "on", "and",
        "but", "or", "for", "with", "by", "it", "its", "this", "that", "here", "than", "as",
    ];
    text.lines()
        .filter(|line| {
            let mut phrase: Vec<&str> = Vec::new();
            line.split_whitespace().any(|token| {
                let word = token.trim_matches(|c: char| ",.:;()\"'`".contains(c));
                if !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()) {
                    phrase.push(word);
                } else {
                    phrase.clear();
                }
                phrase.len() >= WORDS_IN_A_ROW && phrase.iter().any(|w| FUNCTION_WORDS.contains(w))
            })
        })
        .collect()
}
