//! Step 6: what the VMM does with each VM exit — a plain function,
//! [`handle_exit`], over a plain value, [`Exit`], so that it is unit-tested
//! with fabricated exits and no `/dev/kvm` (`vcpu.rs` turns KVM's
//! `VcpuExit` into an [`Exit`]).
//!
//! | exit | what happens |
//! |---|---|
//! | `out`/`in` COM1..+8 | the 16550 UART (`devices/serial.rs`) |
//! | `out` MARKER | event code timestamped for this vCPU |
//! | `out` EXIT | the guest's exit status; every vCPU stops |
//! | `out` CONSOLE, CONSOLE_STDERR | a `ConsoleDescriptor` read from guest memory; its whole buffer copied in this one exit, to the vCPU's stdout or stderr log |
//! | `out`/`in` PING | nothing (`in` reads 0): the bare exit round trip |
//! | `out` SLEEP | the vCPU thread sleeps on the host (`devices/paravirt.rs`); counted as `sleep` |
//! | `out` RANDOM | a guest buffer filled from the host's `getrandom` (`devices/paravirt.rs`); counted as `random` |
//! | `out` STDIN | the vCPU thread blocks on the host until the VM's standard input has bytes or ends (or the VM stops), then copies them into the guest buffer (`devices/stdin.rs`); counted as `stdin` |
//! | other port, MMIO | counted and logged; reads return all ones; the guest continues |
//! | HLT | this vCPU stops (no irqchip: nothing could wake it) |
//! | shutdown (triple fault) | "guest reset", with registers; every vCPU stops |
//! | internal error | suberror, data and RIP reported; every vCPU stops |
//!
//! Every exit is counted per vCPU and per reason ([`ExitKind`], in
//! `exits/stats.rs`) with the host nanoseconds spent handling it; `--trace` sees
//! each one ([`TraceEvent`], in `exits/trace.rs`). The state the handler updates
//! is in [`crate::vm_state`].

use std::sync::PoisonError;
use std::time::Instant;

use versus_abi::{CONSOLE_MAX_LEN, port};
use vm_memory::{Bytes, GuestAddress};

use crate::console::{ConsoleStream, ConsoleWrite};
use crate::cpu::GuestRegs;
use crate::devices::paravirt;
use crate::memory::GuestMem;
use crate::report::{Marker, Outcome};

mod stats;
mod trace;

pub use stats::{ExitCount, ExitKind, ExitStats};
pub use trace::{TraceEvent, TraceFn};
// The per-vCPU and shared VM state the handler works on live in
// `crate::vm_state`; their old paths stay valid.
pub use crate::vm_state::{Action, Shared, UNHANDLED_LOG_MAX, UnhandledAccess, VcpuState};

/// One VM exit as the handler sees it (fabricated in tests).
#[derive(Debug)]
pub enum Exit<'a> {
    /// `out`: `data` holds the bytes written (1, 2 or 4).
    IoOut {
        /// Port.
        port: u16,
        /// Bytes written.
        data: &'a [u8],
    },
    /// `in`: the handler fills `data`.
    IoIn {
        /// Port.
        port: u16,
        /// Bytes to fill.
        data: &'a mut [u8],
    },
    /// A read from a guest-physical address that is not RAM.
    MmioRead {
        /// Address.
        addr: u64,
        /// Bytes to fill.
        data: &'a mut [u8],
    },
    /// A write to a guest-physical address that is not RAM.
    MmioWrite {
        /// Address.
        addr: u64,
        /// Bytes written.
        data: &'a [u8],
    },
    /// `hlt`.
    Hlt,
    /// Shutdown (triple fault): the guest reset itself.
    Shutdown {
        /// Registers at the time, if KVM gave them.
        regs: Option<GuestRegs>,
    },
    /// KVM_EXIT_INTERNAL_ERROR (e.g. suberror 1: emulation failure).
    InternalError {
        /// `kvm_run.internal.suberror`.
        suberror: u32,
        /// `kvm_run.internal.data[..ndata]`.
        data: Vec<u64>,
        /// Registers at the time.
        regs: Option<GuestRegs>,
    },
    /// KVM_EXIT_FAIL_ENTRY.
    FailEntry {
        /// Hardware entry failure reason.
        reason: u64,
    },
    /// KVM_RUN returned EINTR (a kick from the VMM, or a stray signal).
    Interrupted,
    /// Anything else KVM may report.
    Other {
        /// What it was.
        what: String,
    },
}

