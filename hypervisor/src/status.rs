//! What the exit status a guest writes to `versus_abi::port::EXIT` means.
//!
//! Values below `versus_abi::status::KERNEL_BASE` are the workload's own
//! exit code; `KERNEL_BASE + vector` is an exception the guest kernel could
//! not handle; the four codes from `KERNEL_BASE + 0x100` on are the kernel's
//! own failures, each with a name and a message that says what to do.

use std::fmt;

use versus_abi::status;

/// The highest exception vector an x86 CPU delivers.
const MAX_VECTOR: u32 = 255;

/// A guest exit status, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestStatus {
    /// The workload's exit code (0 = success).
    Workload(u32),
    /// An exception the guest kernel did not handle, by vector.
    Exception(u8),
    /// `status::KERNEL_PANIC`.
    Panic,
    /// `status::KERNEL_BAD_BOOT_INFO`.
    BadBootInfo,
    /// `status::KERNEL_BAD_WORKLOAD`.
    BadWorkload,
    /// `status::KERNEL_OUT_OF_MEMORY`.
    OutOfMemory,
    /// A kernel-range code this VMM does not know.
    Unknown(u32),
}

impl GuestStatus {
    /// Decodes `code`.
    pub fn decode(code: u32) -> Self {
        match code {
            c if c < status::KERNEL_BASE => GuestStatus::Workload(c),
            c if c - status::KERNEL_BASE <= MAX_VECTOR => {
                GuestStatus::Exception((c - status::KERNEL_BASE) as u8)
            }
            status::KERNEL_PANIC => GuestStatus::Panic,
            status::KERNEL_BAD_BOOT_INFO => GuestStatus::BadBootInfo,
            status::KERNEL_BAD_WORKLOAD => GuestStatus::BadWorkload,
            status::KERNEL_OUT_OF_MEMORY => GuestStatus::OutOfMemory,
            c => GuestStatus::Unknown(c),
        }
    }

    /// The code's name (`out-of-memory`, `exception`, …).
    pub fn name(&self) -> &'static str {
        match self {
            GuestStatus::Workload(_) => "workload-exit",
            GuestStatus::Exception(_) => "exception",
            GuestStatus::Panic => "kernel-panic",
            GuestStatus::BadBootInfo => "bad-boot-info",
            GuestStatus::BadWorkload => "bad-workload",
            GuestStatus::OutOfMemory => "out-of-memory",
            GuestStatus::Unknown(_) => "unknown",
        }
    }
}

/// The mnemonic of an architectural exception vector (`#PF`, …).
fn vector_name(vector: u8) -> Option<&'static str> {
    Some(match vector {
        0 => "#DE divide error",
        1 => "#DB debug",
        2 => "NMI",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range",
        6 => "#UD invalid opcode",
        7 => "#NM device not available",
        8 => "#DF double fault",
        10 => "#TS invalid TSS",
        11 => "#NP segment not present",
        12 => "#SS stack fault",
        13 => "#GP general protection",
        14 => "#PF page fault",
        16 => "#MF x87 error",
        17 => "#AC alignment check",
        18 => "#MC machine check",
        19 => "#XM SIMD error",
        _ => return None,
    })
}

/// What the workload image problem words of the kernel's
/// `@kernel error reason=…` line mean.
pub fn bad_workload_reason(word: &str) -> &'static str {
    match word {
        "no-workload" => "there is no workload image",
        "not-elf" => "it is not an ELF file",
        "not-x86-64-executable" => {
            "it is not a 64-bit x86-64 executable (ET_EXEC, or ET_DYN for a static-PIE)"
        }
        "dynamically-linked" => "it is dynamically linked (link it with -static)",
        "bad-program-headers" => "its program headers are malformed",
        "bad-segment" => {
            "a loadable segment is malformed, misaligned, below 64 KiB or out of order"
        }
        "overlapping-segments" => "two loadable segments overlap",
        "no-segment" => "it has no loadable segment",
        _ => "the kernel did not say why",
    }
}

impl fmt::Display for GuestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestStatus::Workload(code) => write!(f, "the workload exited with status {code}"),
            GuestStatus::Exception(vector) => {
                write!(
                    f,
                    "the guest kernel took an exception it cannot handle: vector {vector}"
                )?;
                match vector_name(*vector) {
                    Some(name) => write!(f, " ({name})"),
                    None => Ok(()),
                }
            }
            GuestStatus::Panic => f.write_str("the guest kernel panicked"),
            GuestStatus::BadBootInfo => f.write_str(
                "the guest kernel found no valid boot information (a kernel built for another \
                 versus ABI version?)",
            ),
            GuestStatus::BadWorkload => {
                f.write_str("the guest kernel cannot run the workload image")
            }
            GuestStatus::OutOfMemory => {
                f.write_str("the guest kernel ran out of memory: give the VM more with --mem")
            }
            GuestStatus::Unknown(code) => {
                write!(f, "the guest kernel exited with unknown status {code:#x}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_code_has_a_name_and_message() {
        assert_eq!(GuestStatus::decode(0), GuestStatus::Workload(0));
        assert_eq!(GuestStatus::decode(255), GuestStatus::Workload(255));
        assert_eq!(GuestStatus::decode(0x10e), GuestStatus::Exception(14));
        assert_eq!(GuestStatus::decode(0x1ff), GuestStatus::Exception(255));
        assert_eq!(GuestStatus::decode(0x200), GuestStatus::Panic);
        assert_eq!(GuestStatus::decode(0x201), GuestStatus::BadBootInfo);
        assert_eq!(GuestStatus::decode(0x202), GuestStatus::BadWorkload);
        assert_eq!(GuestStatus::decode(0x203), GuestStatus::OutOfMemory);
        assert_eq!(GuestStatus::decode(0x204), GuestStatus::Unknown(0x204));
        let oom = GuestStatus::decode(status::KERNEL_OUT_OF_MEMORY);
        assert_eq!(oom.name(), "out-of-memory");
        assert_eq!(
            oom.to_string(),
            "the guest kernel ran out of memory: give the VM more with --mem"
        );
        assert!(!oom.to_string().contains("vector"));
        assert!(
            GuestStatus::decode(0x10e)
                .to_string()
                .contains("#PF page fault")
        );
        assert!(bad_workload_reason("not-x86-64-executable").contains("x86-64 executable"));
    }
}
