//! Step 1: open `/dev/kvm`, check the API version and the capabilities the
//! VMM uses, and find out which KVM backend this is.
//!
//! On the project's machines `/dev/kvm` is `kvm_pvm`, a software backend
//! (no VT-x/AMD-V; the host is itself a VM): guest ring 3 runs natively but
//! ring 0 is emulated, so exit and boot figures are not hardware figures.
//! [`HostInfo`] says so in every report.
//!
//! [`classify`] is the one place the backend is decided, from the loaded KVM
//! modules, the CPU's vmx/svm flags and the hypervisor bit: [`host_info`] (every
//! VM run's `kvm_backend`), `versus doctor` and the header of `versus compare`
//! all call it, so they cannot disagree.

use std::fmt;
use std::fs;
use std::path::Path;

use kvm_ioctls::{Cap, Kvm};
use serde::{Deserialize, Serialize};

/// The KVM API version this VMM speaks (stable since Linux 2.6.22).
pub const KVM_API_VERSION: i32 = 12;

/// Capabilities the VMM cannot do without.
pub const REQUIRED_CAPS: &[(Cap, &str)] = &[
    (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
    (Cap::ExtCpuid, "KVM_CAP_EXT_CPUID"),
    (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
    (Cap::MaxVcpus, "KVM_CAP_MAX_VCPUS"),
];

/// Errors of step 1.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    /// /dev/kvm does not exist.
    #[error(
        "/dev/kvm does not exist: load the KVM module for this CPU (modprobe kvm_intel or kvm_amd) and enable virtualization in the firmware"
    )]
    Missing,
    /// /dev/kvm exists but may not be opened.
    #[error(
        "permission denied opening /dev/kvm: run as root or join the kvm group (usermod -aG kvm $USER)"
    )]
    PermissionDenied,
    /// Any other failure to open it.
    #[error("cannot open /dev/kvm: {0}")]
    Open(kvm_ioctls::Error),
    /// The kernel speaks another API version.
    #[error("KVM API version is {0}, expected {KVM_API_VERSION}")]
    ApiVersion(i32),
    /// A capability the VMM needs is missing.
    #[error("KVM lacks {0}, which this VMM needs")]
    MissingCap(&'static str),
    /// KVM_CREATE_VM failed.
    #[error("KVM_CREATE_VM failed: {0}")]
    CreateVm(kvm_ioctls::Error),
}

/// Turns the errno of opening /dev/kvm into a helpful error.
pub fn open_error(e: kvm_ioctls::Error) -> KvmError {
    match e.errno() {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => KvmError::Missing,
        libc::EACCES | libc::EPERM => KvmError::PermissionDenied,
        _ => KvmError::Open(e),
    }
}

/// Step 1: opens /dev/kvm and checks version and capabilities.
pub fn open() -> Result<Kvm, KvmError> {
    let kvm = Kvm::new().map_err(open_error)?;
    let v = kvm.get_api_version();
    if v != KVM_API_VERSION {
        return Err(KvmError::ApiVersion(v));
    }
    for (cap, name) in REQUIRED_CAPS {
        if !kvm.check_extension(*cap) {
            return Err(KvmError::MissingCap(name));
        }
    }
    Ok(kvm)
}

/// CPU vendor of hardware virtualization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuVendor {
    /// Intel VT-x (`vmx`, `kvm_intel`).
    Intel,
    /// AMD-V (`svm`, `kvm_amd`).
    Amd,
}

impl CpuVendor {
    /// `"Intel VT-x"` or `"AMD-V"`.
    pub fn tech(self) -> &'static str {
        match self {
            CpuVendor::Intel => "Intel VT-x",
            CpuVendor::Amd => "AMD-V",
        }
    }
}

/// Which kind of virtualization backs `/dev/kvm`, which decides what VM numbers mean.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    #[default]
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

    /// A short label, e.g. `"hardware (Intel VT-x)"`, `"software (kvm_pvm)"`: the
    /// `kvm_backend` of every VM run report and of the compare header.
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

    /// Whether guest ring 0 is emulated in software (no VT-x/AMD-V behind `/dev/kvm`).
    pub fn is_software(&self) -> bool {
        !self.is_hardware()
    }
}

impl fmt::Display for KvmBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// What the host CPU says about virtualization: the inputs of [`classify`] besides
/// the modules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuVirt {
    /// VT-x usable (`vmx` in the kernel's `/proc/cpuinfo` flags).
    pub vmx: bool,
    /// AMD-V usable (`svm` in the `/proc/cpuinfo` flags).
    pub svm: bool,
    /// The host is itself a VM (`hypervisor` flag, CPUID.1:ECX bit 31).
    pub hypervisor: bool,
}

impl CpuVirt {
    /// From the `flags` line of `/proc/cpuinfo`, plus CPUID's hypervisor bit.
    ///
    /// The kernel's flags are preferred over raw CPUID for vmx/svm: the kernel clears
    /// `vmx` when the firmware locked VT-x off (IA32_FEATURE_CONTROL), where CPUID
    /// still shows it, and `kvm_intel` cannot use it then.
    pub fn from_flags<S: AsRef<str>>(flags: &[S], cpuid_hypervisor: bool) -> Self {
        let has = |f: &str| flags.iter().any(|x| x.as_ref() == f);
        Self {
            vmx: has("vmx"),
            svm: has("svm"),
            hypervisor: has("hypervisor") || cpuid_hypervisor,
        }
    }

