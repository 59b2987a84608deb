//! What this machine offers the tests, checked in one place: `testkit`'s
//! run-time guards (`require_kvm`, `require_root`) and `testkit-macros`'
//! compile-time `#[testkit::needs(...)]` both ask here, so the test that is
//! marked ignored and the guard that would skip it cannot disagree about
//! what is missing.
//!
//! No dependencies: a proc-macro crate links this into the compiler.

use std::path::Path;

/// What a test needs from the machine, as written in
/// `#[testkit::needs(root, kvm, busybox, cc, musl, objdump)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Effective uid 0 (containers, cgroups, mounts).
    Root,
    /// `/dev/kvm` openable for reading and writing (the VM backend).
    Kvm,
    /// A busybox in `/bin` or `/usr/bin` (the container tests' shell).
    /// Whether it is statically linked is `container::rootfs::host_busybox`'s
    /// check, made by the tests' run-time guard: the product owns that
    /// fact, and this crate cannot depend on the product.
    Busybox,
    /// `cc` on `PATH` (C programs built `-static` against glibc). Whether
    /// its static C library is installed shows when `testkit::c_program`
    /// builds, whose failure skips the test at run time.
    Cc,
    /// `musl-gcc` on `PATH` (the same C programs against musl).
    Musl,
    /// `objdump` on `PATH` (the guest kernel's disassembly check).
    Objdump,
}

/// Every requirement, in the order the attribute's documentation lists them.
pub const REQUIREMENTS: [Requirement; 6] = [
    Requirement::Root,
    Requirement::Kvm,
    Requirement::Busybox,
    Requirement::Cc,
    Requirement::Musl,
    Requirement::Objdump,
];

/// The device the VM backend opens.
pub const KVM_DEVICE: &str = "/dev/kvm";

/// Where Debian's `busybox-static` (and most distributions) install busybox.
const BUSYBOX_PATHS: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

/// The search path when `PATH` is not set, as the C library's `execvp` uses.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl Requirement {
    /// The word that names it in `#[testkit::needs(...)]`.
    pub fn name(self) -> &'static str {
        match self {
            Requirement::Root => "root",
            Requirement::Kvm => "kvm",
            Requirement::Busybox => "busybox",
            Requirement::Cc => "cc",
            Requirement::Musl => "musl",
            Requirement::Objdump => "objdump",
        }
    }

    /// The requirement `name` names, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        REQUIREMENTS.into_iter().find(|r| r.name() == name)
    }

    /// Which environment variable forbids skipping for this requirement.
    /// CI runs as root on a machine with `/dev/kvm` and installs every tool,
    /// so the tools count with root.
    pub fn need(self) -> Need {
        match self {
            Requirement::Kvm => Need::Kvm,
            _ => Need::Root,
        }
    }

    /// `None` when this machine has it; otherwise what is missing and how
    /// to get it, in words for a person reading the test run.
    pub fn missing(self) -> Option<String> {
        match self {
            Requirement::Root => (!effective_uid_is_root())
                .then(|| "needs root: run the tests as root".to_owned()),
            Requirement::Kvm => open_kvm().err().map(|err| {
                format!(
                    "needs {KVM_DEVICE}: cannot open it read-write ({err}); `versus doctor` says how to get it"
                )
            }),
            Requirement::Busybox => (!BUSYBOX_PATHS.iter().any(|p| Path::new(p).is_file()))
                .then(|| "needs a static busybox (apt-get install busybox-static)".to_owned()),
            Requirement::Cc => on_path("cc")
                .is_none()
                .then(|| "needs a C compiler with a static libc (apt-get install build-essential)".to_owned()),
            Requirement::Musl => on_path("musl-gcc")
                .is_none()
                .then(|| "needs musl-gcc (apt-get install musl-tools)".to_owned()),
            Requirement::Objdump => on_path("objdump")
                .is_none()
                .then(|| "needs objdump (apt-get install binutils)".to_owned()),
        }
    }
}

/// What a skipped test lacked, as far as CI is concerned: the variable that
/// forbids skipping for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `/dev/kvm`: forbidden to skip under `VERSUS_REQUIRE_KVM=1`.
    Kvm,
    /// Root, or a host tool the container and foreign-program tests use
    /// (busybox, a static C library): forbidden under `VERSUS_REQUIRE_ROOT=1`.
    Root,
}

impl Need {
    /// The environment variable that turns this skip into a failure.
    pub fn require_var(self) -> &'static str {
        match self {
            Need::Kvm => "VERSUS_REQUIRE_KVM",
            Need::Root => "VERSUS_REQUIRE_ROOT",
        }
    }

    /// True when skipping for this need is forbidden here (CI).
    pub fn required(self) -> bool {
        std::env::var(self.require_var()).as_deref() == Ok("1")
    }
}

/// Opens `/dev/kvm` for reading and writing, as the VM backend does; the
/// file is closed again at once.
pub fn open_kvm() -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(KVM_DEVICE)
        .map(drop)
}

/// True when this process's effective uid is 0, read from the `Uid:` line
/// of `/proc/self/status` (real, effective, saved, filesystem) so that no
/// `unsafe` `geteuid` call is needed.
pub fn effective_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The first file named `program` in the directories of `PATH`.
fn on_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_is_found_by_its_name() {
        for requirement in REQUIREMENTS {
            assert_eq!(
                Requirement::from_name(requirement.name()),
                Some(requirement)
            );
        }
        assert_eq!(Requirement::from_name("docker"), None);
    }

    #[test]
    fn only_kvm_is_excused_by_the_kvm_variable() {
        assert_eq!(Requirement::Kvm.need(), Need::Kvm);
        for requirement in REQUIREMENTS.into_iter().filter(|r| *r != Requirement::Kvm) {
            assert_eq!(requirement.need(), Need::Root, "{requirement:?}");
        }
    }

    #[test]
    fn each_need_names_the_variable_ci_sets() {
        assert_eq!(Need::Kvm.require_var(), "VERSUS_REQUIRE_KVM");
        assert_eq!(Need::Root.require_var(), "VERSUS_REQUIRE_ROOT");
    }

    #[test]
    fn root_is_missing_exactly_when_the_effective_uid_is_not_0() {
        // Compared with the kernel's own answer, not with another read of
        // /proc/self/status.
        let euid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("id(1) runs");
        let is_root = String::from_utf8_lossy(&euid.stdout).trim() == "0";
        assert_eq!(effective_uid_is_root(), is_root);
        assert_eq!(Requirement::Root.missing().is_none(), is_root);
    }

    #[test]
    fn a_program_is_looked_up_in_path_only() {
        assert!(on_path("sh").is_some(), "sh is on every PATH");
        assert!(on_path("versus-no-such-program").is_none());
    }
}
