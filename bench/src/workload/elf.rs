//! The check that a file is a static x86-64 ELF executable, the only kind
//! of workload every backend can run.

/// What disqualifies a file as a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfProblem {
    /// No ELF magic number.
    #[error("not an ELF file (it does not start with \\x7fELF)")]
    NotElf,
    /// Shorter than its own headers say.
    #[error("truncated ELF file")]
    Truncated,
    /// 32-bit, big-endian or another machine.
    #[error(
        "not a 64-bit little-endian x86-64 ELF (class {class}, data {data}, machine {machine})"
    )]
    WrongMachine {
        /// EI_CLASS.
        class: u8,
        /// EI_DATA.
        data: u8,
        /// e_machine.
        machine: u16,
    },
    /// A relocatable object, core file or shared library.
    #[error("not an executable (ELF type {0}); link it as a static executable")]
    NotExecutable(u16),
    /// It asks for a dynamic loader, which a container rootfs or VM lacks.
    #[error(
        "dynamically linked (it asks for the loader {0}); versus runs static executables only: link with -static"
    )]
    Dynamic(String),
}

// ELF constants (from the System V ABI).
const MAGIC: &[u8; 4] = b"\x7fELF";
const CLASS64: u8 = 2;
const DATA_LSB: u8 = 1;
const MACHINE_X86_64: u16 = 62;
const TYPE_EXEC: u16 = 2;
const TYPE_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const HEADER_SIZE: usize = 64;

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Checks that `bytes` is a static x86-64 ELF executable (a static-pie
/// `ET_DYN` without an interpreter counts as static).
pub fn check_static_elf(bytes: &[u8]) -> Result<(), ElfProblem> {
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        return Err(ElfProblem::NotElf);
    }
    if bytes.len() < HEADER_SIZE {
        return Err(ElfProblem::Truncated);
    }
    let (class, data) = (bytes[4], bytes[5]);
    let machine = read_u16(bytes, 18).ok_or(ElfProblem::Truncated)?;
    if class != CLASS64 || data != DATA_LSB || machine != MACHINE_X86_64 {
        return Err(ElfProblem::WrongMachine {
            class,
            data,
            machine,
        });
    }
    let kind = read_u16(bytes, 16).ok_or(ElfProblem::Truncated)?;
    if kind != TYPE_EXEC && kind != TYPE_DYN {
        return Err(ElfProblem::NotExecutable(kind));
    }
    let phoff = read_u64(bytes, 32).ok_or(ElfProblem::Truncated)?;
    let phentsize = read_u16(bytes, 54).ok_or(ElfProblem::Truncated)?;
    let phnum = read_u16(bytes, 56).ok_or(ElfProblem::Truncated)?;
    for index in 0..u64::from(phnum) {
        let at = phoff
            .checked_add(index * u64::from(phentsize))
            .and_then(|at| usize::try_from(at).ok())
            .ok_or(ElfProblem::Truncated)?;
        let p_type = read_u32(bytes, at).ok_or(ElfProblem::Truncated)?;
        if p_type == PT_INTERP {
            let offset = read_u64(bytes, at + 8).ok_or(ElfProblem::Truncated)?;
            let size = read_u64(bytes, at + 32).ok_or(ElfProblem::Truncated)?;
            let interp = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(offset, size)| bytes.get(offset..offset.checked_add(size)?))
                .ok_or(ElfProblem::Truncated)?;
            let interp = String::from_utf8_lossy(interp)
                .trim_end_matches('\0')
                .to_string();
            return Err(ElfProblem::Dynamic(interp));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf_header(kind: u16, machine: u16) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(MAGIC);
        bytes[4] = CLASS64;
        bytes[5] = DATA_LSB;
        bytes[16..18].copy_from_slice(&kind.to_le_bytes());
        bytes[18..20].copy_from_slice(&machine.to_le_bytes());
        bytes
    }

    #[test]
    fn elf_checks() {
        assert_eq!(check_static_elf(b"#!/bin/sh\n"), Err(ElfProblem::NotElf));
        assert_eq!(check_static_elf(b"\x7fELF\x02"), Err(ElfProblem::Truncated));
        assert_eq!(
            check_static_elf(&elf_header(TYPE_EXEC, 183)),
            Err(ElfProblem::WrongMachine {
                class: 2,
                data: 1,
                machine: 183
            })
        );
        assert_eq!(
            check_static_elf(&elf_header(1, MACHINE_X86_64)),
            Err(ElfProblem::NotExecutable(1))
        );
        assert_eq!(
            check_static_elf(&elf_header(TYPE_EXEC, MACHINE_X86_64)),
            Ok(())
        );
        assert_eq!(check_static_elf(versus_images::WORKLOAD), Ok(()));
    }

    #[test]
    fn dynamic_executables_are_named_as_such() {
        // An executable with one PT_INTERP program header pointing at a path.
        let mut bytes = elf_header(TYPE_DYN, MACHINE_X86_64);
        let interp = b"/lib64/ld-linux-x86-64.so.2\0";
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        bytes[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut phdr = vec![0u8; 56];
        phdr[..4].copy_from_slice(&PT_INTERP.to_le_bytes());
        phdr[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        phdr[32..40].copy_from_slice(&(interp.len() as u64).to_le_bytes()); // p_filesz
        bytes.extend_from_slice(&phdr);
        bytes.extend_from_slice(interp);
        assert_eq!(
            check_static_elf(&bytes),
            Err(ElfProblem::Dynamic("/lib64/ld-linux-x86-64.so.2".into()))
        );
    }
}