    /// The host under `root` (`/` for the real one): `/proc/cpuinfo` flags there,
    /// and the running CPU's CPUID hypervisor bit.
    pub fn detect(root: &Path) -> Self {
        Self::from_flags(&cpuinfo_flags(root), crate::cpuid::host_is_vm())
    }

    /// `["vmx"]`, `["svm"]` or `[]`, as the flags show.
    pub fn flag_names(&self) -> Vec<String> {
        [("vmx", self.vmx), ("svm", self.svm)]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| (*n).to_owned())
            .collect()
    }
}

/// The first `flags` line of `<root>/proc/cpuinfo` (empty if unreadable).
pub fn cpuinfo_flags(root: &Path) -> Vec<String> {
    fs::read_to_string(root.join("proc/cpuinfo"))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == "flags")
                    .then(|| value.split_whitespace().map(str::to_owned).collect())
            })
        })
        .unwrap_or_default()
}

/// The KVM modules under `<root>/sys/module` (`kvm`, `kvm_*`), sorted.
pub fn kvm_modules(root: &Path) -> Vec<String> {
    let mut modules: Vec<String> = fs::read_dir(root.join("sys/module"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n == "kvm" || n.starts_with("kvm_"))
                .collect()
        })
        .unwrap_or_default();
    modules.sort();
    modules
}

/// The one classification of the KVM backend, from whether `/dev/kvm` exists, the
/// loaded KVM modules and what the CPU says.
///
/// Precedence, decided once here:
/// 1. No `/dev/kvm` → [`KvmBackend::Unavailable`].
/// 2. A hardware vendor module **and** its CPU flag (`kvm_intel` + `vmx`, `kvm_amd` +
///    `svm`) → [`KvmBackend::Hardware`], or [`KvmBackend::Nested`] when the host is
///    itself a VM. This comes before `kvm_pvm`: a vendor module with its flag is real
///    VT-x/AMD-V, and on a nested host that has both modules loaded, the hardware one
///    is the faster path KVM is serving (`kvm_pvm` is only the fallback for hosts
///    without VT-x/AMD-V).
/// 3. `kvm_pvm` loaded → [`KvmBackend::Software`]: there is no usable vmx/svm, so
///    guest ring 0 is emulated.
/// 4. Anything else (e.g. `kvm_intel` built in on a CPU without `vmx`, idle) →
///    [`KvmBackend::Unknown`]: a built-in vendor module is listed under
///    `/sys/module` even where it could not initialize, so a module alone proves
///    nothing.
pub fn classify(device_present: bool, modules: &[String], cpu: CpuVirt) -> KvmBackend {
    if !device_present {
        return KvmBackend::Unavailable;
    }
    let has = |m: &str| modules.iter().any(|x| x == m);
    let vendor = if has("kvm_intel") && cpu.vmx {
        Some(CpuVendor::Intel)
    } else if has("kvm_amd") && cpu.svm {
        Some(CpuVendor::Amd)
    } else {
        None
    };
    match vendor {
        Some(vendor) if cpu.hypervisor => KvmBackend::Nested { vendor },
        Some(vendor) => KvmBackend::Hardware { vendor },
        None if has("kvm_pvm") => KvmBackend::Software {
            module: "kvm_pvm".to_owned(),
        },
        None => KvmBackend::Unknown {
            modules: modules.to_vec(),
        },
    }
}

/// The backend of the host under `root` (`/` for the real host): [`classify`] with
/// `<root>/dev/kvm`, `<root>/sys/module` and [`CpuVirt::detect`].
pub fn detect_backend(root: &Path) -> KvmBackend {
    classify(
        fs::symlink_metadata(root.join("dev/kvm")).is_ok(),
        &kvm_modules(root),
        CpuVirt::detect(root),
    )
}

/// Which KVM this is, and what it allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// KVM modules loaded (`/sys/module/kvm*`), e.g. `["kvm", "kvm_pvm"]`.
    pub kvm_modules: Vec<String>,
    /// The backend's label ([`KvmBackend::label`]), e.g. `software (kvm_pvm)` or
    /// `nested (Intel VT-x inside a VM)`: the same string `versus doctor` and the
    /// compare header show.
    pub backend: String,
    /// The backend, classified by [`classify`].
    pub backend_kind: KvmBackend,
    /// True for a software backend (no VT-x/AMD-V: guest ring 0 emulated).
    pub software_backend: bool,
    /// The host CPU reports running under a hypervisor.
    pub host_is_vm: bool,
    /// The host CPU has usable VT-x or AMD-V (`/proc/cpuinfo` vmx/svm flags).
    pub host_has_vmx_or_svm: bool,
    /// KVM_CAP_NR_VCPUS: recommended maximum vCPUs.
    pub recommended_vcpus: usize,
    /// KVM_CAP_MAX_VCPUS.
    pub max_vcpus: usize,
    /// KVM_CAP_NR_MEMSLOTS.
    pub memslots: usize,
}

