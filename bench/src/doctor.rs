//! Host diagnosis behind `versus doctor`.
//!
//! Everything that decides how VM and container numbers on this host can be read:
//! which KVM backend serves `/dev/kvm` (hardware, nested, or the software PVM backend),
//! the cgroup layout and where the memory/pids/cpu controllers live, namespaces,
//! unprivileged user namespaces, seccomp, security modules and privileges.
//!
//! Detection reads files through a [`HostView`] (a root prefix), so it runs unchanged
//! against fixture trees in tests; the few facts that cannot come from files (opening
//! `/dev/kvm`, the effective uid, CPUID) come from a [`LiveProbes`] implementation.
//! Nothing here fails: what cannot be determined is reported as unknown, with a detail.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};
use container::mountinfo::is_v1_non_controller_option;
pub use container::mountinfo::{MountInfoEntry, parse_mountinfo};
use serde::{Deserialize, Serialize};

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
}

/// The probes of the real host: the VMM's `/dev/kvm` check, `geteuid(2)`, the
/// `cpuid` instruction and the container launcher's stale-cgroup scan.
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
        cpuid_hypervisor_signature()
    }

    fn stale_cgroups(&self) -> Vec<String> {
        container::cgroup::stale::on_this_host()
            .iter()
            .map(|path| path.display().to_string())
            .collect()
    }
}

/// Executes `cpuid` for `leaf` (sub-leaf 0): `(eax, ebx, ecx, edx)`.
#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // `__cpuid` is `unsafe` before Rust 1.89 and safe afterwards.
fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    // SAFETY: every x86_64 CPU implements CPUID; the intrinsic only executes it.
    let r = unsafe { core::arch::x86_64::__cpuid(leaf) };
    (r.eax, r.ebx, r.ecx, r.edx)
}

#[cfg(target_arch = "x86_64")]
fn cpuid_hypervisor_signature() -> Option<String> {
    let (_, _, ecx, _) = cpuid(1);
    if ecx & (1 << 31) == 0 {
        return None;
    }
    let (_, ebx, ecx, edx) = cpuid(0x4000_0000);
    let mut bytes = Vec::with_capacity(12);
    for reg in [ebx, ecx, edx] {
        bytes.extend_from_slice(&reg.to_le_bytes());
    }
    let sig: String = bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    Some(sig)
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_hypervisor_signature() -> Option<String> {
    None
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

// ---------------------------------------------------------------------------------------
// Report types
// ---------------------------------------------------------------------------------------

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
    /// The symbol used by [`render`]: ✓ pass, · info, ! warn, ✗ fail.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Info => "·",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }

    fn color(self) -> Color {
        match self {
            Status::Pass => Color::Green,
            Status::Info => Color::Blue,
            Status::Warn => Color::Yellow,
            Status::Fail => Color::Red,
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
    fn new(id: &str, title: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// CPU vendor for hardware virtualization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuVendor {
    /// Intel VT-x (`vmx`, `kvm_intel`).
    Intel,
    /// AMD-V (`svm`, `kvm_amd`).
    Amd,
}

impl CpuVendor {
    fn tech(self) -> &'static str {
        match self {
            CpuVendor::Intel => "Intel VT-x",
            CpuVendor::Amd => "AMD-V",
        }
    }
}

/// Which kind of virtualization backs `/dev/kvm`, which decides what VM numbers mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvmBackend {
    /// VT-x/AMD-V on a bare-metal host.
    Hardware {
        /// Whose hardware virtualization.
        vendor: CpuVendor,
    },
    /// VT-x/AMD-V inside a VM (nested virtualization).
    Nested {
        /// Whose hardware virtualization.
        vendor: CpuVendor,
    },
    /// A software backend without VT-x/AMD-V, e.g. `kvm_pvm`.
    Software {
        /// The KVM vendor module, e.g. `"kvm_pvm"`.
        module: String,
    },
    /// `/dev/kvm` exists but no known vendor module is active.
    Unknown {
        /// The KVM modules found under `/sys/module`.
        modules: Vec<String>,
    },
    /// No `/dev/kvm`.
    Unavailable,
}

impl KvmBackend {
    /// What this backend means for the numbers versus reports, in plain language.
    pub fn explanation(&self) -> &'static str {
        match self {
            KvmBackend::Hardware { .. } => {
                "Hardware virtualization (VT-x/AMD-V) on bare metal: guest code, user and \
                 kernel mode, runs natively on the CPU; only exits (port I/O, HLT, some \
                 instructions) pay a trip through KVM. These are the numbers of real KVM."
            }
            KvmBackend::Nested { .. } => {
                "Nested hardware virtualization: this host is itself a VM, so every guest \
                 exit is handled by the outer hypervisor too. Guest code runs natively, but \
                 exit costs (I/O, HLT, VM creation) are inflated, often several times over \
                 bare metal."
            }
            KvmBackend::Software { .. } => {
                "Software KVM (kvm_pvm, a pagetable-based virtual machine without VT-x/AMD-V): \
                 guest user mode runs natively, but guest kernel-mode code is emulated one \
                 instruction at a time (about 1 µs per instruction, ~1000× slower) and \
                 `syscall` does not enter guest ring 0. VM numbers here are NOT those of \
                 hardware virtualization."
            }
            KvmBackend::Unknown { .. } => {
                "/dev/kvm exists but no known KVM vendor module (kvm_intel, kvm_amd, kvm_pvm) \
                 is active: VM numbers cannot be attributed to hardware or software \
                 virtualization."
            }
            KvmBackend::Unavailable => {
                "No /dev/kvm: VM workloads cannot run here; only host and container numbers \
                 are available."
            }
        }
    }

    /// A short label, e.g. `"hardware (Intel VT-x)"`, `"software (kvm_pvm)"`.
    pub fn label(&self) -> String {
        match self {
            KvmBackend::Hardware { vendor } => format!("hardware ({})", vendor.tech()),
            KvmBackend::Nested { vendor } => format!("nested ({} inside a VM)", vendor.tech()),
            KvmBackend::Software { module } => format!("software ({module})"),
            KvmBackend::Unknown { modules } if modules.is_empty() => {
                "unknown (no KVM modules under /sys/module)".to_owned()
            }
            KvmBackend::Unknown { modules } => format!("unknown (modules: {})", modules.join(", ")),
            KvmBackend::Unavailable => "unavailable (no /dev/kvm)".to_owned(),
        }
    }

    /// Whether guest code runs with hardware virtualization (bare metal or nested).
    pub fn is_hardware(&self) -> bool {
        matches!(
            self,
            KvmBackend::Hardware { .. } | KvmBackend::Nested { .. }
        )
    }
}

impl fmt::Display for KvmBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// What versus found about KVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmInfo {
    /// `/dev/kvm` exists.
    pub device_present: bool,
    /// Opening it (only attempted when present; otherwise [`KvmOpen::NotFound`]).
    pub open: KvmOpen,
    /// Which of `kvm`, `kvm_intel`, `kvm_amd`, `kvm_pvm` exist under `/sys/module`.
    pub modules: Vec<String>,
    /// Which of `vmx`, `svm` the CPU flags in `/proc/cpuinfo` show.
    pub cpu_virt_flags: Vec<String>,
    /// The backend deduced from all of the above.
    pub backend: KvmBackend,
}

/// One cgroup v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupHierarchy {
    /// Mount point, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount: String,
    /// Controllers bound to it, e.g. `["cpu", "cpuacct"]`; empty for named hierarchies.
    pub controllers: Vec<String>,
    /// `name=` of a named hierarchy (e.g. `systemd`).
    pub name: Option<String>,
}

/// The cgroup layout, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupLayout {
    /// Unified hierarchy only.
    V2 {
        /// Mount point, normally `/sys/fs/cgroup`.
        mount: String,
        /// From `<mount>/cgroup.controllers`.
        controllers: Vec<String>,
    },
    /// Only v1 hierarchies.
    V1 {
        /// One entry per hierarchy.
        hierarchies: Vec<CgroupHierarchy>,
    },
    /// v1 controller hierarchies plus a cgroup2 mount (systemd's "hybrid").
    Hybrid {
        /// The v1 hierarchies.
        hierarchies: Vec<CgroupHierarchy>,
        /// The cgroup2 mount, e.g. `/sys/fs/cgroup/unified`.
        unified_mount: String,
        /// Controllers offered by the cgroup2 mount.
        unified_controllers: Vec<String>,
    },
    /// No cgroup filesystem mounted.
    None,
}

/// A cgroup version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// Legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// Where a controller can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerPlace {
    /// Which hierarchy type provides it.
    pub version: CgroupVersion,
    /// The mount point of that hierarchy.
    pub mount: String,
}

impl fmt::Display for ControllerPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.version {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        };
        write!(f, "{v} at {}", self.mount)
    }
}

/// Where the controllers versus uses for limits live (`None` = not usable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// The memory controller.
    pub memory: Option<ControllerPlace>,
    /// The pids controller.
    pub pids: Option<ControllerPlace>,
    /// The cpu controller.
    pub cpu: Option<ControllerPlace>,
}

impl CgroupLimits {
    /// `(controller name, place)` for memory, pids, cpu in that order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Option<&ControllerPlace>)> {
        [
            ("memory", self.memory.as_ref()),
            ("pids", self.pids.as_ref()),
            ("cpu", self.cpu.as_ref()),
        ]
        .into_iter()
    }
}

