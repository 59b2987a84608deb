//! Backends: the places a workload can run. Each one takes the same
//! [`Launch`] and returns the same [`RunReport`].
//!
//! - [`host::HostBackend`]: a plain host process, the baseline every other
//!   figure is compared with;
//! - [`container::ContainerBackend`]: PID 1 of a Linux container on the
//!   host's own kernel;
//! - [`vm::VmBackend`]: a KVM virtual machine running versus' tiny kernel;
//! - [`linux::LinuxBackend`]: the same VMM booting a real Linux kernel, the
//!   workload as its `/init`.

pub(crate) mod collect;
pub mod container;
pub mod host;
pub mod linux;
mod spawn;
pub mod subprocess;
pub mod vm;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};
use std::time::{Duration, Instant};

use crate::report::{Nanos, RunReport};
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
    /// Print the program's own output (lines that are not `@versus`
    /// records) live, stdout to stdout and stderr to stderr, as `docker run`
    /// does; `versus … run` sets it, `compare` and the benches do not.
    pub echo: bool,
}

/// The time from `from` to `to` in nanoseconds (0 if `to` came first).
pub(crate) fn nanos_between(from: Instant, to: Instant) -> Nanos {
    to.saturating_duration_since(from).as_nanos() as Nanos
}

/// The longest line kept whole: a longer run of bytes without a newline is
/// delivered in pieces of this size, so that a program that writes
/// gigabytes without a newline cannot make versus hold them all.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads `pipe` line by line on a thread of its own: `each` gets every
/// line (lossily decoded, at most [`MAX_LINE_BYTES`]) with the instant it
/// arrived and returns false to stop reading; `done` runs when the pipe
/// closes or reading stops. The instant is taken as the line is read, so a
/// start marker is timed on arrival, not when someone gets round to parsing
/// it.
pub(crate) fn read_lines<R, F, D>(pipe: R, mut each: F, done: D)
where
    R: std::io::Read + Send + 'static,
    F: FnMut(std::time::Instant, String) -> bool + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::with_capacity(MAX_LINE_BYTES, pipe);
        let mut line = Vec::new();
        while next_line(&mut reader, &mut line).is_some() {
            let seen = std::time::Instant::now();
            if !each(seen, String::from_utf8_lossy(&line).into_owned()) {
                break;
            }
        }
        done();
    });
}

/// Reads the next line of `reader` into `line` (cleared first), newline
/// included, but never more than [`MAX_LINE_BYTES`]: `Some(true)` for a
/// line that ended with a newline, `Some(false)` for a piece of a longer one
/// (or the last bytes before end of file), `None` at end of file or on a read
/// error.
pub(crate) fn next_line(reader: &mut impl std::io::BufRead, line: &mut Vec<u8>) -> Option<bool> {
    line.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return (!line.is_empty()).then_some(false),
        };
        if available.is_empty() {
            return (!line.is_empty()).then_some(false);
        }
        let room = MAX_LINE_BYTES - line.len();
        let window = &available[..available.len().min(room)];
        if let Some(newline) = window.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&window[..=newline]);
            reader.consume(newline + 1);
            return Some(true);
        }
        let taken = window.len();
        line.extend_from_slice(window);
        reader.consume(taken);
        if line.len() >= MAX_LINE_BYTES {
            return Some(false);
        }
    }
}

/// A place to run a workload.
pub trait Backend {
    /// Short name used in tables and exports (`host`, `container`, `vm`).
    fn name(&self) -> &str;

    /// Runs the workload once, to completion or timeout.
    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError>;
}

/// The workload's standard input held open by versus, and where to say
/// that its start marker arrived: what [`HeldBackend::start`] hands the
/// run it starts on a thread of its own.
#[derive(Debug)]
pub struct HeldStdin {
    /// The read end: the workload's fd 0 (on the VM, what the tiny kernel's
    /// `read(0, …)` reads through the VMM). The write end stays with
    /// [`Started`]; closing it is end of file for the workload.
    pub(crate) pipe: std::io::PipeReader,
    /// Gets the instant the start marker arrived, once.
    pub(crate) started: mpsc::Sender<Instant>,
    /// Where the run says which host process holds the instance, once it
    /// exists (before its start marker can arrive). Each run sets it once,
    /// so the runs ignore `set`'s "already set", which cannot happen.
    pub(crate) process: Arc<OnceLock<InstanceProcess>>,
}

/// Which host process holds a held instance and which cgroups it is
/// charged to: what `versus scale` reads its memory from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceProcess {
    /// The instance's own process (the host process, the container's
    /// PID 1); `None` when it runs inside versus' own process, as a VM's
    /// vCPU threads do.
    pub pid: Option<u32>,
    /// The host paths of the container's cgroup directories (empty: none).
    pub cgroup_paths: Vec<PathBuf>,
}

