//! The tiny kernel runs in guest ring 0, which the project's software KVM
//! backend emulates instruction by instruction — and some instructions it
//! cannot emulate at all: the VM then stops with an internal error
//! (`docs/en/platforms.md`). The compiler decides which instructions the
//! kernel contains (an auto-vectorised loop, a zeroed struct…), so this
//! test disassembles the built kernel and fails on any of them:
//!
//! * any `xmm`/`ymm`/`zmm`/`mm` register use other than the four moves the
//!   emulator handles (`movups`, `movaps`, `movdqu`, `movdqa`);
//! * `popcnt`, `cmpxchg16b`, `rdtscp`, `int N`/`int1`/`into`, `xsave*`,
//!   `xrstor*`, `stac`/`clac`, `crc32`, `rdrand`/`rdseed`, `[ld|st]mxcsr`,
//!   AES/SHA/CLMUL, BMI, every AVX (`v…`) and x87 (`f…`) instruction but
//!   `fxsave`/`fxrstor`;
//! * `int3` anywhere but as padding after a function's last instruction;
//! * anything objdump cannot decode.
//!
//! It also checks the image's layout: the entry stub at its physical
//! address, the rest in the top 2 GiB with physical load addresses.
//!
//! Needs `objdump` (binutils). Without it the test is skipped with a
//! message — except under `VERSUS_REQUIRE_ROOT=1` (CI), where it fails.

use std::process::Command;

/// Why one disassembled instruction may not run in emulated ring 0, if so.
fn forbidden(mnemonic: &str, operands: &str) -> Option<&'static str> {
    const SSE_MOVES: &[&str] = &["movups", "movaps", "movdqu", "movdqa"];
    const NEVER: &[&str] = &[
        "popcnt",
        "cmpxchg16b",
        "rdtscp",
        "int",
        "int1",
        "icebp",
        "into",
        "stac",
        "clac",
        "crc32",
        "rdrand",
        "rdseed",
        "ldmxcsr",
        "stmxcsr",
        "emms",
        "femms",
        "xgetbv",
        "xsetbv",
        "movbe",
        "andn",
        "bextr",
        "blsi",
        "blsmsk",
        "blsr",
        "bzhi",
        "pdep",
        "pext",
        "mulx",
        "rorx",
        "sarx",
        "shlx",
        "shrx",
        "adcx",
        "adox",
    ];
    let uses_vector_register = operands
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            let digits = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
            ["xmm", "ymm", "zmm", "mm"]
                .iter()
                .any(|prefix| word.strip_prefix(prefix).is_some_and(digits))
        });
    if NEVER.contains(&mnemonic) {
        Some("not emulated at ring 0")
    } else if mnemonic.starts_with("xsave") || mnemonic.starts_with("xrstor") {
        Some("XSAVE family: not emulated")
    } else if ["aes", "sha", "pclmul"]
        .iter()
        .any(|p| mnemonic.starts_with(p))
    {
        Some("crypto extension: not emulated")
    } else if mnemonic.starts_with('v') {
        Some("AVX: not emulated")
    } else if mnemonic.starts_with('f')
        && !mnemonic.starts_with("fxsave")
        && !mnemonic.starts_with("fxrstor")
    {
        Some("x87: not emulated")
    } else if uses_vector_register && !SSE_MOVES.contains(&mnemonic) {
        Some("SSE/MMX other than movups/movaps/movdqu/movdqa: not emulated")
    } else {
        None
    }
}

/// Prefixes objdump prints as separate words before the mnemonic.
const PREFIXES: &[&str] = &[
    "lock", "rep", "repz", "repe", "repnz", "repne", "data16", "data32", "addr32", "cs", "ds",
    "es", "ss", "fs", "gs", "notrack", "bnd", "rex", "rex.W", "rex.B", "rex.X", "rex.R",
];

/// One disassembled instruction.
struct Instruction {
    address: String,
    function: String,
    mnemonic: String,
    operands: String,
}

/// Parses `objdump -d -M intel --no-show-raw-insn` output.
fn parse(listing: &str) -> Vec<Instruction> {
    let mut function = String::from("?");
    let mut out = Vec::new();
    for line in listing.lines() {
        if let Some(name) = line
            .strip_suffix(">:")
            .and_then(|l| l.split_once(" <"))
            .map(|(_, name)| name)
        {
            function = name.to_string();
            continue;
        }
        let Some((address, text)) = line.split_once(":\t") else {
            continue;
        };
        let address = address.trim();
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let mut words = text.split_whitespace().peekable();
        while words.peek().is_some_and(|w| PREFIXES.contains(w)) {
            words.next();
        }
        let mnemonic = words.next().unwrap_or("").to_string();
        let operands = words.collect::<Vec<_>>().join(" ");
        out.push(Instruction {
            address: address.to_string(),
            function: function.clone(),
            mnemonic,
            operands,
        });
    }
    out
}

/// Every problem in the listing, one line each.
fn problems(instructions: &[Instruction]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, insn) in instructions.iter().enumerate() {
        let why = if insn.mnemonic == "(bad)" || insn.mnemonic.is_empty() {
            Some("objdump cannot decode it")
        } else if insn.mnemonic == "int3" {
            // Padding: only int3 from here to the end of the function.
            let trailing = instructions[i..]
                .iter()
                .take_while(|next| next.function == insn.function)
                .all(|next| next.mnemonic == "int3");
            (!trailing).then_some("int3 inside a function: not emulated at ring 0")
        } else {
            forbidden(&insn.mnemonic, &insn.operands)
        };
        if let Some(why) = why {
            found.push(format!(
                "{} <{}>: {} {} — {why}",
                insn.address, insn.function, insn.mnemonic, insn.operands
            ));
        }
    }
    found
}

