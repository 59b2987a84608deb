//! The machine before it runs: the VM with its in-kernel irqchip and PIT,
//! the initramfs and the identity page tables in guest memory, and the
//! vCPUs with their CPUID (vCPU 0 at the kernel's 64-bit entry).

use kvm_bindings::{CpuId, KVM_PIT_SPEAKER_DUMMY, KVMIO, kvm_pit_config, kvm_reinject_control};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use linux_loader::loader::bootparam::setup_header;
use vm_memory::{Bytes, GuestAddress};

use super::super::zeropage::Initrd;
use super::super::{LinuxBoot, LinuxError, initrd};
use crate::cpu;
use crate::layout::{KERNEL_START, PAGE_TABLES_END, PAGE_TABLES_START};
use crate::memory::{GuestMem, MemoryLayout};
use crate::paging::IdentityMap;

/// Where KVM's VMX wants its real-mode TSS (three pages just below the
/// BIOS at the top of 4 GiB, as QEMU and Firecracker place it): the other
/// CPUs start in real mode.
const KVM_TSS_ADDRESS: usize = 0xfffb_d000;
/// CPUID.1:ECX bits hidden on a software backend: CX16 (cmpxchg16b) and
/// XSAVE/OSXSAVE (xrstor), which its emulator refuses.
const CPUID1_ECX_HIDE: u32 = (1 << 13) | (1 << 26) | (1 << 27);
// KVM_REINJECT_CONTROL, which kvm-ioctls does not wrap: `_IO(KVMIO, 0x71)`
// with a `struct kvm_reinject_control` argument (Documentation/virt/kvm/api.rst).
vmm_sys_util::ioctl_io_nr!(KVM_REINJECT_CONTROL, KVMIO, 0x71);

/// KVM's feature leaf (`KVM_CPUID_FEATURES`): EAX lists the paravirtual
/// features the guest may use.
const KVM_CPUID_FEATURES: u32 = 0x4000_0001;
/// The KVM features that are hypercalls (`vmcall`), hidden on a software
/// backend: a `vmcall` from the emulated guest kernel never returns there
/// (with 2 vCPUs the second CPU sat at the `vmcall` of
/// `KVM_HC_SEND_IPI` while the first spun on a lock it held). PV_UNHALT
/// (bit 7, `KVM_HC_KICK_CPU`), PV_SEND_IPI (bit 11) and PV_SCHED_YIELD
/// (bit 13): without them Linux sends IPIs through the local APIC and
/// spins instead of yielding. The features that are MSRs (kvm-clock,
/// steal time, EOI) stay.
const KVM_HYPERCALL_FEATURES: u32 = (1 << 7) | (1 << 11) | (1 << 13);

/// The CPUID one vCPU gets: KVM's supported table (KVM's own leaves kept,
/// so Linux finds kvm-clock), the vCPU's APIC id in leaves 1 and 0xb, and on
/// a software backend CX16, XSAVE and KVM's hypercall features hidden.
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
            KVM_CPUID_FEATURES if software => entry.eax &= !KVM_HYPERCALL_FEATURES,
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

/// A VM with KVM's in-kernel irqchip (PIC, I/O APIC, local APICs) and PIT
/// (on a software backend without the reinjection of missed PIT ticks).
pub(super) fn create_vm(kvm: &Kvm, software: bool) -> Result<VmFd, LinuxError> {
    let vm = kvm
        .create_vm()
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_VM", e))?;
    // VMX runs the other CPUs' real-mode start through this TSS; other
    // backends do not need it and may refuse it, which is harmless.
    let _ = vm.set_tss_address(KVM_TSS_ADDRESS);
    vm.create_irq_chip()
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_IRQCHIP", e))?;
    let pit = kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    vm.create_pit2(pit)
        .map_err(|e| LinuxError::Ioctl("KVM_CREATE_PIT2", e))?;
    if software {
        // The PIT's ticks that the guest missed (its vCPU not running, as
        // on a loaded host) are not delivered later in a burst: a software
        // backend, which emulates every instruction of the tick handler,
        // would spend its time catching up instead of booting.
        let control = kvm_reinject_control {
            pit_reinject: 0,
            ..Default::default()
        };
        // SAFETY: KVM_REINJECT_CONTROL reads one `kvm_reinject_control`,
        // which `control` is and outlives the call; `vm` is a VM fd.
        let ret =
            unsafe { vmm_sys_util::ioctl::ioctl_with_ref(&vm, KVM_REINJECT_CONTROL(), &control) };
        if ret < 0 {
            return Err(LinuxError::Ioctl(
                "KVM_REINJECT_CONTROL",
                kvm_ioctls::Error::last(),
            ));
        }
    }
    Ok(vm)
}

/// Writes `archive` where the boot protocol allows an initramfs: placed
/// before the kernel is loaded (the zero page points at it) and checked
/// against the kernel's end by [`check_initrd`] once that is known.
pub(super) fn place_initrd(
    mem: &GuestMem,
    layout: &MemoryLayout,
    header: Option<&setup_header>,
    archive: &[u8],
) -> Result<Initrd, LinuxError> {
    let placed = initrd::place(layout, header, KERNEL_START, archive.len() as u64)?;
    mem.write_slice(archive, GuestAddress(placed.addr))
        .map_err(|source| LinuxError::GuestWrite {
            addr: placed.addr,
            source,
        })?;
    Ok(placed)
}

