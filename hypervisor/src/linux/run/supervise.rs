//! What the vCPU threads and the supervisor share, and the supervisor:
//! it ends the run (timeout, Ctrl-C/SIGTERM, a panic's grace, a guest that
//! halted itself, a stalled boot) and kicks every vCPU thread out of
//! KVM_RUN until all have left.
//!
//! A stall: no console output and no exit to versus for [`STALL_SILENCE`]
//! of the time the vCPUs could run. Time a vCPU thread spent waiting for a
//! host CPU (its run-queue delay, `/proc/self/task/TID/schedstat`) does not
//! count, so a loaded host slows the clock instead of ending healthy boots.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_bindings::{KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_UNINITIALIZED};
use kvm_ioctls::VcpuFd;

use super::super::milestones::{BootProgress, Milestone};
use super::LinuxEnd;
use super::report::{VcpuActivity, VcpuState};
use crate::exits::{ExitKind, ExitStats};
use crate::vcpu;

/// How long the console and the exits may show no progress, counted while
/// the vCPUs have a host CPU, before the run ends as a stalled boot. The
/// minimal kernel's quiet stretches in a healthy boot here (a software
/// backend, ring 0 emulated) last seconds (about 11 s the longest seen); a
/// minute is far beyond them, and far short of the 15-minute default
/// timeout a silent boot would otherwise wait for.
pub const STALL_SILENCE: Duration = Duration::from_secs(60);
/// The same for any kernel but the minimal one. A distribution kernel
/// computes for minutes without a console line or an exit on a software
/// backend: Debian 6.1's cloud kernel, after "x86/fpu: x87 FPU will use
/// FXSAVE", decodes and patches its tens of thousands of alternative,
/// retpoline and return-thunk sites before "Freeing SMP alternatives
/// memory", 125 s of silence by its own clock here (85 s to "random: crng
/// init done", 39 s more); with 512 MiB and versus' command line alone it
/// was then silent for 300 s of vCPU time after EVM's set-up ("evm: HMAC
/// attrs", its vCPU running) until a 5-minute window ended it. Ten minutes
/// leaves room for such stretches and still ends a truly silent boot well
/// before the 30 minutes such a kernel is given.
pub const STALL_SILENCE_OTHER_KERNEL: Duration = Duration::from_secs(600);
/// After the console's halt line, how long without console output or exits
/// before versus looks whether every vCPU halted (and again after that).
const HALT_SETTLE: Duration = Duration::from_millis(500);
/// How long the supervisor waits for every vCPU thread to answer a probe (a
/// thread blocked elsewhere than KVM_RUN may not).
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// How long the console keeps printing after "Kernel panic" before the
/// run ends (the panic's own lines follow it).
const PANIC_GRACE: Duration = Duration::from_secs(2);
/// How often the supervisor looks at the run (and re-kicks vCPUs).
const POLL: Duration = Duration::from_millis(20);
/// RFLAGS.IF: maskable interrupts enabled.
const RFLAGS_IF: u64 = 1 << 9;
/// The name prefix of the vCPU threads (`linux-vcpu0`, …), by which the
/// supervisor finds their scheduler statistics.
pub(super) const VCPU_THREAD_PREFIX: &str = "linux-vcpu";

/// What the vCPU threads and the supervisor share.
#[derive(Debug)]
pub(super) struct RunShared {
    pub(super) launch: Instant,
    pub(super) stop: AtomicBool,
    pub(super) end: Mutex<Option<LinuxEnd>>,
    pub(super) progress: Mutex<BootProgress>,
    pub(super) assists: Mutex<BTreeMap<&'static str, u64>>,
    /// End the run at "Run /init" (a software backend).
    pub(super) stop_at_init: bool,
    /// What the supervisor watches for a stall or a halt.
    pub(super) watch: Watch,
}

