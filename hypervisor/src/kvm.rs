//! Step 1: open `/dev/kvm`, check the API version and the capabilities the
//! VMM uses, and find out which KVM backend this is.
//!
//! On the project's machines `/dev/kvm` is `kvm_pvm`, a software backend
//! (no VT-x/AMD-V; the host is itself a VM): guest ring 3 runs natively but
//! ring 0 is emulated, so exit and boot figures are not hardware figures.
//! [`HostInfo`] says so in every report.

use std::fs;

use kvm_ioctls::{Cap, Kvm};
use serde::Serialize;

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

/// Which KVM this is, and what it allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// KVM modules loaded (`/sys/module/kvm*`), e.g. `["kvm", "kvm_pvm"]`.
    pub kvm_modules: Vec<String>,
    /// The backend: `kvm_intel`, `kvm_amd`, `kvm_pvm`, or `unknown`.
    pub backend: String,
    /// True for a software backend (no VT-x/AMD-V: guest ring 0 emulated).
    pub software_backend: bool,
    /// The host CPU reports running under a hypervisor (CPUID.1:ECX bit 31).
    pub host_is_vm: bool,
    /// The host CPU has VT-x or AMD-V (CPUID vmx/svm bits).
    pub host_has_vmx_or_svm: bool,
    /// KVM_CAP_NR_VCPUS: recommended maximum vCPUs.
    pub recommended_vcpus: usize,
    /// KVM_CAP_MAX_VCPUS.
    pub max_vcpus: usize,
    /// KVM_CAP_NR_MEMSLOTS.
    pub memslots: usize,
}

/// Describes the KVM behind `kvm` and the host CPU.
pub fn host_info(kvm: &Kvm) -> HostInfo {
    let mut modules: Vec<String> = fs::read_dir("/sys/module")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n == "kvm" || n.starts_with("kvm_"))
                .collect()
        })
        .unwrap_or_default();
    modules.sort();
    let backend = ["kvm_intel", "kvm_amd", "kvm_pvm"]
        .iter()
        .find(|b| modules.iter().any(|m| m == *b))
        .map_or("unknown", |b| *b)
        .to_string();
    let leaf1 = std::arch::x86_64::__cpuid(1);
    let vmx = leaf1.ecx & (1 << 5) != 0;
    let svm = std::arch::x86_64::__cpuid(0x8000_0000).eax >= 0x8000_0001
        && std::arch::x86_64::__cpuid(0x8000_0001).ecx & (1 << 2) != 0;
    HostInfo {
        software_backend: backend == "kvm_pvm" || (!vmx && !svm),
        backend,
        kvm_modules: modules,
        host_is_vm: leaf1.ecx & (1 << 31) != 0,
        host_has_vmx_or_svm: vmx || svm,
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

    #[test]
    fn opens_and_describes_the_backend() {
        if !require_kvm() {
            return;
        }
        let kvm = open().unwrap();
        let info = host_info(&kvm);
        assert!(info.kvm_modules.iter().any(|m| m == "kvm"), "{info:?}");
        assert!(info.max_vcpus >= 1 && info.memslots >= 2);
        eprintln!("KVM backend: {info:?}");
    }
}
