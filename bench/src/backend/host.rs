//! The baseline: the workload as a plain host process.
//!
//! Launch path, as numbered steps (the phases in the report follow them):
//! 1. *prepare*: make the image executable — the embedded workload goes into
//!    a sealed-off memory file (`memfd_create`), so nothing touches the disk;
//! 2. *spawn*: `clone(CLONE_VM | CLONE_VFORK)` + exec, as `posix_spawn`
//!    does, with the parent-death signal set (see `backend/spawn.rs`); returns
//!    once the exec has succeeded;
//! 3. *exec→marker*: until the workload's start marker reaches the host;
//! 4. *run*: until the process exits;
//! 5. *teardown*: kill what it left running in its process group, reap
//!    it and those leftovers (versus is their subreaper), drain its output,
//!    join the reader threads.
//!
//! Startup is steps 2 + 3: the launch call to the start marker's arrival.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::collect::{self, Collected, KeptText};
use super::{Backend, BackendError, HeldBackend, HeldStdin, Launch, nanos_between, spawn};
use crate::report::{ExitOutcome, MemoryFigures, Nanos, Phase, RunReport};
use crate::workload::WorkloadSource;

/// How long to wait for the workload's stdout to close after it exited; a
/// grandchild that inherited stdout could otherwise keep the run open.
const OUTPUT_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How often the watcher looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(20);

/// How often the group's killed leftovers are looked at until they are
/// reaped (see `collect_group`).
const GROUP_POLL: Duration = Duration::from_millis(1);

/// How long an interrupted workload has to end after SIGTERM before it gets
/// SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Runs the workload as an ordinary child process of versus.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostBackend;

impl Backend for HostBackend {
    fn name(&self) -> &str {
        "host"
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        self.run_with(launch, None)
    }
}

impl HeldBackend for HostBackend {
    fn run_held(&self, launch: &Launch, stdin: HeldStdin) -> Result<RunReport, BackendError> {
        self.run_with(launch, Some(stdin))
    }
}

