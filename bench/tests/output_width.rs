//! Output that fits where it is read: with `COLUMNS=80` and stdout a pipe,
//! no line of `versus compare`, `doctor` or `… run` is wider than 80
//! display columns and no number is split from its unit; with a wider
//! `COLUMNS`, tables use the room.

mod common;

use common::versus;

use bench::width::columns;

/// Units versus prints after a number.
const UNITS: [&str; 8] = ["ns", "µs", "ms", "s", "B", "KiB", "MiB", "GiB"];

/// stdout of `versus args…` with `COLUMNS=width`, stdout a pipe.
fn output_at(width: usize, args: &[&str]) -> String {
    let output = versus()
        .env("COLUMNS", width.to_string())
        .args(args)
        .output()
        .expect("versus runs");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Every line fits `width` display columns, and no table cell or prose line
/// starts with a unit (which would mean its number ended the line above).
fn assert_fits(text: &str, width: usize, what: &str) {
    assert!(!text.trim().is_empty(), "{what} printed nothing");
    for line in text.lines() {
        assert!(
            columns(line) <= width,
            "{what}: a line of {} columns is wider than {width}:\n{line}\nin\n{text}",
            columns(line)
        );
        for segment in line.split(['│', '┆']) {
            let first = segment.split_whitespace().next().unwrap_or("");
            assert!(
                !UNITS.contains(&first),
                "{what}: a unit starts a line, split from its number:\n{line}\nin\n{text}"
            );
        }
    }
}

fn widest(text: &str) -> usize {
    text.lines().map(columns).max().unwrap_or(0)
}

#[test]
fn compare_fits_80_columns_and_uses_200() {
    let args = [
        "compare",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--only",
        "startup,syscall,memory",
    ];
    let narrow = output_at(80, &args);
    assert_fits(&narrow, 80, "versus compare");
    // Below 20 runs the p95 column is left out, and the header says why.
    assert!(!narrow.contains("┆ p95"), "{narrow}");
    assert!(narrow.contains("p95 is shown from 20 runs"), "{narrow}");
    let wide = output_at(200, &args);
    assert_fits(&wide, 200, "versus compare (200)");
    assert!(
        widest(&wide) > 80,
        "COLUMNS=200 should let tables grow:\n{wide}"
    );
}

#[test]
fn compare_names_each_written_file_once_and_plots_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("compare.svg");
    let json = dir.path().join("compare.json");
    let output = versus()
        .env("COLUMNS", "80")
        .args([
            "compare",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--only",
            "startup,memory",
        ])
        .arg("--plot")
        .arg(&plot)
        .arg("--export-json")
        .arg(&json)
        .output()
        .expect("versus runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for path in [&plot, &json] {
        let line = format!("wrote {}", path.display());
        assert_eq!(
            stderr.lines().filter(|l| *l == line).count(),
            1,
            "{line:?} once in:\n{stderr}"
        );
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    for caption in ["(a) Startup", "(b) Startup phases", "(c) Memory"] {
        assert!(svg.contains(caption), "the plot lacks {caption:?}");
    }
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn doctor_fits_80_columns_and_puts_fixes_beside_results_when_wide() {
    let narrow = output_at(80, &["doctor"]);
    assert_fits(&narrow, 80, "versus doctor");
    assert!(narrow.contains("result (→ fix)"), "{narrow}");
    let wide = output_at(200, &["doctor"]);
    assert_fits(&wide, 200, "versus doctor (200)");
    assert!(wide.contains("┆ fix"), "{wide}");
}

#[test]
fn a_garbage_columns_falls_back_to_the_pipe_width() {
    let text = output_at(0, &["doctor"]);
    assert_fits(
        &text,
        bench::width::PIPED_WIDTH,
        "versus doctor (COLUMNS=0)",
    );
    let text = output_at(20, &["doctor"]);
    assert_fits(&text, bench::width::MIN_WIDTH, "versus doctor (COLUMNS=20)");
}

#[test]
fn host_run_fits_80_columns() {
    let text = output_at(80, &["host", "run", "--", "startup"]);
    assert_fits(&text, 80, "versus host run -- startup");
    let text = output_at(80, &["host", "run", "--", "getpid", "1000"]);
    assert_fits(&text, 80, "versus host run -- getpid 1000");
}

#[testkit::needs(root)]
#[test]
fn container_run_fits_80_columns() {
    if !common::require_root("container_run_fits_80_columns") {
        return;
    }
    let text = output_at(
        80,
        &["container", "run", "--memory", "32M", "--", "startup"],
    );
    assert_fits(&text, 80, "versus container run -- startup");
    // A limit reads back in binary units, as it was written.
    assert!(text.contains("--memory 32 MiB"), "{text}");
}

#[testkit::needs(kvm)]
#[test]
fn vm_run_fits_80_columns() {
    if !common::require_kvm("vm_run_fits_80_columns") {
        return;
    }
    let text = output_at(80, &["vm", "run", "--", "startup"]);
    assert_fits(&text, 80, "versus vm run -- startup");
}
