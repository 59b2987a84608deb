//! The workload as PID 1 of a Linux container on the host's own kernel.
//!
//! The `container` crate follows its own numbered launch path (1. cgroup ·
//! 2. clone · 3. mounts + `pivot_root` · 4. capabilities, no_new_privs,
//! seccomp · 5. exec, wait, teardown); this backend gives it the workload
//! (or any command of an external root filesystem), watches the container's
//! stdout for the workload's start marker, and turns the container's
//! [`container::Report`] into the common [`RunReport`].
//!
//! The phases follow the launch path: `cgroup` · `clone` · `cgroup join` (what
//! the launch waited for it: the join itself overlaps the mounts) ·
//! `mounts+pivot_root` · `security` · `exec` (together: *prepare*, up to the
//! successful `execve`) · `exec→marker` · `run` · `teardown`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use container::tty::{Pty, RawMode, WindowSizeFollower};
use container::{ContainerBuilder, Limits, Namespace, Outcome, RootfsSpec, SeccompMode, Volume};

use super::collect::{self, Collected, KeptText};
use super::{Backend, BackendError, HeldBackend, HeldStdin, Launch, nanos_between};
use crate::report::{ExitOutcome, MemoryFigures, Nanos, Phase, RunReport};
use crate::workload;

/// How long to wait for the container's output to close after PID 1 was
/// reaped; the PID namespace dies with PID 1, so only a shared PID namespace
/// can keep a writer alive past it.
const OUTPUT_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Where the container's root filesystem comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rootfs {
    /// A tmpfs built by versus holding only the workload (the default).
    #[default]
    Workload,
    /// The same, plus the host's static busybox and its applets in `/bin`
    /// (for interactive demos: `-- /bin/sh -c 'ps; ls /'`).
    WorkloadWithBusybox(PathBuf),
    /// An existing directory; the arguments are then a command inside it,
    /// e.g. `/bin/sh -c 'echo hi'`. versus writes nothing into it; the
    /// container can (as with `docker run -v`) unless the root is read-only.
    Dir(PathBuf),
}

/// Everything about a container that is not per launch: what `versus
/// container run`'s flags set, what `versus compare` varies, and what a run
/// request carries to a fresh process. `ContainerSettings::builder` is
/// the one place it becomes a [`ContainerBuilder`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerSettings {
    /// The root filesystem.
    pub rootfs: Rootfs,
    /// Memory, pids and CPU limits (cgroup).
    pub limits: Limits,
    /// The container's hostname (default `versus`).
    pub hostname: Option<String>,
    /// Namespaces left shared with the host.
    pub share: Vec<Namespace>,
    /// A user namespace even as root.
    pub userns: bool,
    /// Capabilities added to Docker's default set.
    pub cap_add: Vec<String>,
    /// Capabilities dropped from it.
    pub cap_drop: Vec<String>,
    /// Docker's default seccomp profile, or none.
    pub seccomp: SeccompMode,
    /// Mount the root read-only.
    pub read_only: bool,
    /// Print the launch steps (mounts, pivot_root…) on stderr before running.
    pub trace: bool,
    /// How PID 1 starts: `-e`, `-w`, `-u`, `-v`, `-i`, `-t` (boxed: the
    /// settings of every backend travel in one run request, kept small).
    #[serde(default)]
    pub process: Box<ProcessSettings>,
    /// With [`Rootfs::Dir`]: the container's writes go to a throw-away
    /// overlay layer instead of the directory (`--rootfs-overlay`).
    #[serde(default)]
    pub rootfs_overlay: bool,
}

/// How PID 1 is started inside the root filesystem: what `docker run`'s
/// `-e`, `-w`, `-u`, `-v`, `-i` and `-t` set.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProcessSettings {
    /// Extra environment variables of PID 1 (`-e`), in order; a later one
    /// replaces an earlier one of the same name.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The directory PID 1 starts in (`-w`); default `/`.
    #[serde(default)]
    pub workdir: Option<String>,
    /// The uid and gid PID 1 runs as (`-u`); default root of the container.
    #[serde(default)]
    pub user: Option<(u32, u32)>,
    /// Host paths bind-mounted into the container (`-v`).
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Forward versus' stdin to PID 1 (`-i`); otherwise its stdin is
    /// `/dev/null`.
    #[serde(default)]
    pub interactive: bool,
    /// A pseudo-terminal as the container's stdin, stdout, stderr and
    /// controlling terminal (`-t`); with `interactive`, versus' terminal is
    /// in raw mode meanwhile, so Ctrl-C goes to the container.
    #[serde(default)]
    pub tty: bool,
}

