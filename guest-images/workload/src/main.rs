#![no_std]
#![no_main]

use core::arch::{asm, naked_asm};

#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!("mov rdi, rsp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

extern "C" fn main(_sp: *const u64) -> ! {
    let msg = b"@versus start task=startup\n";
    // SAFETY: write(1, msg, len) reads only `msg`.
    unsafe { asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize, in("rsi") msg.as_ptr(), in("rdx") msg.len(), lateout("rcx") _, lateout("r11") _, options(nostack)) };
    // SAFETY: exit_group does not return.
    unsafe { asm!("syscall", in("rax") 231usize, in("rdi") 0usize, options(noreturn, nostack)) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