/// Describes the KVM behind `kvm` (an open `/dev/kvm`) and the host CPU.
pub fn host_info(kvm: &Kvm) -> HostInfo {
    let root = Path::new("/");
    let modules = kvm_modules(root);
    let cpu = CpuVirt::detect(root);
    let backend = classify(true, &modules, cpu);
    HostInfo {
        backend: backend.label(),
        software_backend: backend.is_software(),
        backend_kind: backend,
        kvm_modules: modules,
        host_is_vm: cpu.hypervisor,
        host_has_vmx_or_svm: cpu.vmx || cpu.svm,
        recommended_vcpus: kvm.get_nr_vcpus(),
        max_vcpus: kvm.get_max_vcpus(),
        memslots: kvm.get_nr_memslots(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::require_kvm;

    #[test]
    fn open_errors_say_what_to_do() {
        let missing = open_error(kvm_ioctls::Error::new(libc::ENOENT)).to_string();
        assert!(
            missing.contains("kvm_intel") && missing.contains("kvm_amd"),
            "{missing}"
        );
        let denied = open_error(kvm_ioctls::Error::new(libc::EACCES)).to_string();
        assert!(
            denied.contains("run as root") && denied.contains("kvm group"),
            "{denied}"
        );
        assert!(matches!(
            open_error(kvm_ioctls::Error::new(libc::EBUSY)),
            KvmError::Open(_)
        ));
        // A path that does not exist gives ENOENT through the real open path.
        let e = Kvm::new_with_path(c"/nonexistent/kvm").unwrap_err();
        assert!(matches!(open_error(e), KvmError::Missing));
    }

    #[testkit::needs(kvm)]
    #[test]
    fn opens_and_describes_the_backend() {
        if !require_kvm() {
            return;
        }
        let kvm = open().unwrap();
        let info = host_info(&kvm);
        assert!(info.kvm_modules.iter().any(|m| m == "kvm"), "{info:?}");
        assert!(info.max_vcpus >= 1 && info.memslots >= 2);
        assert_eq!(info.backend, info.backend_kind.label());
        assert_eq!(info.backend_kind, detect_backend(Path::new("/")));
        eprintln!("KVM backend: {info:?}");
    }

    fn mods(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn classification_precedence() {
        let cpu = |vmx, svm, hypervisor| CpuVirt {
            vmx,
            svm,
            hypervisor,
        };
        let pvm = mods(&["kvm", "kvm_pvm"]);
        assert_eq!(
            classify(false, &pvm, cpu(true, false, true)),
            KvmBackend::Unavailable
        );
        // kvm_pvm and no vmx/svm: software.
        let sw = classify(true, &pvm, cpu(false, false, true));
        assert_eq!(
            sw,
            KvmBackend::Software {
                module: "kvm_pvm".into()
            }
        );
        assert!(sw.is_software() && sw.label() == "software (kvm_pvm)");
        // A nested host with kvm_intel + vmx and kvm_pvm too: hardware (nested).
        let both = mods(&["kvm", "kvm_intel", "kvm_pvm"]);
        assert_eq!(
            classify(true, &both, cpu(true, false, true)),
            KvmBackend::Nested {
                vendor: CpuVendor::Intel
            }
        );
        assert_eq!(
            classify(true, &mods(&["kvm", "kvm_amd"]), cpu(false, true, false)),
            KvmBackend::Hardware {
                vendor: CpuVendor::Amd
            }
        );
        // kvm_intel listed (built in) without vmx, and with kvm_pvm: software.
        assert_eq!(
            classify(true, &both, cpu(false, false, true)),
            KvmBackend::Software {
                module: "kvm_pvm".into()
            }
        );
        assert_eq!(
            classify(true, &mods(&["kvm", "kvm_intel"]), cpu(false, false, false)),
            KvmBackend::Unknown {
                modules: mods(&["kvm", "kvm_intel"])
            }
        );
    }

    #[test]
    fn reads_modules_and_flags_under_a_root() {
        let d = tempfile::tempdir().unwrap();
        for m in ["kvm_pvm", "kvm", "virtio"] {
            fs::create_dir_all(d.path().join("sys/module").join(m)).unwrap();
        }
        fs::create_dir_all(d.path().join("proc")).unwrap();
        fs::write(
            d.path().join("proc/cpuinfo"),
            "processor\t: 0\nflags\t\t: fpu vmx hypervisor\n",
        )
        .unwrap();
        assert_eq!(kvm_modules(d.path()), ["kvm", "kvm_pvm"]);
        assert_eq!(cpuinfo_flags(d.path()), ["fpu", "vmx", "hypervisor"]);
        let cpu = CpuVirt::from_flags(&cpuinfo_flags(d.path()), false);
        assert!(cpu.vmx && !cpu.svm && cpu.hypervisor);
        assert_eq!(cpu.flag_names(), ["vmx"]);
        assert_eq!(detect_backend(d.path()), KvmBackend::Unavailable);
    }
}
