//! The `@versus` line protocol: the parser for the lines the workload
//! prints ([`parse_line`]), the records it yields and the field lexer.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use versus_protocol::line::{self, LexError, Writer, key};

/// The prefix of every line the harness parses.
pub const LINE_PREFIX: &str = line::VERSUS_PREFIX;

/// The start marker: the first line of every task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartMarker {
    /// The task that started.
    pub task: String,
    /// The workload's pid as its kernel reports it.
    pub pid: u64,
    /// CLOCK_MONOTONIC in the workload's kernel at the start, in ns.
    pub mono_ns: u64,
}

/// What `/proc/self/status` said about the workload's privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcStatus {
    /// The file was read; `None` marks a field the kernel did not print.
    Available {
        /// Effective capability set (hex mask).
        cap_eff: Option<String>,
        /// Permitted capability set (hex mask).
        cap_prm: Option<String>,
        /// Bounding set (hex mask).
        cap_bnd: Option<String>,
        /// `NoNewPrivs` (0 or 1).
        no_new_privs: Option<String>,
        /// `Seccomp` mode: 0 none, 1 strict, 2 filter.
        seccomp: Option<String>,
        /// Number of seccomp filters installed.
        seccomp_filters: Option<String>,
    },
    /// The file could not be opened (no `/proc`, as in a VM's tiny kernel).
    Unavailable {
        /// The errno name from `openat`.
        errno: String,
    },
}

/// One result line, typed by task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum TaskResult {
    /// `startup`: nothing but the start marker.
    Startup,
    /// `getpid N`.
    Getpid {
        /// Calls made.
        iters: u64,
        /// Nanoseconds per call.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The pid returned.
        pid: u64,
    },
    /// `compute N`.
    Compute {
        /// Rounds computed.
        iters: u64,
        /// Nanoseconds per round.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The deterministic result; equal on every backend.
        checksum: u64,
    },
    /// `memtouch MIB`.
    Memtouch {
        /// MiB mapped.
        mib: u64,
        /// 4 KiB pages touched.
        pages: u64,
        /// Nanoseconds per page (fault included).
        ns_per_page: f64,
        /// Nanoseconds for map + touch + unmap.
        total_ns: u64,
    },
    /// `write N BYTES`.
    Write {
        /// Writes made.
        iters: u64,
        /// Bytes per write.
        bytes: u64,
        /// Nanoseconds per write.
        ns_per_op: f64,
        /// Nanoseconds for the whole loop.
        total_ns: u64,
        /// The file descriptor written to.
        fd: u64,
    },
    /// `uname`.
    Uname {
        /// Kernel name.
        sysname: String,
        /// Host name.
        nodename: String,
        /// Kernel release.
        release: String,
        /// Kernel build string.
        version: String,
        /// Hardware name.
        machine: String,
    },
    /// `ids`.
    Ids {
        /// Process id.
        pid: u64,
        /// Parent process id (0 for a PID 1).
        ppid: u64,
        /// User id.
        uid: u64,
        /// Group id.
        gid: u64,
        /// Host name (UTS namespace).
        hostname: String,
    },
    /// `status`.
    Status(ProcStatus),
    /// `probe`: each attempted call and its outcome (`ok` or an errno name).
    Probe {
        /// Call name → outcome.
        outcomes: BTreeMap<String, String>,
    },
    /// `spawn N`.
    Spawn {
        /// Children asked for.
        requested: u64,
        /// Children created.
        spawned: u64,
        /// The errno of the first failed clone, if any.
        errno: Option<String>,
        /// Nanoseconds for creating and reaping them.
        total_ns: u64,
        /// Nanoseconds per child.
        ns_per_op: f64,
    },
    /// `suite`: how many of its tasks completed.
    Suite {
        /// Tasks that did not fail.
        completed: u64,
    },
    /// `fuzz SEED N`: how the kernel answered N hostile system calls.
    Fuzz {
        /// The generator's seed (the same seed repeats the same calls).
        seed: u64,
        /// Calls made.
        calls: u64,
        /// Calls that returned a result.
        succeeded: u64,
        /// Calls that returned an errno other than ENOSYS.
        failed: u64,
        /// Calls the kernel does not implement.
        enosys: u64,
    },
    /// A task that reported a runtime failure.
    Failed {
        /// The task's name (in the `failed_task` field of the JSON).
        failed_task: String,
        /// The errno name.
        error: String,
    },
    /// A task this version of versus does not know (from a `--workload`
    /// that speaks the same line format); its fields as printed.
    Other {
        /// The task's name.
        name: String,
        /// Its fields.
        fields: BTreeMap<String, String>,
    },
}

