//! Step 5 and 6: create and configure the vCPUs, run each on its own thread,
//! and stop them all.
//!
//! Stopping a vCPU that is inside KVM_RUN works as in Firecracker: the
//! supervisor raises the stop flag and sends the vCPU thread a real-time
//! signal; its no-op-like handler sets `kvm_run.immediate_exit`, so KVM_RUN
//! returns EINTR whether the signal arrived during the ioctl or just before
//! it; the loop then sees the flag and ends.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{CpuId, kvm_run};
use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};
use libc::{c_int, c_void, siginfo_t};
use vmm_sys_util::signal::{Killable, SIGRTMIN, register_signal_handler};

use crate::cpu::{self, CpuError, EntryPoint, GuestRegs};
use crate::cpuid::{self, CpuidError};
use crate::exits::{Exit, handle_exit};
use crate::layout::MAX_VCPUS;
use crate::report::{Outcome, VcpuEnd};
use crate::vm_state::{Action, Shared, VcpuState};

/// Offset from SIGRTMIN of the signal that kicks vCPU threads out of KVM_RUN.
pub const KICK_SIGNAL_OFFSET: c_int = 0;
/// While stopping, how often stragglers are kicked again. Only while
/// stopping: a running VM's supervisor sleeps until a vCPU leaves, the
/// timeout passes or [`wake_supervisors`] says the stop flag was raised.
const KICK_RETRY: Duration = Duration::from_millis(20);

/// What a supervisor hears on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    /// This vCPU's thread left its loop.
    Left(u32),
    /// Someone raised a stop flag: look at yours.
    LookAtStopFlag,
}

/// Every supervisor's channel in this process, by registration number, so
/// that [`wake_supervisors`] can reach them.
static SUPERVISORS: Mutex<Vec<(u64, Sender<Notice>)>> = Mutex::new(Vec::new());

/// The next registration number in [`SUPERVISORS`].
static NEXT_SUPERVISOR: AtomicU64 = AtomicU64::new(0);

/// Wakes every VM's supervisor in this process so that it looks at its stop
/// flag now; call it after raising the flag (a supervisor does not poll the
/// flag, so a parked VM costs no wake-ups). Not async-signal-safe: call it
/// from a thread, not from a signal handler.
pub fn wake_supervisors() {
    let supervisors = SUPERVISORS.lock().unwrap_or_else(PoisonError::into_inner);
    for (_, supervisor) in supervisors.iter() {
        // A supervisor that already returned no longer listens; its entry
        // goes when its threads are dropped.
        let _ = supervisor.send(Notice::LookAtStopFlag);
    }
}

/// Errors of step 5.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// Zero vCPUs requested.
    #[error("at least one vCPU is needed")]
    NoVcpus,
    /// More vCPUs than KVM or the layout allows.
    #[error(
        "{requested} vCPUs requested; at most {max} are possible here (KVM_CAP_MAX_VCPUS {kvm_max}, layout {layout_max})"
    )]
    TooMany {
        /// Requested.
        requested: u32,
        /// The effective maximum.
        max: u32,
        /// KVM's.
        kvm_max: usize,
        /// The layout's.
        layout_max: u32,
    },
    /// KVM_SET_GUEST_DEBUG failed (single-stepping is not supported here).
    #[error(
        "KVM_SET_GUEST_DEBUG (single-step) on vCPU {index} failed: {source}; run without --count-instructions"
    )]
    GuestDebug {
        /// Index.
        index: u32,
        /// Why.
        source: kvm_ioctls::Error,
    },
    /// KVM_CREATE_VCPU failed.
    #[error("KVM_CREATE_VCPU {index} failed: {source}")]
    Create {
        /// Index.
        index: u32,
        /// Why.
        source: kvm_ioctls::Error,
    },
    /// Building the CPUID table failed.
    #[error(transparent)]
    Cpuid(#[from] CpuidError),
    /// KVM_SET_CPUID2 failed.
    #[error("KVM_SET_CPUID2 on vCPU {index} failed: {source}")]
    SetCpuid {
        /// Index.
        index: u32,
        /// Why.
        source: kvm_ioctls::Error,
    },
    /// Setting registers failed.
    #[error("vCPU {index}: {source}")]
    Registers {
        /// Index.
        index: u32,
        /// Why.
        source: CpuError,
    },
    /// The kick signal handler could not be installed.
    #[error("installing the vCPU kick signal handler failed: errno {0}")]
    Signal(i32),
    /// A thread could not be started.
    #[error("spawning the thread of vCPU {index} failed: {source}")]
    Spawn {
        /// Index.
        index: u32,
        /// Why.
        source: std::io::Error,
    },
}