impl CgroupLayout {
    /// Detects the layout from `<root>/proc/self/mountinfo`, reading cgroup2
    /// `cgroup.controllers` files through the view.
    pub fn detect(view: &HostView) -> Self {
        match view.read("/proc/self/mountinfo") {
            Some(text) => Self::from_mounts(&parse_mountinfo(&text), view),
            None => CgroupLayout::None,
        }
    }

    /// Builds the layout from parsed mount entries.
    ///
    /// A later mount on the same mount point hides an earlier one; a hierarchy mounted
    /// twice (same device number) is listed once. cgroup2 plus only *named* v1
    /// hierarchies (no controllers) counts as v2.
    pub fn from_mounts(mounts: &[MountInfoEntry], view: &HostView) -> Self {
        // Keep only visible cgroup mounts: the last mount on each mount point wins.
        let mut visible: Vec<&MountInfoEntry> = Vec::new();
        for m in mounts {
            visible.retain(|v| v.mount_point != m.mount_point);
            visible.push(m);
        }
        visible.retain(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2");

        let mut hierarchies: Vec<CgroupHierarchy> = Vec::new();
        let mut seen_devs: Vec<&str> = Vec::new();
        let mut unified: Vec<&MountInfoEntry> = Vec::new();
        for m in &visible {
            if m.fs_type == "cgroup2" {
                unified.push(m);
                continue;
            }
            if seen_devs.contains(&m.device.as_str()) {
                continue;
            }
            seen_devs.push(&m.device);
            let mut controllers = Vec::new();
            let mut name = None;
            for opt in &m.super_options {
                if let Some(n) = opt.strip_prefix("name=") {
                    name = Some(n.to_owned());
                } else if !is_v1_non_controller_option(opt) {
                    controllers.push(opt.clone());
                }
            }
            hierarchies.push(CgroupHierarchy {
                mount: m.mount_point.clone(),
                controllers,
                name,
            });
        }

        let unified = unified
            .iter()
            .find(|m| m.mount_point == "/sys/fs/cgroup")
            .or_else(|| {
                unified
                    .iter()
                    .find(|m| m.mount_point == "/sys/fs/cgroup/unified")
            })
            .or_else(|| unified.first());
        let has_v1_controllers = hierarchies.iter().any(|h| !h.controllers.is_empty());

        match unified {
            Some(u) => {
                let controllers = read_controllers(view, &u.mount_point);
                if has_v1_controllers {
                    CgroupLayout::Hybrid {
                        hierarchies,
                        unified_mount: u.mount_point.clone(),
                        unified_controllers: controllers,
                    }
                } else {
                    CgroupLayout::V2 {
                        mount: u.mount_point.clone(),
                        controllers,
                    }
                }
            }
            None if hierarchies.is_empty() => CgroupLayout::None,
            None => CgroupLayout::V1 { hierarchies },
        }
    }

    /// Where `controller` can be used: a v1 hierarchy that binds it (preferred in the
    /// hybrid layout, since a controller bound to v1 is absent from v2) or the cgroup2
    /// mount that offers it.
    pub fn locate(&self, controller: &str) -> Option<ControllerPlace> {
        let in_v1 = |hierarchies: &[CgroupHierarchy]| {
            hierarchies
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == controller))
                .map(|h| ControllerPlace {
                    version: CgroupVersion::V1,
                    mount: h.mount.clone(),
                })
        };
        let in_v2 = |mount: &str, controllers: &[String]| {
            controllers
                .iter()
                .any(|c| c == controller)
                .then(|| ControllerPlace {
                    version: CgroupVersion::V2,
                    mount: mount.to_owned(),
                })
        };
        match self {
            CgroupLayout::V2 { mount, controllers } => in_v2(mount, controllers),
            CgroupLayout::V1 { hierarchies } => in_v1(hierarchies),
            CgroupLayout::Hybrid {
                hierarchies,
                unified_mount,
                unified_controllers,
            } => in_v1(hierarchies).or_else(|| in_v2(unified_mount, unified_controllers)),
            CgroupLayout::None => None,
        }
    }

    /// Which of memory, pids and cpu are usable for limits, and where.
    pub fn limits(&self) -> CgroupLimits {
        CgroupLimits {
            memory: self.locate("memory"),
            pids: self.locate("pids"),
            cpu: self.locate("cpu"),
        }
    }

    /// `"v2"`, `"v1"`, `"hybrid"` or `"none"`.
    pub fn label(&self) -> &'static str {
        match self {
            CgroupLayout::V2 { .. } => "v2",
            CgroupLayout::V1 { .. } => "v1",
            CgroupLayout::Hybrid { .. } => "hybrid",
            CgroupLayout::None => "none",
        }
    }
}

fn read_controllers(view: &HostView, mount: &str) -> Vec<String> {
    let file = format!("{}/cgroup.controllers", mount.trim_end_matches('/'));
    view.read(&file)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A knob that can disable unprivileged user namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsKnob {
    /// `/proc/sys/user/max_user_namespaces` = 0 (disables them even for root).
    MaxUserNamespaces,
    /// Debian's `/proc/sys/kernel/unprivileged_userns_clone` = 0.
    DebianUnprivilegedClone,
    /// Ubuntu's `/proc/sys/kernel/apparmor_restrict_unprivileged_userns` = 1.
    UbuntuAppArmorRestrict,
    /// The kernel has no user namespaces at all (no `/proc/self/ns/user`).
    KernelConfig,
}

impl UsernsKnob {
    /// The one-line fix for this knob.
    pub fn fix(self) -> &'static str {
        match self {
            UsernsKnob::MaxUserNamespaces => "sysctl -w user.max_user_namespaces=15000",
            UsernsKnob::DebianUnprivilegedClone => "sysctl -w kernel.unprivileged_userns_clone=1",
            UsernsKnob::UbuntuAppArmorRestrict => {
                "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give versus an AppArmor profile with `userns,`)"
            }
            UsernsKnob::KernelConfig => "use a kernel built with CONFIG_USER_NS=y",
        }
    }
}

/// One reason unprivileged user namespaces are unavailable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernsBlock {
    /// The knob responsible.
    pub knob: UsernsKnob,
    /// What was read, e.g. `"/proc/sys/user/max_user_namespaces = 0"`.
    pub reason: String,
}

/// Whether unprivileged processes can create user namespaces (the rootless path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsStatus {
    /// Allowed.
    Allowed {
        /// `user.max_user_namespaces`, if readable.
        max_user_namespaces: Option<u64>,
    },
    /// Disabled, by every knob listed.
    Disabled {
        /// All the knobs that block them.
        blocks: Vec<UsernsBlock>,
    },
}

/// Seccomp support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompInfo {
    /// The kernel has seccomp (`Seccomp:` line in `/proc/self/status`).
    pub supported: bool,
    /// The kernel has seccomp filters (BPF): `actions_avail` lists actions, or
    /// `Seccomp_filters:` appears in `/proc/self/status`.
    pub filter_supported: bool,
    /// Filter actions from `/proc/sys/kernel/seccomp/actions_avail`.
    pub actions: Vec<String>,
    /// This process's mode: 0 none, 1 strict, 2 filter.
    pub current_mode: Option<u8>,
}

/// AppArmor state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppArmorState {
    /// `/sys/module/apparmor/parameters/enabled` = Y.
    Enabled,
    /// The module is there but disabled.
    Disabled,
    /// Not in the kernel.
    Absent,
}

/// SELinux state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelinuxState {
    /// `/sys/fs/selinux/enforce` = 1.
    Enforcing,
    /// `/sys/fs/selinux/enforce` = 0.
    Permissive,
    /// No selinuxfs: not in the kernel or disabled.
    Absent,
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
    /// The cgroup layout.
    pub cgroup: CgroupLayout,
    /// Where memory, pids and cpu limits can be set.
    pub cgroup_limits: CgroupLimits,
    /// Which of cgroup ipc mnt net pid time user uts exist under `/proc/self/ns`.
    pub namespaces: Vec<String>,
    /// Unprivileged user namespaces.
    pub unprivileged_userns: UsernsStatus,
    /// Seccomp support.
    pub seccomp: SeccompInfo,
    /// Active LSMs from `/sys/kernel/security/lsm`; `None` when unreadable (securityfs
    /// not mounted).
    pub lsm: Option<Vec<String>>,
    /// AppArmor state.
    pub apparmor: AppArmorState,
    /// SELinux state.
    pub selinux: SelinuxState,
    /// Effective uid.
    pub euid: u32,
    /// `euid == 0`.
    pub is_root: bool,
    /// Cgroups left behind by container launchers that were killed
    /// (removed by the next `versus container run`).
    #[serde(default)]
    pub stale_cgroups: Vec<String>,
    /// The checks, in display order.
    pub checks: Vec<Check>,
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

/// The KVM modules versus looks for under `/sys/module`.
pub const KVM_MODULES: [&str; 4] = ["kvm", "kvm_intel", "kvm_amd", "kvm_pvm"];
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