impl TaskResult {
    /// The task's name as the workload printed it.
    pub fn task_name(&self) -> &str {
        match self {
            Self::Startup => "startup",
            Self::Getpid { .. } => "getpid",
            Self::Compute { .. } => "compute",
            Self::Memtouch { .. } => "memtouch",
            Self::Write { .. } => "write",
            Self::Uname { .. } => "uname",
            Self::Ids { .. } => "ids",
            Self::Status(_) => "status",
            Self::Probe { .. } => "probe",
            Self::Spawn { .. } => "spawn",
            Self::Suite { .. } => "suite",
            Self::Fuzz { .. } => "fuzz",
            Self::Failed { failed_task, .. } => failed_task,
            Self::Other { name, .. } => name,
        }
    }
}

/// A parsed `@versus` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// The start marker.
    Start(StartMarker),
    /// A result line.
    Result(TaskResult),
}

/// A malformed `@versus` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed workload line {line:?}: {problem}")]
pub struct ParseError {
    /// The offending line.
    pub line: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Parses one line of workload output: `Ok(None)` for ordinary output,
/// `Ok(Some(record))` for a well-formed `@versus` line, and an error that
/// names the problem for a malformed one.
pub fn parse_line(line: &str) -> Result<Option<Record>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let Some(body) = line.strip_prefix(LINE_PREFIX) else {
        return Ok(None);
    };
    let fail = |problem: String| ParseError {
        line: line.to_string(),
        problem,
    };
    let (is_start, body) = match body.strip_prefix(line::START) {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut fields = Fields::lex(body).map_err(fail)?;
    let task = fields.string(key::TASK).map_err(fail)?;
    let record = if is_start {
        Record::Start(StartMarker {
            task,
            pid: fields.u64(key::PID).map_err(fail)?,
            mono_ns: fields.u64(key::MONO_NS).map_err(fail)?,
        })
    } else {
        Record::Result(typed_result(task, &mut fields).map_err(fail)?)
    };
    Ok(Some(record))
}

fn typed_result(task: String, fields: &mut Fields) -> Result<TaskResult, String> {
    if fields.has(key::ERROR) {
        return Ok(TaskResult::Failed {
            failed_task: task,
            error: fields.string(key::ERROR)?,
        });
    }
    Ok(match task.as_str() {
        "startup" => TaskResult::Startup,
        "getpid" => TaskResult::Getpid {
            iters: fields.u64("iters")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            pid: fields.u64("pid")?,
        },
        "compute" => TaskResult::Compute {
            iters: fields.u64("iters")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            checksum: fields.hex_u64("checksum")?,
        },
        "memtouch" => TaskResult::Memtouch {
            mib: fields.u64("mib")?,
            pages: fields.u64("pages")?,
            ns_per_page: fields.f64("ns_per_page")?,
            total_ns: fields.u64("total_ns")?,
        },
        "write" => TaskResult::Write {
            iters: fields.u64("iters")?,
            bytes: fields.u64("bytes")?,
            ns_per_op: fields.f64("ns_per_op")?,
            total_ns: fields.u64("total_ns")?,
            fd: fields.u64("fd")?,
        },
        "uname" => TaskResult::Uname {
            sysname: fields.string("sysname")?,
            nodename: fields.string("nodename")?,
            release: fields.string("release")?,
            version: fields.string("version")?,
            machine: fields.string("machine")?,
        },
        "ids" => TaskResult::Ids {
            pid: fields.u64("pid")?,
            ppid: fields.u64("ppid")?,
            uid: fields.u64("uid")?,
            gid: fields.u64("gid")?,
            hostname: fields.string("hostname")?,
        },
        "status" if fields.has("unavailable") => TaskResult::Status(ProcStatus::Unavailable {
            errno: fields.string("unavailable")?,
        }),
        "status" => TaskResult::Status(ProcStatus::Available {
            cap_eff: fields.known("cap_eff")?,
            cap_prm: fields.known("cap_prm")?,
            cap_bnd: fields.known("cap_bnd")?,
            no_new_privs: fields.known("no_new_privs")?,
            seccomp: fields.known("seccomp")?,
            seccomp_filters: fields.known("seccomp_filters")?,
        }),
        "probe" => {
            if fields.is_empty() {
                return Err("a probe line must report at least one call".to_string());
            }
            TaskResult::Probe {
                outcomes: fields.take_all(),
            }
        }
        "spawn" => TaskResult::Spawn {
            requested: fields.u64("requested")?,
            spawned: fields.u64("spawned")?,
            errno: Some(fields.string("errno")?).filter(|errno| errno != "none"),
            total_ns: fields.u64("total_ns")?,
            ns_per_op: fields.f64("ns_per_op")?,
        },
        "suite" => TaskResult::Suite {
            completed: fields.u64("completed")?,
        },
        "fuzz" => TaskResult::Fuzz {
            seed: fields.u64("seed")?,
            calls: fields.u64("calls")?,
            succeeded: fields.u64("succeeded")?,
            failed: fields.u64("failed")?,
            enosys: fields.u64("enosys")?,
        },
        _ => TaskResult::Other {
            name: task,
            fields: fields.take_all(),
        },
    })
}

/// The `key=value` fields of one line, after lexing.
#[derive(Debug, Default)]
struct Fields {
    values: BTreeMap<String, String>,
}

impl Fields {
    /// Collects the shared tokenizer's fields (`versus_protocol::line`),
    /// unescaping quoted values; a key may appear once.
    fn lex(body: &str) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for field in line::Fields::new(body) {
            let field = field.map_err(lex_problem)?;
            let bytes: Vec<u8> = field.unescaped().collect();
            let value = String::from_utf8_lossy(&bytes).into_owned();
            if values.insert(field.key.to_string(), value).is_some() {
                return Err(format!("field {:?} appears twice", field.key));
            }
        }
        Ok(Self { values })
    }

    fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        self.values
            .remove(key)
            .ok_or_else(|| format!("missing field {key:?}"))
    }

    /// A field whose value `unknown` means the source did not say.
    fn known(&mut self, key: &str) -> Result<Option<String>, String> {
        Ok(Some(self.string(key)?).filter(|value| value != "unknown"))
    }

    fn u64(&mut self, key: &str) -> Result<u64, String> {
        let text = self.string(key)?;
        text.parse()
            .map_err(|_| format!("field {key:?} must be an unsigned integer, got {text:?}"))
    }

    fn hex_u64(&mut self, key: &str) -> Result<u64, String> {
        let text = self.string(key)?;
        u64::from_str_radix(&text, 16)
            .map_err(|_| format!("field {key:?} must be hexadecimal, got {text:?}"))
    }

    fn f64(&mut self, key: &str) -> Result<f64, String> {
        let text = self.string(key)?;
        let valid = text.split_once('.').is_some_and(|(whole, frac)| {
            !whole.is_empty()
                && !frac.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }) || (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(format!(
                "field {key:?} must be a decimal number like 48.70, got {text:?}"
            ));
        }
        text.parse()
            .map_err(|_| format!("field {key:?} must be a decimal number, got {text:?}"))
    }

    fn take_all(&mut self) -> BTreeMap<String, String> {
        std::mem::take(&mut self.values)
    }
}

/// What a malformed line's problem is, in words.
fn lex_problem(error: LexError<'_>) -> String {
    match error {
        LexError::NoEquals(rest) => format!("field {rest:?} has no '='"),
        LexError::BadKey(key) => {
            format!("bad field name {key:?} (expected lowercase letters, digits and _)")
        }
        LexError::EmptyValue(key) => format!("field {key:?} has an empty value"),
        LexError::BareSpecial(key, bad) => {
            format!("field {key:?} has {bad:?} in a bare value; quote it")
        }
        LexError::Unterminated => "unterminated quoted value".to_string(),
        LexError::BadHexEscape => "bad \\x escape: expected two hex digits".to_string(),
        LexError::BadEscape => "bad escape in a quoted value".to_string(),
        LexError::BadSeparator => "fields must be separated by exactly one space".to_string(),
        LexError::Junk(key, after) => format!("junk after field {key:?}: {after:?}"),
    }
}

/// Writes a value the way the workload does: bare when it can be, else quoted.
pub fn quote_value(value: &str) -> String {
    let mut out = Bytes(Vec::with_capacity(value.len() + 2));
    out.value(value.as_bytes());
    // The writer emits printable ASCII only; nothing is lost here.
    String::from_utf8_lossy(&out.0).into_owned()
}

/// A growable buffer for the shared line writer.
struct Bytes(Vec<u8>);

impl Writer for Bytes {
    fn byte(&mut self, byte: u8) {
        self.0.push(byte);
    }
}