fn objdump(args: &[&str]) -> Option<String> {
    match Command::new("objdump").args(args).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => panic!(
            "objdump {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            testkit::skip(
                "the kernel disassembly check",
                testkit::Need::Root,
                &format!("objdump (binutils) not available ({e})"),
            );
            None
        }
    }
}

#[testkit::needs(objdump)]
#[test]
fn the_kernel_has_no_instruction_the_ring0_emulator_rejects() {
    let Some(listing) = objdump(&[
        "-d",
        "-M",
        "intel",
        "--no-show-raw-insn",
        versus_images::KERNEL_BUILD_PATH,
    ]) else {
        return;
    };
    let instructions = parse(&listing);
    // Sanity: the listing is the kernel's (its entry paths are there).
    for needed in ["iretq", "swapgs", "lidt", "ltr", "out"] {
        assert!(
            instructions.iter().any(|i| i.mnemonic == needed),
            "no {needed} in the disassembly of {}: wrong file or wrong parse",
            versus_images::KERNEL_BUILD_PATH
        );
    }
    let found = problems(&instructions);
    assert!(
        found.is_empty(),
        "{} instruction(s) in {} cannot run in emulated ring 0:\n{}",
        found.len(),
        versus_images::KERNEL_BUILD_PATH,
        found.join("\n")
    );
}

#[test]
fn the_rules_catch_what_they_should() {
    assert_eq!(forbidden("movups", "XMMWORD PTR [rdi],xmm0"), None);
    assert_eq!(forbidden("movdqa", "xmm1,XMMWORD PTR [rip+0x10]"), None);
    assert_eq!(forbidden("mov", "rax,QWORD PTR [rsp+0x8]"), None);
    assert_eq!(forbidden("xadd", "QWORD PTR [rip+0x10],rax"), None);
    assert_eq!(forbidden("fxsave", "[rsp]"), None);
    assert_eq!(forbidden("tzcnt", "rax,rcx"), None);
    assert!(forbidden("xorps", "xmm0,xmm0").is_some());
    assert!(forbidden("pxor", "xmm0,xmm0").is_some());
    assert!(forbidden("movq", "xmm5,r14").is_some());
    assert!(forbidden("movd", "eax,mm0").is_some());
    assert!(forbidden("popcnt", "eax,ecx").is_some());
    assert!(forbidden("int", "0x80").is_some());
    assert!(forbidden("fld", "QWORD PTR [rsp]").is_some());
    assert!(forbidden("vmovdqu", "ymm0,YMMWORD PTR [rdi]").is_some());
    assert!(forbidden("xsaveopt", "[rdi]").is_some());
    assert!(forbidden("aesenc", "xmm0,xmm1").is_some());
    let listing = "\
ffffffff80101000 <f>:
ffffffff80101000:\tlock xadd QWORD PTR [rip+0x10],rax
ffffffff80101005:\tret
ffffffff80101006:\tint3
ffffffff80101007:\tint3
ffffffff80101010 <g>:
ffffffff80101010:\tint3
ffffffff80101011:\txorps  xmm0,xmm0
ffffffff80101014:\trep stos QWORD PTR es:[rdi],rax
";
    let instructions = parse(listing);
    assert_eq!(instructions.len(), 7);
    assert_eq!(instructions[0].mnemonic, "xadd");
    assert_eq!(instructions[6].mnemonic, "stos");
    let found = problems(&instructions);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("<g>: int3"));
    assert!(found[1].contains("xorps"));
}

/// Reads a little-endian integer of `N` bytes at `at`.
fn le<const N: usize>(bytes: &[u8], at: usize) -> u64 {
    let mut value = [0u8; 8];
    value[..N].copy_from_slice(&bytes[at..at + N]);
    u64::from_le_bytes(value)
}

#[test]
fn the_kernel_image_is_laid_out_for_the_higher_half() {
    let elf = versus_images::KERNEL;
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(le::<2>(elf, 16), 2, "ET_EXEC");
    let entry = le::<8>(elf, 24);
    assert_eq!(
        entry, 0x10_0000,
        "the entry stub runs at 1 MiB, identity-mapped"
    );
    let (phoff, phnum) = (le::<8>(elf, 32) as usize, le::<2>(elf, 56) as usize);
    let mut high = 0;
    for i in 0..phnum {
        let ph = phoff + 56 * i;
        if le::<4>(elf, ph) != 1 {
            continue;
        }
        let (vaddr, paddr) = (le::<8>(elf, ph + 16), le::<8>(elf, ph + 24));
        assert!(
            paddr >= 0x10_0000,
            "segment at physical {paddr:#x} below 1 MiB"
        );
        if vaddr == paddr {
            assert_eq!(vaddr, entry, "only the entry stub is identity-mapped");
        } else {
            assert_eq!(
                vaddr.wrapping_sub(paddr),
                0xffff_ffff_8000_0000,
                "segment {vaddr:#x} is not at KERNEL_VMA + physical"
            );
            high += 1;
        }
    }
    assert!(high >= 2, "text and data should be in the higher half");
}
