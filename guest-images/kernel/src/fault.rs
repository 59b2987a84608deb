//! Exceptions other than the system-call page fault.
//!
//! * **From user mode**: the instance ends as Linux would end the process
//!   on the signal the exception raises — exit status 128 + signal — after
//!   `@kernel fault cpu=0 pid=1 signal=SIGSEGV vector=14 rip=0x401234
//!   addr=0x0 error=0x6` (`addr` is CR2 for a page fault, else 0).
//! * **From kernel mode** (and NMI, #DF, #MC from anywhere): a kernel bug.
//!   `@kernel panic cpu=0 vector=13 rip=… addr=… error=…`, then the VM
//!   exits with `status::KERNEL_BASE + vector` at once. A second fault while
//!   reporting skips the report.
//!
//! The one kernel-mode fault that is the user's doing: the system-call
//! return `iretq` faulting on a non-canonical return address, which a user
//! can forge by jumping to LSTAR with a bad RCX. That ends the instance
//! with SIGSEGV.

use versus_abi::status;

use crate::console::Line;
use crate::cpu;
use crate::entry::{ExceptionFrame, versus_syscall_iretq};
use crate::idt::vector;
use crate::percpu::PerCpu;
use crate::process;

/// Signal numbers.
mod signal {
    pub const SIGILL: u32 = 4;
    pub const SIGTRAP: u32 = 5;
    pub const SIGBUS: u32 = 7;
    pub const SIGFPE: u32 = 8;
    pub const SIGSEGV: u32 = 11;
}

/// The signal Linux sends for an exception in user mode.
fn signal_of(vector: u64) -> (u32, &'static str) {
    use signal::*;
    match vector {
        vector::DE | vector::MF | vector::XM | vector::NM => (SIGFPE, "SIGFPE"),
        vector::DB | vector::BP => (SIGTRAP, "SIGTRAP"),
        vector::UD => (SIGILL, "SIGILL"),
        vector::NP | vector::SS | vector::AC => (SIGBUS, "SIGBUS"),
        _ => (SIGSEGV, "SIGSEGV"),
    }
}

/// Called by `versus_exception_common` with the saved frame.
pub extern "C" fn exception(frame: &ExceptionFrame) -> ! {
    // SAFETY: every IST stack's top holds its CPU's PerCpu pointer (for
    // IST1 it is the PerCpu's own first field), and the frame ends there.
    let pc = unsafe {
        let top = (frame as *const ExceptionFrame)
            .add(1)
            .cast::<*mut PerCpu>();
        &mut *top.read()
    };
    let addr = if frame.vector == vector::PF {
        cpu::cr2()
    } else {
        0
    };
    let fatal = matches!(frame.vector, vector::NMI | vector::DF | vector::MC);
    if frame.cs & 3 == 3 && !fatal {
        user_fault(pc, frame.vector, frame.rip, addr, frame.error)
    } else if frame.vector == vector::GP && frame.rip == (&raw const versus_syscall_iretq) as u64 {
        // The return address is lost with the overwritten frame.
        user_fault(pc, vector::GP, 0, 0, frame.error)
    } else {
        kernel_fault(pc, frame, addr)
    }
}

fn user_fault(pc: &mut PerCpu, vector: u64, rip: u64, addr: u64, error: u64) -> ! {
    let (number, name) = signal_of(vector);
    let pid = pc.pid;
    Line::new(pc, "fault")
        .field("pid")
        .dec(pid)
        .field("signal")
        .text(name)
        .field("vector")
        .dec(vector)
        .field("rip")
        .hex(rip)
        .field("addr")
        .hex(addr)
        .field("error")
        .hex(error)
        .emit();
    process::exit(pc, 128 + number)
}

fn kernel_fault(pc: &mut PerCpu, frame: &ExceptionFrame, addr: u64) -> ! {
    let code = status::KERNEL_BASE + frame.vector as u32;
    if pc.in_fault {
        cpu::exit_vm(code);
    }
    pc.in_fault = true;
    Line::new(pc, "panic")
        .field("vector")
        .dec(frame.vector)
        .field("rip")
        .hex(frame.rip)
        .field("addr")
        .hex(addr)
        .field("error")
        .hex(frame.error)
        .field("rsp")
        .hex(frame.rsp)
        .emit();
    cpu::exit_vm(code)
}