impl fmt::Display for StartMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LINE_PREFIX}start task={} pid={} mono_ns={}",
            quote_value(&self.task),
            self.pid,
            self.mono_ns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(line: &str) -> TaskResult {
        match parse_line(line) {
            Ok(Some(Record::Result(result))) => result,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn problem(line: &str) -> String {
        parse_line(line).expect_err(line).problem
    }

    #[test]
    fn ordinary_output_is_not_parsed() {
        assert_eq!(parse_line("hello").unwrap(), None);
        assert_eq!(parse_line("...............\n").unwrap(), None);
        assert_eq!(parse_line("@versusstart").unwrap(), None);
    }

    #[test]
    fn start_marker() {
        let line = "@versus start task=getpid pid=42 mono_ns=123456789\n";
        let Some(Record::Start(marker)) = parse_line(line).unwrap() else {
            panic!("not a start marker");
        };
        assert_eq!(
            marker,
            StartMarker {
                task: "getpid".into(),
                pid: 42,
                mono_ns: 123_456_789
            }
        );
        assert_eq!(format!("{marker}\n"), line);
    }

    #[test]
    fn typed_results() {
        assert_eq!(
            result("@versus task=getpid iters=1000 ns_per_op=48.70 total_ns=48700 pid=7"),
            TaskResult::Getpid {
                iters: 1000,
                ns_per_op: 48.7,
                total_ns: 48_700,
                pid: 7
            }
        );
        assert_eq!(
            result(
                "@versus task=compute iters=10 ns_per_op=1.00 total_ns=10 checksum=00000000000000ff"
            ),
            TaskResult::Compute {
                iters: 10,
                ns_per_op: 1.0,
                total_ns: 10,
                checksum: 255
            }
        );
        assert_eq!(
            result(
                "@versus task=spawn requested=3 spawned=2 errno=EAGAIN total_ns=9 ns_per_op=4.50"
            ),
            TaskResult::Spawn {
                requested: 3,
                spawned: 2,
                errno: Some("EAGAIN".into()),
                total_ns: 9,
                ns_per_op: 4.5
            }
        );
        assert_eq!(
            result("@versus task=memtouch error=ENOMEM"),
            TaskResult::Failed {
                failed_task: "memtouch".into(),
                error: "ENOMEM".into()
            }
        );
    }

    #[test]
    fn quoted_values_and_escapes() {
        let line = r##"@versus task=uname sysname=Linux nodename=box release=6.1.0 version="#1 SMP \"x\" \\ \x01" machine=x86_64"##;
        let TaskResult::Uname { version, .. } = result(line) else {
            panic!("not uname");
        };
        assert_eq!(version, "#1 SMP \"x\" \\ \u{1}");
        assert_eq!(
            quote_value(&version),
            r##""#1 SMP \"x\" \\ \x01""##,
            "quoting is the inverse of parsing"
        );
        assert_eq!(quote_value("plain"), "plain");
        assert_eq!(quote_value(""), "\"\"");
    }

    #[test]
    fn status_known_unknown_and_unavailable() {
        assert_eq!(
            result("@versus task=status unavailable=ENOENT"),
            TaskResult::Status(ProcStatus::Unavailable {
                errno: "ENOENT".into()
            })
        );
        let TaskResult::Status(ProcStatus::Available {
            cap_eff,
            seccomp_filters,
            ..
        }) = result(
            "@versus task=status cap_eff=00000000a80425fb cap_prm=0 cap_bnd=0 no_new_privs=1 seccomp=2 seccomp_filters=unknown",
        )
        else {
            panic!("not status");
        };
        assert_eq!(cap_eff.as_deref(), Some("00000000a80425fb"));
        assert_eq!(seccomp_filters, None);
    }

    #[test]
    fn unknown_tasks_keep_their_fields() {
        let TaskResult::Other { name, fields } = result("@versus task=mine speed=fast n=3") else {
            panic!("not other");
        };
        assert_eq!(name, "mine");
        assert_eq!(fields.get("speed").map(String::as_str), Some("fast"));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert!(problem("@versus iters=3").contains("missing field \"task\""));
        assert!(
            problem("@versus task=getpid iters=x ns_per_op=1.00 total_ns=1 pid=1")
                .contains("\"iters\" must be an unsigned integer, got \"x\"")
        );
        assert!(
            problem("@versus task=getpid iters=1 ns_per_op=1e3 total_ns=1 pid=1")
                .contains("decimal number")
        );
        assert!(problem("@versus task=getpid iters=1").contains("missing field \"ns_per_op\""));
        assert!(problem("@versus task=startup junk").contains("has no '='"));
        assert!(problem("@versus task=startup task=startup").contains("appears twice"));
        assert!(problem("@versus task=startup  x=1").contains("exactly one space"));
        assert!(problem("@versus task=uname version=\"open").contains("unterminated"));
        assert!(problem("@versus task=uname version=\"a\\q\"").contains("bad escape"));
        assert!(problem("@versus Task=x").contains("bad field name"));
        assert!(problem("@versus task=x a=").contains("empty value"));
        assert!(problem("@versus task=x a=\"b\"c").contains("junk after field"));
        assert!(problem("@versus task=probe").contains("at least one call"));
        assert!(problem("@versus start task=getpid pid=1").contains("mono_ns"));
    }
}
