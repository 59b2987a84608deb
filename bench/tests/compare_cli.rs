//! `versus compare` for real: every backend on this machine, three rounds,
//! and the lessons the comparison exists to show.

mod common;

use common::versus;
mod exports_agree;

use bench::compare::model::{Comparison, Section, figure};

/// The samples of one series, which must have no failed run.
fn series(c: &Comparison, section: Section, name: &str, subject: &str) -> Vec<f64> {
    let found = c
        .series
        .iter()
        .find(|s| s.section == section && s.figure == name && s.subject == subject)
        .unwrap_or_else(|| panic!("no {name} series for {subject}"));
    assert!(
        found.failures.is_empty(),
        "{subject} {name} failed: {:?}",
        found.failures
    );
    assert_eq!(
        found.summary.as_ref().map(|s| s.n),
        Some(found.samples.len())
    );
    found.values()
}

#[testkit::needs(root, kvm)]
#[test]
fn a_real_comparison_shows_every_section_and_its_lessons() {
    if !common::require_root("a_real_comparison_shows_every_section_and_its_lessons")
        || !common::require_kvm("a_real_comparison_shows_every_section_and_its_lessons")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("compare.json");
    let csv_path = dir.path().join("compare.csv");
    let md_path = dir.path().join("compare.md");
    let output = versus()
        .args(["compare", "--runs", "3", "--warmup", "1"])
        .arg("--export-json")
        .arg(&json_path)
        .arg("--export-csv")
        .arg(&csv_path)
        .arg("--export-markdown")
        .arg(&md_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for title in [
        "Startup: launch → workload start",
        "Memory",
        "System calls: getpid",
        "Exits and I/O",
        "Kernel identity and isolation",
        "Conclusions",
    ] {
        assert!(text.contains(title), "no '{title}' in:\n{text}");
    }
    assert!(text.contains("KVM:"), "the header names the KVM backend");

    let c: Comparison = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap())
        .expect("the JSON export parses");
    assert_eq!(c.rounds_done, 3);

    // Every backend reached its workload in every round.
    for subject in ["host", "container", "container (no seccomp)", "vm", "vm ×2"] {
        assert_eq!(
            series(&c, Section::Startup, figure::STARTUP, subject).len(),
            3
        );
    }
    // The lesson: a getpid loop in the guest causes no VM exits.
    let exits = series(&c, Section::Syscall, figure::EXITS_PER_1000_CALLS, "vm");
    assert!(
        exits.iter().all(|&e| e == 0.0),
        "exits per 1,000 calls: {exits:?}"
    );
    // The UART costs an exit per byte, the paravirtual console one per write.
    let uart = series(&c, Section::Io, figure::EXITS_PER_WRITE, "vm (UART)");
    let paravirt = series(&c, Section::Io, figure::EXITS_PER_WRITE, "vm");
    assert!(
        uart.iter().all(|&e| e >= 16.0),
        "UART exits per write: {uart:?}"
    );
    assert!(
        paravirt.iter().all(|&e| e == 1.0),
        "paravirtual exits per write: {paravirt:?}"
    );
    // The exit probe measured something.
    assert!(
        series(&c, Section::Io, figure::EXIT_GUEST, "vm")
            .iter()
            .all(|&ns| ns > 0.0)
    );
    // One kernel for host and container, another for the VM.
    let kernel = |subject: &str| {
        c.identity
            .iter()
            .find(|row| row.subject == subject)
            .and_then(|row| row.kernel.clone())
            .unwrap_or_else(|| panic!("no uname for {subject}"))
    };
    assert_eq!(kernel("container"), kernel("host"));
    assert_ne!(kernel("vm"), kernel("container"));
    assert!(kernel("vm").starts_with("versus "), "{}", kernel("vm"));

    // The other exports are there and hold the same figures.
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let markdown = std::fs::read_to_string(&md_path).unwrap();
    assert!(markdown.contains("## Kernel identity and isolation"));
    exports_agree::assert_exports_agree(&c, &csv, &markdown);
}

#[testkit::needs(root, kvm)]
#[test]
fn a_korean_comparison_says_its_header_conclusions_and_status_in_korean() {
    let test = "a_korean_comparison_says_its_header_conclusions_and_status_in_korean";
    if !common::require_root(test) || !common::require_kvm(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("compare.json");
    let output = versus()
        .args([
            "compare", "--lang", "ko", "--only", "identity", "--runs", "1",
        ])
        .args(["--warmup", "0", "--export-json"])
        .arg(&json_path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("결론"), "{stdout}");
    assert!(
        stderr.contains(&format!("{} 파일을 썼습니다", json_path.display())),
        "{stderr}"
    );
    // On a software or nested KVM backend the header warns, in Korean.
    let english: Vec<&str> = common::english_lines(&stdout)
        .into_iter()
        .chain(common::english_lines(&stderr))
        .collect();
    assert!(
        english.is_empty(),
        "English in the Korean comparison:\n{}",
        english.join("\n")
    );
}

#[test]
fn bad_compare_options_are_named() {
    versus()
        .args(["compare", "--only", "startup,bogus"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("bogus"));
    versus()
        .args(["compare", "--runs", "0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--runs"));
    versus()
        .args(["compare", "--mem", "1K"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--mem"));
}

#[test]
fn a_linux_kernel_that_cannot_be_read_is_refused_before_the_first_round() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("compare.json");
    versus()
        .args([
            "compare",
            "--linux-kernel",
            "/nonexistent/vmlinuz",
            "--only",
            "startup",
            "--export-json",
        ])
        .arg(&json_path)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "cannot read the Linux kernel /nonexistent/vmlinuz",
        ));
    // Nothing ran, so nothing was written.
    assert!(!json_path.exists());
    // Without startup and memory the Linux subject would have nothing to show.
    versus()
        .args(["compare", "--linux", "--only", "syscall,io"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("add startup or memory to --only"));
}
