//! The builder: what the caller asks for, and `build`, which runs the checks in
//! order (the first failing one is the error) and assembles the [`ContainerSpec`].

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::checks;
use super::{ContainerSpec, HostFacts, Limits, Namespace};
use crate::error::{Error, Result};
use crate::rootfs::{DEFAULT_PATH, RootfsSpec, Volume};
use crate::seccomp::SeccompMode;

/// Describes a container; [`ContainerBuilder::build`] validates it.
///
/// # Example
///
/// ```no_run
/// use container::{ContainerBuilder, Limits, RootfsSpec, rootfs::WORKLOAD_PATH};
/// use std::sync::atomic::AtomicBool;
///
/// let (read, write) = std::io::pipe().unwrap();
/// let spec = ContainerBuilder::new("demo-1")
///     .rootfs(RootfsSpec::workload(std::fs::read("versus-workload").unwrap()))
///     .command([WORKLOAD_PATH, "ids"])
///     .hostname("versus")
///     .limits(Limits { memory: Some(64 << 20), pids: Some(16), cpus: None })
///     .stdout(write.into())
///     .build()?;
/// let running = spec.spawn()?;
/// // … read `read` until the workload's start marker …
/// # drop(read);
/// let report = running.wait(None, &AtomicBool::new(false))?;
/// println!("{:?} after {:?}", report.outcome, report.phases);
/// # Ok::<(), container::Error>(())
/// ```
#[derive(Debug)]
pub struct ContainerBuilder {
    id: String,
    rootfs: Option<RootfsSpec>,
    command: Vec<String>,
    env: Vec<(String, String)>,
    hostname: Option<String>,
    limits: Limits,
    share: Vec<Namespace>,
    force_userns: bool,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    seccomp: SeccompMode,
    read_only: bool,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    stop_signal: Signal,
    stop_grace: Duration,
    workdir: Option<String>,
    user: Option<(u32, u32)>,
    volumes: Vec<Volume>,
    overlay: bool,
    terminal: Option<OwnedFd>,
}