/// Checks a requested vCPU count against KVM's and the layout's maximum.
pub fn check_count(requested: u32, kvm_max: usize) -> Result<(), VcpuError> {
    let max = MAX_VCPUS.min(u32::try_from(kvm_max).unwrap_or(u32::MAX));
    if requested == 0 {
        return Err(VcpuError::NoVcpus);
    }
    if requested > max {
        return Err(VcpuError::TooMany {
            requested,
            max,
            kvm_max,
            layout_max: MAX_VCPUS,
        });
    }
    Ok(())
}

/// One vCPU: its fd and index.
#[derive(Debug)]
pub struct Vcpu {
    /// The KVM vCPU.
    pub fd: VcpuFd,
    /// Index = APIC id = RSI at entry.
    pub index: u32,
    /// Single-step it and count instructions by privilege ([`single_step`]).
    pub count_instructions: bool,
}

/// Step 5a: KVM_CREATE_VCPU.
pub fn create(vm: &VmFd, index: u32) -> Result<Vcpu, VcpuError> {
    let fd = vm
        .create_vcpu(u64::from(index))
        .map_err(|source| VcpuError::Create { index, source })?;
    Ok(Vcpu {
        fd,
        index,
        count_instructions: false,
    })
}

/// Step 5c (optional): single-step the vCPU (`KVM_SET_GUEST_DEBUG` with
/// `KVM_GUESTDBG_SINGLESTEP`), so that every guest instruction ends in a
/// debug exit that the loop counts — by privilege, from CS's RPL. Slow by
/// design (an exit per instruction): for counting how much kernel-mode
/// work a boot or a system call is.
pub fn single_step(vcpu: &mut Vcpu) -> Result<(), VcpuError> {
    let debug = kvm_bindings::kvm_guest_debug {
        control: kvm_bindings::KVM_GUESTDBG_ENABLE | kvm_bindings::KVM_GUESTDBG_SINGLESTEP,
        ..Default::default()
    };
    vcpu.fd
        .set_guest_debug(&debug)
        .map_err(|source| VcpuError::GuestDebug {
            index: vcpu.index,
            source,
        })?;
    vcpu.count_instructions = true;
    Ok(())
}

/// Step 5b: CPUID and the long-mode entry state.
pub fn configure(
    vcpu: &Vcpu,
    count: u32,
    supported: &CpuId,
    entry: &EntryPoint,
) -> Result<(), VcpuError> {
    let index = vcpu.index;
    let mut table = supported.clone();
    cpuid::customize(&mut table, index, count)?;
    vcpu.fd
        .set_cpuid2(&table)
        .map_err(|source| VcpuError::SetCpuid { index, source })?;
    cpu::configure(&vcpu.fd, entry).map_err(|source| VcpuError::Registers { index, source })
}

