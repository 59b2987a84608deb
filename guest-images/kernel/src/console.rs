//! The console: what `write(1 or 2, …)` and the kernel's own `@kernel`
//! lines go to.
//!
//! * **Two streams**: fd 1 and the kernel's lines go to `port::CONSOLE`,
//!   fd 2 to `port::CONSOLE_STDERR`, so the VMM can keep stderr apart from
//!   stdout as a host process's two pipes are. The UART is one device:
//!   there both streams share it.
//! * **Paravirtual** (default): the kernel points `port::CONSOLE` at a
//!   `ConsoleDescriptor` (physical address and length) and the VMM copies
//!   the whole buffer in that one exit. A user buffer costs one exit per
//!   physically contiguous chunk (found by walking the user's page tables,
//!   which is also the validation of the pointer); the workload's lines and
//!   its 64 KiB bss buffer are contiguous, so one `write` is one exit.
//! * **UART** (`versus_abi::flags::CONSOLE_UART`): byte by byte to the
//!   16550's transmit register, one exit per byte — the same output, for
//!   comparing the two.
//!
//! Kernel lines use the workload's grammar (`docs/en/workload.md`,
//! `versus_protocol::line`) with the prefix `@kernel `: space-separated
//! `key=value` fields, numbers in decimal or `0x` hex. The prefix and the
//! field steps come from `versus_protocol::line::Writer`, the host's parser
//! reads them with the same crate. No `core::fmt`: integer formatting only.

use core::arch::asm;

use versus_abi::{CONSOLE_MAX_LEN, port};
use versus_protocol::line::{Writer, key};

use crate::errno::{EFAULT, Errno};
use crate::layout::{PAGE_SIZE, phys_to_virt};
use crate::paging::AddressSpace;
use crate::percpu::PerCpu;

/// Room for one kernel line.
pub const LINE_CAPACITY: usize = 496;

/// A kernel line being built (in the per-CPU area: low, physically
/// contiguous memory the console can read directly).
#[repr(C)]
pub struct LineBuf {
    len: u64,
    buf: [u8; LINE_CAPACITY],
}

/// Which of the workload's output streams a write goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// fd 1, and the kernel's own `@kernel` lines: `port::CONSOLE`.
    Stdout,
    /// fd 2: `port::CONSOLE_STDERR`, so that the VMM keeps it apart.
    Stderr,
}

impl Stream {
    /// The stream a console file descriptor (1 or 2) writes to.
    pub fn of_fd(fd: u64) -> Self {
        if fd == 2 {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
}

/// Writes `len` bytes at physical `pa` (contiguous) to standard output.
pub fn emit_phys(pc: &mut PerCpu, pa: u64, len: u64) {
    emit_phys_to(pc, Stream::Stdout, pa, len);
}

/// Writes `len` bytes at physical `pa` (contiguous) to `stream`.
pub fn emit_phys_to(pc: &mut PerCpu, stream: Stream, pa: u64, len: u64) {
    if len == 0 {
        return;
    }
    // Kernel lines go to stdout: they must start on a line of their own
    // there. Stderr is a console of its own — except on the one UART.
    if stream == Stream::Stdout || pc.console_uart {
        // SAFETY: `pa + len - 1` is the buffer's last byte (the caller's
        // contract), read through the direct map.
        pc.mid_line =
            unsafe { ((phys_to_virt(pa + len - 1)) as *const u8).read_volatile() } != b'\n';
    }
    if pc.console_uart {
        let bytes = phys_to_virt(pa) as *const u8;
        for i in 0..len {
            // SAFETY: `pa..pa + len` is RAM (the caller's contract),
            // reached through the direct map.
            let byte = unsafe { bytes.add(i as usize).read_volatile() };
            // SAFETY: the UART's transmit register; one exit per byte.
            unsafe {
                asm!("out dx, al", in("dx") port::COM1, in("al") byte, options(nostack, preserves_flags));
            }
        }
    } else {
        pc.console.addr = pa;
        pc.console.len = len;
        let descriptor = pc.phys_of(&raw const pc.console) as u32;
        let console_port = match stream {
            Stream::Stdout => port::CONSOLE,
            Stream::Stderr => port::CONSOLE_STDERR,
        };
        // SAFETY: the VMM reads the descriptor (below 4 GiB: the per-CPU
        // area is low memory) and the buffer it names during this exit.
        unsafe {
            asm!("out dx, eax", in("dx") console_port, in("eax") descriptor, options(nostack, preserves_flags));
        }
    }
}

/// `write(2)` to `stream` from user memory: the bytes of `[va, va +
/// len)` the user may read, in as few exits as their physical layout
/// allows. Stops at the first page the user cannot read: returns the bytes
/// written, or `EFAULT` if that was the first.
pub fn write_user(pc: &mut PerCpu, stream: Stream, va: u64, len: u64) -> Result<u64, Errno> {
    let space = AddressSpace { pml4: pc.pml4 };
    let mut done = 0;
    let (mut chunk_pa, mut chunk_len) = (0, 0);
    while done < len {
        let Some((pa, in_page)) = space.translate(va.wrapping_add(done), false) else {
            break;
        };
        let take = in_page.min(len - done).min(PAGE_SIZE);
        if chunk_len != 0 && (pa != chunk_pa + chunk_len || chunk_len + take > CONSOLE_MAX_LEN) {
            emit_phys_to(pc, stream, chunk_pa, chunk_len);
            chunk_len = 0;
        }
        if chunk_len == 0 {
            chunk_pa = pa;
        }
        chunk_len += take;
        done += take;
    }
    emit_phys_to(pc, stream, chunk_pa, chunk_len);
    if done == 0 && len != 0 {
        return Err(EFAULT);
    }
    Ok(done)
}

/// A kernel line under construction: `@kernel <what>` and fields.
pub struct Line<'a> {
    pc: &'a mut PerCpu,
}

impl<'a> Line<'a> {
    /// Starts `@kernel <what> cpu=<n>` — on a line of its own: after a
    /// newline if this CPU's last output did not end with one.
    pub fn new(pc: &'a mut PerCpu, what: &str) -> Self {
        pc.line.len = 0;
        let cpu = pc.cpu;
        let fresh_line = !pc.mid_line;
        let mut line = Self { pc };
        if !fresh_line {
            line.byte(b'\n');
        }
        line.kernel_start(what);
        line.field(key::CPU).dec(cpu);
        line
    }

