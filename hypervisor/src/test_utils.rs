//! Shared test fixtures: a minimal ELF64 writer, a tiny hand-assembler for
//! the few 64-bit instructions the test guests use (each method names its
//! encoding), and `require_kvm`.
//!
//! The test guests run in ring 0, which the software KVM backend emulates
//! one instruction at a time and where many instructions fail emulation
//! (`docs/en/platforms.md`): they use only mov/lea/add/cmp/test/inc/jcc/jmp,
//! `in`/`out`, `lock inc` and `hlt`, plus the deliberately failing ones.

use std::collections::HashMap;

use crate::memory::MemoryLayout;

/// 32 MiB at 0 + 32 MiB at 4 GiB: small, but two regions with a gap.
pub fn two_region_layout() -> MemoryLayout {
    MemoryLayout::explicit(&[(0, 32 << 20), (4 << 30, 32 << 20)]).unwrap()
}

/// True if /dev/kvm can be used. Prints why not and returns false — unless
/// `VERSUS_REQUIRE_KVM=1` is set (CI), in which case it panics.
pub fn require_kvm() -> bool {
    testkit::require_kvm("a KVM test")
}

struct Segment {
    paddr: u64,
    bytes: Vec<u8>,
    bss: u64,
}

/// Writes a minimal static ELF64 x86-64 executable: one `PT_LOAD` segment
/// per piece, `p_vaddr = p_paddr`.
pub struct ElfBuilder {
    entry: u64,
    machine: u16,
    segments: Vec<Segment>,
}

impl ElfBuilder {
    /// An executable whose entry point is `entry`.
    pub fn new(entry: u64) -> Self {
        Self {
            entry,
            machine: 62,
            segments: Vec::new(),
        }
    }
    /// A code segment at the entry point.
    pub fn code(mut self, code: &[u8]) -> Self {
        self.segments.push(Segment {
            paddr: self.entry,
            bytes: code.to_vec(),
            bss: 0,
        });
        self
    }
    /// A data segment at `paddr`.
    pub fn data(mut self, paddr: u64, bytes: &[u8]) -> Self {
        self.segments.push(Segment {
            paddr,
            bytes: bytes.to_vec(),
            bss: 0,
        });
        self
    }
    /// Zero-filled bytes after the last segment's data (memsz > filesz).
    pub fn bss(mut self, len: u64) -> Self {
        if let Some(s) = self.segments.last_mut() {
            s.bss = len;
        }
        self
    }
    /// Overrides e_machine.
    pub fn machine(mut self, machine: u16) -> Self {
        self.machine = machine;
        self
    }
    /// The file's bytes.
    pub fn build(self) -> Vec<u8> {
        let phnum = self.segments.len();
        let mut out = Vec::new();
        // ELF header (64 bytes).
        out.extend_from_slice(b"\x7fELF");
        out.extend_from_slice(&[2, 1, 1, 0]); // ELFCLASS64, little-endian, version 1, SysV ABI
        out.extend_from_slice(&[0; 8]); // padding of e_ident
        out.extend_from_slice(&2u16.to_le_bytes()); // e_type = ET_EXEC
        out.extend_from_slice(&self.machine.to_le_bytes()); // e_machine
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&self.entry.to_le_bytes()); // e_entry
        out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out.extend_from_slice(&(phnum as u16).to_le_bytes()); // e_phnum
        out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        let mut offset = 64 + 56 * phnum as u64;
        for s in &self.segments {
            out.extend_from_slice(&1u32.to_le_bytes()); // p_type = PT_LOAD
            out.extend_from_slice(&7u32.to_le_bytes()); // p_flags = RWX
            out.extend_from_slice(&offset.to_le_bytes()); // p_offset
            out.extend_from_slice(&s.paddr.to_le_bytes()); // p_vaddr
            out.extend_from_slice(&s.paddr.to_le_bytes()); // p_paddr
            out.extend_from_slice(&(s.bytes.len() as u64).to_le_bytes()); // p_filesz
            out.extend_from_slice(&(s.bytes.len() as u64 + s.bss).to_le_bytes()); // p_memsz
            out.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
            offset += s.bytes.len() as u64;
        }
        for s in &self.segments {
            out.extend_from_slice(&s.bytes);
        }
        out
    }
}

/// 32/64-bit general registers by their encoding number.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
#[allow(dead_code)]
pub enum R {
    Ax = 0,
    Cx = 1,
    Dx = 2,
    Bx = 3,
    Sp = 4,
    Bp = 5,
    Si = 6,
    Di = 7,
}

