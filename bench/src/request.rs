//! One run, described as data: which backend with which settings, and the
//! launch. The CLI's `run` subcommands build the same values from their
//! flags; `versus compare` sends one as JSON to a fresh `versus` process
//! (the hidden `versus __run-request`, which reads it on stdin and prints
//! the [`RunReport`](crate::report::RunReport) as JSON), so that the
//! library never spells a command-line flag.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::container::{ContainerBackend, ContainerSettings};
use crate::backend::host::HostBackend;
use crate::backend::vm::{Kernel, VmBackend, VmSettings};
use crate::backend::{Backend, Launch};
use crate::workload::file::ImageFileError;
use crate::workload::{TaskError, TaskInvocation, Workload, WorkloadError};

/// The name of the hidden subcommand that runs a [`RunRequest`] read from
/// stdin.
pub const SUBCOMMAND: &str = "__run-request";

/// A backend and its settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackendSettings {
    /// A plain host process.
    Host,
    /// A container.
    Container(ContainerSettings),
    /// A VM.
    Vm {
        /// A kernel ELF file to boot (`None`: the embedded tiny kernel).
        kernel: Option<PathBuf>,
        /// The VM's configuration.
        settings: VmSettings,
    },
}

impl BackendSettings {
    /// Whether `argv` is a command of its own rather than a task of the
    /// workload (only a container's root filesystem has commands; see
    /// [`ContainerSettings::runs_command`]).
    pub fn runs_command<S: AsRef<str>>(&self, argv: &[S]) -> bool {
        match self {
            Self::Container(settings) => settings.runs_command(argv),
            Self::Host | Self::Vm { .. } => false,
        }
    }

    /// The backend, stoppable by [`crate::interrupt`] once its handler is
    /// installed. A VM's kernel file is read here.
    pub fn backend(&self) -> Result<Box<dyn Backend>, RequestError> {
        Ok(match self {
            Self::Host => Box::new(HostBackend),
            Self::Container(settings) => {
                Box::new(ContainerBackend::with_settings(settings.clone()))
            }
            Self::Vm { kernel, settings } => Box::new(VmBackend {
                kernel: match kernel {
                    Some(path) => Kernel::from_file(path)?,
                    None => Kernel::embedded(),
                },
                ..VmBackend::with_settings(settings.clone())
            }),
        })
    }
}

/// One run: where, what and for how long.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRequest {
    /// Where it runs.
    pub backend: BackendSettings,
    /// A static ELF to run instead of the embedded workload.
    pub workload: Option<PathBuf>,
    /// The task and its arguments (or a command, see
    /// [`BackendSettings::runs_command`]).
    pub argv: Vec<String>,
    /// Stop it after this long.
    pub timeout: Option<Duration>,
}

impl RunRequest {
    /// The launch, checked as the CLI checks its arguments.
    pub fn launch(&self) -> Result<Launch, RequestError> {
        launch(
            self.workload.as_deref(),
            &self.argv,
            self.timeout,
            !self.backend.runs_command(&self.argv),
        )
    }
}

/// Reads the workload (`None`: the embedded one) and, with `check_task`
/// and the embedded workload, checks `words` as a task and its arguments;
/// otherwise they are passed on unchecked (another program's arguments, or
/// a command of a root filesystem).
pub fn launch(
    workload: Option<&Path>,
    words: &[String],
    timeout: Option<Duration>,
    check_task: bool,
) -> Result<Launch, RequestError> {
    let workload = match workload {
        Some(path) => Workload::from_file(path)?,
        None => Workload::embedded(),
    };
    let argv = if workload.is_embedded() && check_task {
        TaskInvocation::parse(words)?.argv()
    } else {
        words.to_vec()
    };
    Ok(Launch {
        workload,
        argv,
        timeout,
        echo: false,
    })
}

/// A request that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The workload file is unusable.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The arguments are not a task of the embedded workload.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The kernel file is unusable.
    #[error(transparent)]
    Kernel(#[from] ImageFileError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::container::Rootfs;

    #[test]
    fn a_request_survives_json() {
        let request = RunRequest {
            backend: BackendSettings::Vm {
                kernel: Some("/boot/kernel.elf".into()),
                settings: VmSettings {
                    vcpus: 2,
                    memory: hypervisor::MemoryConfig::Total(256 << 20),
                    ..VmSettings::default()
                },
            },
            workload: None,
            argv: vec!["startup".into()],
            timeout: Some(Duration::from_millis(1500)),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<RunRequest>(&json).unwrap(), request);
        let container = BackendSettings::Container(ContainerSettings {
            rootfs: Rootfs::Dir("/srv/root".into()),
            seccomp: container::SeccompMode::Unconfined,
            ..ContainerSettings::default()
        });
        let json = serde_json::to_string(&container).unwrap();
        assert_eq!(
            serde_json::from_str::<BackendSettings>(&json).unwrap(),
            container
        );
    }

    #[test]
    fn only_a_container_runs_commands() {
        let argv = ["/bin/sh", "-c", "true"];
        assert!(BackendSettings::Container(ContainerSettings::default()).runs_command(&argv));
        assert!(!BackendSettings::Host.runs_command(&argv));
        assert!(
            !BackendSettings::Vm {
                kernel: None,
                settings: VmSettings::default()
            }
            .runs_command(&argv)
        );
    }

    #[test]
    fn a_task_is_checked_and_a_command_is_not() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(launch(None, &words(&["no-such-task"]), None, true).is_err());
        let command = launch(None, &words(&["/bin/true", "x"]), None, false).unwrap();
        assert_eq!(command.argv, ["/bin/true", "x"]);
    }
}