impl ContainerSettings {
    /// The label in tables and reports: `container`, or `container (no
    /// seccomp)` without the seccomp filter.
    pub fn label(&self) -> &'static str {
        match self.seccomp {
            SeccompMode::Default => "container",
            SeccompMode::Unconfined => "container (no seccomp)",
        }
    }

    /// Whether `argv` is a command of the root filesystem rather than a
    /// task of the workload: always with an external root filesystem;
    /// otherwise when the first argument is an absolute path, or — with
    /// busybox in the root — a name that is not one of the workload's tasks
    /// (`sh`, looked up on the container's PATH). The CLI asks it to know
    /// whether to check the task, the backend to know what to exec.
    pub fn runs_command<S: AsRef<str>>(&self, argv: &[S]) -> bool {
        let first = argv.first().map(AsRef::as_ref);
        match self.rootfs {
            Rootfs::Dir(_) => true,
            Rootfs::WorkloadWithBusybox(_) => {
                first.is_some_and(|a| a.starts_with('/') || workload::task_spec(a).is_none())
            }
            Rootfs::Workload => first.is_some_and(|a| a.starts_with('/')),
        }
    }

    /// The command run as PID 1: the workload at [`WORKLOAD_PATH`](container::rootfs::WORKLOAD_PATH) with the
    /// launch's arguments, or the arguments themselves when they are a
    /// command ([`Self::runs_command`]).
    fn command(&self, launch: &Launch) -> Vec<String> {
        if self.runs_command(&launch.argv) {
            launch.argv.clone()
        } else {
            std::iter::once(Self::workload_path(launch))
                .chain(launch.argv.iter().cloned())
                .collect()
        }
    }

    /// Where the workload goes in a built root, also its `argv[0]`: the
    /// embedded one at [`WORKLOAD_PATH`](container::rootfs::WORKLOAD_PATH), a `--workload` program under its
    /// own file name in `/bin`, so it sees that name as a shell would pass
    /// it (busybox finds its applet by it).
    /// (The embedded workload's name, `versus-workload`, gives
    /// [`WORKLOAD_PATH`](container::rootfs::WORKLOAD_PATH).)
    fn workload_path(launch: &Launch) -> String {
        container::rootfs::program_path(launch.workload.program_name())
    }

    fn rootfs_spec(&self, launch: &Launch) -> RootfsSpec {
        let workload = || {
            RootfsSpec::program(
                launch.workload.program_name(),
                launch.workload.bytes().to_vec(),
            )
        };
        match &self.rootfs {
            Rootfs::Workload => workload(),
            Rootfs::WorkloadWithBusybox(busybox) => workload().with_busybox(busybox),
            Rootfs::Dir(dir) => RootfsSpec::Dir(dir.clone()),
        }
    }

    /// A builder for one container running `launch` with these settings
    /// (its output still to be connected).
    fn builder(&self, launch: &Launch) -> ContainerBuilder {
        let mut builder = ContainerBuilder::new(container::cgroup::stale::unique_id())
            .rootfs(self.rootfs_spec(launch))
            .command(self.command(launch))
            .limits(self.limits)
            .share(&self.share)
            .user_namespace(self.userns)
            .caps_add(self.cap_add.iter().cloned())
            .caps_drop(self.cap_drop.iter().cloned())
            .seccomp(self.seccomp)
            .read_only(self.read_only)
            .rootfs_overlay(self.rootfs_overlay);
        if let Some(hostname) = &self.hostname {
            builder = builder.hostname(hostname.clone());
        }
        let process = &self.process;
        for (key, value) in &process.env {
            builder = builder.env(key.clone(), value.clone());
        }
        if let Some(dir) = &process.workdir {
            builder = builder.workdir(dir.clone());
        }
        if let Some((uid, gid)) = process.user {
            builder = builder.user(uid, gid);
        }
        for volume in &process.volumes {
            builder = builder.volume(volume.clone());
        }
        builder
    }
}

