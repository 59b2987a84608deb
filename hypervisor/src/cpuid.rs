//! Step 5: the CPUID table each vCPU gets — KVM's supported table, with a
//! hypervisor leaf that names versus and per-vCPU APIC ids.
//!
//! On the software KVM backend ring-0 `cpuid` sees exactly this table (with
//! no table every leaf reads zero), though leaves 1 and 7 still show the
//! host's feature bits; ring-3 `cpuid` runs natively and shows the host's.

use std::sync::OnceLock;

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, kvm_cpuid_entry2};
use kvm_ioctls::Kvm;
use versus_abi::{ABI_VERSION, cpuid as abi};

/// Errors of building the CPUID table.
#[derive(Debug, thiserror::Error)]
pub enum CpuidError {
    /// KVM_GET_SUPPORTED_CPUID failed.
    #[error("KVM_GET_SUPPORTED_CPUID failed: {0}")]
    Supported(kvm_ioctls::Error),
    /// The table is full.
    #[error("the CPUID table has no room for the hypervisor leaves")]
    Full,
}

/// CPUID.1:ECX bit 31 — "running under a hypervisor".
pub const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
/// CPUID.1:EDX bit 28 — HTT (the logical-processor count in EBX is valid).
pub const LEAF1_EDX_HTT: u32 = 1 << 28;

/// The 12-byte signature as the three registers (EBX, ECX, EDX).
pub fn signature_regs() -> (u32, u32, u32) {
    let s = abi::SIGNATURE;
    let word = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    (word(0), word(4), word(8))
}

/// Adjusts KVM's supported table for vCPU `index` of `count`: APIC ids in
/// leaves 1, 0xB and 0x1F; the hypervisor bit; KVM's own paravirt leaves
/// (0x4000_00xx, "KVMKVMKVM") replaced by versus's.
pub fn customize(cpuid: &mut CpuId, index: u32, count: u32) -> Result<(), CpuidError> {
    cpuid.retain(|e| !(0x4000_0000..=0x4000_00ff).contains(&e.function));
    for e in cpuid.as_mut_slice() {
        match e.function {
            1 => {
                e.ebx = (e.ebx & 0x0000_ffff) | (index << 24) | ((count & 0xff) << 16);
                e.ecx |= LEAF1_ECX_HYPERVISOR;
                e.edx |= LEAF1_EDX_HTT;
            }
            0xb | 0x1f => e.edx = index,
            _ => {}
        }
    }
    let (ebx, ecx, edx) = signature_regs();
    cpuid
        .push(kvm_cpuid_entry2 {
            function: abi::HYPERVISOR_LEAF,
            eax: abi::VERSUS_INFO_LEAF,
            ebx,
            ecx,
            edx,
            ..Default::default()
        })
        .map_err(|_| CpuidError::Full)?;
    cpuid
        .push(kvm_cpuid_entry2 {
            function: abi::VERSUS_INFO_LEAF,
            eax: ABI_VERSION,
            ebx: count,
            ..Default::default()
        })
        .map_err(|_| CpuidError::Full)?;
    Ok(())
}

/// KVM's supported table once the process has asked for it ([`supported`]).
static SUPPORTED: OnceLock<CpuId> = OnceLock::new();

/// KVM's supported CPUID table, asked of the kernel once per process.
///
/// `KVM_GET_SUPPORTED_CPUID` is a system ioctl: its answer depends on the
/// host CPU and the loaded KVM module, neither of which can change while a
/// process holds `/dev/kvm` open, so every VM of one process (`compare`,
/// `scale`, the benchmarks) gets the same table. On the software backend
/// (kvm_pvm) the ioctl costs ~0.8 ms, a sixth of a whole launch; only the
/// first VM pays it. A failed query is not kept: the next VM asks again.
///
/// The one place the VMM reads the table: the tiny kernel's vCPUs
/// ([`crate::vm`]) and Linux's ([`crate::linux`]) both start from it.
pub fn supported(kvm: &Kvm) -> Result<CpuId, kvm_ioctls::Error> {
    cached(&SUPPORTED, || {
        kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
    })
}

/// The table in `cell`, or `query`'s answer kept there; an error is handed
/// back and not kept. Each caller gets its own copy to customize.
fn cached<E>(cell: &OnceLock<CpuId>, query: impl FnOnce() -> Result<CpuId, E>) -> Result<CpuId, E> {
    if let Some(table) = cell.get() {
        return Ok(table.clone());
    }
    let table = query()?;
    // Two VMs started at once may both query; whichever sets the cell
    // first wins, and both tables are the same.
    Ok(cell.get_or_init(|| table).clone())
}

/// Looks up `(function, index)`.
pub fn find(cpuid: &CpuId, function: u32, index: u32) -> Option<&kvm_cpuid_entry2> {
    cpuid
        .as_slice()
        .iter()
        .find(|e| e.function == function && e.index == index)
}

