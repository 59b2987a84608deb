//! Host diagnosis behind `versus doctor`.
//!
//! Everything that decides how VM and container numbers on this host can be read:
//! which KVM backend serves `/dev/kvm` (hardware, nested, or the software PVM backend),
//! the cgroup layout and where the memory/pids/cpu controllers live, namespaces,
//! unprivileged user namespaces, seccomp, security modules and privileges.
//!
//! Doctor detects none of the shared host facts itself: it asks the crates that act
//! on them, so what it reports is what a launch meets —
//! [`container::host`] for the cgroup layout (with named v1 hierarchies), user
//! namespaces (every knob), LSMs and seccomp; [`hypervisor::kvm`] for the KVM
//! modules and the backend classification ([`hypervisor::kvm::classify`], the same
//! function behind every VM run's `kvm_backend`); [`hypervisor::cpuid`] for CPUID.
//! It keeps its own checks, fixes, JSON and rendering:
//!
//! - `mod.rs` (this file): the [`HostView`], the [`LiveProbes`], the report types
//!   and [`diagnose`];
//! - `checks.rs`: one function per area turning the report into [`Check`]s;
//! - `render.rs`: the table.
//!
//! Detection reads files through a [`HostView`] (a root prefix, passed as the root to
//! the crates' functions), so it runs unchanged against fixture trees in tests; the few
//! facts that cannot come from files (opening `/dev/kvm`, the effective uid, CPUID,
//! the timed cgroup join) come from a [`LiveProbes`] implementation. Nothing here fails: what cannot be
//! determined is reported as unknown, with a detail.
//!
//! # JSON (`versus doctor --json`)
//!
//! The report serializes as it is. The shared facts use the crates' types:
//! `cgroup` is a [`container::host::Scan`] (`{"layout": {"hybrid": {"hierarchies":
//! [{"mount", "controllers"}], "unified", "unified_controllers"}}, "named": [{"name",
//! "mount"}]}`), `cgroup_limits` holds [`container::host::Place`]s (`{"v1":
//! "/sys/fs/cgroup/memory"}`), `lsm` is a [`container::LsmInfo`] (`modules`,
//! `apparmor`, `selinux`, `launcher_label`, `securityfs`, `apparmor_in_kernel`), and
//! `kvm.backend` a [`hypervisor::kvm::KvmBackend`]. `cgroup_join_us` is one timed
//! join of a throwaway cgroup in the v1 pids hierarchy
//! ([`container::cgroup::join_probe`]), as root on a v1 host; `null` elsewhere.

mod checks;
mod render;

use std::fs;
use std::path::{Path, PathBuf};

pub use container::host::{
    AppArmorState, Layout, LsmInfo, Place, Scan, SeccompInfo, SelinuxState, UsernsBlock,
    UsernsKnob, UsernsStatus, V1Hierarchy,
};
pub use container::mountinfo::{MountInfoEntry, parse_mountinfo};
pub use hypervisor::kvm::{CpuVendor, CpuVirt, KvmBackend};
use serde::{Deserialize, Serialize};

pub use render::{render, render_with_width};

// ---------------------------------------------------------------------------------------
// Host view and live probes
// ---------------------------------------------------------------------------------------

/// A view of the host's files under a root prefix: `/` for the real host, a fixture
/// directory in tests. Absolute host paths (`/proc/cpuinfo`) are resolved under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    root: PathBuf,
}

impl HostView {
    /// The real host: paths are read as they are.
    pub fn real() -> Self {
        Self::at("/")
    }

    /// A view rooted at `root` (a fixture tree laid out like `/`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root prefix of this view.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the absolute host path `abs` lives in this view.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// Reads a whole file as text, or `None` if it is missing or unreadable.
    pub fn read(&self, abs: &str) -> Option<String> {
        fs::read_to_string(self.path(abs)).ok()
    }

    /// Reads a file and trims surrounding whitespace.
    fn read_trimmed(&self, abs: &str) -> Option<String> {
        self.read(abs).map(|s| s.trim().to_owned())
    }