/// Runs the workload in a container. What it prints of the program's own
/// output follows [`Launch::echo`].
#[derive(Debug, Clone, Default)]
pub struct ContainerBackend {
    /// How every container of this backend is configured.
    pub settings: ContainerSettings,
}

impl ContainerBackend {
    /// Default hardening: every namespace, Docker's capabilities and seccomp
    /// profile, no_new_privs, the built rootfs with the workload.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend with `settings`. Like every backend it stops the
    /// container (SIGTERM, then SIGKILL) and cleans up when
    /// [`crate::interrupt`] is raised.
    pub fn with_settings(settings: ContainerSettings) -> Self {
        Self { settings }
    }
}

impl Backend for ContainerBackend {
    fn name(&self) -> &str {
        self.settings.label()
    }

    fn run(&self, launch: &Launch) -> Result<RunReport, BackendError> {
        self.run_with(launch, None)
    }
}

impl HeldBackend for ContainerBackend {
    fn run_held(&self, launch: &Launch, stdin: HeldStdin) -> Result<RunReport, BackendError> {
        self.run_with(launch, Some(stdin))
    }
}

impl ContainerBackend {
    /// One run; PID 1's stdin is `held`'s pipe, else as the settings say
    /// (`-i`: versus' own stdin, forwarded; otherwise /dev/null).
    fn run_with(
        &self,
        launch: &Launch,
        held: Option<HeldStdin>,
    ) -> Result<RunReport, BackendError> {
        let mut builder = self.settings.builder(launch);
        // The container's output: two pipes, or one pseudo-terminal (-t).
        let streams = if self.settings.process.tty {
            let pty = Pty::open().map_err(container_error)?;
            pty.copy_window_size(std::io::stdin().as_fd());
            builder = builder.terminal(pty.slave);
            Streams::Tty { master: pty.master }
        } else {
            let (stdout_read, stdout_write) = std::io::pipe().map_err(BackendError::Prepare)?;
            let (stderr_read, stderr_write) = std::io::pipe().map_err(BackendError::Prepare)?;
            builder = builder
                .stdout(OwnedFd::from(stdout_write))
                .stderr(OwnedFd::from(stderr_write));
            Streams::Pipes {
                stdout: stdout_read,
                stderr: stderr_read,
            }
        };
        let mut stdin_write = None;
        let mut follow = None;
        if let Some(held) = held {
            if self.settings.process.tty {
                // The terminal is PID 1's stdin: closing a held pipe could
                // not reach it.
                return Err(BackendError::Prepare(std::io::Error::other(
                    "a held instance reads a pipe versus holds, not a terminal: start it without -t",
                )));
            }
            let pipe = held.pipe.try_clone().map_err(BackendError::Prepare)?;
            builder = builder.stdin(OwnedFd::from(pipe));
            follow = Some(held);
        } else if self.settings.process.interactive && !self.settings.process.tty {
            let (read, write) = std::io::pipe().map_err(BackendError::Prepare)?;
            builder = builder.stdin(OwnedFd::from(read));
            stdin_write = Some(write);
        }
        // Checks everything (rootfs, command, limits, controllers) before
        // anything is created.
        let spec = builder.build().map_err(container_error)?;
        if self.settings.trace {
            for (index, step) in spec.setup_steps().iter().enumerate() {
                eprintln!("[container] step {:>2}: {step}", index + 1);
            }
        }
        // 1.–5.: cgroup, clone, setup, exec; returns once execve succeeded.
        // The builder held the only write ends: once PID 1 and its
        // descendants are gone, the readers see end of file.
        let running = spec.spawn().map_err(container_error)?;
        if self.settings.trace {
            let phases = running.phases_so_far();
            if let Some(way) = phases.join {
                eprintln!(
                    "[container] cgroup join: {}; {} µs beside the mounts, the launch waited {} µs",
                    way.describe(),
                    phases.join_ns / 1_000,
                    phases.join_wait_ns.unwrap_or(0) / 1_000
                );
            }
        }
        let launched = running.launched_at();
        let spawned = running.spawned_at();
        let stdin = std::io::stdin();
        // Held until the run ends, on every path: dropping them gives the
        // user's terminal back its settings and SIGWINCH its old handling.
        let mut _terminal = None;
        let output = match streams {
            Streams::Pipes { stdout, stderr } => StreamedOutput::pipes(stdout, stderr, launch.echo),
            Streams::Tty { master } => {
                if self.settings.process.interactive {
                    // Raw mode only when the keys are forwarded: then Ctrl-C
                    // is a byte for the container's shell; without -i it
                    // still stops versus (and the container).
                    let raw = RawMode::enter(stdin.as_fd()).map_err(container_error)?;
                    let window = match raw {
                        Some(_) => Some(
                            WindowSizeFollower::start(stdin.as_raw_fd(), master.as_fd())
                                .map_err(container_error)?,
                        ),
                        None => None,
                    };
                    _terminal = Some((raw, window));
                    let to_container = master.try_clone().map_err(BackendError::Prepare)?;
                    forward_stdin(std::fs::File::from(to_container));
                }
                // One stream: everything is stdout; stderr stays empty.
                stream_tty(master, launch.echo)
            }
        };
        if let Some(write) = stdin_write {
            forward_stdin(write);
        }
        if let Some(held) = &follow {
            let _ = held.process.set(super::InstanceProcess {
                pid: u32::try_from(running.pid()).ok().filter(|&pid| pid > 0),
                cgroup_paths: running.cgroup_paths(),
            });
            held.follow_marker(&output.collected);
        }

        let report = running
            .wait(launch.timeout, &crate::interrupt::INTERRUPTED)
            .map_err(container_error)?;
        let reaped = Instant::now();

        // The marker and the results, in the order printed: whatever the
        // reader has parsed once the pipe closed (or the grace ran out).
        output.wait_closed(reaped + OUTPUT_DRAIN_GRACE);
        let collected = std::mem::take(
            &mut *output
                .collected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if let Some(error) = collected.parse_error {
            return Err(BackendError::Parse(error));
        }
        let (marker_at, start, results, other_output_lines) = (
            collected.marker_at,
            collected.start,
            collected.results,
            collected.other_lines,
        );
        let own_stdout = collected.stdout.finish();
        let stderr = output
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish();

        let phases = phase_list(&report.phases, spawned, marker_at);
        let startup_ns = marker_at.map(|at| nanos_between(launched, at));
        let memory = MemoryFigures {
            image_bytes: Some(match &self.settings.rootfs {
                Rootfs::Dir(dir) => directory_size(dir),
                _ => launch.workload.bytes().len() as u64,
            }),
            cgroup_memory_peak_bytes: report
                .cgroup
                .as_ref()
                .and_then(|c| c.stats.memory_peak_bytes),
            launcher_rss_bytes: report.launcher_peak_rss_bytes,
            ..MemoryFigures::default()
        };
        Ok(RunReport {
            backend: self.settings.label().to_string(),
            workload: launch.workload.source().clone(),
            rootfs_command: self.settings.runs_command(&launch.argv),
            argv: launch.argv.clone(),
            startup_ns,
            phases,
            start,
            results,
            exit: exit_outcome(report.outcome, launch.timeout),
            memory,
            other_output_lines,
            stdout: own_stdout,
            output_echoed: launch.echo,
            stderr,
            vm: None,
            linux: None,
            container: Some(report),
            process: None,
        })
    }
}

fn container_error(error: container::Error) -> BackendError {
    BackendError::Container(Box::new(error))
}

fn exit_outcome(outcome: Outcome, timeout: Option<Duration>) -> ExitOutcome {
    match outcome {
        Outcome::Exited(code) => ExitOutcome::Exited { code },
        Outcome::Signaled(signal) => ExitOutcome::Signaled {
            signal,
            name: container::launch::signal_name(signal),
        },
        Outcome::OomKilled => ExitOutcome::OomKilled,
        Outcome::TimedOut => ExitOutcome::TimedOut {
            after_ns: timeout.map_or(0, |t| t.as_nanos() as Nanos),
        },
        Outcome::Interrupted => ExitOutcome::Interrupted,
    }
}

/// The launch path's phases, then exec→marker, run and teardown. The child
/// measures its setup with its own clock; what it does not attribute to
/// mounts or security (reading the go-ahead, closing descriptors) is shown
/// as "setup (rest)" so that the phases still add up.
fn phase_list(
    phases: &container::Phases,
    spawned: Instant,
    marker_at: Option<Instant>,
) -> Vec<Phase> {
    // The join runs beside the mounts: what it costs the launch is the child's
    // wait for it once its mounts are done (`join_ns` is the join itself).
    let join_wait = phases.join_wait_ns.unwrap_or(0);
    let mut list = vec![
        Phase::new("cgroup", phases.cgroup_ns),
        Phase::new("clone", phases.clone_ns),
        Phase::new("cgroup join", join_wait),
    ];
    let mounts = phases.setup_mounts_ns.unwrap_or(0);
    let security = phases.setup_security_ns.unwrap_or(0);
    if phases.setup_mounts_ns.is_some() {
        list.push(Phase::new("mounts+pivot_root", mounts));
    }
    if phases.setup_security_ns.is_some() {
        list.push(Phase::new("security", security));
    }
    if let Some(setup) = phases.setup_ns {
        let rest = setup.saturating_sub(mounts + join_wait + security);
        if rest > 0 {
            list.push(Phase::new("setup (rest)", rest));
        }
    }
    if let Some(exec) = phases.exec_ns {
        list.push(Phase::new("exec", exec));
    }
    let run = phases.run_ns.unwrap_or(0);
    match marker_at {
        Some(at) => {
            let to_marker = nanos_between(spawned, at).min(run);
            list.push(Phase::new("exec→marker", to_marker));
            list.push(Phase::new("run", run - to_marker));
        }
        None => list.push(Phase::new("run", run)),
    }
    list.push(Phase::new("teardown", phases.teardown_ns.unwrap_or(0)));
    list
}

/// The container's output as it is read: parsed and kept on the reader
/// threads in bounded memory, whatever the container writes.
struct StreamedOutput {
    /// What has been parsed of stdout so far (the program's own lines
    /// kept in [`Collected::stdout`]).
    collected: Arc<Mutex<Collected>>,
    /// What has been kept of stderr so far (empty with a terminal).
    stderr: Arc<Mutex<KeptText>>,
    /// Receives once for every stream that has closed.
    closed: mpsc::Receiver<()>,
    /// How many streams there are to close.
    streams: usize,
}

impl StreamedOutput {
    /// stdout and stderr read apart, each printed live with `echo`.
    fn pipes(stdout: std::io::PipeReader, stderr: std::io::PipeReader, echo: bool) -> Self {
        let (tx, closed) = mpsc::channel();
        let stderr_tx = tx.clone();
        Self {
            collected: collect::stream_stdout(stdout, echo, move || {
                let _ = tx.send(());
            }),
            stderr: collect::stream_stderr(stderr, echo, move || {
                let _ = stderr_tx.send(());
            }),
            closed,
            streams: 2,
        }
    }

