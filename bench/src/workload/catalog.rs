//! The task catalog: every task the workload knows ([`TASKS`]), the
//! arguments each takes, and [`TaskInvocation`], a command line checked
//! against it.

use serde::{Deserialize, Serialize};

/// One numeric argument of a task: its name in messages, default and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Name used in usage text and error messages (`N`, `MIB`, `BYTES`).
    pub name: &'static str,
    /// Value used when the argument is left out.
    pub default: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
}

/// A task of the workload and the arguments it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task's name, the workload's first argument.
    pub name: &'static str,
    /// Its numeric arguments, in order; each may be left out (defaults apply).
    pub args: &'static [ArgSpec],
    /// One line saying what it measures or shows.
    pub summary: &'static str,
}

const fn arg(name: &'static str, default: u64, min: u64, max: u64) -> ArgSpec {
    ArgSpec {
        name,
        default,
        min,
        max,
    }
}

/// Upper bound for iteration counts: the workload keeps them in 32 bits.
const MAX_ITERS: u64 = u32::MAX as u64;

/// Every task the workload knows, in the order `suite` runs them (`suite`
/// leaves out `fuzz`, which measures nothing).
pub const TASKS: &[TaskSpec] = &[
    TaskSpec {
        name: "startup",
        args: &[],
        summary: "print the start marker and exit at once",
    },
    TaskSpec {
        name: "getpid",
        args: &[arg("N", 1_000_000, 1, MAX_ITERS)],
        summary: "N getpid system calls: the cost of entering the kernel",
    },
    TaskSpec {
        name: "compute",
        args: &[arg("N", 10_000_000, 1, MAX_ITERS)],
        summary: "N rounds of integer arithmetic with no system call",
    },
    TaskSpec {
        name: "memtouch",
        args: &[arg("MIB", 64, 1, 65_536)],
        summary: "map MIB MiB and touch every page: page-fault cost",
    },
    TaskSpec {
        name: "write",
        args: &[arg("N", 1_000, 1, MAX_ITERS), arg("BYTES", 64, 1, 65_536)],
        summary: "N writes of BYTES bytes to stdout: console I/O cost",
    },
    TaskSpec {
        name: "uname",
        args: &[],
        summary: "which kernel answers: sysname, release, version",
    },
    TaskSpec {
        name: "ids",
        args: &[],
        summary: "pid, ppid, uid, gid and hostname as the workload sees them",
    },
    TaskSpec {
        name: "status",
        args: &[],
        summary: "capabilities, no_new_privs and seccomp from /proc/self/status",
    },
    TaskSpec {
        name: "probe",
        args: &[],
        summary: "try privileged calls harmlessly and report each errno",
    },
    TaskSpec {
        name: "spawn",
        args: &[arg("N", 10, 1, 4_096)],
        summary: "fork N children that live at once; how many succeeded",
    },
    TaskSpec {
        name: "fuzz",
        args: &[arg("SEED", 1, 0, MAX_ITERS), arg("N", 10_000, 1, MAX_ITERS)],
        summary: "N system calls with random numbers and hostile arguments: the kernel must answer each",
    },
    TaskSpec {
        name: "suite",
        args: &[],
        summary: "every task above but fuzz, with small defaults",
    },
];

/// Looks a task up by name.
pub fn task_spec(name: &str) -> Option<&'static TaskSpec> {
    TASKS.iter().find(|spec| spec.name == name)
}

/// The task names, space-separated, for messages.
pub fn task_names() -> String {
    TASKS
        .iter()
        .map(|spec| spec.name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A task with validated arguments, ready to pass to the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInvocation {
    /// The task name.
    pub task: String,
    /// The numeric arguments with defaults filled in.
    pub args: Vec<u64>,
}

impl TaskInvocation {
    /// Validates `argv` (task name first) against [`TASKS`].
    ///
    /// # Example
    /// ```
    /// let inv = bench::workload::TaskInvocation::parse(&["getpid", "1000"]).unwrap();
    /// assert_eq!(inv.argv(), vec!["getpid".to_string(), "1000".to_string()]);
    /// ```
    pub fn parse<S: AsRef<str>>(argv: &[S]) -> Result<Self, TaskError> {
        let Some((name, rest)) = argv.split_first() else {
            return Err(TaskError::MissingTask);
        };
        let name = name.as_ref();
        let spec = task_spec(name).ok_or_else(|| TaskError::UnknownTask(name.to_string()))?;
        if rest.len() > spec.args.len() {
            return Err(TaskError::TooManyArguments {
                task: spec.name,
                expected: spec.args.len(),
                got: rest.len(),
            });
        }
        let mut args = Vec::with_capacity(spec.args.len());
        for (index, arg) in spec.args.iter().enumerate() {
            let value = match rest.get(index) {
                None => arg.default,
                Some(text) => parse_count(spec.name, arg, text.as_ref())?,
            };
            args.push(value);
        }
        Ok(Self {
            task: spec.name.to_string(),
            args,
        })
    }

    /// The workload's command line for this invocation (without argv\[0\]).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.task.clone())
            .chain(self.args.iter().map(u64::to_string))
            .collect()
    }
}

fn parse_count(task: &'static str, arg: &ArgSpec, text: &str) -> Result<u64, TaskError> {
    let bad = || TaskError::BadArgument {
        task,
        arg: arg.name,
        min: arg.min,
        max: arg.max,
        got: text.to_string(),
    };
    let value: u64 = text.parse().map_err(|_| bad())?;
    if !(arg.min..=arg.max).contains(&value) {
        return Err(bad());
    }
    Ok(value)
}

/// A task command line that the workload would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No task was given.
    #[error("no task given; tasks: {}", task_names())]
    MissingTask,
    /// The task name is not one of [`TASKS`].
    #[error("unknown task '{0}'; tasks: {names}", names = task_names())]
    UnknownTask(String),
    /// A count is not a number or is out of range.
    #[error("{task}: {arg} must be an integer from {min} to {max}, got '{got}'")]
    BadArgument {
        /// The task.
        task: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
        /// What was given.
        got: String,
    },
    /// More arguments than the task takes.
    #[error("{task} takes at most {expected} argument(s), got {got}")]
    TooManyArguments {
        /// The task.
        task: &'static str,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        got: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_fill_defaults_and_check_ranges() {
        let inv = TaskInvocation::parse(&["write", "5"]).unwrap();
        assert_eq!(inv.args, vec![5, 64]);
        assert_eq!(inv.argv(), ["write", "5", "64"]);
        assert_eq!(
            TaskInvocation::parse(&["getpid"]).unwrap().args,
            vec![1_000_000]
        );
        let err = TaskInvocation::parse(&["nope"]).unwrap_err().to_string();
        assert!(
            err.contains("unknown task 'nope'") && err.contains("getpid"),
            "{err}"
        );
        let err = TaskInvocation::parse(&["getpid", "many"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "getpid: N must be an integer from 1 to 4294967295, got 'many'"
        );
        let err = TaskInvocation::parse(&["memtouch", "0"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MIB must be an integer from 1 to 65536"),
            "{err}"
        );
        let err = TaskInvocation::parse(&["uname", "1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 0"), "{err}");
        assert_eq!(
            TaskInvocation::parse::<&str>(&[]).unwrap_err(),
            TaskError::MissingTask
        );
    }
}
