//! Hand-made "kernels" for the tests of versus' Linux boot path: a few
//! bytes of 64-bit code in an ELF file that versus loads and enters exactly
//! as it would a Linux `vmlinux`, so the real VM path (zero page, page
//! tables, devices, supervisor, report) runs in well under a second.

/// Where the hand-made kernel is loaded and entered (Linux's own
/// physical load address on x86-64).
pub const LINUX_ENTRY: u64 = 0x10_0000;

/// A one-segment ELF64 x86-64 executable (no section or symbol table) with
/// `code` loaded and entered at [`LINUX_ENTRY`].
pub fn linux_elf(code: &[u8]) -> Vec<u8> {
    const EHDR: u64 = 64;
    const PHDR: u64 = 56;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\x00"); // 64-bit, little-endian, v1
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&LINUX_ENTRY.to_le_bytes()); // e_entry
    f.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes());
    f.extend_from_slice(&(PHDR as u16).to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes()); // one program header
    f.extend_from_slice(&[0; 6]); // no section headers
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // R+X
    f.extend_from_slice(&(EHDR + PHDR).to_le_bytes()); // p_offset
    f.extend_from_slice(&LINUX_ENTRY.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&LINUX_ENTRY.to_le_bytes()); // p_paddr
    f.extend_from_slice(&(code.len() as u64).to_le_bytes()); // p_filesz
    f.extend_from_slice(&(code.len() as u64).to_le_bytes()); // p_memsz
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    f.extend_from_slice(code);
    f
}

/// Bytes of [`prints_then`]'s code before its tail: the tail starts at
/// `LINUX_ENTRY + PRINT_CODE_LEN`.
pub const PRINT_CODE_LEN: u64 = 23;

/// `mov al, 0xfe; out 0x64, al; hlt`: reset the machine through the i8042,
/// which ends a versus Linux run as a reboot.
pub const RESET_THROUGH_I8042: &[u8] = &[0xb0, 0xfe, 0xe6, 0x64, 0xf4];

/// 64-bit code that writes `message` to COM1 byte by byte, then runs
/// `tail`.
pub fn prints_then(message: &str, tail: &[u8]) -> Vec<u8> {
    // The message follows the 12-byte print loop and the tail.
    let displacement = 12 + tail.len() as u32;
    let mut code = vec![0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
    code.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip + message]
    code.extend_from_slice(&displacement.to_le_bytes());
    code.extend_from_slice(&[
        0x8a, 0x06, // loop: mov al, [rsi]
        0x84, 0xc0, // test al, al
        0x74, 0x06, // jz tail
        0xee, // out dx, al
        0x48, 0xff, 0xc6, // inc rsi
        0xeb, 0xf4, // jmp loop
    ]);
    debug_assert_eq!(code.len() as u64, PRINT_CODE_LEN);
    code.extend_from_slice(tail);
    code.extend_from_slice(message.as_bytes());
    code.push(0);
    code
}

/// 64-bit code that reads `count` bytes from `port` with one `rep insb`
/// (string input: KVM's emulator reads ahead, handing the VMM up to a page
/// of elements in one exit) into a buffer after the code, writes the
/// buffer to COM1 with one `rep outsb`, then runs `tail`.
pub fn rep_insb_echo_then(port: u16, count: u32, tail: &[u8]) -> Vec<u8> {
    // The buffer follows the tail; each displacement counts from the end
    // of its `lea` (offsets 11 and 29 of the 36 bytes before the tail).
    let tail_len = tail.len() as u32;
    let mut code = vec![0x66, 0xba]; // mov dx, port
    code.extend_from_slice(&port.to_le_bytes());
    code.extend_from_slice(&[0x48, 0x8d, 0x3d]); // lea rdi, [rip + buffer]
    code.extend_from_slice(&(25 + tail_len).to_le_bytes());
    code.push(0xb9); // mov ecx, count
    code.extend_from_slice(&count.to_le_bytes());
    code.extend_from_slice(&[0xf3, 0x6c]); // rep insb
    code.extend_from_slice(&[0x66, 0xba, 0xf8, 0x03]); // mov dx, 0x3f8
    code.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip + buffer]
    code.extend_from_slice(&(7 + tail_len).to_le_bytes());
    code.push(0xb9); // mov ecx, count
    code.extend_from_slice(&count.to_le_bytes());
    code.extend_from_slice(&[0xf3, 0x6e]); // rep outsb
    debug_assert_eq!(code.len(), 36);
    code.extend_from_slice(tail);
    code.resize(code.len() + count as usize, 0);
    code
}
