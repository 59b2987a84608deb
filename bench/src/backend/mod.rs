//! Backends: the places a workload can run. Each one takes the same
//! [`Launch`] and returns the same [`RunReport`](crate::report::RunReport).
//!
//! - [`host::HostBackend`]: a plain host process, the baseline every other
//!   figure is compared with;
//! - [`container::ContainerBackend`]: PID 1 of a Linux container on the
//!   host's own kernel;
//! - [`vm::VmBackend`]: a KVM virtual machine running versus' tiny kernel.

pub mod container;
pub mod host;
pub mod subprocess;
pub mod vm;

use std::time::Duration;

use crate::report::RunReport;
use crate::workload::Workload;

/// What to run and for how long.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The workload image.
    pub workload: Workload,
    /// Its arguments, task first.
    pub argv: Vec<String>,
    /// Stop it after this long (`None`: wait for as long as it takes).
    pub timeout: Option<Duration>,
}

/// Reads `pipe` line by line on a thread of its own: `each` gets every
/// line (lossily decoded) with the instant it arrived and returns false to
/// stop reading; `done` runs when the pipe closes or reading stops. The
/// instant is taken as the line is read, so a start marker is timed on
/// arrival, not when someone gets round to parsing it.
pub(crate) fn read_lines<R, F, D>(pipe: R, mut each: F, done: D)
where
    R: std::io::Read + Send + 'static,
    F: FnMut(std::time::Instant, String) -> bool + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    use std::io::BufRead;
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(pipe);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let seen = std::time::Instant::now();
                    if !each(seen, String::from_utf8_lossy(&buffer).into_owned()) {
                        break;
                    }
                }
            }
        }
        done();
    });
}

/// A place to run a workload.
pub trait Backend {
    /// Short name used in tables and exports (`host`, `container`, `vm`).
    fn name(&self) -> &str;

    /// Runs the workload once, to completion or timeout.
    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError>;
}

/// A run that could not be carried out (as opposed to a workload that ran
/// and failed, which is a [`RunReport`] with a non-zero exit).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Preparing the executable image failed.
    #[error("cannot prepare the workload image")]
    Prepare(#[source] std::io::Error),
    /// The process could not be started.
    #[error("cannot start the workload")]
    Spawn(#[source] std::io::Error),
    /// Waiting for the process failed.
    #[error("lost track of the workload process")]
    Wait(#[source] std::io::Error),
    /// The VMM could not build or start the VM (no /dev/kvm, bad memory
    /// layout, bad kernel image, …).
    #[error("cannot start the VM with the {kernel}")]
    Vm {
        /// Which kernel was being booted.
        kernel: String,
        /// What the VMM said.
        source: Box<hypervisor::Error>,
    },
    /// The container could not be set up or cleaned up (bad rootfs, missing
    /// cgroup controller, no root and no user namespaces, …).
    #[error("cannot run the container")]
    Container(#[source] Box<::container::Error>),
    /// A fresh `versus` process did not return a report.
    #[error("{command}: {problem}")]
    Subprocess {
        /// The command line.
        command: String,
        /// What went wrong.
        problem: String,
    },
    /// The workload printed a malformed `@versus` line.
    #[error(transparent)]
    Parse(#[from] crate::workload::ParseError),
}
