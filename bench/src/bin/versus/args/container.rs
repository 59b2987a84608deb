//! `versus container run`'s options, named as Docker users know them, and
//! the container settings they make.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use bench::backend::container::{ContainerSettings, ProcessSettings, Rootfs as ContainerRootfs};

use super::{RunArgs, parse_size};

/// Examples of `versus container`.
pub(crate) const CONTAINER_EXAMPLES: &str = "\
Examples:
  versus container run -- startup                       the workload as PID 1 of a container
  versus container run --busybox -- /bin/sh -c 'ps; ls /'
  versus container run --help                           every option of `container run` and the tasks";

/// Examples of `versus container run`.
const CONTAINER_RUN_EXAMPLES: &str = "\
Examples:
  versus container run -- startup                          launch phases, namespaces, cgroup, seccomp
  versus container run --memory 64M --pids-limit 32 -- memtouch 16
  versus container run --cpus 0.5 -- compute 100000000     half a CPU (cgroup cpu)
  versus container run --seccomp unconfined -- getpid 1000000
  versus container run --cap-drop ALL -- probe             what a process without capabilities may do
  versus container run --share net --hostname demo -- ids
  versus container run --busybox -- /bin/sh -c 'ps; ls /'  a command, its output printed live
  versus container run --rootfs ./rootfs --read-only -- /bin/ls /
  versus container run --workload ./hello -- world         any static x86-64 program as PID 1
  versus container run --trace -- startup                  print each launch step on stderr";

#[derive(Debug, Subcommand)]
pub(crate) enum ContainerAction {
    /// Launch a container (namespaces, cgroup, capabilities, seccomp,
    /// pivot_root), run one task or command as PID 1, and print results,
    /// phases, cgroup statistics and what fenced it in.
    #[command(after_help = CONTAINER_RUN_EXAMPLES)]
    Run(ContainerRunArgs),
}

/// Options of `versus container run`, named as Docker users know them.
#[derive(Debug, Args)]
pub(crate) struct ContainerRunArgs {
    /// Memory limit (cgroup `memory`, no swap), e.g. `64M`, `1G`.
    #[arg(long, short = 'm', value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory: Option<u64>,

    /// Most processes and threads at once (cgroup `pids`); `-1` for no
    /// limit, as in Docker.
    #[arg(long = "pids-limit", value_name = "N", allow_negative_numbers = true, value_parser = parse_pids_limit)]
    pub(crate) pids_limit: Option<PidsLimit>,

    /// CPU bandwidth in CPUs, e.g. `0.5`, `1.5` (cgroup `cpu`).
    #[arg(long, value_name = "CPUS", allow_negative_numbers = true, value_parser = parse_cpus)]
    pub(crate) cpus: Option<f64>,

    /// The container's hostname (its own UTS namespace); default `versus`.
    #[arg(long, value_name = "NAME")]
    pub(crate) hostname: Option<String>,

    /// Use this directory as the root filesystem; the arguments are then a
    /// command inside it, e.g. `/bin/sh -c 'ls /'`. versus writes nothing
    /// into it, but the container's own writes go through to it (as with
    /// `docker run -v`) unless `--read-only` is given.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["busybox", "workload"])]
    pub(crate) rootfs: Option<PathBuf>,

    /// With `--rootfs`: make the directory the read-only lower layer of an
    /// overlay whose writable layer is a tmpfs inside the container, gone
    /// when it ends — the container's writes never reach the directory.
    #[arg(long = "rootfs-overlay", requires = "rootfs")]
    pub(crate) rootfs_overlay: bool,

    /// Add the host's static busybox to the built root filesystem, for
    /// commands such as `-- /bin/sh -c 'ps; ls /'`.
    #[arg(long)]
    pub(crate) busybox: bool,

    /// Run in a new user namespace even as root (uid 0 inside maps to an
    /// unprivileged range outside); without root it is always used.
    #[arg(long)]
    pub(crate) userns: bool,

    /// Leave a namespace shared with the host (pid, mnt, uts, ipc, net,
    /// cgroup, user); repeat or separate with commas.
    #[arg(long, value_name = "NS", value_delimiter = ',', value_parser = parse_namespace)]
    pub(crate) share: Vec<container::Namespace>,

