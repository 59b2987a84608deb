//! Property tests for the parsers that read outside input: the `@versus`
//! line protocol (whatever a workload prints), and `/proc/*/mountinfo`
//! (whatever the host's mount table holds). Any input gets an answer — a
//! record, "not a record", or an error naming the line — and what versus'
//! own writers produce reads back exactly.

use bench::workload::{ParseError, Record, TaskResult, parse_line};
use container::mountinfo;
use proptest::prelude::*;

/// Escapes `text` as the kernel does in mountinfo (space, tab, newline,
/// backslash as `\ooo`).
fn kernel_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

proptest! {
    #[test]
    fn lines_without_the_prefix_are_not_records(line in "\\PC{0,200}") {
        prop_assume!(!line.starts_with("@versus "));
        prop_assert_eq!(parse_line(&line), Ok(None));
    }

    #[test]
    fn a_malformed_record_is_an_error_that_quotes_it(body in "[a-z_= .0-9\"\\\\]{0,120}") {
        let line = format!("@versus {body}");
        match parse_line(&line) {
            Ok(Some(_)) | Ok(None) => {}
            Err(ParseError { line: quoted, problem }) => {
                prop_assert_eq!(quoted, line);
                prop_assert!(!problem.is_empty());
            }
        }
    }

    #[test]
    fn a_getpid_result_reads_back(iters: u64, total_ns: u64, pid: u64, tenths in 0u32..10_000_000) {
        let ns_per_op = f64::from(tenths) / 10.0;
        let line = format!(
            "@versus task=getpid iters={iters} ns_per_op={ns_per_op} total_ns={total_ns} pid={pid}\n"
        );
        let parsed = parse_line(&line);
        prop_assert_eq!(
            parsed,
            Ok(Some(Record::Result(TaskResult::Getpid { iters, ns_per_op, total_ns, pid })))
        );
    }

    #[test]
    fn mountinfo_lines_read_back_with_escapes(
        id in 1u64..100_000,
        mount_point in "/[a-z \\t\\\\]{0,30}",
        fs_type in "[a-z0-9]{1,10}",
        options in proptest::collection::vec("[a-z]{1,8}", 1..4),
    ) {
        let line = format!(
            "{id} 1 0:42 / {} rw,nosuid shared:7 - {fs_type} none {}",
            kernel_escape(&mount_point),
            options.join(",")
        );
        let entry = mountinfo::parse_line(&line).expect("a well-formed line");
        prop_assert_eq!(entry.id, id);
        prop_assert_eq!(entry.mount_point, mount_point);
        prop_assert_eq!(entry.fs_type, fs_type);
        prop_assert_eq!(entry.super_options, options);
        prop_assert_eq!(entry.optional_fields, vec!["shared:7".to_string()]);
    }

    #[test]
    fn a_mountinfo_line_without_its_separator_is_skipped(fields in proptest::collection::vec("[a-z0-9:/,]{1,8}", 0..12)) {
        let line = fields.join(" ");
        prop_assert_eq!(mountinfo::parse_line(&line), None);
    }
}