    /// Appends raw text (cut at the capacity, keeping room for `\n`).
    pub fn text(&mut self, text: &str) -> &mut Self {
        Writer::text(self, text);
        self
    }

    /// Appends ` key=`.
    pub fn field(&mut self, key: &str) -> &mut Self {
        Writer::key(self, key);
        self
    }

    /// Appends `n` in decimal.
    pub fn dec(&mut self, n: u64) -> &mut Self {
        let mut digits = 1;
        let mut rest = n / 10;
        while rest != 0 {
            digits += 1;
            rest /= 10;
        }
        let line = &mut self.pc.line;
        let start = line.len as usize;
        if start + digits < LINE_CAPACITY {
            let mut at = start + digits;
            let mut x = n;
            loop {
                at -= 1;
                // SAFETY: start <= at < start + digits < LINE_CAPACITY.
                unsafe {
                    line.buf
                        .as_mut_ptr()
                        .add(at)
                        .write_volatile(b'0' + (x % 10) as u8)
                };
                x /= 10;
                if x == 0 {
                    break;
                }
            }
            line.len += digits as u64;
        }
        self
    }

    /// Appends `n` as `0x` and lowercase hex digits.
    pub fn hex(&mut self, n: u64) -> &mut Self {
        self.text("0x");
        let mut shift = 60;
        while shift > 0 && (n >> shift) == 0 {
            shift -= 4;
        }
        loop {
            let digit = ((n >> shift) & 0xf) as u8;
            self.byte(if digit < 10 {
                b'0' + digit
            } else {
                b'a' + digit - 10
            });
            if shift == 0 {
                break;
            }
            shift -= 4;
        }
        self
    }

    /// Writes the line and its newline to the console.
    pub fn emit(&mut self) {
        self.pc.line.len = self.pc.line.len.min(LINE_CAPACITY as u64 - 1);
        let len = self.pc.line.len as usize;
        // SAFETY: len < LINE_CAPACITY.
        unsafe { self.pc.line.buf.as_mut_ptr().add(len).write_volatile(b'\n') };
        let pa = self.pc.phys_of(self.pc.line.buf.as_ptr());
        emit_phys(self.pc, pa, len as u64 + 1);
    }
}

/// The protocol's shared line steps, on the per-CPU line buffer.
impl Writer for Line<'_> {
    /// Appends a byte, dropping it when only the newline's slot is left.
    fn byte(&mut self, byte: u8) {
        let line = &mut self.pc.line;
        let len = line.len as usize;
        if len < LINE_CAPACITY - 1 {
            // SAFETY: len < LINE_CAPACITY.
            unsafe { line.buf.as_mut_ptr().add(len).write_volatile(byte) };
            line.len += 1;
        }
    }
}