fn detect_backend(
    device_present: bool,
    modules: &[String],
    flags: &[String],
    host_is_vm: bool,
) -> KvmBackend {
    if !device_present {
        return KvmBackend::Unavailable;
    }
    let has_module = |m: &str| modules.iter().any(|x| x == m);
    let has_flag = |f: &str| flags.iter().any(|x| x == f);
    // PVM first: its module only exists where it was deliberately loaded (or built in);
    // hardware vendor modules may be built in (and listed under /sys/module) but idle.
    if has_module("kvm_pvm") {
        return KvmBackend::Software {
            module: "kvm_pvm".to_owned(),
        };
    }
    let vendor = if has_module("kvm_intel") && has_flag("vmx") {
        Some(CpuVendor::Intel)
    } else if has_module("kvm_amd") && has_flag("svm") {
        Some(CpuVendor::Amd)
    } else {
        None
    };
    match vendor {
        Some(vendor) if host_is_vm => KvmBackend::Nested { vendor },
        Some(vendor) => KvmBackend::Hardware { vendor },
        None => KvmBackend::Unknown {
            modules: modules.to_vec(),
        },
    }
}

fn detect_namespaces(view: &HostView) -> Vec<String> {
    let present = view.list_dir("/proc/self/ns");
    NAMESPACES
        .iter()
        .filter(|ns| present.iter().any(|p| p == *ns))
        .map(|ns| (*ns).to_owned())
        .collect()
}

fn detect_userns(view: &HostView, namespaces: &[String]) -> UsernsStatus {
    let mut blocks = Vec::new();
    if !namespaces.is_empty() && !namespaces.iter().any(|n| n == "user") {
        blocks.push(UsernsBlock {
            knob: UsernsKnob::KernelConfig,
            reason: "no /proc/self/ns/user: the kernel has no user namespaces".to_owned(),
        });
    }
    let max = view
        .read_trimmed("/proc/sys/user/max_user_namespaces")
        .and_then(|s| s.parse::<u64>().ok());
    if max == Some(0) {
        blocks.push(UsernsBlock {
            knob: UsernsKnob::MaxUserNamespaces,
            reason: "user.max_user_namespaces = 0".to_owned(),
        });
    }
    if view
        .read_trimmed("/proc/sys/kernel/unprivileged_userns_clone")
        .as_deref()
        == Some("0")
    {
        blocks.push(UsernsBlock {
            knob: UsernsKnob::DebianUnprivilegedClone,
            reason: "kernel.unprivileged_userns_clone = 0 (Debian)".to_owned(),
        });
    }
    if view
        .read_trimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        .as_deref()
        == Some("1")
    {
        blocks.push(UsernsBlock {
            knob: UsernsKnob::UbuntuAppArmorRestrict,
            reason: "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu)".to_owned(),
        });
    }
    if blocks.is_empty() {
        UsernsStatus::Allowed {
            max_user_namespaces: max,
        }
    } else {
        UsernsStatus::Disabled { blocks }
    }
}

fn detect_seccomp(view: &HostView) -> SeccompInfo {
    let status = view.read("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        })
    };
    let mode = field("Seccomp");
    let filters_line = field("Seccomp_filters").is_some();
    let actions: Vec<String> = view
        .read("/proc/sys/kernel/seccomp/actions_avail")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let current_mode = mode.as_deref().and_then(|m| m.parse::<u8>().ok());
    SeccompInfo {
        supported: mode.is_some(),
        filter_supported: !actions.is_empty() || filters_line || current_mode == Some(2),
        actions,
        current_mode,
    }
}

fn detect_apparmor(view: &HostView, lsm: Option<&[String]>) -> AppArmorState {
    match view
        .read_trimmed("/sys/module/apparmor/parameters/enabled")
        .as_deref()
    {
        Some("Y") | Some("y") | Some("1") => AppArmorState::Enabled,
        Some(_) => AppArmorState::Disabled,
        None if lsm.is_some_and(|l| l.iter().any(|m| m == "apparmor")) => AppArmorState::Enabled,
        None => AppArmorState::Absent,
    }
}

fn detect_selinux(view: &HostView) -> SelinuxState {
    match view.read_trimmed("/sys/fs/selinux/enforce").as_deref() {
        Some("1") => SelinuxState::Enforcing,
        Some("0") => SelinuxState::Permissive,
        _ => SelinuxState::Absent,
    }
}

/// Diagnoses the host seen through `view`, with `probes` for the live facts.
pub fn diagnose(view: &HostView, probes: &dyn LiveProbes) -> DoctorReport {
    let kernel_release = view.read_trimmed("/proc/sys/kernel/osrelease");
    let cpu = read_cpuinfo(view);

    let cpuid_sig = probes.cpuid_hypervisor();
    let flag_hv = cpu.flags.iter().any(|f| f == "hypervisor");
    let host_is_virtual_machine = flag_hv || cpuid_sig.is_some();
    let hypervisor_vendor = match cpuid_sig.as_deref() {
        Some(sig) if !sig.trim().is_empty() => Some(hypervisor_name(sig)),
        _ => view
            .read_trimmed("/sys/hypervisor/type")
            .filter(|t| !t.is_empty())
            .or_else(|| host_is_virtual_machine.then(|| "unknown hypervisor".to_owned())),
    };

    let device_present = view.exists("/dev/kvm");
    let modules: Vec<String> = KVM_MODULES
        .iter()
        .filter(|m| view.exists(&format!("/sys/module/{m}")))
        .map(|m| (*m).to_owned())
        .collect();
    let cpu_virt_flags: Vec<String> = ["vmx", "svm"]
        .iter()
        .filter(|f| cpu.flags.iter().any(|x| x == *f))
        .map(|f| (*f).to_owned())
        .collect();
    let backend = detect_backend(
        device_present,
        &modules,
        &cpu.flags,
        host_is_virtual_machine,
    );
    let open = if device_present {
        probes.kvm_open()
    } else {
        KvmOpen::NotFound
    };

    let cgroup = CgroupLayout::detect(view);
    let cgroup_limits = cgroup.limits();
    let namespaces = detect_namespaces(view);
    let unprivileged_userns = detect_userns(view, &namespaces);
    let seccomp = detect_seccomp(view);
    let lsm = view.read_trimmed("/sys/kernel/security/lsm").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let apparmor = detect_apparmor(view, lsm.as_deref());
    let selinux = detect_selinux(view);
    let euid = probes.euid();

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
            cpu_virt_flags,
            backend,
        },
        cgroup,
        cgroup_limits,
        namespaces,
        unprivileged_userns,
        seccomp,
        lsm,
        apparmor,
        selinux,
        euid,
        is_root: euid == 0,
        stale_cgroups: probes.stale_cgroups(),
        checks: Vec::new(),
    };
    report.checks = build_checks(&report, view);
    report
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn modprobe_fix(report: &DoctorReport) -> String {
    let module = match report.cpu_vendor.as_deref() {
        Some("AuthenticAMD") | Some("HygonGenuine") => "`modprobe kvm_amd`",
        Some("GenuineIntel") => "`modprobe kvm_intel`",
        _ => "`modprobe kvm_intel` (or kvm_amd)",
    };
    if report.host_is_virtual_machine {
        format!(
            "load the module: {module}; this host is a VM, so enable nested virtualization in the outer hypervisor"
        )
    } else {
        format!("load the module: {module}; if it fails, enable VT-x/AMD-V in the firmware")
    }
}