/// Refuses an initramfs the loaded kernel reaches into.
pub(super) fn check_initrd(ramdisk: Option<Initrd>, boot: &LinuxBoot) -> Result<(), LinuxError> {
    match ramdisk {
        Some(placed) if placed.addr < boot.kernel_end => Err(LinuxError::InitrdTooLarge {
            size: placed.size,
            room: (placed.addr + placed.size).saturating_sub(boot.kernel_end),
        }),
        _ => Ok(()),
    }
}

/// The GDT and the identity page tables the 64-bit entry runs on; returns
/// the tables' base (CR3).
pub(super) fn write_long_mode_tables(
    mem: &GuestMem,
    layout: &MemoryLayout,
) -> Result<u64, LinuxError> {
    crate::gdt::write_gdt(mem).map_err(|e| LinuxError::Setup(e.to_string()))?;
    let tables = IdentityMap::build(layout.regions(), PAGE_TABLES_START, PAGE_TABLES_END)
        .map_err(|e| LinuxError::Setup(e.to_string()))?;
    tables
        .write(mem)
        .map_err(|e| LinuxError::Setup(e.to_string()))?;
    Ok(tables.base)
}

/// `count` vCPUs with their CPUID; vCPU 0 in long mode at `boot.entry` with
/// RSI = the zero page, the others left in reset until Linux's INIT/SIPI.
pub(super) fn create_vcpus(
    kvm: &Kvm,
    vm: &VmFd,
    count: u32,
    software: bool,
    boot: &LinuxBoot,
    page_tables: u64,
) -> Result<Vec<VcpuFd>, LinuxError> {
    let supported = crate::cpuid::supported(kvm)
        .map_err(|e| LinuxError::Ioctl("KVM_GET_SUPPORTED_CPUID", e))?;
    let mut fds = Vec::with_capacity(count as usize);
    for index in 0..count {
        let fd = vm
            .create_vcpu(u64::from(index))
            .map_err(|e| LinuxError::Ioctl("KVM_CREATE_VCPU", e))?;
        fd.set_cpuid2(&linux_cpuid(&supported, index, software))
            .map_err(|e| LinuxError::Ioctl("KVM_SET_CPUID2", e))?;
        if index == 0 {
            let sregs = fd
                .get_sregs()
                .map_err(|e| LinuxError::Ioctl("KVM_GET_SREGS", e))?;
            fd.set_sregs(&cpu::long_mode_sregs(sregs, page_tables))
                .map_err(|e| LinuxError::Ioctl("KVM_SET_SREGS", e))?;
            let regs = kvm_bindings::kvm_regs {
                rip: boot.entry,
                rsi: boot.boot_params,
                rflags: 0x2, // bit 1 is reserved and always 1; IF clear
                ..Default::default()
            };
            fd.set_regs(&regs)
                .map_err(|e| LinuxError::Ioctl("KVM_SET_REGS", e))?;
            fd.set_fpu(&cpu::entry_fpu())
                .map_err(|e| LinuxError::Ioctl("KVM_SET_FPU", e))?;
        }
        fds.push(fd);
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpuid::find;
    use kvm_bindings::kvm_cpuid_entry2;

    /// KVM's features as a KVM backend offers them: kvm-clock (bits 0 and
    /// 3), PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD, and the rest set too.
    const OFFERED: u32 = 0xffff;

    fn supported() -> CpuId {
        CpuId::from_entries(&[
            kvm_cpuid_entry2 {
                function: 1,
                ebx: 0x0008_0800,
                ecx: u32::MAX,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                edx: 7,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: KVM_CPUID_FEATURES,
                eax: OFFERED,
                ..Default::default()
            },
        ])
        .unwrap()
    }

    #[test]
    fn each_vcpu_gets_its_apic_id_as_the_mp_table_says() {
        let table = linux_cpuid(&supported(), 1, false);
        let leaf1 = find(&table, 1, 0).unwrap();
        assert_eq!(leaf1.ebx >> 24, 1);
        assert_eq!(leaf1.ebx & 0x00ff_ffff, 0x0008_0800, "the rest kept");
        assert_eq!(find(&table, 0xb, 0).unwrap().edx, 1);
    }

    #[test]
    fn a_software_backend_hides_kvms_hypercalls_and_keeps_kvm_clock() {
        let table = linux_cpuid(&supported(), 1, true);
        let features = find(&table, KVM_CPUID_FEATURES, 0).unwrap().eax;
        for (bit, name) in [
            (7, "PV_UNHALT"),
            (11, "PV_SEND_IPI"),
            (13, "PV_SCHED_YIELD"),
        ] {
            assert_eq!(features & (1 << bit), 0, "{name} is a vmcall");
        }
        assert_eq!(
            features | KVM_HYPERCALL_FEATURES,
            OFFERED,
            "only the hypercalls go"
        );
        assert_eq!(find(&table, 1, 0).unwrap().ecx & CPUID1_ECX_HIDE, 0);
    }

    #[test]
    fn hardware_keeps_every_kvm_feature() {
        let table = linux_cpuid(&supported(), 0, false);
        assert_eq!(find(&table, KVM_CPUID_FEATURES, 0).unwrap().eax, OFFERED);
        assert_eq!(find(&table, 1, 0).unwrap().ecx, u32::MAX);
    }
}