impl HostBackend {
    /// One run; stdin is `held`'s pipe, or /dev/null (end of file at once).
    fn run_with(
        &self,
        launch: &Launch,
        held: Option<HeldStdin>,
    ) -> Result<RunReport, BackendError> {
        become_subreaper();
        // 1. Prepare the executable.
        let prepare_start = Instant::now();
        let image = Executable::prepare(launch)?;
        let prepare_ns = elapsed_ns(prepare_start);

        // 2. Spawn: vfork-style clone + exec, with the parent-death signal.
        let launched = Instant::now();
        let (stdout_read, stdout_write) = std::io::pipe().map_err(BackendError::Spawn)?;
        let (stderr_read, stderr_write) = std::io::pipe().map_err(BackendError::Spawn)?;
        let (stdin, held): (OwnedFd, _) = match held {
            Some(held) => (
                held.pipe.try_clone().map_err(BackendError::Spawn)?.into(),
                Some(held),
            ),
            None => (
                File::open("/dev/null").map_err(BackendError::Spawn)?.into(),
                None,
            ),
        };
        let path = image.path();
        let args: Vec<&OsStr> = std::iter::once(OsStr::new(launch.workload.program_name()))
            .chain(launch.argv.iter().map(OsStr::new))
            .collect();
        let pid = spawn::spawn(
            path.as_os_str(),
            &args,
            stdin.as_fd(),
            stdout_write.as_fd(),
            stderr_write.as_fd(),
        )
        .map_err(BackendError::Spawn)?;
        let spawned = Instant::now();
        // Only the child holds the write ends now: the readers see end of
        // file when it (and anything it left running) is gone.
        drop((stdin, stdout_write, stderr_write));
        let pid = u32::try_from(pid)
            .map_err(|_| BackendError::Spawn(std::io::Error::other("negative pid")))?;
        let (events, streams) = spawn_watchers(pid, stdout_read, stderr_read, launch.echo);
        if let Some(held) = &held {
            let _ = held.process.set(super::InstanceProcess {
                pid: Some(pid),
                cgroup_paths: Vec::new(),
            });
            held.follow_marker(&streams.stdout);
        }

        // 3.-4. Watch the output until the process exits (or time runs out).
        let watched = watch(pid, launched, launch.timeout, &events);
        let output = streams.output();
        drop(image);

        // 5. Teardown: the waiter already reaped; join the readers.
        let exit_seen = watched.exited_at;
        let teardown_ns = elapsed_ns(exit_seen);

        let mut phases = vec![
            Phase {
                name: "prepare".into(),
                ns: prepare_ns,
            },
            Phase {
                name: "spawn".into(),
                ns: nanos_between(launched, spawned),
            },
        ];
        // The waiter can see the exit before the reader thread has taken
        // the marker line from the pipe: the marker was written before the
        // exit, so it is timed no later than the exit, and the phases never
        // overlap or add up to more than the run took.
        let marker_at = output.marker_at.map(|at| at.min(exit_seen));
        match marker_at {
            Some(marker_at) => {
                phases.push(Phase {
                    name: "exec→marker".into(),
                    ns: nanos_between(spawned, marker_at),
                });
                phases.push(Phase {
                    name: "run".into(),
                    ns: nanos_between(marker_at, exit_seen),
                });
            }
            None => phases.push(Phase {
                name: "run".into(),
                ns: nanos_between(spawned, exit_seen),
            }),
        }
        phases.push(Phase {
            name: "teardown".into(),
            ns: teardown_ns,
        });

        if let Some(error) = output.parse_error {
            return Err(BackendError::Parse(error));
        }
        let exit = watched.exit.map_err(BackendError::Wait)?;
        Ok(RunReport {
            backend: self.name().to_string(),
            workload: launch.workload.source().clone(),
            argv: launch.argv.clone(),
            rootfs_command: false,
            startup_ns: marker_at.map(|at| nanos_between(launched, at)),
            phases,
            start: output.start,
            results: output.results,
            exit: exit.outcome,
            memory: MemoryFigures {
                workload_peak_rss_bytes: Some(exit.max_rss_bytes),
                image_bytes: Some(launch.workload.bytes().len() as u64),
                ..MemoryFigures::default()
            },
            other_output_lines: output.other_lines,
            stdout: output.stdout.finish(),
            output_echoed: launch.echo,
            stderr: streams.stderr(),
            vm: None,
            linux: None,
            container: None,
            process: None,
        })
    }
}

/// The file the kernel executes: the `--workload` path, or a memory file
/// holding the embedded image (closed again when this is dropped).
enum Executable {
    Path(PathBuf),
    Memory(OwnedFd),
}

impl Executable {
    fn prepare(launch: &Launch) -> Result<Self, BackendError> {
        match launch.workload.source() {
            WorkloadSource::File(path) => Ok(Self::Path(path.clone())),
            WorkloadSource::Embedded => {
                let name = CString::new(crate::workload::ARGV0).expect("no NUL in the name");
                // SAFETY: `name` is a valid NUL-terminated string that outlives
                // the call; memfd_create has no other memory effects.
                let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
                if fd < 0 {
                    return Err(BackendError::Prepare(std::io::Error::last_os_error()));
                }
                // SAFETY: `fd` was just returned by memfd_create and nothing
                // else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                let mut file = File::from(fd);
                file.write_all(launch.workload.bytes())
                    .map_err(BackendError::Prepare)?;
                // The kernel resolves /proc/self/fd/N while the descriptor is
                // still open in the child, so CLOEXEC does not get in the way.
                Ok(Self::Memory(file.into()))
            }
        }
    }