/// Executes `cpuid` on the host CPU for `leaf` (sub-leaf 0).
///
/// The one place the VMM, the host description ([`crate::kvm::host_info`]) and
/// `versus doctor` read the host's CPUID. `__cpuid` is a safe function since
/// Rust 1.89 (the workspace's `rust-version`): every x86-64 CPU has `cpuid`.
pub fn host_cpuid(leaf: u32) -> std::arch::x86_64::CpuidResult {
    std::arch::x86_64::__cpuid(leaf)
}

/// CPUID.1:ECX bit 5 — VMX (Intel VT-x).
pub const LEAF1_ECX_VMX: u32 = 1 << 5;
/// CPUID.8000_0001:ECX bit 2 — SVM (AMD-V).
pub const EXT1_ECX_SVM: u32 = 1 << 2;

/// Whether the host CPU reports running under a hypervisor (CPUID.1:ECX bit 31).
pub fn host_is_vm() -> bool {
    host_cpuid(1).ecx & LEAF1_ECX_HYPERVISOR != 0
}

/// The host CPU's own VMX and SVM bits: `(vmx, svm)`.
pub fn host_vmx_svm() -> (bool, bool) {
    let vmx = host_cpuid(1).ecx & LEAF1_ECX_VMX != 0;
    let svm = host_cpuid(0x8000_0000).eax >= 0x8000_0001
        && host_cpuid(0x8000_0001).ecx & EXT1_ECX_SVM != 0;
    (vmx, svm)
}

/// The outer hypervisor's signature (CPUID leaf `0x4000_0000`, e.g. `"KVMKVMKVM"`,
/// possibly empty) when the host CPU says it is virtualized; `None` on bare metal.
pub fn host_hypervisor_signature() -> Option<String> {
    if !host_is_vm() {
        return None;
    }
    let r = host_cpuid(0x4000_0000);
    let bytes: Vec<u8> = [r.ebx, r.ecx, r.edx]
        .iter()
        .flat_map(|reg| reg.to_le_bytes())
        .collect();
    Some(
        bytes
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::require_kvm;

    fn fake_supported() -> CpuId {
        CpuId::from_entries(&[
            kvm_cpuid_entry2 {
                function: 0,
                eax: 0xd,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 1,
                ebx: 0xff00_0800,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                index: 0,
                edx: 7,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                index: 1,
                edx: 7,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0x4000_0000,
                eax: 0x4000_0001,
                ebx: 0x4b4d_564b,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0x4000_0001,
                eax: 0xffff,
                ..Default::default()
            },
        ])
        .unwrap()
    }

    #[test]
    fn hypervisor_leaf_names_versus() {
        let mut c = fake_supported();
        customize(&mut c, 3, 4).unwrap();
        let h = find(&c, 0x4000_0000, 0).unwrap();
        let mut sig = Vec::new();
        for r in [h.ebx, h.ecx, h.edx] {
            sig.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(&sig, b"versusVMM\0\0\0");
        assert_eq!(h.eax, 0x4000_0001);
        let info = find(&c, 0x4000_0001, 0).unwrap();
        assert_eq!((info.eax, info.ebx), (ABI_VERSION, 4));
        // KVM's leaves are gone (exactly one of each remains: ours).
        assert_eq!(
            c.as_slice()
                .iter()
                .filter(|e| e.function >= 0x4000_0000)
                .count(),
            2
        );
    }

    #[test]
    fn apic_ids_per_vcpu() {
        let mut c = fake_supported();
        customize(&mut c, 3, 4).unwrap();
        let l1 = find(&c, 1, 0).unwrap();
        assert_eq!(l1.ebx >> 24, 3);
        assert_eq!((l1.ebx >> 16) & 0xff, 4);
        assert_eq!(l1.ebx & 0xffff, 0x0800, "low bits kept");
        assert_ne!(l1.ecx & LEAF1_ECX_HYPERVISOR, 0);
        assert_eq!(find(&c, 0xb, 0).unwrap().edx, 3);
        assert_eq!(find(&c, 0xb, 1).unwrap().edx, 3);
    }

    #[test]
    fn the_table_is_asked_for_once_and_a_failure_is_not_kept() {
        let cell = OnceLock::new();
        let mut queries = 0;
        let failed = cached(&cell, || {
            queries += 1;
            Err("EINTR")
        });
        assert_eq!(failed.unwrap_err(), "EINTR");
        for _ in 0..3 {
            let table = cached(&cell, || {
                queries += 1;
                Ok::<_, &str>(fake_supported())
            })
            .unwrap();
            assert_eq!(table, fake_supported());
        }
        assert_eq!(queries, 2, "one failed query, then one for three VMs");
    }

    #[testkit::needs(kvm)]
    #[test]
    fn the_kept_table_is_what_kvm_reports_after_a_vm_customized_its_copy() {
        if !require_kvm() {
            return;
        }
        let kvm = crate::kvm::open().unwrap();
        let mut first = supported(&kvm).unwrap();
        customize(&mut first, 1, 2).unwrap();
        let fresh = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).unwrap();
        assert_eq!(supported(&kvm).unwrap(), fresh);
        assert_ne!(first, fresh, "the customized copy differs from KVM's");
    }
}
