//! One vCPU thread: its exit loop (port I/O to the devices, MMIO floating
//! high, the exits that end the run), and the assists for what KVM's
//! emulator refuses (`int3` becomes `#BP`, `fwait` is skipped).

use std::sync::atomic::Ordering;
use std::time::Instant;

use kvm_ioctls::{VcpuExit, VcpuFd};

use super::super::walk::read_virt;
use super::LinuxEnd;
use super::devices::{COM1, COM1_PORTS, Devices, I8042_COMMAND, I8042_RESET};
use super::supervise::{RunShared, lock};
use crate::devices::rtc::Rtc;
use crate::exits::{ExitKind, ExitStats};
use crate::memory::GuestMem;
use crate::vcpu;

/// KVM_INTERNAL_ERROR_EMULATION.
const SUBERROR_EMULATION: u32 = 1;
/// Opcodes versus assists with.
const INT3: u8 = 0xcc;
const FWAIT: u8 = 0x9b;
/// The #BP vector.
const BP_VECTOR: u8 = 3;
/// Bytes of an x86 instruction at most.
const INSN_MAX: usize = 15;

/// One vCPU's loop.
pub(super) fn vcpu_loop(
    mut fd: VcpuFd,
    index: u32,
    shared: &RunShared,
    devices: &Devices,
    mem: &GuestMem,
) -> ExitStats {
    let _kick = vcpu::KickTarget::set(&mut fd);
    let mut stats = ExitStats::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let exit = fd.run();
        let exited = Instant::now();
        let mut kind = ExitKind::Other;
        let end = match exit {
            Ok(VcpuExit::IoOut(port, data)) => {
                kind = ExitKind::IoOut { port };
                let value = data.first().copied().unwrap_or(0);
                if (COM1..COM1 + COM1_PORTS).contains(&port) {
                    // The sink never fails; a failed interrupt write (the
                    // eventfd's counter full) only delays the guest's tty.
                    let _ = lock(&devices.uart).write((port - COM1) as u8, value);
                    None
                } else if Rtc::handles(port) {
                    lock(&devices.rtc).pio_write(port, value);
                    None
                } else if port == I8042_COMMAND && value == I8042_RESET {
                    Some(LinuxEnd::Reboot)
                } else {
                    None
                }
            }
            Ok(VcpuExit::IoIn(port, data)) => {
                kind = ExitKind::IoIn { port };
                let device = if (COM1..COM1 + COM1_PORTS).contains(&port) {
                    Some(lock(&devices.uart).read((port - COM1) as u8))
                } else if Rtc::handles(port) {
                    Some(lock(&devices.rtc).pio_read(port))
                } else {
                    None
                };
                if let Some(v) = device {
                    data.fill(0);
                    if let Some(b) = data.first_mut() {
                        *b = v;
                    }
                } else {
                    // No device: the bus floats high.
                    data.fill(0xff);
                }
                None
            }
            Ok(VcpuExit::MmioRead(_, data)) => {
                kind = ExitKind::MmioRead;
                data.fill(0xff);
                None
            }
            Ok(VcpuExit::MmioWrite(..)) => {
                kind = ExitKind::MmioWrite;
                None
            }
            Ok(VcpuExit::Hlt) => {
                kind = ExitKind::Hlt;
                None
            }
            Ok(VcpuExit::Shutdown) => {
                kind = ExitKind::Shutdown;
                Some(LinuxEnd::Shutdown {
                    vcpu: index,
                    rip: fd.get_regs().ok().map(|r| r.rip),
                })
            }
            Ok(VcpuExit::InternalError) => {
                kind = ExitKind::InternalError;
                internal_error(&mut fd, index, shared, mem)
            }
            Ok(VcpuExit::SystemEvent(kind, _)) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("KVM system event {kind} (reset or shutdown)"),
            }),
            Ok(other) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("unexpected exit {other:?}"),
            }),
            Err(e) if e.errno() == libc::EINTR => {
                kind = ExitKind::Interrupted;
                fd.set_kvm_immediate_exit(0);
                shared.answer_probe(index, &fd);
                None
            }
            Err(e) if e.errno() == libc::EAGAIN => None,
            Err(e) => Some(LinuxEnd::VcpuError {
                vcpu: index,
                message: format!("KVM_RUN: {e}"),
            }),
        };
        stats.record(kind, exited.elapsed().as_nanos() as u64);
        shared.note_exit(kind);
        if let Some(end) = end {
            shared.finish(end);
        }
    }
    stats
}

/// An internal error: assist with `int3` and `fwait`, or end the run with
/// RIP and the bytes there.
fn internal_error(
    fd: &mut VcpuFd,
    index: u32,
    shared: &RunShared,
    mem: &GuestMem,
) -> Option<LinuxEnd> {
    let suberror = {
        let run = fd.get_kvm_run();
        // SAFETY: the exit was KVM_EXIT_INTERNAL_ERROR, so KVM filled the
        // `internal` member of the exit union; it is plain integers.
        unsafe { run.__bindgen_anon_1.internal.suberror }
    };
    if suberror != SUBERROR_EMULATION {
        return Some(LinuxEnd::InternalError {
            vcpu: index,
            suberror,
        });
    }
    let (Ok(mut regs), Ok(sregs)) = (fd.get_regs(), fd.get_sregs()) else {
        return Some(LinuxEnd::VcpuError {
            vcpu: index,
            message: "emulation failure, and its registers could not be read".into(),
        });
    };
    let rip = regs.rip;
    // The first byte decides an assist (the common case, on every int3 and
    // fwait); the whole instruction is read only for a failure's report.
    let first = read_virt(mem, sregs.cr0, sregs.cr3, rip, 1);
    let assisted = match first.first() {
        Some(&INT3) => {
            regs.rip = regs.rip.wrapping_add(1);
            let injected = fd.get_vcpu_events().ok().and_then(|mut events| {
                events.exception.injected = 1;
                events.exception.nr = BP_VECTOR;
                events.exception.has_error_code = 0;
                events.exception.pending = 0;
                fd.set_regs(&regs).ok()?;
                fd.set_vcpu_events(&events).ok()
            });
            injected.map(|()| "int3 (#BP injected)")
        }
        Some(&FWAIT) => {
            regs.rip = regs.rip.wrapping_add(1);
            fd.set_regs(&regs).ok().map(|()| "fwait (skipped)")
        }
        _ => None,
    };
    match assisted {
        Some(what) => {
            *lock(&shared.assists).entry(what).or_default() += 1;
            None
        }
        None => Some(LinuxEnd::EmulationFailure {
            vcpu: index,
            rip,
            bytes: read_virt(mem, sregs.cr0, sregs.cr3, rip, INSN_MAX),
        }),
    }
}
