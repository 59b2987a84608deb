//! The shared protocol crate (`versus_protocol`) as both sides use it: the
//! catalog the harness checks command lines against is the one the
//! workload runs (asked of the real workload binary), and what the shared
//! writer writes, the shared tokenizer and the harness's parser read back.

use std::collections::BTreeMap;
use std::process::Command;

use bench::workload::{
    Record, TASKS, TaskError, TaskInvocation, TaskResult, parse_line, task_names,
};
use proptest::prelude::*;
use versus_protocol::line::{self, Fields, Writer};

/// Runs the embedded workload as a host process; (exit status, stderr).
fn workload(args: &[&str]) -> (i32, String) {
    let output = Command::new(versus_images::WORKLOAD_BUILD_PATH)
        .args(args)
        .output()
        .expect("the workload runs as a host process");
    let stderr = String::from_utf8(output.stderr).expect("the workload writes ASCII");
    (output.status.code().expect("exited"), stderr)
}

#[test]
fn the_workload_lists_exactly_the_catalog() {
    let (status, stderr) = workload(&[]);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "usage: versus-workload TASK [ARGS...]; tasks: {}\n",
            task_names()
        )
    );
}

#[test]
fn every_catalog_task_has_the_same_parameters_on_both_sides() {
    for spec in TASKS {
        // Defaults: the harness fills them in from the catalog.
        let inv = TaskInvocation::parse(&[spec.name]).unwrap();
        let defaults: Vec<u64> = spec.params.iter().map(|p| p.default).collect();
        assert_eq!(inv.args, defaults, "{}", spec.name);

        // Parameter names and count: the workload's usage on one too many.
        let mut argv = vec![spec.name.to_string()];
        argv.extend(spec.params.iter().map(|p| p.min.to_string()));
        argv.push("1".to_string());
        let usage: String = spec
            .params
            .iter()
            .map(|p| format!(" [{}]", p.name))
            .collect();
        let (status, stderr) = workload(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(status, 2, "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "versus-workload: {0}: too many arguments; usage: versus-workload {0}{usage}\n",
                spec.name
            )
        );
        assert!(matches!(
            TaskInvocation::parse(&argv),
            Err(TaskError::TooManyArguments { .. })
        ));

        // Ranges: one past the maximum is refused by both, in the same words.
        for (index, param) in spec.params.iter().enumerate() {
            let mut argv: Vec<String> = std::iter::once(spec.name.to_string())
                .chain(spec.params.iter().map(|p| p.min.to_string()))
                .collect();
            TaskInvocation::parse(&argv).expect("the minimums are accepted");
            argv[index + 1] = (param.max + 1).to_string();
            let harness = TaskInvocation::parse(&argv).unwrap_err().to_string();
            let (status, stderr) = workload(&argv.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(status, 2, "{stderr}");
            assert_eq!(stderr, format!("versus-workload: {harness}\n"));
        }
    }
}

#[test]
fn the_help_text_lists_every_task_with_its_summary() {
    let help = bench::workload::task_help();
    for spec in TASKS {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{} ", spec.name)))
            .unwrap_or_else(|| panic!("{} is not in the help:\n{help}", spec.name));
        assert!(line.ends_with(spec.summary), "{line}");
    }
}

/// The shared writer on a growable buffer.
struct Buf(Vec<u8>);

impl Writer for Buf {
    fn byte(&mut self, byte: u8) {
        self.0.push(byte);
    }
}

/// A result line for `task` with `fields`, written by the shared writer.
fn write_line(task: &str, fields: &BTreeMap<String, Vec<u8>>) -> String {
    let mut buf = Buf(Vec::new());
    buf.versus_result(task);
    for (key, value) in fields {
        buf.key(key);
        buf.value(value);
    }
    String::from_utf8(buf.0).expect("the writer writes ASCII only")
}

proptest! {
    #[test]
    fn what_the_writer_writes_the_tokenizer_reads_back(
        fields in prop::collection::btree_map("[a-z0-9_]{1,10}", prop::collection::vec(any::<u8>(), 0..40), 0..6),
    ) {
        prop_assume!(!fields.contains_key("task"));
        let text = write_line("zz", &fields);
        let body = text.strip_prefix(line::RESULT_START).unwrap();
        let (task, rest) = body.split_once(' ').unwrap_or((body, ""));
        prop_assert_eq!(task, "zz");
        let read: BTreeMap<String, Vec<u8>> = Fields::new(rest)
            .map(|field| {
                let field = field.expect("the writer's output lexes");
                (field.key.to_string(), field.unescaped().collect())
            })
            .collect();
        prop_assert_eq!(&read, &fields);
    }

    #[test]
    fn the_harness_parses_what_the_writer_writes(
        fields in prop::collection::btree_map("[a-z0-9_]{1,10}", "\\PC{0,30}", 0..6),
    ) {
        prop_assume!(!fields.contains_key("task") && !fields.contains_key("error"));
        let bytes: BTreeMap<String, Vec<u8>> =
            fields.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
        let text = write_line("zz", &bytes);
        let Ok(Some(Record::Result(TaskResult::Other { name: task, fields: read }))) = parse_line(&text) else {
            panic!("not an unknown task's result: {text}");
        };
        prop_assert_eq!(task, "zz");
        prop_assert_eq!(read, fields);
    }

    #[test]
    fn kernel_lines_split_into_kind_and_fields(
        what in "[a-z]{1,12}",
        cpu in any::<u32>(),
        value in any::<u64>(),
    ) {
        let mut buf = Buf(Vec::new());
        buf.kernel_start(&what);
        buf.key(line::key::CPU);
        buf.text(&cpu.to_string());
        buf.key("n");
        buf.text(&value.to_string());
        let text = String::from_utf8(buf.0).unwrap() + "\n";
        let (kind, fields) = line::kernel_line(&text).expect("a kernel line");
        prop_assert_eq!(kind, what.as_str());
        let cpu_text = cpu.to_string();
        prop_assert_eq!(fields.clone().find(line::key::CPU), Some(cpu_text.as_str()));
        let value_text = value.to_string();
        prop_assert_eq!(fields.find("n"), Some(value_text.as_str()));
    }
}