    /// Waits until every stream has closed, or until `deadline`.
    fn wait_closed(&self, deadline: Instant) {
        for _ in 0..self.streams {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.closed.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

/// Where the container's output arrives.
enum Streams {
    /// stdout and stderr, kept apart.
    Pipes {
        stdout: std::io::PipeReader,
        stderr: std::io::PipeReader,
    },
    /// The master side of the container's pseudo-terminal (`-t`).
    Tty { master: OwnedFd },
}

/// Reads the pty's master side on a thread: with `echo`, every byte goes to
/// versus' stdout at once (a shell's prompt has no newline to wait for);
/// whole lines, their `\r\n` turned back into `\n`, are parsed as on a pipe.
/// Reading ends at `EIO`, once the container's last holder of the
/// terminal has gone.
fn stream_tty(master: OwnedFd, echo: bool) -> StreamedOutput {
    let (tx, closed) = mpsc::channel();
    StreamedOutput {
        collected: collect::stream_terminal(std::fs::File::from(master), echo, move || {
            let _ = tx.send(());
        }),
        stderr: Arc::default(),
        closed,
        streams: 1,
    }
}

/// Copies versus' stdin to the container's (`-i`) on a thread, and closes
/// the container's at end of file, so that a shell reading a script ends
/// (a terminal, with `-t`, stays open: its end of input is the user's
/// Ctrl-D).
/// The thread is left blocked in `read` if the container ends first; it
/// holds nothing that outlives versus.
fn forward_stdin(mut to_container: impl Write + Send + 'static) {
    thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = match stdin.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            // The container closed its stdin (or ended): stop forwarding.
            if to_container.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
    });
}

/// Bytes of regular files under `dir`, not following symlinks nor leaving
/// its filesystem (a rootfs on disk: what a container image costs).
fn directory_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(root) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let device = root.dev();
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != device {
                continue;
            }
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;
    use container::rootfs::WORKLOAD_PATH;