fn build_checks(r: &DoctorReport, view: &HostView) -> Vec<Check> {
    let mut checks = Vec::new();

    // Host.
    checks.push(Check::new(
        "host.kernel",
        "Kernel",
        Status::Info,
        r.kernel_release
            .clone()
            .unwrap_or_else(|| "unknown (no /proc/sys/kernel/osrelease)".to_owned()),
    ));
    checks.push(Check::new(
        "host.cpu",
        "CPU",
        Status::Info,
        match (&r.cpu_model, &r.cpu_vendor) {
            (Some(m), _) => m.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => "unknown (no model name in /proc/cpuinfo)".to_owned(),
        },
    ));
    checks.push(if r.host_is_virtual_machine {
        Check::new(
            "host.virtual",
            "Host machine",
            Status::Warn,
            format!(
                "virtual machine ({}): host, container and VM timings include the outer hypervisor",
                r.hypervisor_vendor
                    .as_deref()
                    .unwrap_or("unknown hypervisor")
            ),
        )
        .with_fix(
            "for bare-metal numbers run on a physical host; compare figures only within one run",
        )
    } else {
        Check::new("host.virtual", "Host machine", Status::Info, "bare metal")
    });

    // KVM.
    let kvm = &r.kvm;
    checks.push(if kvm.device_present {
        Check::new("kvm.device", "/dev/kvm present", Status::Pass, "yes")
    } else {
        Check::new(
            "kvm.device",
            "/dev/kvm present",
            Status::Fail,
            format!(
                "no /dev/kvm (CPU flags: {}; modules: {})",
                or_none(&kvm.cpu_virt_flags),
                or_none(&kvm.modules)
            ),
        )
        .with_fix(modprobe_fix(r))
    });
    checks.push(match &kvm.open {
        _ if !kvm.device_present => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "not attempted: no /dev/kvm",
        )
        .with_fix(modprobe_fix(r)),
        KvmOpen::Ok { api_version: 12 } => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Pass,
            "opened read-write; KVM API version 12",
        ),
        KvmOpen::Ok { api_version } => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("KVM API version {api_version}, versus needs 12"),
        )
        .with_fix("use a kernel with the stable KVM API (any Linux since 2.6.22 reports 12)"),
        KvmOpen::PermissionDenied if r.is_root => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "permission denied even as root (device cgroup, LSM or container policy)",
        )
        .with_fix("allow the device: pass `--device /dev/kvm` to the container, or check `dmesg` for LSM denials"),
        KvmOpen::PermissionDenied => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("permission denied for uid {}", r.euid),
        )
        .with_fix("run as root or add your user to the `kvm` group: `sudo usermod -aG kvm $USER` (then log in again)"),
        KvmOpen::NotFound => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            "open failed: no such file",
        )
        .with_fix(modprobe_fix(r)),
        KvmOpen::Other(e) => Check::new(
            "kvm.open",
            "/dev/kvm openable",
            Status::Fail,
            format!("open failed: {e}"),
        )
        .with_fix("check `dmesg | grep -i kvm` and that a KVM vendor module is loaded"),
    });
    let backend_detail = format!("{}. {}", kvm.backend.label(), kvm.backend.explanation());
    checks.push(match &kvm.backend {
        KvmBackend::Hardware { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Pass, backend_detail)
        }
        KvmBackend::Nested { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail)
                .with_fix("for bare-metal exit costs run on a physical host with VT-x/AMD-V")
        }
        KvmBackend::Software { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail)
                .with_fix("for hardware-virtualization numbers run on a host whose /proc/cpuinfo flags show vmx or svm")
        }
        KvmBackend::Unknown { .. } => {
            Check::new("kvm.backend", "KVM backend", Status::Warn, backend_detail).with_fix(
                "check `lsmod | grep kvm`; load the vendor module (`modprobe kvm_intel` or `kvm_amd`)",
            )
        }
        KvmBackend::Unavailable => {
            Check::new("kvm.backend", "KVM backend", Status::Fail, backend_detail)
                .with_fix(modprobe_fix(r))
        }
    });

    // cgroups.
    checks.push(cgroup_layout_check(r, view));
    checks.push(stale_cgroups_check(r));
    for (name, place) in r.cgroup_limits.iter() {
        let id = format!("cgroup.{name}");
        let title = format!("cgroup {name} controller");
        checks.push(match place {
            Some(p) => Check::new(&id, &title, Status::Pass, p.to_string()),
            None => {
                let fix = match &r.cgroup {
                    CgroupLayout::V2 { mount, .. } => format!(
                        "the kernel does not offer it at {mount}: boot with `cgroup_enable={name}` or use a kernel with the controller"
                    ),
                    CgroupLayout::None => cgroup_mount_fix().to_owned(),
                    CgroupLayout::V1 { .. } | CgroupLayout::Hybrid { .. } => format!(
                        "mount it: `mkdir -p /sys/fs/cgroup/{name} && mount -t cgroup -o {name} cgroup /sys/fs/cgroup/{name}`"
                    ),
                };
                Check::new(&id, &title, Status::Fail, "not available").with_fix(fix)
            }
        });
    }

    // Namespaces.
    for ns in NAMESPACES {
        let id = format!("ns.{ns}");
        let title = format!("{ns} namespace");
        let present = r.namespaces.iter().any(|n| n == ns);
        checks.push(if present {
            Check::new(&id, &title, Status::Pass, format!("/proc/self/ns/{ns}"))
        } else {
            let status = if OPTIONAL_NAMESPACES.contains(&ns) {
                Status::Warn
            } else {
                Status::Fail
            };
            let config = match ns {
                "mnt" => "CONFIG_NAMESPACES".to_owned(),
                other => format!("CONFIG_{}_NS", other.to_uppercase()),
            };
            Check::new(&id, &title, status, format!("no /proc/self/ns/{ns}"))
                .with_fix(format!("use a kernel built with {config}=y"))
        });
    }

    // Unprivileged user namespaces.
    checks.push(match &r.unprivileged_userns {
        UsernsStatus::Allowed {
            max_user_namespaces,
        } => Check::new(
            "userns.unprivileged",
            "Unprivileged user namespaces",
            Status::Pass,
            match max_user_namespaces {
                Some(n) => format!("allowed (user.max_user_namespaces = {n})"),
                None => "allowed".to_owned(),
            },
        ),
        UsernsStatus::Disabled { blocks } => {
            let reasons: Vec<&str> = blocks.iter().map(|b| b.reason.as_str()).collect();
            let fixes: Vec<&str> = blocks.iter().map(|b| b.knob.fix()).collect();
            Check::new(
                "userns.unprivileged",
                "Unprivileged user namespaces",
                if r.is_root {
                    Status::Warn
                } else {
                    Status::Fail
                },
                format!(
                    "disabled: {} (the rootless path cannot work)",
                    reasons.join("; ")
                ),
            )
            .with_fix(fixes.join("; "))
        }
    });

    // Seccomp.
    let sc = &r.seccomp;
    let actions = if sc.actions.is_empty() {
        "actions unknown".to_owned()
    } else {
        format!("actions: {}", sc.actions.join(" "))
    };
    checks.push(if !sc.supported {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Fail,
            "no Seccomp line in /proc/self/status: kernel without seccomp",
        )
        .with_fix("use a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y")
    } else if !sc.filter_supported {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Warn,
            "seccomp present, but no sign of filter (BPF) support",
        )
        .with_fix("use a kernel built with CONFIG_SECCOMP_FILTER=y (4.14+ for actions_avail)")
    } else if sc.current_mode == Some(2) {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Warn,
            format!("supported ({actions}); versus itself runs under a filter, so host syscalls pay for it"),
        )
        .with_fix("run versus outside the sandbox that installs the filter for clean host baselines")
    } else {
        Check::new(
            "seccomp",
            "seccomp filters",
            Status::Pass,
            format!("supported ({actions})"),
        )
    });

    // LSMs.
    checks.push(lsm_check(r));

    // Privileges.
    checks.push(if r.is_root {
        Check::new("user.root", "Running as root", Status::Pass, "euid 0")
    } else {
        Check::new(
            "user.root",
            "Running as root",
            Status::Warn,
            format!(
                "euid {}: container launches need root or the rootless path (user namespaces)",
                r.euid
            ),
        )
        .with_fix("run `sudo versus …`, or make sure unprivileged user namespaces are allowed")
    });

    checks
}

fn cgroup_mount_fix() -> &'static str {
    "mount cgroup v2: `mount -t cgroup2 none /sys/fs/cgroup`"
}