impl ContainerBuilder {
    /// A container named `id` (letters, digits, `_`, `-`, `.`; at most 64; unique among
    /// running containers: it names the cgroup `versus/<id>`).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            rootfs: None,
            command: Vec::new(),
            env: Vec::new(),
            hostname: None,
            limits: Limits::default(),
            share: Vec::new(),
            force_userns: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            seccomp: SeccompMode::Default,
            read_only: false,
            stdin: None,
            stdout: None,
            stderr: None,
            stop_signal: Signal::SIGTERM,
            stop_grace: Duration::from_secs(2),
            workdir: None,
            user: None,
            volumes: Vec::new(),
            overlay: false,
            terminal: None,
        }
    }

    /// The root filesystem (required).
    pub fn rootfs(mut self, rootfs: RootfsSpec) -> Self {
        self.rootfs = Some(rootfs);
        self
    }

    /// The command: `argv[0]` is an absolute path inside the root filesystem, or a
    /// name without `/`, looked up on the container's `PATH` inside the root (as
    /// `execvp` would, before launch); `argv[0]` is passed as given.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }

    /// An extra environment variable (besides `PATH`, `HOME=/`, `TERM` if set, `container=versus`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The hostname inside (needs its own UTS namespace); default `versus`.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Memory, pids and CPU limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Namespaces to share with the launcher instead of creating new ones.
    pub fn share(mut self, namespaces: &[Namespace]) -> Self {
        self.share.extend_from_slice(namespaces);
        self
    }

    /// Creates a user namespace even as root (always created when not root).
    pub fn user_namespace(mut self, force: bool) -> Self {
        self.force_userns = force;
        self
    }

    /// Capabilities to keep in addition to Docker's default set (`SYS_ADMIN`, `ALL`, …).
    pub fn caps_add<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cap_add.extend(names.into_iter().map(Into::into));
        self
    }

    /// Capabilities to drop from Docker's default set (`NET_RAW`, `ALL`, …).
    pub fn caps_drop<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cap_drop.extend(names.into_iter().map(Into::into));
        self
    }

    /// The seccomp filter: Docker's default profile or none.
    pub fn seccomp(mut self, mode: SeccompMode) -> Self {
        self.seccomp = mode;
        self
    }

    /// Remounts the root read-only (`/tmp`, `/dev/shm` stay writable tmpfs).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The read end that becomes PID 1's stdin (default: `/dev/null`). The launcher's
    /// copy is closed by `spawn`.
    pub fn stdin(mut self, fd: OwnedFd) -> Self {
        self.stdin = Some(fd);
        self
    }

    /// A pseudo-terminal's slave ([`crate::tty::Pty`]) as PID 1's stdin, stdout,
    /// stderr and controlling terminal: PID 1 starts a new session and takes it, as
    /// `docker run -t` does. It replaces [`Self::stdin`], [`Self::stdout`] and
    /// [`Self::stderr`].
    pub fn terminal(mut self, slave: OwnedFd) -> Self {
        self.terminal = Some(slave);
        self
    }

    /// The directory PID 1 starts in (absolute, existing in the root); default `/`.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Run the command as this uid and gid (numeric, inside the container's user
    /// namespace if it has one). Any uid but 0 loses every capability at the switch,
    /// as with `docker run --user`; the bounding set stays Docker's.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    /// With a [`RootfsSpec::Dir`]: make it the read-only lower layer of an overlay
    /// whose writable layer is a tmpfs that vanishes with the container, so the
    /// container's writes never reach the directory.
    pub fn rootfs_overlay(mut self, overlay: bool) -> Self {
        self.overlay = overlay;
        self
    }

    /// A host path bind-mounted into the container.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volumes.push(volume);
        self
    }

    /// The write end that becomes PID 1's stdout (default: `/dev/null`). The launcher's
    /// copy is closed by `spawn`, so the reader sees end-of-file when the container ends.
    pub fn stdout(mut self, fd: OwnedFd) -> Self {
        self.stdout = Some(fd);
        self
    }

    /// The write end that becomes PID 1's stderr (default: `/dev/null`).
    pub fn stderr(mut self, fd: OwnedFd) -> Self {
        self.stderr = Some(fd);
        self
    }

    /// The signal sent to PID 1 when the caller's interrupt flag is set (default SIGTERM).
    pub fn stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }

    /// How long PID 1 may take to exit after the stop signal before SIGKILL (default 2 s).
    /// PID 1 ignores every signal it has no handler for, so a program without one is
    /// always killed after this grace period.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// Validates everything that can be checked before launch and prepares the launch.
    pub fn build(self) -> Result<ContainerSpec> {
        self.build_with(&HostFacts::real())
    }

    /// The checks, in this order: id, limits, namespaces, command, hostname, root
    /// filesystem, security, cgroups, user-namespace maps, environment.
    pub(crate) fn build_with(self, host: &HostFacts) -> Result<ContainerSpec> {
        checks::validate_id(&self.id)?;
        checks::validate_limits(&self.limits, host.cpus)?;
        let ns = checks::namespaces(&self.share, self.force_userns, host)?;
        let argv = checks::argv(&self.command)?;
        let hostname = checks::hostname(self.hostname.as_deref(), ns.has(Namespace::Uts))?;
        let path_var = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        // Where the terminal lives on the host: its descriptor's link names
        // it (`/dev/pts/N`), to be bound onto the container's /dev/console.
        let console = self
            .terminal
            .as_ref()
            .map(|slave| std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())))
            .transpose()
            .map_err(|e| Error::Io {
                context: "finding the terminal's path (/proc/self/fd)".into(),
                source: e,
            })?;
        let rootfs = checks::rootfs(
            self.rootfs,
            &checks::Command {
                argv0: &self.command[0],
                path_var,
                workdir: self.workdir.as_deref(),
                volumes: &self.volumes,
                overlay: self.overlay,
                console: console.as_deref(),
            },
            self.read_only,
            &ns,
            hostname.as_deref(),
        )?;
        let security = checks::security(
            &self.cap_add,
            &self.cap_drop,
            self.seccomp,
            ns.rootless,
            host,
        )?;
        let cgroup = checks::cgroup(&self.limits, ns.rootless, host)?;
        let id_maps = checks::id_maps(&ns, host);
        let env = checks::environment(&self.env)?;
        let notes = checks::notes(&security.withheld, cgroup.is_some(), self.user);

        Ok(ContainerSpec {
            id: self.id,
            argv,
            exec_path: rootfs.exec_path,
            user: self.user,
            env,
            hostname,
            limits: self.limits,
            namespaces: ns.created,
            shared: ns.shared,
            id_maps,
            rootless: ns.rootless,
            kept: security.kept,
            cap_plan: security.cap_plan,
            seccomp: self.seccomp,
            seccomp_program: security.seccomp_program,
            read_only: self.read_only,
            rootfs_desc: rootfs.desc,
            planned: rootfs.planned,
            steps: rootfs.steps,
            cgroup,
            cgroup_layout: host.layout.label(),
            lsm: host.lsm.clone(),
            stdin: self.stdin,
            terminal: self.terminal,
            stdout: self.stdout,
            stderr: self.stderr,
            stop_signal: self.stop_signal,
            stop_grace: self.stop_grace,
            notes,
        })
    }
}