    /// Whether `abs` exists (without following a final symlink, so `/proc` magic links
    /// and dangling links count as present).
    pub fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.path(abs)).is_ok()
    }

    /// The entry names of a directory, sorted; empty if it cannot be read.
    fn list_dir(&self, abs: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(abs))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// The result of opening `/dev/kvm` read-write and asking for the KVM API version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvmOpen {
    /// Opened; `KVM_GET_API_VERSION` returned `api_version` (12 on every stable kernel).
    Ok {
        /// The value `KVM_GET_API_VERSION` returned.
        api_version: i32,
    },
    /// `EACCES`/`EPERM`: the node exists but this user may not open it.
    PermissionDenied,
    /// `ENOENT`: there is no `/dev/kvm`.
    NotFound,
    /// Any other failure, with its message.
    Other(String),
}

/// Facts about the running host that cannot be read from files.
pub trait LiveProbes {
    /// Opens `/dev/kvm` and queries the API version.
    fn kvm_open(&self) -> KvmOpen;
    /// The effective user id of this process.
    fn euid(&self) -> u32;
    /// `Some(vendor signature)` if CPUID says the CPU is virtualized (leaf 1 ECX bit 31),
    /// with the signature of leaf `0x4000_0000` (e.g. `"KVMKVMKVM"`, possibly empty);
    /// `None` on bare metal or where CPUID is unavailable.
    fn cpuid_hypervisor(&self) -> Option<String>;
    /// Cgroup directories left by container launchers that were killed
    /// (`container::cgroup::stale`).
    fn stale_cgroups(&self) -> Vec<String>;
    /// One timed migration of a thread into a throwaway cgroup of the v1 hierarchy
    /// mounted at `hierarchy` (`container::cgroup::join_probe`), in microseconds;
    /// `None` where it cannot be done (not root, or the kernel refused).
    fn cgroup_join_us(&self, hierarchy: &Path) -> Option<u64>;
}

/// The probes of the real host: the VMM's `/dev/kvm` check, `geteuid(2)`, the
/// VMM's `cpuid` helper and the container launcher's stale-cgroup scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealProbes;

impl LiveProbes for RealProbes {
    /// The VMM's own step 1 (`hypervisor::kvm::open`): what doctor reports
    /// is what `versus vm run` meets.
    fn kvm_open(&self) -> KvmOpen {
        use hypervisor::kvm::KvmError;
        match hypervisor::kvm::open() {
            Ok(kvm) => KvmOpen::Ok {
                api_version: kvm.get_api_version(),
            },
            Err(KvmError::ApiVersion(api_version)) => KvmOpen::Ok { api_version },
            Err(KvmError::Missing) => KvmOpen::NotFound,
            Err(KvmError::PermissionDenied) => KvmOpen::PermissionDenied,
            Err(other) => KvmOpen::Other(other.to_string()),
        }
    }

    fn euid(&self) -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn cpuid_hypervisor(&self) -> Option<String> {
        hypervisor::cpuid::host_hypervisor_signature()
    }

    fn stale_cgroups(&self) -> Vec<String> {
        container::cgroup::stale::on_this_host()
            .iter()
            .map(|path| path.display().to_string())
            .collect()
    }

    fn cgroup_join_us(&self, hierarchy: &Path) -> Option<u64> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        container::cgroup::join_probe::time_v1_join(hierarchy)
            .ok()
            .map(|took| u64::try_from(took.as_micros()).unwrap_or(u64::MAX))
    }
}

/// The real probes except the timed cgroup join, for the host header of a
/// measurement (`versus compare`): a join moments before the first
/// container's would let that container skip its grace-period wait and
/// make its start-up look cheaper than a lone launch's.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderProbes;

impl LiveProbes for HeaderProbes {
    fn kvm_open(&self) -> KvmOpen {
        RealProbes.kvm_open()
    }

    fn euid(&self) -> u32 {
        RealProbes.euid()
    }

    fn cpuid_hypervisor(&self) -> Option<String> {
        RealProbes.cpuid_hypervisor()
    }

    fn stale_cgroups(&self) -> Vec<String> {
        RealProbes.stale_cgroups()
    }