/// The vCPU threads' side of the supervisor's watch.
#[derive(Debug, Default)]
pub(super) struct Watch {
    /// Exits to versus so far (a kick's EINTR not counted): progress even
    /// when the console is quiet.
    exits: AtomicU64,
    /// The answers to the supervisor's last probe, by vCPU (None: not yet).
    states: Mutex<Vec<Option<VcpuState>>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunShared {
    pub(super) fn finish(&self, end: LinuxEnd) {
        let mut slot = lock(&self.end);
        if slot.is_none() {
            *slot = Some(end);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Called by a vCPU thread after every exit.
    pub(super) fn note_exit(&self, kind: ExitKind) {
        if kind != ExitKind::Interrupted {
            self.watch.exits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Called by a vCPU thread kicked out of KVM_RUN: answers a pending
    /// probe with where the vCPU is and what it does.
    pub(super) fn answer_probe(&self, index: u32, fd: &VcpuFd) {
        let mut states = lock(&self.watch.states);
        let Some(slot @ None) = states.get_mut(index as usize) else {
            return;
        };
        let regs = fd.get_regs().ok();
        let activity = match fd.get_mp_state().map(|s| s.mp_state) {
            Ok(KVM_MP_STATE_HALTED) => VcpuActivity::Halted,
            Ok(KVM_MP_STATE_UNINITIALIZED | KVM_MP_STATE_INIT_RECEIVED) => VcpuActivity::NotStarted,
            Ok(_) => VcpuActivity::Running,
            Err(_) => VcpuActivity::Unknown,
        };
        *slot = Some(VcpuState {
            vcpu: index,
            rip: regs.map(|r| r.rip),
            interrupts_enabled: regs.is_some_and(|r| r.rflags & RFLAGS_IF != 0),
            activity,
        });
    }
}

/// The silence clock: wall time since the last console output or exit, and
/// the part of it the vCPUs could run.
#[derive(Debug)]
struct Silence {
    output: Option<Duration>,
    exits: u64,
    since: Instant,
    last_poll: Instant,
    counted: Duration,
}

impl Silence {
    fn new(now: Instant) -> Self {
        Silence {
            output: None,
            exits: 0,
            since: now,
            last_poll: now,
            counted: Duration::ZERO,
        }
    }

    /// Takes one poll's view: the console's last output, the exits so far,
    /// and how long the vCPUs waited for a host CPU since the last poll.
    fn observe(&mut self, output: Option<Duration>, exits: u64, starved: Duration, now: Instant) {
        if output != self.output || exits != self.exits {
            self.output = output;
            self.exits = exits;
            self.since = now;
            self.counted = Duration::ZERO;
        } else {
            let period = now.saturating_duration_since(self.last_poll);
            self.counted += period.saturating_sub(starved);
        }
        self.last_poll = now;
    }

    /// Wall time without progress.
    fn wall(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }
}

/// The vCPU threads' run-queue delays (`schedstat`'s second field, in ns).
#[derive(Debug)]
struct Starvation {
    vcpus: usize,
    files: Vec<PathBuf>,
    last: Vec<u64>,
}

impl Starvation {
    fn new(vcpus: usize) -> Self {
        Starvation {
            vcpus,
            files: Vec::new(),
            last: Vec::new(),
        }
    }

    /// Finds the vCPU threads by name. A thread names itself once it runs,
    /// so this is repeated until all are found; while none is (no procfs,
    /// no schedstat), the clock runs on wall time.
    fn find(&mut self) {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        self.files = tasks
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.starts_with(VCPU_THREAD_PREFIX))
            })
            .map(|task| task.path().join("schedstat"))
            .collect();
        self.last = self
            .files
            .iter()
            .map(|f| run_delay(f).unwrap_or(0))
            .collect();
    }

    /// The longest any vCPU thread waited for a CPU since the last call.
    fn waited(&mut self) -> Duration {
        if self.files.len() < self.vcpus {
            self.find();
        }
        let mut longest = 0;
        for (file, last) in self.files.iter().zip(self.last.iter_mut()) {
            if let Some(now) = run_delay(file) {
                longest = longest.max(now.saturating_sub(*last));
                *last = now;
            }
        }
        Duration::from_nanos(longest)
    }
}

fn run_delay(schedstat: &PathBuf) -> Option<u64> {
    std::fs::read_to_string(schedstat)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Kicks every vCPU thread still running out of KVM_RUN.
fn kick(handles: &[JoinHandle<ExitStats>]) {
    for h in handles.iter().filter(|h| !h.is_finished()) {
        use std::os::unix::thread::JoinHandleExt;
        // SAFETY: the thread has not finished, so its pthread_t is valid
        // (its JoinHandle is not joined yet); the kick signal has a handler
        // installed, so delivering it only interrupts KVM_RUN.
        unsafe { libc::pthread_kill(h.as_pthread_t(), vcpu::kick_signal()) };
    }
}

/// Asks every vCPU where it is: kicks them out of KVM_RUN (they answer and
/// go back in) until all answered or [`PROBE_WAIT`] passed.
fn probe(shared: &RunShared, handles: &[JoinHandle<ExitStats>]) -> Vec<VcpuState> {
    *lock(&shared.watch.states) = vec![None; handles.len()];
    let asked = Instant::now();
    loop {
        kick(handles);
        std::thread::sleep(POLL);
        let states = lock(&shared.watch.states);
        if states.iter().all(Option::is_some) || asked.elapsed() >= PROBE_WAIT {
            return states.iter().flatten().copied().collect();
        }
    }
}

/// Waits for the end (a vCPU's, a panic's grace, a halt, a stall, or the
/// timeout), then kicks every vCPU thread out of KVM_RUN until all have
/// left.
pub(super) fn supervise(
    shared: &RunShared,
    handles: &[JoinHandle<ExitStats>],
    timeout: Duration,
    stall_silence: Duration,
    stop_flag: Option<&AtomicBool>,
) {
    let start = Instant::now();
    let mut silence = Silence::new(start);
    let mut starvation = Starvation::new(handles.len());
    let mut last_halt_probe: Option<Instant> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        if stop_flag.is_some_and(|f| f.load(Ordering::SeqCst)) {
            shared.finish(LinuxEnd::Interrupted);
            break;
        }
        if start.elapsed() >= timeout {
            shared.finish(LinuxEnd::Timeout);
            break;
        }
        let (panicked, output, halt_line) = {
            let progress = lock(&shared.progress);
            (
                progress.time_of(Milestone::Panic),
                progress.last_output(),
                progress.halt_line(),
            )
        };
        if panicked.is_some_and(|t| shared.launch.elapsed() >= t + PANIC_GRACE) {
            shared.finish(LinuxEnd::Panic);
            break;
        }
        let now = Instant::now();
        let exits = shared.watch.exits.load(Ordering::Relaxed);
        silence.observe(output, exits, starvation.waited(), now);
        if let Some(line) = halt_line
            && silence.wall(now) >= HALT_SETTLE
            && last_halt_probe.is_none_or(|t| now.duration_since(t) >= HALT_SETTLE)
        {
            let states = probe(shared, handles);
            last_halt_probe = Some(Instant::now());
            if states.len() == handles.len() && states.iter().all(VcpuState::is_stopped) {
                shared.finish(LinuxEnd::Halted { line: line.into() });
                break;
            }
        }
        if silence.counted >= stall_silence {
            let vcpus = probe(shared, handles);
            shared.finish(LinuxEnd::Stalled {
                silent_for: silence.wall(Instant::now()),
                silent_runnable: silence.counted,
                vcpus,
            });
            break;
        }
        std::thread::sleep(POLL);
    }
    while handles.iter().any(|h| !h.is_finished()) {
        kick(handles);
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn silence_counts_only_time_the_vcpus_could_run_and_progress_resets_it() {
        let t0 = Instant::now();
        let mut s = Silence::new(t0);
        s.observe(None, 0, Duration::ZERO, t0 + SECOND);
        assert_eq!(s.counted, SECOND);
        // Two seconds, of which the vCPUs waited 1.5 s for a host CPU.
        s.observe(None, 0, SECOND * 3 / 2, t0 + 3 * SECOND);
        assert_eq!(s.counted, SECOND * 3 / 2);
        assert_eq!(s.wall(t0 + 3 * SECOND), 3 * SECOND);
        // An exit is progress, as is console output.
        s.observe(None, 1, Duration::ZERO, t0 + 4 * SECOND);
        assert_eq!(s.counted, Duration::ZERO);
        assert_eq!(s.wall(t0 + 5 * SECOND), SECOND);
        s.observe(None, 1, Duration::ZERO, t0 + 5 * SECOND);
        s.observe(Some(SECOND), 1, Duration::ZERO, t0 + 6 * SECOND);
        assert_eq!(s.counted, Duration::ZERO);
        // A run-queue delay longer than the period counts as none.
        s.observe(Some(SECOND), 1, 5 * SECOND, t0 + 7 * SECOND);
        assert_eq!(s.counted, Duration::ZERO);
    }
}