impl Exit<'_> {
    /// This exit's accounting key.
    pub fn kind(&self) -> ExitKind {
        match self {
            // The paravirtual services have reasons of their own: their
            // exits last as long as the service, not the round trip.
            Exit::IoOut {
                port: port::SLEEP, ..
            } => ExitKind::Sleep,
            Exit::IoOut {
                port: port::RANDOM, ..
            } => ExitKind::Random,
            Exit::IoOut {
                port: port::STDIN, ..
            } => ExitKind::Stdin,
            Exit::IoOut { port, .. } => ExitKind::IoOut { port: *port },
            Exit::IoIn { port, .. } => ExitKind::IoIn { port: *port },
            Exit::MmioRead { .. } => ExitKind::MmioRead,
            Exit::MmioWrite { .. } => ExitKind::MmioWrite,
            Exit::Hlt => ExitKind::Hlt,
            Exit::Shutdown { .. } => ExitKind::Shutdown,
            Exit::InternalError { .. } => ExitKind::InternalError,
            Exit::FailEntry { .. } => ExitKind::FailEntry,
            Exit::Interrupted => ExitKind::Interrupted,
            Exit::Other { .. } => ExitKind::Other,
        }
    }
}

/// Little-endian, zero-extended value of up to 8 bytes.
pub fn le_value(data: &[u8]) -> u64 {
    data.iter()
        .take(8)
        .rev()
        .fold(0u64, |v, b| (v << 8) | u64::from(*b))
}

/// Handles one exit of vCPU `vcpu` that KVM_RUN returned at `started`, and
/// accounts for it.
pub fn handle_exit(
    vcpu: &mut VcpuState,
    shared: &Shared,
    exit: Exit<'_>,
    started: Instant,
) -> Action {
    let kind = exit.kind();
    let mut value = None;
    let action = match exit {
        Exit::IoOut { port, data } => {
            value = Some(le_value(data));
            io_out(vcpu, shared, port, data)
        }
        Exit::IoIn { port, data } => {
            io_in(vcpu, shared, port, data);
            value = Some(le_value(data));
            Action::Continue
        }
        Exit::MmioRead { addr, data } => {
            data.fill(port::UNHANDLED_READ_BYTE);
            unhandled(vcpu, shared, kind, addr, None);
            Action::Continue
        }
        Exit::MmioWrite { addr, data } => {
            value = Some(le_value(data));
            unhandled(vcpu, shared, kind, addr, value);
            Action::Continue
        }
        Exit::Hlt => Action::Halt,
        Exit::Shutdown { regs } => stop(
            shared,
            Outcome::Reset {
                vcpu: vcpu.index,
                regs,
            },
        ),
        Exit::InternalError {
            suberror,
            data,
            regs,
        } => stop(
            shared,
            Outcome::InternalError {
                vcpu: vcpu.index,
                suberror,
                rip: regs.map(|r| r.rip),
                data,
                regs,
            },
        ),
        Exit::FailEntry { reason } => stop(
            shared,
            Outcome::FailEntry {
                vcpu: vcpu.index,
                reason,
            },
        ),
        Exit::Interrupted => Action::Continue,
        Exit::Other { what } => stop(
            shared,
            Outcome::UnexpectedExit {
                vcpu: vcpu.index,
                what,
            },
        ),
    };
    if let Some(trace) = &shared.trace {
        trace(&TraceEvent {
            vcpu: vcpu.index,
            at_ns: shared.ns_since_launch(),
            kind,
            value,
        });
    }
    vcpu.stats.record(kind, started.elapsed().as_nanos() as u64);
    action
}

fn stop(shared: &Shared, outcome: Outcome) -> Action {
    shared.request_stop(outcome);
    Action::StopVm
}

