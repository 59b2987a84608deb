//! A workload instance: its birth (address space, ELF image, argv, stack,
//! the jump to ring 3) and its death (report, count down, exit the VM).
//!
//! One instance per CPU when `flags::RUN_ON_EVERY_VCPU` is set, else one
//! on CPU 0. Instance `i` runs on CPU `i` as process id `1 + i` (so a lone
//! instance is PID 1, as in a container), parent 0.

use core::sync::atomic::{AtomicU32, Ordering};

use versus_abi::{BootInfo, event, status};

use crate::console::Line;
use crate::cpu;
use crate::elf::{self, ElfError, Image};
use crate::entry::enter_user;
use crate::layout::{
    ARGV_VA, LARGE_PAGE_SIZE, MMAP_BASE, PAGE_SIZE, USER_STACK_SIZE, USER_STACK_TOP, align_up,
    phys_to_virt,
};
use crate::memory;
use crate::paging::{Access, AddressSpace, PTE_ADDR};
use crate::percpu::{ENOSYS_SLOTS, PerCpu};
use crate::time;

/// Instances that have ended.
static FINISHED: AtomicU32 = AtomicU32::new(0);
/// The first non-zero exit status of any instance.
static FIRST_FAILURE: AtomicU32 = AtomicU32::new(0);

/// Auxiliary-vector keys (`<elf.h>`).
mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const ENTRY: u64 = 9;
    pub const RANDOM: u64 = 25;
}

/// How many instances this boot runs.
pub fn instances(boot: &BootInfo) -> u32 {
    if boot.run_on_every_vcpu() {
        boot.vcpu_count.max(1)
    } else {
        1
    }
}

/// Builds this CPU's instance and starts it in ring 3.
pub fn start(pc: &mut PerCpu) -> ! {
    let boot = pc.boot();
    if boot.workload_size == 0 {
        fail(pc, "no-workload", status::KERNEL_BAD_WORKLOAD);
    }
    // PML4[0] of the VMM's tables: the PDPT that maps all RAM.
    // SAFETY: the VMM's PML4 is RAM in the boot area, read through the
    // direct map.
    let identity = unsafe { (phys_to_virt(boot.page_tables_addr) as *const u64).read() };
    let Ok(space) = AddressSpace::new(identity & PTE_ADDR) else {
        fail(pc, "out-of-memory", status::KERNEL_OUT_OF_MEMORY);
    };
    pc.pml4 = space.pml4;
    let alone = instances(boot) == 1;
    let image = match elf::load(&space, boot.workload_addr, boot.workload_size, alone) {
        Ok(image) => image,
        Err(ElfError::NoMemory) => fail(pc, "out-of-memory", status::KERNEL_OUT_OF_MEMORY),
        Err(ElfError::Invalid(why)) => fail(pc, why, status::KERNEL_BAD_WORKLOAD),
    };
    pc.brk_start = align_up(image.end, PAGE_SIZE);
    pc.brk = pc.brk_start;
    pc.brk_mapped = pc.brk_start;
    pc.mmap_next = MMAP_BASE;

    // The argv block, read-only, where the argv pointers will point.
    let argv_pages = align_up(boot.argv_len, PAGE_SIZE) / PAGE_SIZE;
    if argv_pages != 0
        && space
            .map_pages(ARGV_VA, boot.argv_addr, argv_pages, Access::READ)
            .is_err()
    {
        fail(pc, "out-of-memory", status::KERNEL_OUT_OF_MEMORY);
    }
    // The stack: one fresh 2 MiB page.
    let Some(stack) = memory::alloc_user(USER_STACK_SIZE, LARGE_PAGE_SIZE) else {
        fail(pc, "out-of-memory", status::KERNEL_OUT_OF_MEMORY);
    };
    if space
        .map_large(USER_STACK_TOP - USER_STACK_SIZE, stack, 1, Access::DATA)
        .is_err()
    {
        fail(pc, "out-of-memory", status::KERNEL_OUT_OF_MEMORY);
    }
    let sp = initial_stack(pc, boot, stack + USER_STACK_SIZE, &image);
    space.activate();
    // SAFETY: `space` maps the image's entry point and the stack just
    // built; it is the current address space.
    unsafe { enter_user(image.entry, sp) }
}

