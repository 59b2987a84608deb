//! The three exports of one comparison, figure by figure: what the JSON
//! export holds, the CSV and Markdown exports must hold too.

use bench::compare::model::{Comparison, Unit};

/// Every series of the JSON export `c` has the same figures in the CSV
/// export (to its three decimals) and the Markdown export (as the tables
/// print them), and neither has a series more.
pub fn assert_exports_agree(c: &Comparison, csv: &str, markdown: &str) {
    use bench::compare::render::{shows_p95, value};

    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("section,backend,figure,unit,runs,failed,median,p95,min,max,mean,stddev")
    );
    let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
    assert_eq!(rows.len(), c.series.len(), "{csv}");
    // Markdown rows of the figure tables: the ones ending in "runs ok".
    let runs_ok = |line: &str| {
        let cells: Vec<&str> = line.trim_end_matches(" |").rsplit(" | ").collect();
        cells.first().is_some_and(|last| {
            last.split_once('/').is_some_and(|(ok, all)| {
                [ok, all]
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
        })
    };
    let md_rows = markdown.lines().filter(|line| runs_ok(line)).count();
    assert_eq!(md_rows, c.series.len(), "{markdown}");

    for (series, row) in c.series.iter().zip(&rows) {
        let name = format!("{} · {}", series.subject, series.figure);
        let summary = series.summary.as_ref().expect("every series has samples");
        assert_eq!(row.len(), 12, "{name}: {row:?}");
        assert_eq!(
            row[..6],
            [
                series.section.name(),
                &series.subject,
                &series.figure,
                match series.unit {
                    Unit::Nanoseconds => "ns",
                    Unit::Bytes => "bytes",
                    Unit::Count => "count",
                },
                summary.n.to_string().as_str(),
                series.failures.len().to_string().as_str(),
            ],
            "{name}"
        );
        let figures = [
            ("median", 6, Some(summary.median)),
            ("p95", 7, summary.p95),
            ("min", 8, Some(summary.min)),
            ("max", 9, Some(summary.max)),
            ("mean", 10, Some(summary.mean)),
        ];
        for (what, column, expected) in figures {
            match expected {
                Some(expected) => {
                    let got: f64 = row[column]
                        .parse()
                        .unwrap_or_else(|e| panic!("{name} {what} {:?}: {e}", row[column]));
                    // Three decimals in the CSV.
                    assert!(
                        (got - expected).abs() <= 0.0005,
                        "{name} {what}: {got} ≠ {expected}"
                    );
                }
                None => assert_eq!(row[column], "", "{name} {what}"),
            }
        }

        // The Markdown row of this series: figure, backend, median, [p95,]
        // min, max, runs ok.
        let cells = markdown
            .lines()
            .map(|line| {
                line.trim_start_matches("| ")
                    .trim_end_matches(" |")
                    .split(" | ")
                    .collect::<Vec<_>>()
            })
            .find(|cells| {
                cells.len() >= 6 && cells[0] == series.figure && cells[1] == series.subject
            })
            .unwrap_or_else(|| panic!("no Markdown row for {name}:\n{markdown}"));
        let mut shown = vec![Some(summary.median)];
        // The p95 column only from the runs that give one, as in the tables.
        if shows_p95(c) {
            shown.push(summary.p95);
        }
        shown.extend([Some(summary.min), Some(summary.max)]);
        assert_eq!(cells.len(), 3 + shown.len(), "{name}: {cells:?}");
        for (cell, expected) in cells[2..].iter().zip(&shown) {
            let expected = expected.unwrap_or_else(|| panic!("{name}: a p95 column without a p95"));
            // The JSON export read back may differ from the figure the
            // Markdown was printed from in its last bits (serde_json's
            // default parser), enough to flip a rounding: either side of it
            // is the same figure.
            let printed = [1.0 - 1e-12, 1.0, 1.0 + 1e-12].map(|f| value(series.unit, expected * f));
            assert!(
                printed.iter().any(|p| p == cell),
                "{name}: the Markdown shows {cell:?}, the JSON {printed:?}"
            );
        }
        assert_eq!(
            cells[cells.len() - 1],
            format!("{}/{}", summary.n, summary.n + series.failures.len()),
            "{name}"
        );
    }
}

/// The fields of one CSV line (RFC 4180: a field with a comma or a quote is
/// quoted, a quote inside doubled; the export writes no line breaks inside
/// a field).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (ch, _) => fields.last_mut().unwrap().push(ch),
        }
    }
    fields
}
