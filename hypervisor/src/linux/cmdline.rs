//! The kernel command line versus starts from: `console=ttyS0` everywhere,
//! and on a software KVM backend (such as `kvm_pvm`) what keeps Linux away
//! from the instructions that backend's ring-0 emulator refuses, and from
//! work that costs seconds when every kernel instruction is emulated.
//! The user's `--cmdline` comes after these defaults, so for a parameter
//! that appears twice the user's value is the one Linux keeps.

use crate::kvm::KvmBackend;

/// One default parameter and why versus passes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// The parameter as it goes on the command line.
    pub text: &'static str,
    /// Why (shown with `--trace`).
    pub why: &'static str,
}

/// The console on the 16550 at 0x3f8 (COM1), the device versus emulates.
const CONSOLE: Param = Param {
    text: "console=ttyS0",
    why: "the kernel's console on the 16550 UART at 0x3f8 that versus emulates",
};

/// No bounce buffer for DMA: versus' machine has no device that does DMA,
/// and the buffer would take 64 MiB of guest RAM (on a small `--mem` Linux
/// searches for room, fails, retries smaller: seconds of emulated work on
/// a software backend).
const NO_SWIOTLB: Param = Param {
    text: "swiotlb=noforce",
    why: "no device does DMA in versus' machine: no 64 MiB bounce buffer",
};

/// CPU features to hide on a software backend. Its emulator refuses
/// `popcnt`, `cmpxchg16b`, SSE arithmetic and the instructions behind the
/// others, while CPUID leaves 1 and 7 still show the host's bits whatever
/// KVM_SET_CPUID2 says — so the kernel must be told here. Linux reads only
/// the first 127 characters of `clearcpuid=`; a unit test keeps it shorter.
/// AES-NI and PCLMULQDQ are left out for that room: only crypto modules use
/// them, and a guest of versus loads no module.
pub const CLEARCPUID: &str = "clearcpuid=smap,smep,pcid,invpcid,rdtscp,rdpid,popcnt,cx16,xsave,fsgsbase,serialize,rdrand,rdseed,umip,pku,ssse3,sse4_1,sse4_2";

/// Linux's limit on the value of `clearcpuid=` (its buffer of 128 bytes).
pub const CLEARCPUID_MAX: usize = 127;

/// What a software backend adds, in order. Every one is a parameter Linux
/// 6.1 knows or one with a `=`: a word the kernel does not know is passed
/// to `/init` as an argument (before the task's), so `noxsave` (gone from
/// 6.1) is `xsave` in `clearcpuid=` instead.
const SOFTWARE: &[Param] = &[
    Param {
        text: "mitigations=off",
        why: "speculation mitigations are extra ring-0 work on every entry, each instruction emulated",
    },
    Param {
        text: "no_timer_check",
        why: "emulated timer interrupts arrive late; the boot-time check would reject the timer",
    },
    Param {
        text: "highres=off",
        why: "high-resolution timers reprogram the APIC timer far more often",
    },
    Param {
        text: CLEARCPUID,
        why: "CPUID leaves 1 and 7 still show the host's bits here: hide what the emulator cannot run (xsave: it refuses xrstor)",
    },
];

/// The default parameters for `backend`.
pub fn defaults(backend: &KvmBackend) -> Vec<Param> {
    let mut params = vec![CONSOLE, NO_SWIOTLB];
    if backend.is_software() {
        params.extend_from_slice(SOFTWARE);
    }
    params
}

/// The whole command line: the defaults for `backend`, then `user`'s.
pub fn compose(backend: &KvmBackend, user: Option<&str>) -> String {
    let mut line: Vec<&str> = defaults(backend).iter().map(|p| p.text).collect();
    if let Some(user) = user.map(str::trim).filter(|u| !u.is_empty()) {
        line.push(user);
    }
    line.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::CpuVendor;

    fn software() -> KvmBackend {
        KvmBackend::Software {
            module: "kvm_pvm".into(),
        }
    }

    #[test]
    fn hardware_gets_the_console_only() {
        let hw = KvmBackend::Hardware {
            vendor: CpuVendor::Intel,
        };
        assert_eq!(compose(&hw, None), "console=ttyS0 swiotlb=noforce");
        assert_eq!(
            compose(&hw, Some("  quiet ")),
            "console=ttyS0 swiotlb=noforce quiet"
        );
    }

    #[test]
    fn a_software_backend_turns_off_what_its_emulator_refuses() {
        let line = compose(&software(), Some("loglevel=7"));
        assert!(line.starts_with("console=ttyS0 swiotlb=noforce "), "{line}");
        assert!(line.contains(" clearcpuid=") && line.contains("popcnt") && line.contains("cx16"));
        assert!(
            line.contains(",xsave,"),
            "the emulator refuses xrstor: {line}"
        );
        // Linux hands a word it does not know to /init as an argument,
        // ahead of the task's: every default has a `=` or is one 6.1 knows.
        for param in defaults(&software()) {
            assert!(
                param.text.contains('=') || param.text == "no_timer_check",
                "{} would reach /init's arguments",
                param.text
            );
        }
        assert!(
            line.ends_with(" loglevel=7"),
            "the user's parameters come last: {line}"
        );
        assert!(defaults(&software()).iter().all(|p| !p.why.is_empty()));
        // The tick of an idle vCPU stops (the minimal kernel's NO_HZ_IDLE):
        // a periodic one on every vCPU took all of a 2-vCPU guest's time.
        assert!(!line.contains("nohz=off"), "{line}");
    }

    #[test]
    fn clearcpuid_fits_the_kernels_buffer() {
        let value = CLEARCPUID.strip_prefix("clearcpuid=").unwrap();
        assert!(value.len() <= CLEARCPUID_MAX, "{} characters", value.len());
    }
}