thread_local! {
    /// This thread's `kvm_run`, for the kick handler (null when none).
    static KICK_TARGET: Cell<*mut kvm_run> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn kick_handler(_: c_int, _: *mut siginfo_t, _: *mut c_void) {
    // Async-signal-safe: one const thread-local read and one volatile store.
    let run = KICK_TARGET.with(Cell::get);
    if !run.is_null() {
        // SAFETY: a non-null KICK_TARGET is this thread's live kvm_run mapping: it is set
        // after the VcpuFd is created on this thread's loop and cleared before the loop
        // returns and the fd (and its mapping) is dropped.
        let field = unsafe { &raw mut (*run).immediate_exit };
        // SAFETY: `field` points into that live mapping; KVM reads it at the next KVM_RUN.
        unsafe { field.write_volatile(1) };
    }
}

/// Makes this thread's `kvm_run` the kick handler's target while it lives
/// (the Linux boot path's own vCPU loop uses it; `run_loop` sets the
/// target directly).
#[derive(Debug)]
pub struct KickTarget(());

impl KickTarget {
    /// Targets `fd`'s `kvm_run` from this thread until the guard drops; the
    /// guard must drop before `fd` does.
    pub fn set(fd: &mut VcpuFd) -> Self {
        let run_ptr: *mut kvm_run = fd.get_kvm_run();
        KICK_TARGET.with(|t| t.set(run_ptr));
        KickTarget(())
    }
}

impl Drop for KickTarget {
    fn drop(&mut self) {
        KICK_TARGET.with(|t| t.set(std::ptr::null_mut()));
    }
}

/// The signal that kicks vCPU threads.
pub fn kick_signal() -> c_int {
    SIGRTMIN() + KICK_SIGNAL_OFFSET
}

/// Installs the kick handler (once per process).
pub fn install_kick_handler() -> Result<(), VcpuError> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| register_signal_handler(kick_signal(), kick_handler).map_err(|e| e.errno()))
        .map_err(VcpuError::Signal)
}

/// Reads `kvm_run.internal` after a KVM_EXIT_INTERNAL_ERROR.
fn internal_error_info(fd: &mut VcpuFd) -> (u32, Vec<u64>) {
    let run = fd.get_kvm_run();
    // SAFETY: the last exit_reason was KVM_EXIT_INTERNAL_ERROR, so the kernel filled the
    // `internal` member of the exit union; it is plain integers.
    let internal = unsafe { run.__bindgen_anon_1.internal };
    let n = (internal.ndata as usize).min(internal.data.len());
    (internal.suberror, internal.data[..n].to_vec())
}