    fn launch(argv: &[&str]) -> Launch {
        Launch {
            workload: Workload::embedded(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            timeout: None,
            echo: false,
        }
    }

    #[test]
    fn a_task_runs_the_workload_and_a_path_runs_itself() {
        let settings = ContainerSettings::default();
        assert_eq!(
            settings.command(&launch(&["getpid", "10"])),
            [WORKLOAD_PATH, "getpid", "10"]
        );
        assert_eq!(
            settings.command(&launch(&["/bin/sh", "-c", "true"])),
            ["/bin/sh", "-c", "true"]
        );
        let external = ContainerSettings {
            rootfs: Rootfs::Dir("/srv/root".into()),
            ..ContainerSettings::default()
        };
        assert_eq!(
            external.command(&launch(&["sh", "-c", "id"])),
            ["sh", "-c", "id"]
        );
    }

    #[test]
    fn phases_add_up_to_the_launch_and_split_run_at_the_marker() {
        let spawned = Instant::now();
        let marker = spawned + Duration::from_micros(300);
        let phases = container::Phases {
            cgroup_ns: 100,
            clone_ns: 200,
            join: Some(container::JoinWay::CgroupProcs),
            join_ns: 700,
            join_wait_ns: Some(50),
            setup_ns: Some(1_000),
            setup_mounts_ns: Some(600),
            setup_security_ns: Some(250),
            exec_ns: Some(80),
            spawn_ns: 1_430,
            run_ns: Some(1_000_000),
            teardown_ns: Some(5_000),
        };
        let list = phase_list(&phases, spawned, Some(marker));
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cgroup",
                "clone",
                "cgroup join",
                "mounts+pivot_root",
                "security",
                "setup (rest)",
                "exec",
                "exec→marker",
                "run",
                "teardown"
            ]
        );
        let ns = |name: &str| list.iter().find(|p| p.name == name).unwrap().ns;
        // The join overlapped the mounts: only the child's wait for it counts.
        assert_eq!(ns("cgroup join"), 50);
        assert_eq!(ns("setup (rest)"), 100);
        assert_eq!(ns("exec→marker"), 300_000);
        assert_eq!(ns("run") + ns("exec→marker"), 1_000_000);
    }

    #[test]
    fn container_outcomes_map_to_run_outcomes() {
        assert_eq!(
            exit_outcome(Outcome::OomKilled, None),
            ExitOutcome::OomKilled
        );
        assert_eq!(
            exit_outcome(Outcome::TimedOut, Some(Duration::from_millis(5))),
            ExitOutcome::TimedOut {
                after_ns: 5_000_000
            }
        );
        assert_eq!(
            exit_outcome(Outcome::Signaled(9), None).shell_status(),
            128 + 9
        );
    }

    #[test]
    fn directory_size_counts_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 28]).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("link")).unwrap();
        assert_eq!(directory_size(dir.path()), 128);
    }
}