    fn cgroup_join_us(&self, _hierarchy: &Path) -> Option<u64> {
        None
    }
}

/// The friendly name of a CPUID hypervisor signature (leaf `0x4000_0000`).
pub fn hypervisor_name(signature: &str) -> String {
    let name = match signature.trim() {
        "KVMKVMKVM" => "KVM",
        "Linux KVM Hv" => "KVM (Hyper-V enlightenments)",
        "Microsoft Hv" => "Microsoft Hyper-V",
        "VMwareVMware" => "VMware",
        "XenVMMXenVMM" => "Xen",
        "TCGTCGTCGTCG" => "QEMU (TCG emulation)",
        "VBoxVBoxVBox" => "VirtualBox",
        "lrpepyh  vr" | "prl hyperv" => "Parallels",
        "ACRNACRNACRN" => "ACRN",
        "bhyve bhyve" => "bhyve",
        "QNXQVMBSQG" => "QNX hypervisor",
        "" => "unknown hypervisor",
        other => return format!("unknown hypervisor (signature {other:?})"),
    };
    name.to_owned()
}

/// The outcome of one check. Ordered by severity: info < pass < warn < fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// For information only.
    Info,
    /// Fine for versus.
    Pass,
    /// Works, but affects what the numbers mean, or needs a workaround.
    Warn,
    /// Something versus needs is missing.
    Fail,
}

impl Status {
    /// The symbol used by [`render()`]: ✓ pass, · info, ! warn, ✗ fail.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Info => "·",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }
}

/// One line of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier, e.g. `"kvm.device"`, `"cgroup.memory"`, `"ns.pid"`.
    pub id: String,
    /// Short human title, e.g. `"/dev/kvm present"`.
    pub title: String,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// One concrete line saying how to fix it, when there is something to fix.
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn new(id: &str, title: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What versus found about KVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmInfo {
    /// `/dev/kvm` exists.
    pub device_present: bool,
    /// Opening it (only attempted when present; otherwise [`KvmOpen::NotFound`]).
    pub open: KvmOpen,
    /// The KVM modules under `/sys/module` (`hypervisor::kvm::kvm_modules`).
    pub modules: Vec<String>,
    /// Which of `vmx`, `svm` the CPU flags in `/proc/cpuinfo` show.
    pub cpu_virt_flags: Vec<String>,
    /// The backend, from `hypervisor::kvm::classify`.
    pub backend: KvmBackend,
}

/// Where the controllers versus uses for limits live (`None` = not usable), as the
/// container launcher's [`Layout::locate`] finds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// The memory controller.
    pub memory: Option<Place>,
    /// The pids controller.
    pub pids: Option<Place>,
    /// The cpu controller.
    pub cpu: Option<Place>,
}

impl CgroupLimits {
    /// Where memory, pids and cpu are usable in `layout`.
    pub fn of(layout: &Layout) -> Self {
        Self {
            memory: layout.locate("memory"),
            pids: layout.locate("pids"),
            cpu: layout.locate("cpu"),
        }
    }

    /// `(controller name, place)` for memory, pids, cpu in that order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Option<&Place>)> {
        [
            ("memory", self.memory.as_ref()),
            ("pids", self.pids.as_ref()),
            ("cpu", self.cpu.as_ref()),
        ]
        .into_iter()
    }
}