fn io_out(vcpu: &mut VcpuState, shared: &Shared, p: u16, data: &[u8]) -> Action {
    match p {
        _ if (port::COM1..port::COM1 + port::COM1_LEN).contains(&p) => {
            let mut uart = shared.serial.lock().unwrap_or_else(PoisonError::into_inner);
            // A wider `out` writes consecutive registers, as on hardware.
            for (i, b) in data.iter().enumerate() {
                uart.pio_write((p - port::COM1) as u8 + i as u8, *b);
            }
            Action::Continue
        }
        port::MARKER => {
            vcpu.markers.push(Marker {
                code: le_value(data) as u32,
                at_ns: shared.ns_since_launch(),
                kernel_instructions: vcpu.instructions.map(|count| count.kernel),
            });
            Action::Continue
        }
        port::EXIT => stop(
            shared,
            Outcome::Exited {
                vcpu: vcpu.index,
                status: le_value(data) as u32,
            },
        ),
        port::CONSOLE | port::CONSOLE_STDERR => {
            console_write(vcpu, shared, p, le_value(data));
            Action::Continue
        }
        port::PING => Action::Continue,
        port::SLEEP => {
            paravirt::sleep(le_value(data), || shared.stopping());
            Action::Continue
        }
        port::RANDOM => {
            // A refusal reaches the guest as `len = 0` in its descriptor
            // (the guest answers its caller with an error); the VM goes on.
            let _ = paravirt::fill_random(&shared.mem, le_value(data));
            Action::Continue
        }
        port::STDIN => {
            // Blocks this vCPU thread until input, end of file or a stop; a
            // refusal reaches the guest as `STDIN_FAILED` (its read: EIO).
            let _ = shared
                .stdin
                .read(&shared.mem, le_value(data), || shared.stopping());
            Action::Continue
        }
        _ => {
            unhandled(
                vcpu,
                shared,
                ExitKind::IoOut { port: p },
                u64::from(p),
                Some(le_value(data)),
            );
            Action::Continue
        }
    }
}

/// An `out` to a paravirtual console port: the buffer the descriptor at
/// `desc` names goes to this vCPU's stdout or stderr log (stdout also to the
/// interleaved log of every vCPU) and to the observer, if any.
fn console_write(vcpu: &mut VcpuState, shared: &Shared, p: u16, desc: u64) {
    let Ok(bytes) = read_console(&shared.mem, desc) else {
        vcpu.console_errors += 1;
        return;
    };
    let stream = if p == port::CONSOLE_STDERR {
        vcpu.stderr.push(&bytes);
        ConsoleStream::Stderr
    } else {
        vcpu.console.push(&bytes);
        shared
            .pv_console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&bytes);
        ConsoleStream::Stdout
    };
    if let Some(observer) = &shared.console_observer {
        observer.observe(ConsoleWrite {
            vcpu: Some(vcpu.index),
            stream,
            bytes: &bytes,
        });
    }
}

fn io_in(vcpu: &mut VcpuState, shared: &Shared, p: u16, data: &mut [u8]) {
    match p {
        _ if (port::COM1..port::COM1 + port::COM1_LEN).contains(&p) => {
            let mut uart = shared.serial.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, b) in data.iter_mut().enumerate() {
                *b = uart.pio_read((p - port::COM1) as u8 + i as u8);
            }
        }
        port::PING => data.fill(0),
        _ => {
            data.fill(port::UNHANDLED_READ_BYTE);
            unhandled(vcpu, shared, ExitKind::IoIn { port: p }, u64::from(p), None);
        }
    }
}

fn unhandled(vcpu: &mut VcpuState, shared: &Shared, kind: ExitKind, addr: u64, value: Option<u64>) {
    vcpu.unhandled += 1;
    if vcpu.unhandled_log.len() < UNHANDLED_LOG_MAX {
        vcpu.unhandled_log.push(UnhandledAccess {
            at_ns: shared.ns_since_launch(),
            kind,
            addr,
            value,
        });
    }
}

/// Why a paravirtual console request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// The descriptor is not in RAM.
    #[error("console descriptor at {0:#x} is not in guest RAM")]
    Descriptor(u64),
    /// The buffer is longer than `CONSOLE_MAX_LEN`.
    #[error("console buffer of {0} bytes exceeds the maximum")]
    TooLong(u64),
    /// The buffer is not in RAM.
    #[error("console buffer {addr:#x}+{len} is not in guest RAM")]
    Buffer {
        /// Address.
        addr: u64,
        /// Length.
        len: u64,
    },
}

