//! The instruction at a guest RIP, decoded for a failure report (the one
//! KVM's emulator refused): iced-x86's decoder and its GNU-syntax
//! formatter, the syntax `objdump -d vmlinux` shows kernel code in.

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};

/// Code size of a Linux guest where it can fail: the kernel's 64-bit entry
/// and everything after it run in long mode.
const BITNESS: u32 = 64;

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedInstruction {
    /// Its text, e.g. `xrstor64 (%rdi)`.
    pub text: String,
    /// Its length in bytes.
    pub len: usize,
}

/// The first instruction of `bytes` (read at `rip`, so a relative target is
/// shown as an address); None when the bytes are no valid instruction or
/// end inside one.
pub fn decode(bytes: &[u8], rip: u64) -> Option<DecodedInstruction> {
    let mut decoder = Decoder::try_with_ip(BITNESS, bytes, rip, DecoderOptions::NONE).ok()?;
    let instruction = decoder.decode();
    if instruction.is_invalid() {
        return None;
    }
    let mut text = String::new();
    GasFormatter::new().format(&instruction, &mut text);
    Some(DecodedInstruction {
        text,
        len: instruction.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> Option<String> {
        decode(bytes, 0xffffffff81000000).map(|d| d.text)
    }

    #[test]
    fn the_instructions_a_software_backend_refuses_are_named() {
        assert_eq!(text(&[0xcc]).as_deref(), Some("int3"));
        assert_eq!(text(&[0x9b]).as_deref(), Some("fwait"));
        // xrstor64 (%rdi), as the kernel's restore_fpregs_from_fpstate does.
        assert_eq!(
            text(&[0x48, 0x0f, 0xae, 0x2f]).as_deref(),
            Some("xrstor64 (%rdi)")
        );
        // lock cmpxchg16b (%rsi), as this_cpu_cmpxchg_double does.
        assert_eq!(
            text(&[0xf0, 0x48, 0x0f, 0xc7, 0x0e]).as_deref(),
            Some("lock cmpxchg16b (%rsi)")
        );
        assert_eq!(
            text(&[0xf3, 0x0f, 0xb8, 0xc1]).as_deref(),
            Some("popcnt %ecx,%eax")
        );
    }

    #[test]
    fn the_length_counts_only_the_first_instruction_and_junk_decodes_to_none() {
        let d = decode(&[0x48, 0x0f, 0xae, 0x2f, 0xf4, 0xf4], 0).unwrap();
        assert_eq!(d.len, 4);
        assert_eq!(decode(&[], 0), None, "nothing readable");
        assert_eq!(decode(&[0x48, 0x0f], 0), None, "cut inside the instruction");
        assert_eq!(decode(&[0x0f, 0xff], 0), None, "ud0 without its ModRM");
        // A relative jump is shown with its target from RIP.
        assert_eq!(
            decode(&[0xeb, 0xfe], 0x10_0000).unwrap().text,
            "jmp 0x0000000000100000"
        );
    }
}