    /// Add a capability to Docker's default set (e.g. `NET_ADMIN`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP", value_delimiter = ',')]
    pub(crate) cap_add: Vec<String>,

    /// Drop a capability from Docker's default set (e.g. `CHOWN`, `ALL`).
    #[arg(long = "cap-drop", value_name = "CAP", value_delimiter = ',')]
    pub(crate) cap_drop: Vec<String>,

    /// The seccomp profile: Docker's default (x86-64) or none.
    #[arg(long, value_name = "PROFILE", default_value = "default", value_parser = parse_seccomp)]
    pub(crate) seccomp: container::SeccompMode,

    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    pub(crate) read_only: bool,

    /// Print the launch steps (mounts, pivot_root, …) on stderr.
    #[arg(long)]
    pub(crate) trace: bool,

    /// Set an environment variable of the command: `KEY=VALUE`, or `KEY`
    /// to pass the host's value (left out when the host has none).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,

    /// The directory the command starts in (absolute; it must exist in the
    /// root filesystem).
    #[arg(long, short = 'w', value_name = "DIR")]
    pub(crate) workdir: Option<String>,

    /// Bind-mount a host file or directory: `HOST:CONTAINER[:ro|rw]`. The
    /// host path must exist; in a `--rootfs` directory the mount point must
    /// exist too (versus never writes there).
    #[arg(long, short = 'v', value_name = "HOST:CONTAINER[:ro]", value_parser = parse_volume)]
    pub(crate) volume: Vec<container::Volume>,

    /// Run the command as `UID[:GID]` (numeric; the group defaults to the
    /// uid). Any uid but 0 has no capabilities, as with `docker run -u`.
    #[arg(long, short = 'u', value_name = "UID[:GID]", allow_hyphen_values = true, value_parser = parse_user)]
    pub(crate) user: Option<(u32, u32)>,

    /// Keep stdin open: forward versus' stdin to the command (closed at end
    /// of file). Without it the command's stdin is /dev/null.
    #[arg(long, short = 'i')]
    pub(crate) interactive: bool,

    /// Allocate a pseudo-terminal: the command's stdin, stdout and stderr
    /// and its controlling terminal, as a session leader. With `-i` (which
    /// then needs a terminal on stdin, as in Docker), that terminal is in
    /// raw mode meanwhile: keys, Ctrl-C included, go to the command, and
    /// window size changes follow. `-t` alone works without a terminal.
    #[arg(long, short = 't')]
    pub(crate) tty: bool,

    /// The network: `none` (the container's own network namespace with only
    /// `lo`, the default) or `host` (the host's, as `--share net`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Network::None)]
    pub(crate) network: Network,

    /// Accepted for Docker users: versus always removes the container (its
    /// cgroup, mounts and processes) when the command ends.
    #[arg(long)]
    pub(crate) rm: bool,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `--network`: what `docker run --network` offers that fits here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Network {
    /// Its own network namespace, with only the loopback interface.
    None,
    /// The host's network namespace (`--share net`).
    Host,
}

/// `--pids-limit`: a number of processes, or Docker's `-1` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PidsLimit {
    /// `-1`: the container's cgroup gets no `pids` limit.
    Unlimited,
    /// At most this many processes and threads at once (1 or more).
    At(u64),
}

fn parse_pids_limit(text: &str) -> Result<PidsLimit, String> {
    if text.trim() == "-1" {
        return Ok(PidsLimit::Unlimited);
    }
    match text.trim().parse::<u64>() {
        Ok(0) => Err(
            "0 would leave the container no process at all, not even its PID 1; give 1 or \
             more, or -1 for no limit"
                .into(),
        ),
        Ok(most) => Ok(PidsLimit::At(most)),
        Err(_) => Err(format!(
            "'{text}' is not a number of processes; give 1 or more, or -1 for no limit"
        )),
    }
}

/// `--cpus`: a finite number of CPUs, not negative. The range (0.01 up to
/// this machine's CPU count) is the launcher's to check, which names it.
fn parse_cpus(text: &str) -> Result<f64, String> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of CPUs; write it like 0.5 or 2"))?;
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(format!(
            "'{text}' is not a number of CPUs above zero; write it like 0.5 or 2"
        ));
    }
    Ok(cpus)
}