/// Reads the buffer a `ConsoleDescriptor` at guest-physical `desc` describes.
pub fn read_console(mem: &GuestMem, desc: u64) -> Result<Vec<u8>, ConsoleError> {
    let (addr, len) =
        crate::devices::read_descriptor(mem, desc).ok_or(ConsoleError::Descriptor(desc))?;
    if len > CONSOLE_MAX_LEN {
        return Err(ConsoleError::TooLong(len));
    }
    let mut buf = vec![0u8; len as usize];
    mem.read_slice(&mut buf, GuestAddress(addr))
        .map_err(|_| ConsoleError::Buffer { addr, len })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::memory::create_guest_memory;
    use crate::test_utils::two_region_layout;
    use versus_abi::event;

    fn shared() -> Shared {
        Shared::new(
            Instant::now(),
            create_guest_memory(&two_region_layout()).unwrap(),
            None,
        )
    }

    fn out(v: &mut VcpuState, s: &Shared, port: u16, data: &[u8]) -> Action {
        handle_exit(v, s, Exit::IoOut { port, data }, Instant::now())
    }

    #[test]
    fn uart_bytes_are_console_output_one_exit_each() {
        let s = shared();
        let mut v = VcpuState::new(0);
        for b in b"ok\n" {
            assert_eq!(out(&mut v, &s, port::COM1, &[*b]), Action::Continue);
        }
        assert_eq!(s.serial.lock().unwrap().finish().head, "ok\n");
        assert_eq!(v.stats.count(ExitKind::IoOut { port: 0x3f8 }), 3);
        assert_eq!(v.stats.total().count, 3);
        // Reading the line-status register is an exit too, and says "THR empty".
        let mut lsr = [0u8];
        handle_exit(
            &mut v,
            &s,
            Exit::IoIn {
                port: port::COM1 + 5,
                data: &mut lsr,
            },
            Instant::now(),
        );
        assert_eq!(lsr[0] & 0x20, 0x20);
        assert_eq!(v.unhandled, 0);
    }

    #[test]
    fn markers_are_timestamped_per_vcpu() {
        // The VM "launched" a minute ago: a marker's time counts from the
        // launch, so it reads at least a minute — a time taken from the
        // exit's own start, or from the vCPU's, would read next to nothing.
        let minute = std::time::Duration::from_secs(60);
        let launch = Instant::now()
            .checked_sub(minute)
            .expect("this host has been up for a minute");
        let s = Shared::new(
            launch,
            create_guest_memory(&two_region_layout()).unwrap(),
            None,
        );
        let (mut a, mut b) = (VcpuState::new(0), VcpuState::new(1));
        let before = launch.elapsed().as_nanos() as u64;
        out(&mut a, &s, port::MARKER, &event::KERNEL_ENTRY.to_le_bytes());
        out(&mut b, &s, port::MARKER, &[event::WORKLOAD_START as u8]);
        out(
            &mut a,
            &s,
            port::MARKER,
            &event::WORKLOAD_START.to_le_bytes()[..2],
        );
        let after = launch.elapsed().as_nanos() as u64;
        // Each vCPU keeps its own markers, whatever width the `out` was.
        assert_eq!(
            a.markers.iter().map(|m| m.code).collect::<Vec<_>>(),
            vec![event::KERNEL_ENTRY, event::WORKLOAD_START]
        );
        assert_eq!(
            b.markers.iter().map(|m| m.code).collect::<Vec<_>>(),
            vec![event::WORKLOAD_START]
        );
        // Every time lies between the readings taken around the exits, on
        // the launch's clock, in the order the exits came.
        let times = [a.markers[0].at_ns, b.markers[0].at_ns, a.markers[1].at_ns];
        assert!(before >= minute.as_nanos() as u64);
        assert!(
            times[0] >= before && times[2] <= after,
            "{before} {times:?} {after}"
        );
        assert!(times.is_sorted(), "{times:?}");
        assert!(!s.stopping());
    }

    #[test]
    fn exit_port_stops_the_vm_first_status_wins() {
        let s = shared();
        let (mut a, mut b) = (VcpuState::new(0), VcpuState::new(1));
        assert_eq!(
            out(&mut b, &s, port::EXIT, &7u32.to_le_bytes()),
            Action::StopVm
        );
        assert!(s.stopping());
        assert_eq!(out(&mut a, &s, port::EXIT, &[9]), Action::StopVm);
        assert_eq!(s.outcome(), Some(Outcome::Exited { vcpu: 1, status: 7 }));
    }

    #[test]
    fn unknown_port_reads_all_ones_and_is_counted() {
        let s = shared();
        let mut v = VcpuState::new(0);
        let mut d = [0u8; 4];
        assert_eq!(
            handle_exit(
                &mut v,
                &s,
                Exit::IoIn {
                    port: 0x1234,
                    data: &mut d
                },
                Instant::now()
            ),
            Action::Continue
        );
        assert_eq!(d, [0xff; 4]);
        out(&mut v, &s, 0x80, &[0x42]);
        let mut m = [0u8; 8];
        handle_exit(
            &mut v,
            &s,
            Exit::MmioRead {
                addr: 0xfee0_0000,
                data: &mut m,
            },
            Instant::now(),
        );
        assert_eq!(m, [0xff; 8]);
        handle_exit(
            &mut v,
            &s,
            Exit::MmioWrite {
                addr: 0xfec0_0000,
                data: &[1, 0, 0, 0],
            },
            Instant::now(),
        );
        assert_eq!(v.unhandled, 4);
        assert_eq!(
            v.unhandled_log[1],
            UnhandledAccess {
                at_ns: v.unhandled_log[1].at_ns,
                kind: ExitKind::IoOut { port: 0x80 },
                addr: 0x80,
                value: Some(0x42)
            }
        );
        assert_eq!(v.stats.count(ExitKind::IoIn { port: 0x1234 }), 1);
        assert_eq!(v.stats.count(ExitKind::MmioRead), 1);
        assert_eq!(v.stats.count(ExitKind::MmioWrite), 1);
        assert!(!s.stopping());
        // Ping reads zero and is not "unhandled".
        let mut p = [0xaau8; 4];
        handle_exit(
            &mut v,
            &s,
            Exit::IoIn {
                port: port::PING,
                data: &mut p,
            },
            Instant::now(),
        );
        assert_eq!((p, v.unhandled), ([0; 4], 4));
    }

    #[test]
    fn paravirt_console_reads_a_whole_buffer_in_one_exit() {
        let s = shared();
        let mut v = VcpuState::new(0);
        let text = b"a whole line, one exit\n";
        let buf = (4u64 << 30) + 0x1000; // in the high region
        s.mem.write_slice(text, GuestAddress(buf)).unwrap();
        s.mem.write_obj(buf, GuestAddress(0x30_0000)).unwrap();
        s.mem
            .write_obj(text.len() as u64, GuestAddress(0x30_0008))
            .unwrap();
        out(&mut v, &s, port::CONSOLE, &0x30_0000u32.to_le_bytes());
        assert_eq!(s.pv_console.lock().unwrap().take().head.as_bytes(), text);
        assert_eq!(
            v.console.clone().finish().head.as_bytes(),
            text,
            "the vCPU's own copy, for attribution"
        );
        assert_eq!(
            v.stats.count(ExitKind::IoOut {
                port: port::CONSOLE
            }),
            1
        );
        // Bad descriptors are refused and counted, the guest goes on.
        s.mem
            .write_obj(CONSOLE_MAX_LEN + 1, GuestAddress(0x30_0008))
            .unwrap();
        assert_eq!(
            out(&mut v, &s, port::CONSOLE, &0x30_0000u32.to_le_bytes()),
            Action::Continue
        );
        assert_eq!(
            read_console(&s.mem, 0x30_0000),
            Err(ConsoleError::TooLong(CONSOLE_MAX_LEN + 1))
        );
        assert_eq!(
            read_console(&s.mem, 0xd000_0000),
            Err(ConsoleError::Descriptor(0xd000_0000))
        );
        assert_eq!(v.console_errors, 1);
        assert_eq!(s.pv_console.lock().unwrap().take().bytes, 0, "nothing more");
    }

    #[test]
    fn stderr_has_a_console_of_its_own_and_the_observer_sees_both() {
        let mut s = shared();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        s.console_observer = Some(crate::console::ConsoleObserver::new(move |w| {
            sink.lock()
                .unwrap()
                .push((w.vcpu, w.stream, w.bytes.to_vec()));
        }));
        let mut v = VcpuState::new(1);
        let mut write = |port: u16, text: &[u8]| {
            s.mem.write_slice(text, GuestAddress(0x40_0000)).unwrap();
            s.mem
                .write_obj(0x40_0000u64, GuestAddress(0x30_0000))
                .unwrap();
            s.mem
                .write_obj(text.len() as u64, GuestAddress(0x30_0008))
                .unwrap();
            out(&mut v, &s, port, &0x30_0000u32.to_le_bytes());
        };
        write(port::CONSOLE_STDERR, b"@versus start task=x\n");
        write(port::CONSOLE, b"out\n");
        let stderr = v.stderr.clone().finish();
        assert_eq!(
            stderr.head, "@versus start task=x\n",
            "stderr is plain text"
        );
        assert!(stderr.protocol_lines.is_empty());
        assert_eq!(v.console.clone().finish().head, "out\n");
        assert_eq!(s.pv_console.lock().unwrap().take().head, "out\n");
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (
                    Some(1),
                    ConsoleStream::Stderr,
                    b"@versus start task=x\n".to_vec()
                ),
                (Some(1), ConsoleStream::Stdout, b"out\n".to_vec()),
            ]
        );
    }

    #[test]
    fn halts_resets_and_errors() {
        let s = shared();
        let mut v = VcpuState::new(1);
        assert_eq!(
            handle_exit(&mut v, &s, Exit::Hlt, Instant::now()),
            Action::Halt
        );
        assert!(!s.stopping());
        let regs = GuestRegs {
            rip: 0x20_0010,
            ..Default::default()
        };
        let e = Exit::InternalError {
            suberror: 1,
            data: vec![0xb8_0f_f3],
            regs: Some(regs),
        };
        assert_eq!(handle_exit(&mut v, &s, e, Instant::now()), Action::StopVm);
        match s.outcome() {
            Some(Outcome::InternalError {
                vcpu: 1,
                suberror: 1,
                rip: Some(0x20_0010),
                ..
            }) => {}
            o => panic!("{o:?}"),
        }
        let s = shared();
        handle_exit(
            &mut v,
            &s,
            Exit::Shutdown { regs: Some(regs) },
            Instant::now(),
        );
        assert!(matches!(
            s.outcome(),
            Some(Outcome::Reset {
                vcpu: 1,
                regs: Some(_)
            })
        ));
        assert_eq!(v.stats.count(ExitKind::Hlt), 1);
        assert_eq!(v.stats.count(ExitKind::Shutdown), 1);
        assert_eq!(v.stats.count(ExitKind::InternalError), 1);
    }

    #[test]
    fn paravirtual_services_are_exits_of_their_own_reason() {
        let s = shared();
        let mut v = VcpuState::new(0);
        // A sleep of 1 µs, then 8 random bytes at 0x2000 (descriptor at 0x1000).
        assert_eq!(
            out(&mut v, &s, port::SLEEP, &1u32.to_le_bytes()),
            Action::Continue
        );
        s.mem.write_obj(0x2000u64, GuestAddress(0x1000)).unwrap();
        s.mem.write_obj(8u64, GuestAddress(0x1008)).unwrap();
        assert_eq!(
            out(&mut v, &s, port::RANDOM, &0x1000u32.to_le_bytes()),
            Action::Continue
        );
        assert_ne!(s.mem.read_obj::<u64>(GuestAddress(0x2000)).unwrap(), 0);
        // A refused request: the guest sees `len` 0, the VM goes on.
        s.mem.write_obj(u64::MAX, GuestAddress(0x1008)).unwrap();
        assert_eq!(
            out(&mut v, &s, port::RANDOM, &0x1000u32.to_le_bytes()),
            Action::Continue
        );
        assert_eq!(s.mem.read_obj::<u64>(GuestAddress(0x1008)).unwrap(), 0);
        assert_eq!(v.stats.count(ExitKind::Sleep), 1);
        assert_eq!(v.stats.count(ExitKind::Random), 2);
        assert_eq!(v.stats.count(ExitKind::IoOut { port: port::SLEEP }), 0);
        assert_eq!(v.unhandled, 0);
        assert_eq!(ExitKind::Sleep.to_string(), "sleep");
        assert_eq!(ExitKind::Random.to_string(), "random");
    }

    #[test]
    fn trace_sees_every_exit() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let trace: TraceFn =
            Arc::new(move |e: &TraceEvent| sink.lock().unwrap().push(e.to_string()));
        let s = Shared::new(
            Instant::now(),
            create_guest_memory(&two_region_layout()).unwrap(),
            Some(trace),
        );
        let mut v = VcpuState::new(0);
        out(&mut v, &s, port::PING, &[1]);
        out(&mut v, &s, port::COM1, b"A");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].ends_with("vcpu0 io_out 0x60c = 0x1"), "{}", seen[0]);
        assert!(
            seen[1].ends_with("vcpu0 io_out 0x3f8 = 0x41"),
            "{}",
            seen[1]
        );
    }
}