/// Everything `versus doctor` found, plus the list of checks derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel_release: Option<String>,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// `vendor_id` from `/proc/cpuinfo` (`GenuineIntel`, `AuthenticAMD`).
    pub cpu_vendor: Option<String>,
    /// The `hypervisor` CPU flag is set, or CPUID says so.
    pub host_is_virtual_machine: bool,
    /// The outer hypervisor, if known (e.g. `"KVM"`).
    pub hypervisor_vendor: Option<String>,
    /// KVM device, modules and backend.
    pub kvm: KvmInfo,
    /// The cgroup layout and named v1 hierarchies (`container::host::Scan`).
    pub cgroup: Scan,
    /// Where memory, pids and cpu limits can be set.
    pub cgroup_limits: CgroupLimits,
    /// Which of cgroup ipc mnt net pid time user uts exist under `/proc/self/ns`.
    pub namespaces: Vec<String>,
    /// Unprivileged user namespaces (`container::host::UsernsStatus`, every knob).
    pub unprivileged_userns: UsernsStatus,
    /// Seccomp support (`container::host::SeccompInfo`).
    pub seccomp: SeccompInfo,
    /// Active security modules (`container::host::LsmInfo`).
    pub lsm: LsmInfo,
    /// Effective uid.
    pub euid: u32,
    /// `euid == 0`.
    pub is_root: bool,
    /// Cgroups left behind by container launchers that were killed
    /// (removed by the next `versus container run`).
    #[serde(default)]
    pub stale_cgroups: Vec<String>,
    /// On a cgroup v1 host, as root: how long one migration into a new cgroup took
    /// here (µs), the `cgroup join` step every container launch pays.
    #[serde(default)]
    pub cgroup_join_us: Option<u64>,
    /// Host tools that some features need (busybox, a C compiler).
    #[serde(default)]
    pub tools: Tools,
    /// The checks, in display order.
    pub checks: Vec<Check>,
}

/// Host tools that some features of versus need, and nothing else does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tools {
    /// A busybox on the host, for `versus container run --busybox`.
    pub busybox: Option<Busybox>,
    /// The first C compiler on `PATH` (`cc`, `gcc`, `clang`), for building
    /// static workloads of one's own (`--workload FILE`) and the test
    /// suite's probes.
    pub c_compiler: Option<String>,
    /// A static C library (`libc.a`), without which `cc -static` cannot link.
    pub static_libc: Option<String>,
}

/// A busybox found on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busybox {
    /// Where it is.
    pub path: String,
    /// Statically linked (Debian's `busybox-static`): only such a busybox
    /// works alone inside a container's root filesystem.
    pub statically_linked: bool,
}

/// Where a busybox may be installed.
const BUSYBOX_PATHS: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

/// C compilers, in the order `cc -static` would be tried.
const C_COMPILERS: [&str; 3] = ["cc", "gcc", "clang"];

/// Where distributions install the static C library.
const STATIC_LIBC_PATHS: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/libc.a",
    "/usr/lib64/libc.a",
    "/usr/lib/libc.a",
    "/usr/lib/musl/lib/libc.a",
];

/// The search path when `PATH` is not set.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl Tools {
    /// Looks for the tools in `view`, searching `path` (a `PATH` value) for
    /// the compiler.
    pub fn detect(view: &HostView, path: &str) -> Self {
        let busybox = BUSYBOX_PATHS
            .iter()
            .find(|p| view.path(p).is_file())
            .map(|p| Busybox {
                path: (*p).to_owned(),
                statically_linked: container::rootfs::elf_interpreter(&view.path(p)) == Some(None),
            });
        let c_compiler = C_COMPILERS.iter().find_map(|name| {
            path.split(':')
                .filter(|dir| dir.starts_with('/'))
                .map(|dir| format!("{}/{name}", dir.trim_end_matches('/')))
                .find(|candidate| view.path(candidate).is_file())
        });
        let static_libc = STATIC_LIBC_PATHS
            .iter()
            .find(|p| view.path(p).is_file())
            .map(|p| (*p).to_owned());
        Self {
            busybox,
            c_compiler,
            static_libc,
        }
    }
}

/// How many checks ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// ✓
    pub pass: usize,
    /// ·
    pub info: usize,
    /// !
    pub warn: usize,
    /// ✗
    pub fail: usize,
}

impl DoctorReport {
    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The most severe status of all checks, at least [`Status::Pass`]: use it for the
    /// exit code (fail → non-zero).
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .fold(Status::Pass, Status::max)
    }

    /// Counts per status.
    pub fn counts(&self) -> StatusCounts {
        let mut n = StatusCounts::default();
        for c in &self.checks {
            match c.status {
                Status::Pass => n.pass += 1,
                Status::Info => n.info += 1,
                Status::Warn => n.warn += 1,
                Status::Fail => n.fail += 1,
            }
        }
        n
    }
}

// ---------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------