/// Step 6: one vCPU's loop, on its own thread, until it halts or the VM stops.
pub fn run_loop(mut vcpu: Vcpu, shared: &Shared) -> (VcpuState, VcpuEnd) {
    let mut state = VcpuState::new(vcpu.index);
    if vcpu.count_instructions {
        state.instructions = Some(crate::report::InstructionCount::default());
    }
    // Cleared when the guard drops — before `vcpu` (and the kvm_run mapping)
    // goes, even if the loop panics.
    let kick = KickTarget::set(&mut vcpu.fd);
    let end = loop {
        if shared.stopping() {
            break VcpuEnd::Stopped;
        }
        let result = vcpu.fd.run();
        let started = Instant::now();
        let action = match result {
            Ok(VcpuExit::IoOut(port, data)) => {
                handle_exit(&mut state, shared, Exit::IoOut { port, data }, started)
            }
            Ok(VcpuExit::IoIn(port, data)) => {
                handle_exit(&mut state, shared, Exit::IoIn { port, data }, started)
            }
            Ok(VcpuExit::MmioRead(addr, data)) => {
                handle_exit(&mut state, shared, Exit::MmioRead { addr, data }, started)
            }
            Ok(VcpuExit::MmioWrite(addr, data)) => {
                handle_exit(&mut state, shared, Exit::MmioWrite { addr, data }, started)
            }
            Ok(VcpuExit::Hlt) => handle_exit(&mut state, shared, Exit::Hlt, started),
            Ok(VcpuExit::Shutdown) => {
                let regs = GuestRegs::read(&vcpu.fd);
                handle_exit(&mut state, shared, Exit::Shutdown { regs }, started)
            }
            Ok(VcpuExit::InternalError) => {
                let (suberror, data) = internal_error_info(&mut vcpu.fd);
                let regs = GuestRegs::read(&vcpu.fd);
                handle_exit(
                    &mut state,
                    shared,
                    Exit::InternalError {
                        suberror,
                        data,
                        regs,
                    },
                    started,
                )
            }
            Ok(VcpuExit::FailEntry(reason, _cpu)) => {
                handle_exit(&mut state, shared, Exit::FailEntry { reason }, started)
            }
            Ok(VcpuExit::Debug(_)) if vcpu.count_instructions => {
                // A single-step trap, not a device exit: counted apart from
                // the exit accounting. CS's low two bits are the CPL.
                let kernel_mode = vcpu.fd.get_sregs().is_ok_and(|s| s.cs.selector & 3 == 0);
                if let Some(count) = &mut state.instructions {
                    if kernel_mode {
                        count.kernel += 1;
                    } else {
                        count.user += 1;
                    }
                }
                Action::Continue
            }
            Ok(other) => {
                let what = format!("{other:?}");
                handle_exit(&mut state, shared, Exit::Other { what }, started)
            }
            Err(e) if e.errno() == libc::EINTR => {
                // A kick (or a stray signal): clear the flag; the loop top checks
                // whether the VM is stopping (the flag is raised before any kick).
                vcpu.fd.set_kvm_immediate_exit(0);
                handle_exit(&mut state, shared, Exit::Interrupted, started)
            }
            Err(e) if e.errno() == libc::EAGAIN => Action::Continue,
            Err(e) => {
                shared.request_stop(Outcome::VcpuError {
                    vcpu: vcpu.index,
                    message: format!("KVM_RUN: {e}"),
                });
                Action::StopVm
            }
        };
        match action {
            Action::Continue => {}
            Action::Halt => break VcpuEnd::Halted,
            Action::StopVm => break VcpuEnd::Stopped,
        }
    };
    drop(kick);
    drop(vcpu);
    (state, end)
}

/// The running vCPU threads. Dropping it stops and joins them, so no path
/// leaves a thread behind.
#[derive(Debug)]
pub struct VcpuThreads {
    handles: Vec<JoinHandle<(VcpuState, VcpuEnd)>>,
    finished: Receiver<Notice>,
    /// This supervisor's number in [`SUPERVISORS`].
    registration: u64,
    shared: Arc<Shared>,
    /// Every thread has left its loop (`supervise` saw them all finish).
    all_left: bool,
}

