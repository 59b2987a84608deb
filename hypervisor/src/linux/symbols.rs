//! A Linux kernel's symbols, to name a guest RIP in versus' failure
//! reports as `function+0x1a`: from a `System.map` (what `make` writes
//! beside `vmlinux`; `make linux-guest` keeps it in
//! `guest-images/linux/out/`) or from the ELF symbol table of a `vmlinux`.
//! The minimal kernel is built without kallsyms, so its own oops and panic
//! lines show bare addresses; versus names them from these files.
//!
//! Only code symbols are kept (System.map types `t`, `T`, `w`, `W`; ELF
//! functions and untyped section-relative symbols): a RIP lies in code, and
//! a data symbol between two functions would give it a wrong name.

use std::path::{Path, PathBuf};

/// The first bytes of every ELF file: a kernel given as `vmlinux` starts
/// with them, a bzImage or a System.map does not.
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Errors reading a kernel's symbols.
#[derive(Debug, thiserror::Error)]
pub enum SymbolError {
    /// The file could not be read.
    #[error("reading the kernel symbols {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file holds no code symbols.
    #[error(
        "{0} holds no kernel code symbols: give --linux-symbols a System.map (lines \"ADDRESS TYPE NAME\") or a vmlinux with its symbol table"
    )]
    NoSymbols(PathBuf),
}

/// A kernel's code symbols, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelSymbols {
    symbols: Vec<(u64, String)>,
}

/// A symbol and the offset into it, shown as `name+0x1a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolOffset<'a> {
    /// The symbol at or below the address.
    pub name: &'a str,
    /// The address minus the symbol's.
    pub offset: u64,
}

impl std::fmt::Display for SymbolOffset<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}+{:#x}", self.name, self.offset)
    }
}

impl KernelSymbols {
    fn from_unsorted(mut symbols: Vec<(u64, String)>) -> Self {
        // Several names at one address (aliases): the first by name, so the
        // choice does not depend on the file's order.
        symbols.sort();
        symbols.dedup_by_key(|(addr, _)| *addr);
        KernelSymbols { symbols }
    }

    /// The code symbols of a `System.map` ("ffffffff81000000 T _text" per
    /// line); lines of another shape are skipped.
    pub fn parse_system_map(text: &str) -> Self {
        let symbols = text
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let addr = u64::from_str_radix(words.next()?, 16).ok()?;
                let kind = words.next()?;
                let name = words.next()?;
                matches!(kind, "t" | "T" | "w" | "W").then(|| (addr, name.to_owned()))
            })
            .collect();
        Self::from_unsorted(symbols)
    }

    /// The code symbols of a 64-bit little-endian ELF's `.symtab`; none for
    /// anything else (a stripped or truncated file, another ELF class).
    pub fn parse_elf(bytes: &[u8]) -> Self {
        Self::from_unsorted(elf_code_symbols(bytes).unwrap_or_default())
    }

    /// The symbols of `bytes`: an ELF's symbol table, or a System.map.
    pub fn parse(bytes: &[u8]) -> Self {
        if bytes.starts_with(ELF_MAGIC) {
            Self::parse_elf(bytes)
        } else {
            Self::parse_system_map(&String::from_utf8_lossy(bytes))
        }
    }

    /// Reads `path` (a System.map or a vmlinux); a file without code
    /// symbols is an error naming what to give instead.
    pub fn load(path: &Path) -> Result<Self, SymbolError> {
        let bytes = std::fs::read(path).map_err(|source| SymbolError::Read {
            path: path.to_owned(),
            source,
        })?;
        let symbols = Self::parse(&bytes);
        if symbols.is_empty() {
            return Err(SymbolError::NoSymbols(path.to_owned()));
        }
        Ok(symbols)
    }

    /// The symbols found beside a kernel file: the kernel itself when it is
    /// an ELF with symbols, else `System.map`, else `vmlinux` in its
    /// directory (what `make linux-guest` leaves beside its bzImage).
    /// Unreadable or symbol-less candidates are passed over.
    pub fn beside(kernel: &Path) -> Option<(PathBuf, Self)> {
        let dir = kernel.parent().unwrap_or(Path::new("."));
        // A bzImage is not read as a System.map: binary bytes could happen
        // to look like a symbol line.
        let kernel_is_elf = std::fs::File::open(kernel).is_ok_and(|mut f| {
            let mut magic = [0u8; 4];
            std::io::Read::read_exact(&mut f, &mut magic).is_ok() && &magic == ELF_MAGIC
        });
        kernel_is_elf
            .then(|| kernel.to_owned())
            .into_iter()
            .chain([dir.join("System.map"), dir.join("vmlinux")])
            .find_map(|path| Self::load(&path).ok().map(|s| (path, s)))
    }

    /// Code symbols in all.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The symbol `addr` lies in: the nearest at or below it. None below
    /// the first symbol, and at or past the last one (it has no end to
    /// bound it; a kernel's last code symbol is an end marker such as
    /// `_einittext`).
    pub fn lookup(&self, addr: u64) -> Option<SymbolOffset<'_>> {
        let after = self.symbols.partition_point(|(a, _)| *a <= addr);
        if after == 0 || after == self.symbols.len() {
            return None;
        }
        let (start, name) = &self.symbols[after - 1];
        Some(SymbolOffset {
            name,
            offset: addr - start,
        })
    }
}

