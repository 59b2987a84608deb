//! The namespace kinds a container can create or share, and the id maps of its user
//! namespace.

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A Linux namespace kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// Process ids: the container's first process is PID 1.
    Pid,
    /// Mounts: the container's own mount table (needed for its own root and /proc).
    Mnt,
    /// Hostname and domain name.
    Uts,
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Network devices, addresses, routes, ports: only `lo` inside.
    Net,
    /// The cgroup tree: the container sees its own cgroup as `/`.
    Cgroup,
    /// User and group ids: uid 0 inside maps to another uid outside (rootless).
    User,
}

impl Namespace {
    /// Every kind, in the order of `/proc/self/ns`.
    pub const ALL: [Namespace; 7] = [
        Namespace::Pid,
        Namespace::Mnt,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::User,
    ];

    /// The short name (`pid`, `mnt`, …), as in `/proc/self/ns`.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Mnt => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::User => "user",
        }
    }

    /// The `CLONE_NEW*` flag.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Mnt => CloneFlags::CLONE_NEWNS,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Namespace {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pid" => Ok(Namespace::Pid),
            "mnt" | "mount" | "ns" => Ok(Namespace::Mnt),
            "uts" => Ok(Namespace::Uts),
            "ipc" => Ok(Namespace::Ipc),
            "net" | "network" => Ok(Namespace::Net),
            "cgroup" => Ok(Namespace::Cgroup),
            "user" | "userns" => Ok(Namespace::User),
            other => Err(Error::invalid(
                "--share",
                format!(
                    "unknown namespace '{other}'; namespaces are: pid mnt uts ipc net cgroup user"
                ),
            )),
        }
    }
}

/// How the container's user namespace maps ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// The first id inside (always 0).
    pub inside: u32,
    /// The first id outside.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

impl IdMap {
    /// The line written to `/proc/<pid>/uid_map` / `gid_map`.
    pub fn line(&self) -> String {
        format!("{} {} {}\n", self.inside, self.outside, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_parse_with_a_hint() {
        let e = "netns".parse::<Namespace>().unwrap_err().to_string();
        assert!(e.contains("pid mnt uts ipc net cgroup user"), "{e}");
        assert_eq!("mount".parse::<Namespace>().unwrap(), Namespace::Mnt);
        assert_eq!("NET".parse::<Namespace>().unwrap(), Namespace::Net);
    }
}