impl VcpuThreads {
    /// Starts one thread per vCPU.
    pub fn spawn(vcpus: Vec<Vcpu>, shared: Arc<Shared>) -> Result<Self, VcpuError> {
        install_kick_handler()?;
        let (tx, rx) = mpsc::channel();
        let registration = NEXT_SUPERVISOR.fetch_add(1, Ordering::Relaxed);
        SUPERVISORS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((registration, tx.clone()));
        let mut threads = Self {
            handles: Vec::with_capacity(vcpus.len()),
            finished: rx,
            registration,
            shared,
            all_left: false,
        };
        for vcpu in vcpus {
            let index = vcpu.index;
            let shared = threads.shared.clone();
            let tx: Sender<Notice> = tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("vcpu{index}"))
                .spawn(move || {
                    let result = run_loop(vcpu, &shared);
                    let _ = tx.send(Notice::Left(index));
                    result
                })
                .map_err(|source| VcpuError::Spawn { index, source })?; // Drop stops the others.
            threads.handles.push(handle);
        }
        Ok(threads)
    }

    fn kick_all(&self) {
        for h in &self.handles {
            // A thread that already left its loop ignores the signal.
            let _ = h.kill(kick_signal());
        }
    }

    /// Waits until every vCPU has stopped: kicks them all when one asks
    /// the VM to stop, and stops the VM itself when `timeout` passes.
    pub fn supervise(
        &mut self,
        started: Instant,
        timeout: Option<Duration>,
        stop_flag: Option<&AtomicBool>,
    ) {
        let deadline = timeout.map(|t| started + t);
        let mut running = self.handles.len();
        // A flag raised before this supervisor was registered woke no one.
        if stop_flag.is_some_and(|f| f.load(Ordering::SeqCst)) && !self.shared.stopping() {
            self.shared.request_stop(Outcome::Interrupted);
            self.kick_all();
        }
        while running > 0 {
            let wait = if self.shared.stopping() {
                KICK_RETRY
            } else {
                // The stop flag's setter wakes this wait (`wake_supervisors`);
                // only the deadline needs a timeout.
                deadline.map_or(Duration::from_secs(3600), |d| {
                    d.saturating_duration_since(Instant::now())
                })
            };
            match self.finished.recv_timeout(wait) {
                Ok(Notice::Left(_)) => {
                    running -= 1;
                    if self.shared.stopping() {
                        self.kick_all();
                    }
                }
                Ok(Notice::LookAtStopFlag) | Err(RecvTimeoutError::Timeout) => {
                    if stop_flag.is_some_and(|f| f.load(Ordering::SeqCst))
                        && !self.shared.stopping()
                    {
                        self.shared.request_stop(Outcome::Interrupted);
                    }
                    if let Some(d) = deadline
                        && !self.shared.stopping()
                        && Instant::now() >= d
                    {
                        let after_ms = timeout.map_or(0, |t| t.as_millis() as u64);
                        self.shared.request_stop(Outcome::Timeout { after_ms });
                    }
                    if self.shared.stopping() {
                        self.kick_all();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.all_left = running == 0;
    }

    /// Joins every thread (stopping them first if needed) and returns their
    /// states in vCPU order.
    pub fn join(mut self) -> Vec<(VcpuState, VcpuEnd)> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Vec<(VcpuState, VcpuEnd)> {
        if self.handles.is_empty() {
            return Vec::new();
        }
        // Make sure nothing is still inside KVM_RUN (unless `supervise` saw
        // every loop end: then the threads are only returning).
        if !self.all_left {
            if !self.shared.stopping() {
                self.shared.request_stop(Outcome::UnexpectedExit {
                    vcpu: 0,
                    what: "VMM stopped the VM".into(),
                });
            }
            while self.handles.iter().any(|h| !h.is_finished()) {
                self.kick_all();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let mut out = Vec::with_capacity(self.handles.len());
        for h in self.handles.drain(..) {
            // A vCPU thread that panicked is a bug in the VMM: report it loudly.
            match h.join() {
                Ok(r) => out.push(r),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    }
}

impl Drop for VcpuThreads {
    fn drop(&mut self) {
        SUPERVISORS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(registration, _)| *registration != self.registration);
        if !std::thread::panicking() {
            self.stop_and_join();
        } else {
            // Still stop and join, but do not re-raise a second panic.
            self.shared.request_stop(Outcome::UnexpectedExit {
                vcpu: 0,
                what: "VMM panicked".into(),
            });
            for h in &self.handles {
                let _ = h.kill(kick_signal());
            }
            for h in self.handles.drain(..) {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpu_count_bounds() {
        assert!(matches!(check_count(0, 1024), Err(VcpuError::NoVcpus)));
        assert!(check_count(1, 1024).is_ok());
        assert!(check_count(MAX_VCPUS, 1024).is_ok());
        assert!(matches!(
            check_count(MAX_VCPUS + 1, 1024),
            Err(VcpuError::TooMany { max: MAX_VCPUS, .. })
        ));
        assert!(matches!(
            check_count(3, 2),
            Err(VcpuError::TooMany { max: 2, .. })
        ));
    }
}