fn parse_volume(text: &str) -> Result<container::Volume, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

/// `UID[:GID]`, numeric; a name would have to be looked up in the
/// container's `/etc/passwd`, which versus does not read.
fn parse_user(text: &str) -> Result<(u32, u32), String> {
    let number = |part: &str, what: &str| {
        part.parse::<u32>().map_err(|_| {
            format!(
                "{what} {part:?} is not a number; give numeric ids, UID[:GID] such as 1000:1000 \
                 (user names are not looked up)"
            )
        })
    };
    match text.split_once(':') {
        Some((uid, gid)) => Ok((number(uid, "uid")?, number(gid, "gid")?)),
        None => {
            let uid = number(text, "uid")?;
            Ok((uid, uid))
        }
    }
}

fn parse_namespace(text: &str) -> Result<container::Namespace, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

fn parse_seccomp(text: &str) -> Result<container::SeccompMode, String> {
    text.parse()
        .map_err(|err: container::Error| err.to_string())
}

impl ContainerRunArgs {
    /// The container settings these flags ask for: the one place they are
    /// read. `--busybox` looks for the host's busybox here.
    pub(crate) fn settings(&self) -> Result<ContainerSettings> {
        let rootfs = match (&self.rootfs, self.busybox) {
            (Some(dir), _) => ContainerRootfs::Dir(dir.clone()),
            (None, true) => {
                ContainerRootfs::WorkloadWithBusybox(container::rootfs::host_busybox().context(
                    "--busybox needs a statically linked busybox on the host \
                     (install Debian's busybox-static)",
                )?)
            }
            (None, false) => ContainerRootfs::Workload,
        };
        Ok(ContainerSettings {
            rootfs,
            limits: container::Limits {
                memory: self.memory,
                pids: match self.pids_limit {
                    Some(PidsLimit::At(most)) => Some(most),
                    Some(PidsLimit::Unlimited) | None => None,
                },
                cpus: self.cpus,
            },
            hostname: self.hostname.clone(),
            share: self.shared(),
            userns: self.userns,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            seccomp: self.seccomp,
            read_only: self.read_only,
            trace: self.trace,
            process: Box::new(ProcessSettings {
                env: self.environment()?,
                workdir: self.workdir.clone(),
                user: self.user,
                volumes: self.volume.clone(),
                interactive: self.interactive,
                tty: self.tty,
            }),
            rootfs_overlay: self.rootfs_overlay,
        })
    }

    /// Why `--rootfs` cannot be a container's root, found before anything
    /// is created: the host's own `/`, however it is named (`/`, `/.`, a
    /// symbolic link to it). pivot_root would refuse it with a bare EBUSY,
    /// and a container on the host's files would isolate nothing.
    pub(crate) fn rootfs_problem(&self) -> Option<String> {
        let dir = self.rootfs.as_deref()?;
        // A path that cannot be resolved is left to the launcher, which
        // names what is missing.
        let resolved = std::fs::canonicalize(dir).ok()?;
        (resolved == std::path::Path::new("/")).then(|| {
            format!(
                "--rootfs {} is the host's own root directory: a container on it would see and \
                 change every host file; give a directory holding a root filesystem of its \
                 own (for example one unpacked from an image), or --busybox for a built one",
                dir.display()
            )
        })
    }

    /// `-e` as pairs: `KEY=VALUE` as given, `KEY` with the host's value
    /// (left out when the host has none, as Docker does).
    fn environment(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for entry in &self.env {
            let (key, value) = match entry.split_once('=') {
                Some((key, value)) => (key, Some(value.to_string())),
                None => (entry.as_str(), std::env::var(entry).ok()),
            };
            if key.is_empty() {
                anyhow::bail!("-e {entry:?}: the variable name is empty; write KEY=VALUE or KEY");
            }
            if let Some(value) = value {
                pairs.push((key.to_string(), value));
            }
        }
        Ok(pairs)
    }

    /// The namespaces shared with the host: `--share`, plus `net` for
    /// `--network host`.
    fn shared(&self) -> Vec<container::Namespace> {
        let mut share = self.share.clone();
        if self.network == Network::Host && !share.contains(&container::Namespace::Net) {
            share.push(container::Namespace::Net);
        }
        share
    }
}