fn cgroup_layout_check(r: &DoctorReport, view: &HostView) -> Check {
    const ID: &str = "cgroup.layout";
    const TITLE: &str = "cgroup layout";
    let hier_list = |hs: &[CgroupHierarchy]| {
        hs.iter()
            .map(|h| match (&h.name, h.controllers.is_empty()) {
                (Some(n), true) => format!("name={n}"),
                _ => h.controllers.join(","),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    match &r.cgroup {
        CgroupLayout::V2 { mount, controllers } => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!("v2 at {mount} (controllers: {})", or_none(controllers)),
        ),
        CgroupLayout::V1 { hierarchies } => Check::new(
            ID,
            TITLE,
            Status::Pass,
            format!(
                "v1, {} hierarchies ({})",
                hierarchies.len(),
                hier_list(hierarchies)
            ),
        ),
        CgroupLayout::Hybrid {
            hierarchies,
            unified_mount,
            unified_controllers,
        } => Check::new(
            ID,
            TITLE,
            Status::Warn,
            format!(
                "hybrid: v1 ({}) plus cgroup2 at {unified_mount} (controllers: {})",
                hier_list(hierarchies),
                or_none(unified_controllers)
            ),
        )
        .with_fix(format!(
            "runc works as is; crun refuses this layout: run it inside `unshare --mount --propagation private` after `umount {unified_mount}`"
        )),
        CgroupLayout::None => Check::new(
            ID,
            TITLE,
            Status::Fail,
            if view.exists("/proc/self/mountinfo") {
                "no cgroup or cgroup2 mount in /proc/self/mountinfo"
            } else {
                "cannot read /proc/self/mountinfo (is /proc mounted?)"
            },
        )
        .with_fix(cgroup_mount_fix()),
    }
}

fn stale_cgroups_check(r: &DoctorReport) -> Check {
    const ID: &str = "cgroup.stale";
    const TITLE: &str = "leftover container cgroups";
    match r.stale_cgroups.as_slice() {
        [] => Check::new(ID, TITLE, Status::Pass, "none"),
        stale => Check::new(
            ID,
            TITLE,
            Status::Warn,
            format!(
                "{} left by launchers that were killed: {}",
                stale.len(),
                stale.join(" ")
            ),
        )
        .with_fix(
            "the next `versus container run` removes them (as root); or `rmdir` each directory",
        ),
    }
}

fn lsm_check(r: &DoctorReport) -> Check {
    const ID: &str = "lsm";
    const TITLE: &str = "Security modules (LSM)";
    let list = match &r.lsm {
        Some(l) if !l.is_empty() => l.join(","),
        Some(_) => "none".to_owned(),
        None => "list unknown (securityfs not mounted at /sys/kernel/security)".to_owned(),
    };
    let apparmor = match r.apparmor {
        AppArmorState::Enabled => "enabled",
        AppArmorState::Disabled => "disabled",
        AppArmorState::Absent => "absent",
    };
    let selinux = match r.selinux {
        SelinuxState::Enforcing => "enforcing",
        SelinuxState::Permissive => "permissive",
        SelinuxState::Absent => "absent",
    };
    let detail = format!("{list}; AppArmor {apparmor}; SELinux {selinux}");
    if r.selinux == SelinuxState::Enforcing {
        Check::new(ID, TITLE, Status::Warn, detail).with_fix(
            "if launches fail with EACCES, look for denials: `ausearch -m avc -ts recent` (to test: `setenforce 0`)",
        )
    } else {
        Check::new(ID, TITLE, Status::Info, detail)
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(" ")
    }
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// Renders the report as a table (✓ pass, ✗ fail, ! warn, · info) with a "fix" column,
/// followed by what the KVM backend means and a summary line. `color` adds ANSI colors.
///
/// On a terminal the table wraps to the terminal's width, otherwise to
/// [`RENDER_WIDTH`] columns.
pub fn render(report: &DoctorReport, color: bool) -> String {
    render_with_width(report, color, None)
}

/// The width [`render`] wraps to when stdout is not a terminal.
pub const RENDER_WIDTH: u16 = 140;

/// [`render`] with an explicit table width (`None`: the terminal's, or [`RENDER_WIDTH`]).
pub fn render_with_width(report: &DoctorReport, color: bool, width: Option<u16>) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    match width {
        Some(w) => {
            table.force_no_tty().set_width(w);
        }
        None if table.width().is_none() => {
            table.set_width(RENDER_WIDTH);
        }
        None => {}
    }
    if color {
        table.enforce_styling();
    }
    table.set_header(vec!["", "check", "result", "fix"]);
    for c in &report.checks {
        let mut sym = Cell::new(c.status.symbol());
        let mut fix = Cell::new(c.fix.as_deref().unwrap_or(""));
        if color {
            sym = sym.fg(c.status.color());
            if c.status >= Status::Warn {
                fix = fix.fg(c.status.color());
            }
        }
        // The backend's explanation is long: it is printed in full below the table.
        let detail = if c.id == "kvm.backend" {
            format!("{}; see below", report.kvm.backend.label())
        } else {
            c.detail.clone()
        };
        table.add_row(vec![sym, Cell::new(&c.title), Cell::new(detail), fix]);
    }
    for i in 0..2 {
        if let Some(col) = table.column_mut(i) {
            col.set_constraint(ColumnConstraint::ContentWidth);
        }
    }

    let counts = report.counts();
    let mut out = String::new();
    out.push_str("versus doctor\n");
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(&format!("KVM backend: {}\n", report.kvm.backend.label()));
    for line in crate::fmt::wrap(report.kvm.backend.explanation(), 88) {
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "{} passed, {} warnings, {} failed, {} info   (✓ pass  ! warn  ✗ fail  · info)\n",
        counts.pass, counts.warn, counts.fail, counts.info
    ));
    out
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// A fixture host tree in a temporary directory.
    struct Fixture {
        dir: TempDir,
    }

    impl Fixture {
        fn empty() -> Self {
            Self {
                dir: tempfile::tempdir().expect("tempdir"),
            }
        }

        /// Writes `contents` at the host path `rel` (leading `/` optional).
        fn file(&self, rel: &str, contents: &str) -> &Self {
            let p = self.dir.path().join(rel.trim_start_matches('/'));
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(&p, contents).expect("write");
            self
        }

        fn dir(&self, rel: &str) -> &Self {
            fs::create_dir_all(self.dir.path().join(rel.trim_start_matches('/'))).expect("mkdir");
            self
        }

        fn remove(&self, rel: &str) -> &Self {
            let p = self.dir.path().join(rel.trim_start_matches('/'));
            if p.is_dir() {
                fs::remove_dir_all(p).expect("rmdir");
            } else {
                fs::remove_file(p).expect("rm");
            }
            self
        }

        fn modules(&self, mods: &[&str]) -> &Self {
            for m in mods {
                self.dir(&format!("/sys/module/{m}/parameters"));
            }
            self
        }

        fn mountinfo(&self, text: &str) -> &Self {
            self.file("/proc/self/mountinfo", text)
        }

        fn view(&self) -> HostView {
            HostView::at(self.dir.path())
        }

        /// A sane host: Intel CPU with `flags`, all namespaces, cgroup v2 with
        /// memory/pids/cpu, userns allowed, seccomp filters, no LSM files.
        fn host(flags: &str) -> Self {
            let f = Self::empty();
            f.file("/proc/sys/kernel/osrelease", "6.1.0-test\n")
                .file(
                    "/proc/cpuinfo",
                    &format!(
                        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\nflags\t\t: {flags}\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\nflags\t\t: {flags}\n"
                    ),
                )
                .mountinfo(V2_MOUNTINFO)
                .file(
                    "/sys/fs/cgroup/cgroup.controllers",
                    "cpuset cpu io memory hugetlb pids rdma misc\n",
                )
                .file("/proc/sys/user/max_user_namespaces", "63482\n")
                .file(
                    "/proc/self/status",
                    "Name:\tversus\nSeccomp:\t0\nSeccomp_filters:\t0\n",
                )
                .file(
                    "/proc/sys/kernel/seccomp/actions_avail",
                    "kill_process kill_thread trap errno user_notif trace log allow\n",
                );
            for ns in NAMESPACES {
                f.file(&format!("/proc/self/ns/{ns}"), "");
            }
            f
        }

        fn with_kvm(self, mods: &[&str]) -> Self {
            self.file("/dev/kvm", "").modules(mods);
            self
        }
    }

    const BASE_FLAGS: &str = "fpu vme de pse tsc msr pae cx8 apic sep lm nx";
    const V2_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
    /// The machine versus is developed on: v1 controllers + cgroup2 with only hugetlb.
    const HYBRID_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const V1_MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/sda1 rw
25 23 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,pids
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
32 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
";

    #[derive(Debug, Clone)]
    struct FakeProbes {
        kvm: KvmOpen,
        euid: u32,
        hypervisor: Option<String>,
        stale: Vec<String>,
    }

    impl FakeProbes {
        fn root() -> Self {
            Self {
                kvm: KvmOpen::Ok { api_version: 12 },
                euid: 0,
                hypervisor: None,
                stale: Vec::new(),
            }
        }

        fn in_vm(sig: &str) -> Self {
            Self {
                hypervisor: Some(sig.to_owned()),
                ..Self::root()
            }
        }
    }

    impl LiveProbes for FakeProbes {
        fn kvm_open(&self) -> KvmOpen {
            self.kvm.clone()
        }
        fn euid(&self) -> u32 {
            self.euid
        }
        fn cpuid_hypervisor(&self) -> Option<String> {
            self.hypervisor.clone()
        }
        fn stale_cgroups(&self) -> Vec<String> {
            self.stale.clone()
        }
    }

    fn status_of(r: &DoctorReport, id: &str) -> Status {
        r.check(id)
            .unwrap_or_else(|| panic!("no check {id}"))
            .status
    }

    fn fix_of<'a>(r: &'a DoctorReport, id: &str) -> &'a str {
        r.check(id)
            .unwrap_or_else(|| panic!("no check {id}"))
            .fix
            .as_deref()
            .unwrap_or_else(|| panic!("check {id} has no fix"))
    }

    // --- KVM backends ---------------------------------------------------------------

    #[test]
    fn hardware_intel() {
        let f = Fixture::host(&format!("{BASE_FLAGS} vmx ept")).with_kvm(&["kvm", "kvm_intel"]);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Hardware {
                vendor: CpuVendor::Intel
            }
        );
        assert!(!r.host_is_virtual_machine);
        assert_eq!(r.hypervisor_vendor, None);
        assert_eq!(r.kvm.modules, ["kvm", "kvm_intel"]);
        assert_eq!(r.kvm.cpu_virt_flags, ["vmx"]);
        assert_eq!(r.kvm.open, KvmOpen::Ok { api_version: 12 });
        assert_eq!(status_of(&r, "kvm.device"), Status::Pass);
        assert_eq!(status_of(&r, "kvm.open"), Status::Pass);
        assert_eq!(status_of(&r, "kvm.backend"), Status::Pass);
        assert_eq!(status_of(&r, "host.virtual"), Status::Info);
        assert_eq!(r.kernel_release.as_deref(), Some("6.1.0-test"));
        assert_eq!(r.cpu_model.as_deref(), Some("Test CPU @ 2.0GHz"));
        assert_eq!(r.cpu_vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!(r.worst(), Status::Pass);
        assert!(r.kvm.backend.explanation().contains("natively"));
    }

    #[test]
    fn hardware_amd() {
        let f = Fixture::host(&format!("{BASE_FLAGS} svm npt")).with_kvm(&["kvm", "kvm_amd"]);
        f.file(
            "/proc/cpuinfo",
            &format!("vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: {BASE_FLAGS} svm npt\n"),
        );
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Hardware {
                vendor: CpuVendor::Amd
            }
        );
        assert_eq!(r.kvm.cpu_virt_flags, ["svm"]);
        assert_eq!(r.cpu_model.as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(status_of(&r, "kvm.backend"), Status::Pass);
        assert_eq!(r.kvm.backend.label(), "hardware (AMD-V)");
    }

    #[test]
    fn builtin_vendor_module_without_cpu_flag_is_not_hardware() {
        // kvm_intel built in (listed under /sys/module) on a CPU without vmx.
        let f = Fixture::host(BASE_FLAGS).with_kvm(&["kvm", "kvm_intel"]);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Unknown {
                modules: vec!["kvm".into(), "kvm_intel".into()]
            }
        );
        assert_eq!(status_of(&r, "kvm.backend"), Status::Warn);
        assert!(fix_of(&r, "kvm.backend").contains("lsmod"));
    }

    #[test]
    fn nested_from_cpu_flag() {
        let f =
            Fixture::host(&format!("{BASE_FLAGS} vmx hypervisor")).with_kvm(&["kvm", "kvm_intel"]);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert!(r.host_is_virtual_machine);
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Nested {
                vendor: CpuVendor::Intel
            }
        );
        assert_eq!(status_of(&r, "kvm.backend"), Status::Warn);
        assert_eq!(status_of(&r, "host.virtual"), Status::Warn);
        let detail = &r.check("kvm.backend").unwrap().detail;
        assert!(detail.contains("outer hypervisor"), "{detail}");
        assert!(r.check("kvm.backend").unwrap().fix.is_some());
    }

    #[test]
    fn nested_from_cpuid_probe_only() {
        // No `hypervisor` flag in cpuinfo, but CPUID says Hyper-V.
        let f = Fixture::host(&format!("{BASE_FLAGS} svm")).with_kvm(&["kvm", "kvm_amd"]);
        let r = diagnose(&f.view(), &FakeProbes::in_vm("Microsoft Hv"));
        assert!(r.host_is_virtual_machine);
        assert_eq!(r.hypervisor_vendor.as_deref(), Some("Microsoft Hyper-V"));
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Nested {
                vendor: CpuVendor::Amd
            }
        );
        assert!(r.check("host.virtual").unwrap().detail.contains("Hyper-V"));
    }

    #[test]
    fn pvm_like_the_development_machine() {
        let f =
            Fixture::host(&format!("{BASE_FLAGS} hypervisor avx2")).with_kvm(&["kvm", "kvm_pvm"]);
        f.mountinfo(HYBRID_MOUNTINFO)
            .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
        let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Software {
                module: "kvm_pvm".into()
            }
        );
        assert!(r.kvm.cpu_virt_flags.is_empty());
        assert_eq!(r.kvm.modules, ["kvm", "kvm_pvm"]);
        assert!(r.host_is_virtual_machine);
        assert_eq!(r.hypervisor_vendor.as_deref(), Some("KVM"));
        let c = r.check("kvm.backend").unwrap();
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("emulated"), "{}", c.detail);
        assert!(c.detail.contains("NOT those of hardware virtualization"));
        assert!(c.fix.as_deref().unwrap().contains("vmx or svm"));
        assert_eq!(status_of(&r, "kvm.open"), Status::Pass);
        assert!(!r.kvm.backend.is_hardware());
        assert_eq!(r.kvm.backend.label(), "software (kvm_pvm)");
    }

    #[test]
    fn no_dev_kvm() {
        let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor"));
        f.modules(&["kvm"]);
        // Probe would succeed, but the view has no /dev/kvm: the view wins.
        let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
        assert!(!r.kvm.device_present);
        assert_eq!(r.kvm.backend, KvmBackend::Unavailable);
        assert_eq!(r.kvm.open, KvmOpen::NotFound);
        assert_eq!(status_of(&r, "kvm.device"), Status::Fail);
        assert_eq!(status_of(&r, "kvm.open"), Status::Fail);
        assert_eq!(status_of(&r, "kvm.backend"), Status::Fail);
        let fix = fix_of(&r, "kvm.device");
        assert!(fix.contains("modprobe kvm_intel"), "{fix}");
        assert!(fix.contains("nested virtualization"), "{fix}");
        assert_eq!(r.worst(), Status::Fail);
    }

    #[test]
    fn no_dev_kvm_bare_metal_amd_fix() {
        let f = Fixture::host(BASE_FLAGS);
        f.file(
            "/proc/cpuinfo",
            &format!("vendor_id\t: AuthenticAMD\nflags\t\t: {BASE_FLAGS}\n"),
        );
        let r = diagnose(&f.view(), &FakeProbes::root());
        let fix = fix_of(&r, "kvm.device");
        assert!(fix.contains("modprobe kvm_amd"), "{fix}");
        assert!(fix.contains("firmware"), "{fix}");
        // No model name: the CPU check falls back to the vendor.
        assert_eq!(r.check("host.cpu").unwrap().detail, "AuthenticAMD");
    }

    #[test]
    fn stale_cgroups_are_a_warning_that_says_what_removes_them() {
        let f = Fixture::host(BASE_FLAGS);
        let clean = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(status_of(&clean, "cgroup.stale"), Status::Pass);
        let probes = FakeProbes {
            stale: vec!["/sys/fs/cgroup/pids/versus/run-4242-17-0".into()],
            ..FakeProbes::root()
        };
        let r = diagnose(&f.view(), &probes);
        assert_eq!(status_of(&r, "cgroup.stale"), Status::Warn);
        assert!(
            r.check("cgroup.stale")
                .unwrap()
                .detail
                .contains("run-4242-17-0")
        );
        assert!(fix_of(&r, "cgroup.stale").contains("versus container run"));
    }

    #[test]
    fn kvm_permission_denied() {
        let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
        let probes = FakeProbes {
            kvm: KvmOpen::PermissionDenied,
            euid: 1000,
            hypervisor: None,
            stale: Vec::new(),
        };
        let r = diagnose(&f.view(), &probes);
        assert!(r.kvm.device_present);
        assert_eq!(r.kvm.open, KvmOpen::PermissionDenied);
        assert_eq!(status_of(&r, "kvm.device"), Status::Pass);
        assert_eq!(status_of(&r, "kvm.open"), Status::Fail);
        assert!(fix_of(&r, "kvm.open").contains("sudo usermod -aG kvm $USER"));
        // Backend still identified from modules and flags.
        assert_eq!(
            r.kvm.backend,
            KvmBackend::Hardware {
                vendor: CpuVendor::Intel
            }
        );
        // Not root: warned, with the rootless hint.
        assert!(!r.is_root);
        assert_eq!(status_of(&r, "user.root"), Status::Warn);
        assert!(
            r.check("user.root")
                .unwrap()
                .detail
                .contains("container launches need root or the rootless path (user namespaces)")
        );
    }

    #[test]
    fn kvm_permission_denied_as_root_points_at_policy() {
        let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
        let probes = FakeProbes {
            kvm: KvmOpen::PermissionDenied,
            ..FakeProbes::root()
        };
        let r = diagnose(&f.view(), &probes);
        assert!(fix_of(&r, "kvm.open").contains("--device /dev/kvm"));
    }

    #[test]
    fn kvm_wrong_api_version_fails() {
        let f = Fixture::host(&format!("{BASE_FLAGS} vmx")).with_kvm(&["kvm", "kvm_intel"]);
        let probes = FakeProbes {
            kvm: KvmOpen::Ok { api_version: 11 },
            ..FakeProbes::root()
        };
        let r = diagnose(&f.view(), &probes);
        let c = r.check("kvm.open").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("11"));
    }

    // --- cgroups ----------------------------------------------------------------------

    #[test]
    fn cgroup_v1_with_combined_cpu_cpuacct() {
        let f = Fixture::host(BASE_FLAGS);
        f.mountinfo(V1_MOUNTINFO);
        let r = diagnose(&f.view(), &FakeProbes::root());
        let CgroupLayout::V1 { hierarchies } = &r.cgroup else {
            panic!("expected v1, got {:?}", r.cgroup);
        };
        assert_eq!(hierarchies.len(), 6);
        assert_eq!(hierarchies[0].name.as_deref(), Some("systemd"));
        assert!(hierarchies[0].controllers.is_empty());
        let cpu = hierarchies
            .iter()
            .find(|h| h.mount == "/sys/fs/cgroup/cpu,cpuacct")
            .expect("cpu,cpuacct hierarchy");
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        let cpuset = hierarchies
            .iter()
            .find(|h| h.mount == "/sys/fs/cgroup/cpuset")
            .unwrap();
        assert_eq!(
            cpuset.controllers,
            ["cpuset"],
            "clone_children is not a controller"
        );
        assert_eq!(
            r.cgroup_limits.cpu,
            Some(ControllerPlace {
                version: CgroupVersion::V1,
                mount: "/sys/fs/cgroup/cpu,cpuacct".into()
            })
        );
        assert_eq!(
            r.cgroup_limits.memory.as_ref().map(|p| p.mount.as_str()),
            Some("/sys/fs/cgroup/memory")
        );
        assert_eq!(
            r.cgroup.locate("net_prio").map(|p| p.mount),
            Some("/sys/fs/cgroup/net_cls,net_prio".to_owned())
        );
        assert_eq!(r.cgroup.locate("hugetlb"), None);
        assert_eq!(status_of(&r, "cgroup.layout"), Status::Pass);
        for c in ["cgroup.memory", "cgroup.pids", "cgroup.cpu"] {
            assert_eq!(status_of(&r, c), Status::Pass, "{c}");
        }
        assert_eq!(
            r.check("cgroup.cpu").unwrap().detail,
            "v1 at /sys/fs/cgroup/cpu,cpuacct"
        );
    }

    #[test]
    fn cgroup_v1_missing_pids_has_mount_fix() {
        let f = Fixture::host(BASE_FLAGS);
        let without_pids: String = V1_MOUNTINFO
            .lines()
            .filter(|l| !l.contains("/pids"))
            .map(|l| format!("{l}\n"))
            .collect();
        f.mountinfo(&without_pids);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.cgroup_limits.pids, None);
        assert_eq!(status_of(&r, "cgroup.pids"), Status::Fail);
        assert!(fix_of(&r, "cgroup.pids").contains("mount -t cgroup -o pids"));
    }

    #[test]
    fn cgroup_v2_reads_controllers() {
        let f = Fixture::host(BASE_FLAGS);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.cgroup,
            CgroupLayout::V2 {
                mount: "/sys/fs/cgroup".into(),
                controllers: [
                    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"
                ]
                .map(String::from)
                .to_vec(),
            }
        );
        let v2 = |m: &str| ControllerPlace {
            version: CgroupVersion::V2,
            mount: m.into(),
        };
        assert_eq!(
            r.cgroup_limits,
            CgroupLimits {
                memory: Some(v2("/sys/fs/cgroup")),
                pids: Some(v2("/sys/fs/cgroup")),
                cpu: Some(v2("/sys/fs/cgroup")),
            }
        );
        assert_eq!(status_of(&r, "cgroup.layout"), Status::Pass);
        assert_eq!(r.cgroup.label(), "v2");
    }

    #[test]
    fn cgroup_v2_without_memory_controller() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/sys/fs/cgroup/cgroup.controllers", "cpu pids\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.cgroup_limits.memory, None);
        assert_eq!(status_of(&r, "cgroup.memory"), Status::Fail);
        assert!(fix_of(&r, "cgroup.memory").contains("cgroup_enable=memory"));
        assert_eq!(status_of(&r, "cgroup.pids"), Status::Pass);
    }

    #[test]
    fn cgroup_hybrid_with_hugetlb_only_unified() {
        let f = Fixture::host(BASE_FLAGS);
        f.mountinfo(HYBRID_MOUNTINFO)
            .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        let CgroupLayout::Hybrid {
            hierarchies,
            unified_mount,
            unified_controllers,
        } = &r.cgroup
        else {
            panic!("expected hybrid, got {:?}", r.cgroup);
        };
        assert_eq!(unified_mount, "/sys/fs/cgroup/unified");
        assert_eq!(unified_controllers, &["hugetlb"]);
        assert_eq!(hierarchies.len(), 9);
        // tmpfs at /sys/fs/cgroup is not a hierarchy.
        assert!(hierarchies.iter().all(|h| h.mount != "/sys/fs/cgroup"));
        assert_eq!(
            r.cgroup.locate("hugetlb").unwrap().version,
            CgroupVersion::V2
        );
        assert_eq!(
            r.cgroup_limits.memory,
            Some(ControllerPlace {
                version: CgroupVersion::V1,
                mount: "/sys/fs/cgroup/memory".into()
            })
        );
        assert_eq!(
            r.cgroup_limits.cpu.as_ref().unwrap().mount,
            "/sys/fs/cgroup/cpu"
        );
        let c = r.check("cgroup.layout").unwrap();
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .contains("umount /sys/fs/cgroup/unified")
        );
        assert!(c.detail.contains("hugetlb"));
    }

    #[test]
    fn cgroup_none() {
        let f = Fixture::host(BASE_FLAGS);
        f.mountinfo(
            "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n22 27 0:21 / /proc rw - proc proc rw\n",
        );
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.cgroup, CgroupLayout::None);
        assert_eq!(
            r.cgroup_limits,
            CgroupLimits {
                memory: None,
                pids: None,
                cpu: None
            }
        );
        assert_eq!(status_of(&r, "cgroup.layout"), Status::Fail);
        assert!(fix_of(&r, "cgroup.layout").contains("mount -t cgroup2 none /sys/fs/cgroup"));
        assert_eq!(status_of(&r, "cgroup.cpu"), Status::Fail);
    }

    #[test]
    fn cgroup_none_without_mountinfo() {
        let f = Fixture::host(BASE_FLAGS);
        f.remove("/proc/self/mountinfo");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.cgroup, CgroupLayout::None);
        assert!(
            r.check("cgroup.layout")
                .unwrap()
                .detail
                .contains("cannot read")
        );
    }

    #[test]
    fn v2_with_named_v1_hierarchy_counts_as_v2() {
        let f = Fixture::host(BASE_FLAGS);
        f.mountinfo(&format!(
            "{V2_MOUNTINFO}50 31 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
        ));
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.cgroup.label(), "v2");
    }

    #[test]
    fn shadowed_and_duplicate_mounts() {
        let text = "\
1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
2 1 0:2 / /sys/fs/cgroup rw - tmpfs tmpfs rw
3 2 0:3 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
4 2 0:3 / /mnt/memory-again rw - cgroup cgroup rw,memory
";
        let f = Fixture::empty();
        f.mountinfo(text);
        let layout = CgroupLayout::detect(&f.view());
        assert_eq!(
            layout,
            CgroupLayout::V1 {
                hierarchies: vec![CgroupHierarchy {
                    mount: "/sys/fs/cgroup/memory".into(),
                    controllers: vec!["memory".into()],
                    name: None,
                }]
            }
        );
    }

    // --- mountinfo parsing ----------------------------------------------------------

    #[test]
    fn mountinfo_escaped_mount_point_reads_controllers_through_view() {
        let f = Fixture::host(BASE_FLAGS);
        f.mountinfo("31 23 0:28 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n")
            .file("/sys/fs/my cgroup/cgroup.controllers", "memory pids\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.cgroup,
            CgroupLayout::V2 {
                mount: "/sys/fs/my cgroup".into(),
                controllers: vec!["memory".into(), "pids".into()],
            }
        );
        assert_eq!(r.cgroup_limits.cpu, None);
    }

    // --- user namespaces ------------------------------------------------------------

    fn userns_blocks(r: &DoctorReport) -> Vec<UsernsKnob> {
        match &r.unprivileged_userns {
            UsernsStatus::Disabled { blocks } => blocks.iter().map(|b| b.knob).collect(),
            other => panic!("expected disabled, got {other:?}"),
        }
    }

    #[test]
    fn userns_allowed() {
        let f = Fixture::host(BASE_FLAGS);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.unprivileged_userns,
            UsernsStatus::Allowed {
                max_user_namespaces: Some(63482)
            }
        );
        assert_eq!(status_of(&r, "userns.unprivileged"), Status::Pass);
    }

    #[test]
    fn userns_disabled_by_max_user_namespaces() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/proc/sys/user/max_user_namespaces", "0\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(userns_blocks(&r), [UsernsKnob::MaxUserNamespaces]);
        assert_eq!(status_of(&r, "userns.unprivileged"), Status::Warn);
        assert!(fix_of(&r, "userns.unprivileged").contains("sysctl -w user.max_user_namespaces="));
    }

    #[test]
    fn userns_disabled_by_debian_knob() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/proc/sys/kernel/unprivileged_userns_clone", "0\n");
        let probes = FakeProbes {
            euid: 1000,
            ..FakeProbes::root()
        };
        let r = diagnose(&f.view(), &probes);
        assert_eq!(userns_blocks(&r), [UsernsKnob::DebianUnprivilegedClone]);
        // Not root and no rootless path: a failure.
        assert_eq!(status_of(&r, "userns.unprivileged"), Status::Fail);
        assert!(fix_of(&r, "userns.unprivileged").contains("kernel.unprivileged_userns_clone=1"));
    }

    #[test]
    fn userns_disabled_by_ubuntu_apparmor_knob() {
        let f = Fixture::host(BASE_FLAGS);
        f.file(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1\n",
        )
        .file("/proc/sys/kernel/unprivileged_userns_clone", "1\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(userns_blocks(&r), [UsernsKnob::UbuntuAppArmorRestrict]);
        assert!(
            fix_of(&r, "userns.unprivileged")
                .contains("kernel.apparmor_restrict_unprivileged_userns=0")
        );
    }

    #[test]
    fn userns_all_knobs_are_reported() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/proc/sys/user/max_user_namespaces", "0")
            .file("/proc/sys/kernel/unprivileged_userns_clone", "0")
            .file(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1",
            )
            .remove("/proc/self/ns/user");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            userns_blocks(&r),
            [
                UsernsKnob::KernelConfig,
                UsernsKnob::MaxUserNamespaces,
                UsernsKnob::DebianUnprivilegedClone,
                UsernsKnob::UbuntuAppArmorRestrict
            ]
        );
        assert_eq!(status_of(&r, "ns.user"), Status::Fail);
    }

    // --- namespaces -----------------------------------------------------------------

    #[test]
    fn namespaces_missing() {
        let f = Fixture::host(BASE_FLAGS);
        f.remove("/proc/self/ns/time").remove("/proc/self/ns/net");
        f.file("/proc/self/ns/pid_for_children", "");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.namespaces, ["cgroup", "ipc", "mnt", "pid", "user", "uts"]);
        assert_eq!(status_of(&r, "ns.pid"), Status::Pass);
        assert_eq!(status_of(&r, "ns.time"), Status::Warn);
        assert_eq!(status_of(&r, "ns.net"), Status::Fail);
        assert!(fix_of(&r, "ns.net").contains("CONFIG_NET_NS=y"));
        assert_eq!(r.check("ns.net").unwrap().detail, "no /proc/self/ns/net");
    }

    // --- seccomp --------------------------------------------------------------------

    #[test]
    fn seccomp_supported() {
        let f = Fixture::host(BASE_FLAGS);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert!(r.seccomp.supported);
        assert!(r.seccomp.filter_supported);
        assert_eq!(r.seccomp.current_mode, Some(0));
        assert!(r.seccomp.actions.iter().any(|a| a == "errno"));
        assert_eq!(status_of(&r, "seccomp"), Status::Pass);
    }

    #[test]
    fn seccomp_absent_and_under_filter() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/proc/self/status", "Name:\tx\n")
            .remove("/proc/sys/kernel/seccomp/actions_avail");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert!(!r.seccomp.supported);
        assert_eq!(status_of(&r, "seccomp"), Status::Fail);
        assert!(fix_of(&r, "seccomp").contains("CONFIG_SECCOMP_FILTER=y"));

        f.file(
            "/proc/self/status",
            "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n",
        );
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.seccomp.current_mode, Some(2));
        assert_eq!(status_of(&r, "seccomp"), Status::Warn);
    }

    // --- LSMs -----------------------------------------------------------------------

    #[test]
    fn lsm_apparmor() {
        let f = Fixture::host(BASE_FLAGS);
        f.file(
            "/sys/kernel/security/lsm",
            "lockdown,capability,landlock,yama,apparmor",
        )
        .file("/sys/module/apparmor/parameters/enabled", "Y\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(
            r.lsm.as_deref(),
            Some(&["lockdown", "capability", "landlock", "yama", "apparmor"].map(String::from)[..])
        );
        assert_eq!(r.apparmor, AppArmorState::Enabled);
        assert_eq!(r.selinux, SelinuxState::Absent);
        let c = r.check("lsm").unwrap();
        assert_eq!(c.status, Status::Info);
        assert!(c.detail.contains("AppArmor enabled"), "{}", c.detail);
    }

    #[test]
    fn lsm_selinux_enforcing_and_permissive() {
        let f = Fixture::host(BASE_FLAGS);
        f.file("/sys/kernel/security/lsm", "capability,selinux\n")
            .file("/sys/fs/selinux/enforce", "1");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.selinux, SelinuxState::Enforcing);
        assert_eq!(r.apparmor, AppArmorState::Absent);
        assert_eq!(status_of(&r, "lsm"), Status::Warn);
        assert!(fix_of(&r, "lsm").contains("ausearch -m avc"));

        f.file("/sys/fs/selinux/enforce", "0");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.selinux, SelinuxState::Permissive);
        assert_eq!(status_of(&r, "lsm"), Status::Info);
    }

    #[test]
    fn lsm_none() {
        let f = Fixture::host(BASE_FLAGS);
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.lsm, None);
        assert_eq!(r.apparmor, AppArmorState::Absent);
        assert_eq!(r.selinux, SelinuxState::Absent);
        let c = r.check("lsm").unwrap();
        assert!(c.detail.contains("securityfs not mounted"), "{}", c.detail);

        f.file("/sys/kernel/security/lsm", "capability\n")
            .file("/sys/module/apparmor/parameters/enabled", "N\n");
        let r = diagnose(&f.view(), &FakeProbes::root());
        assert_eq!(r.lsm, Some(vec!["capability".to_owned()]));
        assert_eq!(r.apparmor, AppArmorState::Disabled);
    }

    // --- empty view, serde, render --------------------------------------------------

    #[test]
    fn empty_view_degrades_to_unknown() {
        let f = Fixture::empty();
        let probes = FakeProbes {
            kvm: KvmOpen::Other("boom".into()),
            euid: 1000,
            hypervisor: None,
            stale: Vec::new(),
        };
        let r = diagnose(&f.view(), &probes);
        assert_eq!(r.kernel_release, None);
        assert_eq!(r.cpu_model, None);
        assert!(r.namespaces.is_empty());
        assert_eq!(r.cgroup, CgroupLayout::None);
        assert!(
            r.check("host.kernel")
                .unwrap()
                .detail
                .starts_with("unknown")
        );
        // Every check has a title and every failure a fix.
        for c in &r.checks {
            assert!(!c.title.is_empty());
            if c.status == Status::Fail {
                assert!(c.fix.is_some(), "{} fails without a fix", c.id);
            }
        }
    }

    #[test]
    fn report_round_trips_through_json() {
        let f = Fixture::host(&format!("{BASE_FLAGS} hypervisor")).with_kvm(&["kvm", "kvm_pvm"]);
        f.mountinfo(HYBRID_MOUNTINFO)
            .file("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
        let r = diagnose(&f.view(), &FakeProbes::in_vm("KVMKVMKVM"));
        let json = serde_json::to_string(&r).expect("serialize");
        let back: DoctorReport = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["kvm"]["backend"]["software"]["module"], "kvm_pvm");
        assert_eq!(v["kvm"]["open"]["ok"]["api_version"], 12);
        assert_eq!(v["checks"][0]["id"], "host.kernel");
        assert_eq!(v["checks"][0]["status"], "info");
    }

    fn failing_report() -> DoctorReport {
        let f = Fixture::host(BASE_FLAGS);
        f.modules(&["kvm"]);
        diagnose(&f.view(), &FakeProbes::root())
    }

    #[test]
    fn render_shows_titles_failures_and_fixes() {
        let r = failing_report();
        // Wide enough that nothing wraps: each row is one line.
        let out = render_with_width(&r, false, Some(1000));
        for c in &r.checks {
            assert!(
                out.contains(&c.title),
                "missing title {:?} in\n{out}",
                c.title
            );
        }
        let dev = r.check("kvm.device").unwrap();
        assert_eq!(dev.status, Status::Fail);
        let line = out
            .lines()
            .find(|l| l.contains("/dev/kvm present"))
            .expect("kvm.device row");
        assert!(line.contains('✗'), "{line}");
        assert!(line.contains(dev.fix.as_deref().unwrap()), "{line}");
        assert!(line.contains("modprobe kvm_intel"), "{line}");
        let backend = out
            .lines()
            .find(|l| l.contains("KVM backend") && l.contains('✗'))
            .expect("kvm.backend row");
        assert!(backend.contains("unavailable (no /dev/kvm)"), "{backend}");
        assert!(out.contains(&format!("{} failed", r.counts().fail)));
        assert!(out.contains("only host and container numbers"));
        assert!(!out.contains('\x1b'), "no ANSI codes without color");
    }

    #[test]
    fn render_wraps_details_but_not_titles() {
        let r = failing_report();
        let out = render_with_width(&r, false, Some(90));
        for c in &r.checks {
            assert!(out.contains(&c.title), "missing title {:?}", c.title);
        }
        assert!(out.contains('✗') && out.contains('✓') && out.contains('·'));
        // Table rows stay within the requested width.
        for l in out.lines().filter(|l| l.starts_with('│')) {
            assert!(l.chars().count() <= 90, "too wide: {l}");
        }
    }

    #[test]
    fn render_default_and_colored() {
        let r = failing_report();
        let out = render(&r, false);
        for c in &r.checks {
            assert!(out.contains(&c.title), "missing title {:?}", c.title);
        }
        let colored = render_with_width(&r, true, Some(200));
        assert!(colored.contains('\x1b'), "color adds ANSI codes");
        assert!(colored.contains('✗'));
    }

    // --- the real machine -----------------------------------------------------------

    fn uname_release() -> String {
        // SAFETY: utsname is plain old data (arrays of c_char); all zeroes is valid.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable utsname for uname to fill.
        let rc = unsafe { libc::uname(&mut u) };
        assert_eq!(rc, 0, "uname failed");
        let bytes: Vec<u8> = u
            .release
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn real_machine_invariants() {
        let r = diagnose(&HostView::real(), &RealProbes);
        assert_eq!(r.kernel_release.as_deref(), Some(uname_release().as_str()));
        assert!(
            r.namespaces.iter().any(|n| n == "pid"),
            "{:?}",
            r.namespaces
        );
        assert!(r.namespaces.iter().any(|n| n == "mnt"));
        assert!(r.seccomp.supported);
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(r.euid, euid);
        assert_eq!(r.is_root, euid == 0);
        assert_eq!(r.kvm.device_present, Path::new("/dev/kvm").exists());
        if !r.kvm.device_present {
            assert_eq!(r.kvm.backend, KvmBackend::Unavailable);
        }
        if let KvmOpen::Ok { api_version } = r.kvm.open {
            assert_eq!(api_version, 12);
        }
        if r.kvm.modules.iter().any(|m| m == "kvm_pvm") && r.kvm.device_present {
            assert_eq!(
                r.kvm.backend,
                KvmBackend::Software {
                    module: "kvm_pvm".into()
                }
            );
        }
        // Check ids are unique, and all namespace checks are present.
        let mut ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check ids");
        for ns in NAMESPACES {
            assert!(r.check(&format!("ns.{ns}")).is_some());
        }
        // A cgroup layout was found wherever /proc and /sys are mounted normally.
        if Path::new("/sys/fs/cgroup").exists() {
            assert_ne!(r.cgroup, CgroupLayout::None);
        }
        let out = render(&r, false);
        assert!(out.contains("KVM backend"));
        println!("{out}");
    }
}