/// Lays out the System V initial stack below [`USER_STACK_TOP`] (whose
/// physical address is `top_pa`) and returns the user RSP:
///
/// ```text
/// rsp → argc, argv[0..argc] (→ the read-only argv block), NULL,
///       NULL (no environment), auxv pairs …, AT_NULL, 16 random bytes
/// ```
fn initial_stack(pc: &PerCpu, boot: &BootInfo, top_pa: u64, image: &Image) -> u64 {
    let argc = u64::from(boot.argc);
    let random = USER_STACK_TOP - 16;
    let words = 1 + argc + 1 + 1 + 2 * 8;
    let sp = (random - 8 * words) & !15;
    let base = phys_to_virt(top_pa - (USER_STACK_TOP - sp)) as *mut u64;
    let mut at = 0usize;
    let mut push = |value: u64| {
        // SAFETY: `base..base + words` lies inside the fresh stack page,
        // below the random bytes.
        unsafe { base.add(at).write_volatile(value) };
        at += 1;
    };
    push(argc);
    argv_pointers(boot, argc, &mut push);
    push(0);
    push(0);
    push(at::PHDR);
    push(image.phdr);
    push(at::PHENT);
    push(56);
    push(at::PHNUM);
    push(image.phnum);
    push(at::PAGESZ);
    push(PAGE_SIZE);
    // No interpreter: its load address is 0, as Linux reports it for a
    // static (or static-PIE) program, whose own base shows in AT_PHDR.
    push(at::BASE);
    push(0);
    push(at::ENTRY);
    push(image.entry);
    push(at::RANDOM);
    push(random);
    push(at::NULL);
    push(0);
    // AT_RANDOM: the TSC, scrambled (no better entropy source here).
    let seed = time::rdtsc() ^ (pc.cpu << 56);
    let random_words = phys_to_virt(top_pa - 16) as *mut u64;
    // SAFETY: the top 16 bytes of the fresh stack page.
    unsafe {
        random_words.write_volatile(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        random_words
            .add(1)
            .write_volatile(seed.rotate_left(29).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    }
    sp
}

/// Pushes the user address of each of the `argc` strings in the argv block
/// (mapped at [`ARGV_VA`]): string 0 starts the block, string `k + 1`
/// follows the `k`-th NUL. The block is scanned 8 bytes at a time.
fn argv_pointers(boot: &BootInfo, argc: u64, push: &mut impl FnMut(u64)) {
    if argc == 0 {
        return;
    }
    push(ARGV_VA);
    let mut found = 1;
    let words = phys_to_virt(boot.argv_addr) as *const u64;
    let len = boot.argv_len;
    let mut offset = 0;
    while found < argc && offset < len {
        // SAFETY: the argv block's page(s), read a whole aligned word at a
        // time (the block starts on a page, so no word crosses into
        // anything but the rest of its own page).
        let x = unsafe { words.add((offset / 8) as usize).read_volatile() };
        // High bit of each byte set iff that byte is zero (exact).
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let mut zeros = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while zeros != 0 && found < argc {
            let at = offset + u64::from(zeros.trailing_zeros() / 8);
            if at + 1 < len {
                push(ARGV_VA + at + 1);
                found += 1;
            }
            zeros &= zeros - 1;
        }
        offset += 8;
    }
}

/// Ends this instance with `code` (the workload's exit status, or
/// 128 + signal): reports, then the last instance to end exits the VM with
/// the first non-zero status (else 0); the others halt.
pub fn exit(pc: &mut PerCpu, code: u32) -> ! {
    report_enosys(pc);
    let pid = pc.pid;
    Line::new(pc, "exit")
        .field("pid")
        .dec(pid)
        .field("status")
        .dec(u64::from(code))
        .emit();
    cpu::marker(event::WORKLOAD_EXIT);
    if code != 0 {
        let _ = FIRST_FAILURE.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
    }
    let finished = FINISHED.fetch_add(1, Ordering::AcqRel) + 1;
    if finished >= instances(pc.boot()) {
        cpu::exit_vm(FIRST_FAILURE.load(Ordering::Acquire));
    }
    cpu::halt()
}

/// `@kernel enosys cpu=0 calls=3 nr=56,61,293 counts=1,1,1`: the system
/// calls this instance asked for and did not get (only if there were any;
/// numbers ≥ 512 are summed as `other=`).
fn report_enosys(pc: &mut PerCpu) {
    let total = pc.enosys_total;
    if total == 0 {
        return;
    }
    let other = pc.enosys_other;
    let counts = (&raw const pc.enosys).cast::<u32>();
    // SAFETY: nr < ENOSYS_SLOTS, inside the array; volatile keeps these
    // plain scalar loops (no vector code in ring 0).
    let count = |nr: usize| unsafe { counts.add(nr).read_volatile() };
    let mut line = Line::new(pc, "enosys");
    line.field("calls").dec(total);
    for (key, show_count) in [("nr", false), ("counts", true)] {
        line.field(key);
        let mut first = true;
        for nr in 0..ENOSYS_SLOTS {
            let n = count(nr);
            if n == 0 {
                continue;
            }
            if !first {
                line.text(",");
            }
            first = false;
            line.dec(if show_count { u64::from(n) } else { nr as u64 });
        }
    }
    if other != 0 {
        line.field("other").dec(other);
    }
    line.emit();
}

/// The kernel cannot start the workload: says why and ends the VM.
fn fail(pc: &mut PerCpu, why: &str, code: u32) -> ! {
    Line::new(pc, "error").field("reason").text(why).emit();
    cpu::exit_vm(code)
}
