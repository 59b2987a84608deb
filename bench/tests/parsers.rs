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

proptest! {
    /// Whatever a `--workload` file holds, the check answers without
    /// panicking, and only a file that starts like an ELF can pass.
    #[test]
    fn the_elf_check_answers_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let verdict = bench::workload::elf::check_static_elf(&bytes);
        if verdict.is_ok() {
            prop_assert!(bytes.starts_with(b"\x7fELF"));
        }
    }

    /// A real static ELF header with its bytes flipped at random is
    /// still answered, and a cut-off copy is never accepted as whole.
    #[test]
    fn a_damaged_workload_is_answered(at in 0usize..64, value: u8, cut in 0usize..64) {
        let mut image = versus_images::WORKLOAD.to_vec();
        image[at] = value;
        let _verdict = bench::workload::elf::check_static_elf(&image);
        let truncated = &versus_images::WORKLOAD[..cut];
        prop_assert!(bench::workload::elf::check_static_elf(truncated).is_err());
    }

    /// `/proc/<pid>/status` as the kernel writes it: VmRSS in kB reads back
    /// in bytes; any other text gives no figure rather than a wrong one.
    #[test]
    fn vmrss_reads_back(kb in 0u64..(1 << 40), before in "[A-Za-z]{1,12}:\t[0-9]{1,6}", pad in 1usize..9) {
        let status = format!("Name:\tversus\n{before}\nVmRSS:{}{kb} kB\nThreads:\t3\n", " ".repeat(pad));
        prop_assert_eq!(hypervisor::memory::parse_vmrss(&status), Some(kb * 1024));
        prop_assert_eq!(hypervisor::memory::parse_vmrss(&format!("Name:\tversus\n{before}\n")), None);
    }
}
