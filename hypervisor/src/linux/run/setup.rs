//! The machine's fixed set-up: where KVM's real-mode TSS goes, and the
//! CPUID each vCPU gets.

use kvm_bindings::CpuId;

/// Where KVM's VMX wants its real-mode TSS (three pages just below the
/// BIOS at the top of 4 GiB, as QEMU and Firecracker place it): the other
/// CPUs start in real mode.
pub(super) const KVM_TSS_ADDRESS: usize = 0xfffb_d000;
/// CPUID.1:ECX bits hidden on a software backend: CX16 (cmpxchg16b) and
/// XSAVE/OSXSAVE (xrstor), which its emulator refuses.
const CPUID1_ECX_HIDE: u32 = (1 << 13) | (1 << 26) | (1 << 27);

/// The CPUID one vCPU gets: KVM's supported table (KVM's own leaves kept,
/// so Linux finds kvm-clock), the vCPU's APIC id in leaves 1 and 0xb, and on
/// a software backend CX16 and XSAVE hidden.
pub fn linux_cpuid(supported: &CpuId, index: u32, software: bool) -> CpuId {
    let mut table = supported.clone();
    for entry in table.as_mut_slice() {
        match entry.function {
            1 => {
                entry.ebx = (entry.ebx & 0x00ff_ffff) | (index << 24);
                if software {
                    entry.ecx &= !CPUID1_ECX_HIDE;
                }
            }
            0xb => entry.edx = index,
            0xd if software => {
                entry.eax = 0;
                entry.ebx = 0;
                entry.ecx = 0;
                entry.edx = 0;
            }
            _ => {}
        }
    }
    table
}