/// A hand-assembler: each method emits the bytes of one instruction, with
/// rel32 jumps to named labels patched at `finish`.
pub struct Asm {
    base: u64,
    code: Vec<u8>,
    labels: HashMap<&'static str, usize>,
    fixups: Vec<(usize, &'static str)>,
}

impl Asm {
    /// Code that will be loaded at guest address `base`.
    pub fn new(base: u64) -> Self {
        Self {
            base,
            code: Vec::new(),
            labels: HashMap::new(),
            fixups: Vec::new(),
        }
    }
    /// Guest address of the next instruction.
    pub fn here(&self) -> u64 {
        self.base + self.code.len() as u64
    }
    /// Defines `name` at the next instruction.
    pub fn label(&mut self, name: &'static str) -> &mut Self {
        self.labels.insert(name, self.code.len());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.code.extend_from_slice(b);
        self
    }
    fn rel32(&mut self, opcode: &[u8], target: &'static str) -> &mut Self {
        self.bytes(opcode);
        self.fixups.push((self.code.len(), target));
        self.bytes(&[0; 4])
    }
    /// `mov r32, imm32` = B8+r id (zero-extends into the 64-bit register).
    pub fn mov_r32_imm(&mut self, r: R, imm: u32) -> &mut Self {
        self.bytes(&[0xb8 + r as u8]).bytes(&imm.to_le_bytes())
    }
    /// `mov r64, imm64` = REX.W B8+r io.
    pub fn mov_r64_imm64(&mut self, r: R, imm: u64) -> &mut Self {
        self.bytes(&[0x48, 0xb8 + r as u8])
            .bytes(&imm.to_le_bytes())
    }
    /// `mov eax, [disp32]` = 8B 04 25 disp32 (ModRM 00 000 100, SIB: no base, no index).
    pub fn mov_eax_abs(&mut self, addr: u32) -> &mut Self {
        self.bytes(&[0x8b, 0x04, 0x25]).bytes(&addr.to_le_bytes())
    }
    /// `mov eax, [rdi + disp8]` = 8B 47 disp8 (ModRM 01 000 111; disp8 is signed: < 0x80).
    pub fn mov_eax_rdi_disp8(&mut self, disp: u8) -> &mut Self {
        self.bytes(&[0x8b, 0x47, disp])
    }
    /// `mov eax, [rdi + disp32]` = 8B 87 disp32 (ModRM 10 000 111).
    pub fn mov_eax_rdi_disp32(&mut self, disp: u32) -> &mut Self {
        self.bytes(&[0x8b, 0x87]).bytes(&disp.to_le_bytes())
    }
    /// `mov rbx, [rdi + disp32]` = 48 8B 9F disp32 (ModRM 10 011 111).
    pub fn mov_rbx_rdi_disp32(&mut self, disp: u32) -> &mut Self {
        self.bytes(&[0x48, 0x8b, 0x9f]).bytes(&disp.to_le_bytes())
    }
    /// `mov eax, [rbx]` = 8B 03 (ModRM 00 000 011).
    pub fn mov_eax_rbx(&mut self) -> &mut Self {
        self.bytes(&[0x8b, 0x03])
    }
    /// `cmp eax, [rdi + disp8]` = 3B 47 disp8 (disp8 is signed: < 0x80).
    pub fn cmp_eax_rdi_disp8(&mut self, disp: u8) -> &mut Self {
        self.bytes(&[0x3b, 0x47, disp])
    }
    /// `cmp eax, imm32` = 3D id.
    pub fn cmp_eax_imm(&mut self, imm: u32) -> &mut Self {
        self.bytes(&[0x3d]).bytes(&imm.to_le_bytes())
    }
    /// `cmp eax, esi` = 39 F0 (ModRM 11 110 000).
    pub fn cmp_eax_esi(&mut self) -> &mut Self {
        self.bytes(&[0x39, 0xf0])
    }
    /// `add eax, esi` = 01 F0.
    pub fn add_eax_esi(&mut self) -> &mut Self {
        self.bytes(&[0x01, 0xf0])
    }
    /// `test esi, esi` = 85 F6.
    pub fn test_esi_esi(&mut self) -> &mut Self {
        self.bytes(&[0x85, 0xf6])
    }
    /// `lea eax, [rsi + disp8]` = 8D 46 disp8 (ModRM 01 000 110).
    pub fn lea_eax_rsi_disp8(&mut self, disp: u8) -> &mut Self {
        self.bytes(&[0x8d, 0x46, disp])
    }
    /// `mov [rbx + rsi*8], rax` = 48 89 04 F3 (SIB scale 8, index rsi, base rbx).
    pub fn mov_rbx_rsi8_rax(&mut self) -> &mut Self {
        self.bytes(&[0x48, 0x89, 0x04, 0xf3])
    }
    /// `mov rcx, [rbx + rsi*8]` = 48 8B 0C F3.
    pub fn mov_rcx_rbx_rsi8(&mut self) -> &mut Self {
        self.bytes(&[0x48, 0x8b, 0x0c, 0xf3])
    }
    /// `cmp rcx, rax` = 48 39 C1.
    pub fn cmp_rcx_rax(&mut self) -> &mut Self {
        self.bytes(&[0x48, 0x39, 0xc1])
    }
    /// `lock inc dword [disp32]` = F0 FF 04 25 disp32 (FF /0).
    pub fn lock_inc_abs(&mut self, addr: u32) -> &mut Self {
        self.bytes(&[0xf0, 0xff, 0x04, 0x25])
            .bytes(&addr.to_le_bytes())
    }
    /// `dec ecx` = FF C9 (FF /1).
    pub fn dec_ecx(&mut self) -> &mut Self {
        self.bytes(&[0xff, 0xc9])
    }
    /// `out dx, al` = EE.
    pub fn out_dx_al(&mut self) -> &mut Self {
        self.bytes(&[0xee])
    }
    /// `out dx, eax` = EF.
    pub fn out_dx_eax(&mut self) -> &mut Self {
        self.bytes(&[0xef])
    }
    /// `in al, dx` = EC.
    pub fn in_al_dx(&mut self) -> &mut Self {
        self.bytes(&[0xec])
    }
    /// `in eax, dx` = ED.
    pub fn in_eax_dx(&mut self) -> &mut Self {
        self.bytes(&[0xed])
    }
    /// `hlt` = F4.
    pub fn hlt(&mut self) -> &mut Self {
        self.bytes(&[0xf4])
    }
    /// `popcnt eax, ecx` = F3 0F B8 C1 (fails emulation at CPL0 on software KVM).
    pub fn popcnt_eax_ecx(&mut self) -> &mut Self {
        self.bytes(&[0xf3, 0x0f, 0xb8, 0xc1])
    }
    /// `int3` = CC.
    pub fn int3(&mut self) -> &mut Self {
        self.bytes(&[0xcc])
    }
    /// `jmp rel32` = E9 cd.
    pub fn jmp(&mut self, target: &'static str) -> &mut Self {
        self.rel32(&[0xe9], target)
    }
    /// `je rel32` = 0F 84 cd.
    pub fn je(&mut self, target: &'static str) -> &mut Self {
        self.rel32(&[0x0f, 0x84], target)
    }
    /// `cpuid` = 0F A2.
    pub fn cpuid(&mut self) -> &mut Self {
        self.bytes(&[0x0f, 0xa2])
    }
    /// `shr ebx, imm8` = C1 EB ib (C1 /5, ModRM 11 101 011).
    pub fn shr_ebx_imm(&mut self, n: u8) -> &mut Self {
        self.bytes(&[0xc1, 0xeb, n])
    }
    /// `mov eax, ebx` = 89 D8 (ModRM 11 011 000).
    pub fn mov_eax_ebx(&mut self) -> &mut Self {
        self.bytes(&[0x89, 0xd8])
    }
    /// `jne rel32` = 0F 85 cd.
    pub fn jne(&mut self, target: &'static str) -> &mut Self {
        self.rel32(&[0x0f, 0x85], target)
    }
    /// The code with every jump patched.
    pub fn finish(&mut self) -> Vec<u8> {
        for &(at, target) in &self.fixups {
            let dest = *self
                .labels
                .get(target)
                .unwrap_or_else(|| panic!("undefined label {target}"));
            let rel = dest as i64 - (at as i64 + 4);
            self.code[at..at + 4].copy_from_slice(&(rel as i32).to_le_bytes());
        }
        self.code.clone()
    }
}

#[test]
fn asm_patches_jumps() {
    let mut a = Asm::new(0x20_0000);
    a.label("top").hlt().jmp("top").jne("end").label("end");
    assert_eq!(
        a.finish(),
        vec![0xf4, 0xe9, 0xfa, 0xff, 0xff, 0xff, 0x0f, 0x85, 0, 0, 0, 0]
    );
}
