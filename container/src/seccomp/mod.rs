//! Step 4c — seccomp: which system calls the container may make at all.
//!
//! The filter is Docker's default profile (moby `profiles/seccomp/default.json`) as of
//! **Docker 25.0**, for x86-64 only, with the same decisions. Two changes of that release
//! matter here: `io_uring_setup`, `io_uring_enter` and `io_uring_register` are denied
//! (moby PR 46762: io_uring's many kernel bugs, and its requests bypass seccomp), and
//! the calls of Linux 6.5–6.6 `cachestat`, `fchmodat2` and `map_shadow_stack` are allowed
//! (moby PR 47341, backported to 25.0). Linux 6.7's `futex_wake`, `futex_wait` and
//! `futex_requeue`, which Docker's profile does not list, are denied like every number
//! above [`MAX_KNOWN_SYSCALL`]. The decisions: a system call that Docker's profile allows is
//! allowed; every other one fails with `EPERM` (Docker's `defaultErrnoRet: 1`); groups
//! that Docker allows only with a capability (e.g. `mount`, `umount2`, `sethostname`,
//! `unshare` with `CAP_SYS_ADMIN`; `reboot` with `CAP_SYS_BOOT`) follow the kept
//! capability set; `clone` with a namespace flag is refused without `CAP_SYS_ADMIN`;
//! `clone3` answers `ENOSYS` (so a libc falls back to `clone`, whose flags the filter
//! can read); `socket(AF_VSOCK)` is refused; `personality` only takes Docker's five values.
//!
//! **Form: a deny list compiled from the allow list.** Docker writes its profile as an
//! allow list; libseccomp compiles it to a program that tests each allowed number.
//! Here the complement is computed once (the x86-64 numbers up to
//! [`MAX_KNOWN_SYSCALL`] that the profile does not allow: 63 with the default
//! capabilities) and compiled by `seccompiler` as rules whose match action is
//! `ERRNO(EPERM)` and whose default is `ALLOW`. A short hand-written prefix keeps the
//! allow-list meaning for everything the rules cannot name: a non-x86-64 architecture
//! is killed, x32 numbers (bit 30) and numbers above [`MAX_KNOWN_SYSCALL`] get `EPERM`
//! (unknown future calls are denied, as in Docker's profile), the unused range 335–423
//! gets `ENOSYS`. The result is about 420 BPF instructions, x86-64 only — docs/en/platforms.md
//! shows the filter's size (a libseccomp build for three architectures) to drive the
//! start cost (crun 43 ms with its profile, 16 ms without). Every path through it loads
//! only the number and the architecture except for `clone`, `socket` and
//! `personality`, so the kernel's seccomp action cache (Linux ≥ 5.11) allows the other
//! calls from a bitmap without running the program.
//! The program is compiled once per kept-capability mask and cached for the process.
//!
//! The parts: `profile` is Docker's profile as data (which calls, under which
//! capability, with which argument values); `compile` turns it into rules for
//! `seccompiler` and caches the program; `prefix` is the hand-written start of it.

mod compile;
mod prefix;
mod profile;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use compile::{cached, compile};
pub use profile::{MAX_KNOWN_SYSCALL, allowed_syscalls, denied_syscalls};

/// Whether a seccomp filter is installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompMode {
    /// Docker's default profile (x86-64): `Seccomp: 2` inside.
    #[default]
    Default,
    /// No filter: `Seccomp: 0` inside (Docker's `--security-opt seccomp=unconfined`).
    Unconfined,
}

impl std::str::FromStr for SeccompMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Ok(SeccompMode::Default),
            "unconfined" | "none" | "off" => Ok(SeccompMode::Unconfined),
            other => Err(Error::invalid(
                "--seccomp",
                format!("unknown seccomp mode '{other}'; use `default` or `unconfined`"),
            )),
        }
    }
}

impl std::fmt::Display for SeccompMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeccompMode::Default => "default",
            SeccompMode::Unconfined => "unconfined",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(
            "default".parse::<SeccompMode>().unwrap(),
            SeccompMode::Default
        );
        assert_eq!(
            "Unconfined".parse::<SeccompMode>().unwrap(),
            SeccompMode::Unconfined
        );
        assert!("strict".parse::<SeccompMode>().is_err());
    }
}