    fn path(&self) -> PathBuf {
        match self {
            Self::Path(path) => path.clone(),
            Self::Memory(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
        }
    }
}

/// What the watcher threads report: a pipe closed, or the process was
/// reaped (with the time it was seen).
enum Event {
    StdoutClosed,
    StderrClosed,
    /// The child has exited; it is left a zombie (see [`wait_exited`]).
    Exited(Instant, std::io::Result<()>),
}

/// The program's output as its readers collected it. The readers parse
/// and keep it themselves (bounded, see [`Collected`] and [`KeptText`]), so
/// however fast the program writes, nothing queues up between them and the
/// watcher; what they hold is taken once watching is over, even from a
/// reader still draining a pipe a grandchild kept open.
struct Streams {
    stdout: Arc<Mutex<Collected>>,
    stderr: Arc<Mutex<KeptText>>,
}

impl Streams {
    fn output(&self) -> Collected {
        std::mem::take(&mut *self.stdout.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish()
    }
}

/// A reaped child: how it ended and its peak memory.
struct Reaped {
    outcome: ExitOutcome,
    max_rss_bytes: u64,
}

fn spawn_watchers(
    pid: u32,
    stdout: std::io::PipeReader,
    stderr: std::io::PipeReader,
    echo: bool,
) -> (mpsc::Receiver<Event>, Streams) {
    let (tx, rx) = mpsc::channel();
    let (stdout_closed, stderr_closed) = (tx.clone(), tx.clone());
    let streams = Streams {
        stdout: collect::stream_stdout(stdout, echo, move || {
            let _ = stdout_closed.send(Event::StdoutClosed);
        }),
        stderr: collect::stream_stderr(stderr, echo, move || {
            let _ = stderr_closed.send(Event::StderrClosed);
        }),
    };
    thread::spawn(move || {
        let exited = wait_exited(pid);
        let _ = tx.send(Event::Exited(Instant::now(), exited));
    });
    (rx, streams)
}

/// Waits until `pid` has exited without reaping it (`WNOWAIT`): while it
/// is a zombie its pid cannot be given to another process, so the watcher
/// may still signal it (a timeout or Ctrl-C racing the exit) without
/// hitting a stranger. [`reap`] collects it once nothing signals any more.
fn wait_exited(pid: u32) -> std::io::Result<()> {
    let id = libc::id_t::try_from(pid).map_err(std::io::Error::other)?;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value of this plain C
        // struct, and `info` is valid for writes for the call.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; waitid only writes `info`.
        let ret =
            unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if ret == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Reaps `pid` with `wait4`, which also returns its resource usage.
fn reap(pid: u32) -> std::io::Result<Reaped> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the call.
        let ret = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if ret == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let outcome = if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        ExitOutcome::Signaled {
            signal,
            name: container::launch::signal_name(signal),
        }
    } else {
        ExitOutcome::Exited {
            code: libc::WEXITSTATUS(status),
        }
    };
    Ok(Reaped {
        outcome,
        // ru_maxrss is in KiB on Linux.
        max_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    })
}

/// What watching one run produced.
struct Watched {
    exited_at: Instant,
    exit: std::io::Result<Reaped>,
}

/// Why versus stopped the workload itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    TimedOut,
    Interrupted,
}