/// The code symbols of a 64-bit little-endian ELF's `SHT_SYMTAB`, read
/// with `object`'s ELF reader (which checks every offset against the file):
/// functions and untyped symbols that lie in a section. None for a file
/// that is not such an ELF, or is cut short.
fn elf_code_symbols(bytes: &[u8]) -> Option<Vec<(u64, String)>> {
    use object::read::elf::{FileHeader, Sym};
    let header = object::elf::FileHeader64::<object::LittleEndian>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, bytes).ok()?;
    let symtab = sections
        .symbols(endian, bytes, object::elf::SHT_SYMTAB)
        .ok()?;
    let symbols = symtab
        .iter()
        .filter(|sym| {
            matches!(
                sym.st_type(),
                object::elf::STT_NOTYPE | object::elf::STT_FUNC
            ) && !matches!(
                sym.st_shndx(endian),
                object::elf::SHN_UNDEF | object::elf::SHN_ABS
            )
        })
        .filter_map(|sym| {
            let name = symtab.symbol_name(endian, sym).ok()?;
            (!name.is_empty()).then(|| {
                (
                    sym.st_value(endian),
                    String::from_utf8_lossy(name).into_owned(),
                )
            })
        })
        .collect();
    Some(symbols)
}

/// A console line that shows a RIP as a bare address (a kernel without
/// kallsyms prints `RIP: 0010:0xffffffff8102a3b4` in an oops), with the
/// symbol appended: `… [versus: native_halt+0x4]`. None when the line shows
/// no such address or no symbol covers it.
pub fn name_rip_in_line(line: &str, symbols: &KernelSymbols) -> Option<String> {
    let (_, rest) = line.split_once("RIP: ")?;
    // "0010:" — the code segment selector — comes first in an oops.
    let rest = rest.split_once(':').map_or(rest, |(_, r)| r);
    let rest = rest.strip_prefix("0x").unwrap_or(rest);
    let digits: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    let addr = u64::from_str_radix(&digits, 16).ok()?;
    let symbol = symbols.lookup(addr)?;
    Some(format!("{line} [versus: {symbol}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ELF64 layout the hand-made test file below is written in: the
    /// header fields naming the section header table, a section header's
    /// fields, a symbol's fields, and the values the tests use.
    const ELFCLASS64: u8 = 2;
    const ELFDATA2LSB: u8 = 1;
    const EV_CURRENT: u8 = 1;
    const E_SHOFF: usize = 0x28;
    const E_SHENTSIZE: usize = 0x3a;
    const E_SHNUM: usize = 0x3c;
    const E_SHSTRNDX: usize = 0x3e;
    const SHDR_SIZE: usize = 64;
    const SH_TYPE: usize = 4;
    const SH_OFFSET: usize = 0x18;
    const SH_SIZE: usize = 0x20;
    const SH_LINK: usize = 0x28;
    const SHT_STRTAB: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    const SYM_SIZE: usize = 24;
    const ST_NAME: usize = 0;
    const ST_INFO: usize = 4;
    const ST_SHNDX: usize = 6;
    const ST_VALUE: usize = 8;
    const STT_NOTYPE: u8 = 0;
    const STT_FUNC: u8 = 2;
    const SHN_UNDEF: u16 = 0;
    const SHN_ABS: u16 = 0xfff1;

    const MAP: &str = "\
0000000000000000 A VDSO32_PRELINK
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81001000 t early_idt_handler
ffffffff81002000 D some_data
ffffffff81003000 T native_halt
ffffffff81003010 W weak_helper
ffffffff81004000 T _etext
not a symbol line
";

    #[test]
    fn a_system_map_keeps_code_symbols_and_names_addresses_with_offsets() {
        let s = KernelSymbols::parse_system_map(MAP);
        // _text and startup_64 share an address: one is kept.
        assert_eq!(s.len(), 5);
        assert_eq!(
            s.lookup(0xffffffff81000000).unwrap().to_string(),
            "_text+0x0"
        );
        assert_eq!(
            s.lookup(0xffffffff81003004).unwrap().to_string(),
            "native_halt+0x4"
        );
        // The data symbol at ...2000 is not a code symbol: an address past
        // it still belongs to the function before.
        assert_eq!(
            s.lookup(0xffffffff81002abc).unwrap().to_string(),
            "early_idt_handler+0x1abc"
        );
        assert_eq!(
            s.lookup(0xffffffff81003010).unwrap().to_string(),
            "weak_helper+0x0"
        );
    }

    #[test]
    fn an_address_below_the_first_symbol_or_past_the_last_has_no_name() {
        let s = KernelSymbols::parse_system_map(MAP);
        assert_eq!(s.lookup(0x10_0000), None, "a RIP below the kernel");
        assert_eq!(s.lookup(0xffffffff80ffffff), None);
        assert_eq!(s.lookup(0xffffffff81004000), None, "the end marker");
        assert_eq!(s.lookup(u64::MAX), None);
        assert_eq!(KernelSymbols::default().lookup(0x1000), None);
    }

    /// An ELF64 with a section header table of: null, .strtab, .symtab.
    fn elf_with_symbols(symbols: &[(&str, u8, u16, u64)]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; SYM_SIZE]; // the null symbol
        for (name, kind, shndx, value) in symbols {
            let name_at = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            let mut sym = [0u8; SYM_SIZE];
            sym[ST_NAME..ST_NAME + 4].copy_from_slice(&name_at.to_le_bytes());
            sym[ST_INFO] = *kind;
            sym[ST_SHNDX..ST_SHNDX + 2].copy_from_slice(&shndx.to_le_bytes());
            sym[ST_VALUE..ST_VALUE + 8].copy_from_slice(&value.to_le_bytes());
            symtab.extend_from_slice(&sym);
        }
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(ELF_MAGIC);
        f[4] = ELFCLASS64;
        f[5] = ELFDATA2LSB;
        f[6] = EV_CURRENT;
        let strtab_at = f.len() as u64;
        f.extend_from_slice(&strtab);
        let symtab_at = f.len() as u64;
        f.extend_from_slice(&symtab);
        let shoff = f.len() as u64;
        f[E_SHOFF..E_SHOFF + 8].copy_from_slice(&shoff.to_le_bytes());
        f[E_SHENTSIZE..E_SHENTSIZE + 2].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
        f[E_SHNUM..E_SHNUM + 2].copy_from_slice(&3u16.to_le_bytes());
        // Section names, as every linker writes them: here in .strtab.
        f[E_SHSTRNDX..E_SHSTRNDX + 2].copy_from_slice(&1u16.to_le_bytes());
        let mut header = |kind: u32, offset: u64, size: u64, link: u32| {
            let mut h = [0u8; SHDR_SIZE];
            h[SH_TYPE..SH_TYPE + 4].copy_from_slice(&kind.to_le_bytes());
            h[SH_OFFSET..SH_OFFSET + 8].copy_from_slice(&offset.to_le_bytes());
            h[SH_SIZE..SH_SIZE + 8].copy_from_slice(&size.to_le_bytes());
            h[SH_LINK..SH_LINK + 4].copy_from_slice(&link.to_le_bytes());
            f.extend_from_slice(&h);
        };
        header(0, 0, 0, 0);
        header(SHT_STRTAB, strtab_at, strtab.len() as u64, 0);
        header(SHT_SYMTAB, symtab_at, symtab.len() as u64, 1);
        f
    }

    #[test]
    fn an_elf_symbol_table_gives_functions_and_skips_data_and_absolute_symbols() {
        let elf = elf_with_symbols(&[
            ("start_kernel", STT_FUNC, 1, 0xffffffff82000000),
            ("a_label", STT_NOTYPE, 1, 0xffffffff82000100),
            ("jiffies", 1, 2, 0xffffffff82000080), // STT_OBJECT
            ("abs_value", STT_NOTYPE, SHN_ABS, 0xffffffff82000040),
            ("undefined", STT_FUNC, SHN_UNDEF, 0xffffffff82000020),
            ("_einittext", STT_NOTYPE, 1, 0xffffffff82001000),
        ]);
        let s = KernelSymbols::parse(&elf);
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.lookup(0xffffffff820000c0).unwrap().to_string(),
            "start_kernel+0xc0"
        );
        assert_eq!(
            s.lookup(0xffffffff82000104).unwrap().to_string(),
            "a_label+0x4"
        );
        // Cut anywhere, the file gives no symbols rather than a panic.
        for len in [0, 8, 63, 64, elf.len() - 1] {
            let _ = KernelSymbols::parse(&elf[..len]);
        }
        // Cut inside the .symtab section header: no symbol table at all.
        assert!(KernelSymbols::parse(&elf[..elf.len() - 40]).is_empty());
    }

    /// The address of `name` among the symbols kept.
    fn address_of(symbols: &KernelSymbols, name: &str) -> Option<u64> {
        symbols
            .symbols
            .iter()
            .find(|(_, n)| n == name)
            .map(|(addr, _)| *addr)
    }

    #[testkit::needs(cc)]
    #[test]
    fn a_compiler_built_elf_names_its_functions_and_not_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let Some(binary) = testkit::c_program(
            "a_compiler_built_elf_names_its_functions_and_not_its_data",
            "cc",
            "-static",
            dir.path(),
            "marked",
            "int versus_marked_data = 7;\n\
             __attribute__((noinline)) int versus_marked_function(int x) {\n\
                 return x * versus_marked_data + 3;\n\
             }\n\
             int main(int argc, char **argv) { (void)argv; return versus_marked_function(argc); }\n",
        ) else {
            return;
        };
        let s = KernelSymbols::load(&binary).unwrap();
        let function = address_of(&s, "versus_marked_function").expect("the function is named");
        assert_eq!(
            s.lookup(function + 2).unwrap().to_string(),
            "versus_marked_function+0x2"
        );
        assert!(address_of(&s, "main").is_some());
        assert_eq!(address_of(&s, "versus_marked_data"), None, "a data symbol");
    }

    #[test]
    fn the_minimal_kernels_vmlinux_and_system_map_name_the_same_functions() {
        let out =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-images/linux/out");
        let vmlinux = out.join("vmlinux");
        if !testkit::require_linux_guest(
            "the_minimal_kernels_vmlinux_and_system_map_name_the_same_functions",
            &vmlinux,
        ) {
            return;
        }
        let from_elf = KernelSymbols::load(&vmlinux).unwrap();
        let map = std::fs::read_to_string(out.join("System.map")).unwrap();
        for name in ["start_kernel", "panic"] {
            // The address System.map gives the function, read from its line.
            let addr = map
                .lines()
                .find_map(|line| {
                    let (addr, rest) = line.split_once(' ')?;
                    (rest == format!("T {name}")).then(|| u64::from_str_radix(addr, 16).ok())?
                })
                .expect("System.map names it");
            assert_eq!(
                from_elf.lookup(addr + 1).map(|s| s.to_string()),
                Some(format!("{name}+0x1"))
            );
        }
        assert!(from_elf.len() > 10_000, "{} code symbols", from_elf.len());
    }

    #[test]
    fn a_file_without_symbols_is_refused_with_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello\n").unwrap();
        let e = KernelSymbols::load(&path).unwrap_err().to_string();
        assert!(e.contains("notes.txt") && e.contains("System.map"), "{e}");
        let missing = KernelSymbols::load(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        // A kernel that is no ELF is not taken for a System.map, even one
        // holding symbol-shaped lines.
        let bz_image = dir.path().join("bzImage");
        std::fs::write(&bz_image, MAP).unwrap();
        assert_eq!(KernelSymbols::beside(&bz_image), None);
        std::fs::write(dir.path().join("System.map"), MAP).unwrap();
        let (found, s) = KernelSymbols::beside(&bz_image).unwrap();
        assert_eq!(found, dir.path().join("System.map"));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn an_oops_rip_without_kallsyms_is_named() {
        let s = KernelSymbols::parse_system_map(MAP);
        assert_eq!(
            name_rip_in_line("[    2.1] RIP: 0010:0xffffffff81003004", &s).as_deref(),
            Some("[    2.1] RIP: 0010:0xffffffff81003004 [versus: native_halt+0x4]")
        );
        assert_eq!(name_rip_in_line("[    2.1] RIP: 0010:0x1000", &s), None);
        assert_eq!(name_rip_in_line("RSP: 0018:ffffc90000003f00", &s), None);
    }
}