impl HeldStdin {
    /// Tells [`HeldBackend::start`] the instant `collected` gets its start
    /// marker: at once if it has it, else from the reader as the line
    /// arrives (see [`collect::Collected::line`]). A run that ends without
    /// a marker drops the sender, which the waiting side sees.
    pub(crate) fn follow_marker(&self, collected: &Arc<Mutex<collect::Collected>>) {
        let mut collected = collected.lock().unwrap_or_else(PoisonError::into_inner);
        match collected.marker_at {
            Some(at) => {
                let _ = self.started.send(at);
            }
            None => collected.marker_to = Some(self.started.clone()),
        }
    }
}

/// A backend that can start an instance, hold it running while its stdin
/// is open, and finish it — many at once, from worker threads (the `park`
/// task waits this way; see `tests/park.rs`).
pub trait HeldBackend: Backend + Clone + Send + 'static {
    /// Runs the workload once, as [`Backend::run`], with `stdin` as its
    /// standard input.
    fn run_held(&self, launch: &Launch, stdin: HeldStdin) -> Result<RunReport, BackendError>;

    /// Starts the workload on a thread of its own with stdin a pipe versus
    /// holds, and returns at once: [`Started::wait_started`] waits for its
    /// start marker. A `park` task then waits, costing no CPU, until
    /// [`Started::finish`] closes that pipe. Many instances can be started
    /// from worker threads at once.
    fn start(&self, launch: &Launch) -> Result<Started, BackendError> {
        let (pipe, stdin) = std::io::pipe().map_err(BackendError::Spawn)?;
        let (started, marker) = mpsc::channel();
        let process = Arc::new(OnceLock::new());
        let held = HeldStdin {
            pipe,
            started,
            process: Arc::clone(&process),
        };
        let (backend, launch) = (self.clone(), launch.clone());
        let launched_at = Instant::now();
        let run = std::thread::Builder::new()
            .name(format!("{}-instance", self.name()))
            .spawn(move || backend.run_held(&launch, held))
            .map_err(BackendError::Spawn)?;
        Ok(Started {
            launched_at,
            marker,
            started_at: None,
            stdin: Some(stdin),
            process,
            run,
        })
    }
}

/// A running instance started by [`HeldBackend::start`].
#[derive(Debug)]
pub struct Started {
    launched_at: Instant,
    /// Gets the start marker's arrival; closed when the run ends without
    /// one (the sender goes with the run).
    marker: mpsc::Receiver<Instant>,
    started_at: Option<Instant>,
    stdin: Option<std::io::PipeWriter>,
    process: Arc<OnceLock<InstanceProcess>>,
    run: std::thread::JoinHandle<Result<RunReport, BackendError>>,
}

impl Started {
    /// When [`HeldBackend::start`] was called.
    pub fn launched_at(&self) -> Instant {
        self.launched_at
    }

    /// Waits at most `limit` for the start marker: when it arrived, or
    /// `None` when it has not within `limit` or the run ended without one
    /// (then [`Started::wait`] says why). A bound, because a program that
    /// prints no marker and reads its stdin would otherwise wait for ever.
    pub fn wait_started(&mut self, limit: Duration) -> Option<Instant> {
        if self.started_at.is_none() {
            self.started_at = self.marker.recv_timeout(limit).ok();
        }
        self.started_at
    }

    /// When the start marker arrived, if it has (without waiting).
    pub fn started_at(&mut self) -> Option<Instant> {
        self.wait_started(Duration::ZERO)
    }

    /// The host process holding the instance and its cgroups, once the run
    /// has created it (always by the time its start marker arrived).
    pub fn process(&self) -> Option<&InstanceProcess> {
        self.process.get()
    }

    /// Whether the instance is still running (its run has not returned).
    pub fn is_running(&self) -> bool {
        !self.run.is_finished()
    }

    /// Closes the instance's stdin: end of file, which finishes `park`.
    pub fn finish(&mut self) {
        self.stdin = None;
    }

    /// Finishes the instance (if not yet done) and waits for its report.
    pub fn wait(mut self) -> Result<RunReport, BackendError> {
        self.finish();
        self.run.join().unwrap_or_else(|_| {
            Err(BackendError::Wait(std::io::Error::other(
                "the instance's thread ended abnormally",
            )))
        })
    }
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
    /// The VMM could not boot the Linux kernel (not a kernel, bad memory
    /// size, no /dev/kvm, …).
    #[error("cannot boot the Linux kernel {kernel}")]
    Linux {
        /// The kernel file.
        kernel: String,
        /// What the VMM said.
        source: Box<hypervisor::linux::LinuxError>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_newlines_and_long_runs_in_bounded_pieces() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES * 2 + 10));
        input.extend_from_slice(b"\ntail");
        let mut reader = std::io::BufReader::with_capacity(1000, input.as_slice());
        let mut line = Vec::new();
        let mut pieces = Vec::new();
        while let Some(complete) = next_line(&mut reader, &mut line) {
            pieces.push((line.len(), complete));
        }
        assert_eq!(
            pieces,
            [
                (6, true),
                (MAX_LINE_BYTES, false),
                (MAX_LINE_BYTES, false),
                (11, true),
                (4, false)
            ]
        );
    }
}