fn watch(
    pid: u32,
    launched: Instant,
    timeout: Option<Duration>,
    events: &mpsc::Receiver<Event>,
) -> Watched {
    let mut watched = Watched {
        exited_at: launched,
        exit: Err(std::io::Error::other(
            "the waiter thread ended without a status",
        )),
    };
    let deadline = timeout.map(|limit| launched + limit);
    let mut stopped = None;
    let mut kill_at = None;
    let (mut stdout_open, mut stderr_open, mut exited) = (true, true, false);
    let mut wait_error = None;
    while stdout_open || stderr_open || !exited {
        let wait_until = if exited {
            watched.exited_at + OUTPUT_DRAIN_GRACE
        } else {
            // Wake up regularly to notice an interrupt (Ctrl-C, SIGTERM).
            let tick = Instant::now() + INTERRUPT_POLL;
            [deadline.filter(|_| stopped.is_none()), kill_at]
                .into_iter()
                .flatten()
                .fold(tick, Instant::min)
        };
        match events.recv_timeout(wait_until.saturating_duration_since(Instant::now())) {
            Ok(Event::StdoutClosed) => stdout_open = false,
            Ok(Event::StderrClosed) => stderr_open = false,
            Ok(Event::Exited(at, waited)) => {
                exited = true;
                watched.exited_at = at;
                wait_error = waited.err();
                // Nothing the program started outlives it: kill its group
                // (it still exists, led by the unreaped zombie), as a
                // container's PID-1 exit kills its namespace. This also
                // closes pipes a child kept open, so the drain ends.
                signal_group(pid, libc::SIGKILL);
            }
            Err(mpsc::RecvTimeoutError::Timeout) if exited => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                if stopped.is_none() && deadline.is_some_and(|d| now >= d) {
                    stopped = Some(Stopped::TimedOut);
                    signal_group(pid, libc::SIGKILL);
                } else if stopped.is_none() && crate::interrupt::requested() {
                    // As `docker stop`: ask first, then insist.
                    stopped = Some(Stopped::Interrupted);
                    signal_group(pid, libc::SIGTERM);
                    kill_at = Some(now + STOP_GRACE);
                } else if kill_at.is_some_and(|at| now >= at) {
                    signal_group(pid, libc::SIGKILL);
                    kill_at = None;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Nothing signals the child any more: collect it (at once: it has
    // exited) with its status and resource usage.
    if exited {
        watched.exit = match wait_error {
            Some(error) => Err(error),
            None => reap(pid),
        };
        // The program's own status is taken: now collect what it left
        // (killed at its exit, handed to versus as their subreaper).
        collect_group(pid);
    }
    if let Ok(reaped) = &mut watched.exit {
        match (stopped, timeout) {
            (Some(Stopped::TimedOut), Some(limit)) => {
                reaped.outcome = ExitOutcome::TimedOut {
                    after_ns: limit.as_nanos() as Nanos,
                };
            }
            (Some(Stopped::Interrupted), _) => reaped.outcome = ExitOutcome::Interrupted,
            _ => {}
        }
    }
    watched
}

/// Makes versus the reaper of its orphaned descendants
/// (`PR_SET_CHILD_SUBREAPER`): a child the program forked and left is
/// handed to versus when the program exits, not to the system's init, so
/// versus can collect it after killing it ([`collect_group`]) and nothing
/// is left even where init is slow to reap. Nothing in versus waits for
/// "any child", so no other wait can take one of these by surprise.
fn become_subreaper() {
    // SAFETY: prctl with plain integer arguments has no memory effects; a
    // failure (a kernel before 3.4) only leaves the killed children to init.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
}

/// Reaps what is left of the program's process group (its id is the
/// program's pid) once the program itself was reaped: the children killed
/// at its exit, which became versus' own as their subreaper. Ends when the
/// group is gone, or after [`STOP_GRACE`] for a member versus cannot reap
/// (one whose parent left the group and is still alive keeps it).
fn collect_group(pid: u32) {
    let Ok(group) = libc::pid_t::try_from(pid) else {
        return;
    };
    let give_up = Instant::now() + STOP_GRACE;
    while Instant::now() < give_up {
        let mut status = 0;
        // SAFETY: `status` is valid for writes; only this group's members
        // that are versus' children can be reaped.
        let reaped = unsafe { libc::waitpid(-group, &mut status, libc::WNOHANG | libc::__WALL) };
        if reaped > 0 {
            continue;
        }
        if reaped < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // SAFETY: signal 0 only asks whether the group has members; the
            // group cannot be another's while members of it remain.
            if unsafe { libc::kill(-group, 0) } != 0 {
                return;
            }
        }
        // A member is still dying, or not yet handed over: look again soon.
        thread::sleep(GROUP_POLL);
    }
}

/// Sends `signal` to the program's process group (its id is the program's
/// pid, see `spawn::spawn`): the program and everything it forked that
/// stayed in the group.
fn signal_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects. The group's id is our child's
        // pid, which is not reaped before the watcher stops signalling (see
        // `wait_exited`): the id cannot have been given to another group.
        unsafe { libc::kill(-pid, signal) };
    }
}

fn elapsed_ns(since: Instant) -> Nanos {
    since.elapsed().as_nanos() as Nanos
}
