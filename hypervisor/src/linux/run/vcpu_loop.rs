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
/// What a port read returns where no device answers: an ISA bus with
/// nothing driving it reads all ones.
const FLOATING_BUS: u8 = 0xff;
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
            Ok(VcpuExit::IoOut(port, [value])) => {
                kind = ExitKind::IoOut { port };
                port_out(devices, port, *value)
            }
            Ok(VcpuExit::IoOut(port, _)) => {
                // `out dx, ax`/`eax`, or a batch of `rep outs` elements:
                // KVM hands over count × size bytes, and only the access
                // size tells which port each byte is for.
                kind = ExitKind::IoOut { port };
                let size = io_access_size(&mut fd);
                let data = io_data(&mut fd);
                let ports = port_bytes(port, data.len(), size);
                ports
                    .zip(data.iter())
                    .find_map(|(port, &value)| port_out(devices, port, value))
            }
            Ok(VcpuExit::IoIn(port, [value])) => {
                kind = ExitKind::IoIn { port };
                *value = port_in(devices, port);
                None
            }
            Ok(VcpuExit::IoIn(port, _)) => {
                // `in ax`/`eax`, or a batch of `rep ins` elements: each byte
                // comes from its own port, which only the access size says.
                kind = ExitKind::IoIn { port };
                let size = io_access_size(&mut fd);
                let data = io_data(&mut fd);
                let ports = port_bytes(port, data.len(), size);
                for (value, port) in data.iter_mut().zip(ports) {
                    *value = port_in(devices, port);
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

/// The device behind one byte-wide port write; `Some` if the write ends
/// the run (the i8042's reset line).
fn port_out(devices: &Devices, port: u16, value: u8) -> Option<LinuxEnd> {
    if (COM1..COM1 + COM1_PORTS).contains(&port) {
        // The sink never fails; a failed interrupt write (the eventfd's
        // counter full) only delays the guest's tty.
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

/// One byte-wide port read; with no device there the bus floats high.
fn port_in(devices: &Devices, port: u16) -> u8 {
    if (COM1..COM1 + COM1_PORTS).contains(&port) {
        lock(&devices.uart).read((port - COM1) as u8)
    } else if Rtc::handles(port) {
        lock(&devices.rtc).pio_read(port)
    } else {
        FLOATING_BUS
    }
}

/// The port each byte of a port-I/O exit's data belongs to. KVM hands over
/// `count` elements of `size` bytes (`kvm_run.io`): a `rep outsb` is many
/// 1-byte elements all for `port`, an `out dx, ax` one 2-byte element
/// whose bytes go to `port` and `port + 1`, as on an ISA bus.
fn port_bytes(port: u16, len: usize, size: usize) -> impl Iterator<Item = u16> {
    let size = size.max(1);
    (0..len).map(move |i| port.wrapping_add((i % size) as u16))
}

/// The access size of the port-I/O exit the vCPU is in (1, 2 or 4).
fn io_access_size(fd: &mut VcpuFd) -> usize {
    let run = fd.get_kvm_run();
    // SAFETY: called only on a KVM_EXIT_IO exit, for which KVM filled the
    // `io` member of the exit union; it is plain integers.
    usize::from(unsafe { run.__bindgen_anon_1.io.size })
}

/// The data of the port-I/O exit the vCPU is in: `count × size` bytes at
/// `data_offset` into the `kvm_run` mapping, which KVM copies into the
/// guest for an `in` when the vCPU runs again.
fn io_data(fd: &mut VcpuFd) -> &mut [u8] {
    let run = fd.get_kvm_run();
    // SAFETY: called only on a KVM_EXIT_IO exit, for which KVM filled the
    // `io` member of the exit union; it is plain integers.
    let io = unsafe { run.__bindgen_anon_1.io };
    let len = usize::from(io.size) * io.count as usize;
    // SAFETY: KVM puts the data `data_offset` bytes into the kvm_run
    // mapping (the PIO page), which kvm-ioctls maps whole for the vCPU's
    // life, so the offset stays inside that one allocation.
    let start = unsafe {
        std::ptr::from_mut(run)
            .cast::<u8>()
            .add(io.data_offset as usize)
    };
    // SAFETY: `len` bytes from `start` are inside the mapping (KVM sizes
    // count × size to fit the PIO page); the slice borrows `fd` mutably, so
    // nothing else reaches the mapping meanwhile (kvm-ioctls builds the
    // same slice for `VcpuExit::IoIn`).
    unsafe { std::slice::from_raw_parts_mut(start, len) }
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

#[cfg(test)]
mod tests {
    use super::port_bytes;

    #[test]
    fn a_rep_outsb_batch_sends_every_byte_to_the_one_port() {
        let ports: Vec<u16> = port_bytes(0x3f8, 5, 1).collect();
        assert_eq!(ports, [0x3f8; 5]);
    }

    #[test]
    fn a_wide_access_spreads_its_bytes_over_consecutive_ports() {
        // `out dx, ax` to 0x3f8: THR, then IER, as on an ISA bus.
        assert_eq!(port_bytes(0x3f8, 2, 2).collect::<Vec<_>>(), [0x3f8, 0x3f9]);
        // `rep outsw` with a count of 2.
        assert_eq!(
            port_bytes(0x70, 4, 2).collect::<Vec<_>>(),
            [0x70, 0x71, 0x70, 0x71]
        );
        // `in eax, dx`.
        assert_eq!(
            port_bytes(0x3f8, 4, 4).collect::<Vec<_>>(),
            [0x3f8, 0x3f9, 0x3fa, 0x3fb]
        );
    }
}
