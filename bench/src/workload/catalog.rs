//! The task catalog: every task the workload knows ([`TASKS`]), the
//! arguments each takes, and [`TaskInvocation`], a command line checked
//! against it.

use serde::{Deserialize, Serialize};

/// One numeric argument of a task: the shared catalog's parameter.
pub use versus_protocol::catalog::Param as ArgSpec;
/// A task and its arguments: the shared catalog's entry.
pub use versus_protocol::catalog::TaskSpec;

/// Every task the workload knows, in the order `suite` runs them (`suite`
/// leaves out `fuzz`, which measures nothing): the catalog the workload's
/// own task table is built from, so the two cannot disagree.
pub const TASKS: &[&TaskSpec] = versus_protocol::catalog::TASKS;

/// Looks a task up by name.
pub fn task_spec(name: &str) -> Option<&'static TaskSpec> {
    versus_protocol::catalog::find(name.as_bytes())
}

/// The task names, space-separated, for messages.
pub fn task_names() -> String {
    TASKS
        .iter()
        .map(|spec| spec.name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The catalog as help text: one line per task, its usage and its summary
/// (`versus run --help` shows it).
pub fn task_help() -> String {
    let usages: Vec<String> = TASKS
        .iter()
        .map(|spec| {
            std::iter::once(spec.name.to_string())
                .chain(spec.params.iter().map(|p| format!("[{}]", p.name)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let width = usages.iter().map(String::len).max().unwrap_or(0);
    let mut help = String::from("Tasks:\n");
    for (usage, spec) in usages.iter().zip(TASKS) {
        help.push_str(&format!("  {usage:width$}  {}\n", spec.summary));
    }
    help
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
        if rest.len() > spec.params.len() {
            return Err(TaskError::TooManyArguments {
                task: spec.name,
                expected: spec.params.len(),
                got: rest.len(),
            });
        }
        let mut args = Vec::with_capacity(spec.params.len());
        for (index, arg) in spec.params.iter().enumerate() {
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