/// The namespace types versus looks for under `/proc/self/ns`.
pub const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
/// Namespaces that only newer kernels have and containers can do without.
const OPTIONAL_NAMESPACES: [&str; 2] = ["cgroup", "time"];

#[derive(Debug, Default)]
struct CpuInfo {
    model: Option<String>,
    vendor: Option<String>,
    flags: Vec<String>,
}

fn read_cpuinfo(view: &HostView) -> CpuInfo {
    let mut info = CpuInfo::default();
    let Some(text) = view.read("/proc/cpuinfo") else {
        return info;
    };
    let mut have_flags = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "model name" if info.model.is_none() => info.model = Some(value.to_owned()),
            "vendor_id" if info.vendor.is_none() => info.vendor = Some(value.to_owned()),
            "flags" if !have_flags => {
                info.flags = value.split_whitespace().map(str::to_owned).collect();
                have_flags = true;
            }
            _ => {}
        }
    }
    info
}

fn detect_namespaces(view: &HostView) -> Vec<String> {
    let present = view.list_dir("/proc/self/ns");
    NAMESPACES
        .iter()
        .filter(|ns| present.iter().any(|p| p == *ns))
        .map(|ns| (*ns).to_owned())
        .collect()
}

/// Diagnoses the host seen through `view`, with `probes` for the live facts.
///
/// The shared facts come from the crates, with `view.root()` as their root:
/// [`container::host`] and [`hypervisor::kvm`].
pub fn diagnose(view: &HostView, probes: &dyn LiveProbes) -> DoctorReport {
    let root = view.root();
    let kernel_release = view.read_trimmed("/proc/sys/kernel/osrelease");
    let cpu = read_cpuinfo(view);

    let cpuid_sig = probes.cpuid_hypervisor();
    let cpu_virt = CpuVirt::from_flags(&cpu.flags, cpuid_sig.is_some());
    let host_is_virtual_machine = cpu_virt.hypervisor;
    let hypervisor_vendor = match cpuid_sig.as_deref() {
        Some(sig) if !sig.trim().is_empty() => Some(hypervisor_name(sig)),
        _ => view
            .read_trimmed("/sys/hypervisor/type")
            .filter(|t| !t.is_empty())
            .or_else(|| host_is_virtual_machine.then(|| "unknown hypervisor".to_owned())),
    };

    let device_present = view.exists("/dev/kvm");
    let modules = hypervisor::kvm::kvm_modules(root);
    let backend = hypervisor::kvm::classify(device_present, &modules, cpu_virt);
    let open = if device_present {
        probes.kvm_open()
    } else {
        KvmOpen::NotFound
    };

    let cgroup = Scan::detect(root);
    let cgroup_limits = CgroupLimits::of(&cgroup.layout);
    let namespaces = detect_namespaces(view);
    let unprivileged_userns = UsernsStatus::detect(root);
    let seccomp = SeccompInfo::detect(root);
    let lsm = LsmInfo::detect(root);
    let euid = probes.euid();
    // The pids hierarchy: every launch joins it, and nothing else on the host
    // depends on its layout.
    let cgroup_join_us = match cgroup.layout.locate("pids") {
        Some(Place::V1(hierarchy)) => {
            probes.cgroup_join_us(&view.path(&hierarchy.to_string_lossy()))
        }
        _ => None,
    };

    let mut report = DoctorReport {
        kernel_release,
        cpu_model: cpu.model,
        cpu_vendor: cpu.vendor,
        host_is_virtual_machine,
        hypervisor_vendor,
        kvm: KvmInfo {
            device_present,
            open,
            modules,
            cpu_virt_flags: cpu_virt.flag_names(),
            backend,
        },
        cgroup,
        cgroup_limits,
        namespaces,
        unprivileged_userns,
        seccomp,
        lsm,
        euid,
        is_root: euid == 0,
        stale_cgroups: probes.stale_cgroups(),
        cgroup_join_us,
        tools: Tools::detect(
            view,
            &std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned()),
        ),
        checks: Vec::new(),
    };
    report.checks = checks::build(&report, view);
    report
}

#[cfg(test)]
mod tests;
