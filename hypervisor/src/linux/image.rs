//! Step 1: the kernel image — an ELF `vmlinux` as it is, or a bzImage whose
//! setup header is parsed and whose compressed payload is unpacked on the
//! host into the ELF `vmlinux` inside it.
//!
//! A bzImage (Documentation/arch/x86/boot.rst) is a real-mode setup part of
//! `setup_sects + 1` 512-byte sectors (the setup header at 0x1f1 in it),
//! then the protected-mode part: a small decompressor and, at
//! `payload_offset` from its start, `payload_length` bytes of compressed
//! `vmlinux`. The kernel's build appends the uncompressed size as a 32-bit
//! little-endian number to every payload, so its last 4 bytes say how
//! large the result is before anything is decoded.

use std::io::Read;

use linux_loader::loader::bootparam::setup_header;

use super::LinuxError;
use super::layout::VMLINUX_MAX_SIZE;

/// Offset of the setup header inside a bzImage (and inside the zero page).
pub const SETUP_HEADER_OFFSET: usize = 0x1f1;
/// Offset of the "HdrS" magic (`setup_header.header`).
const HDRS_OFFSET: usize = 0x202;
/// The boot protocol's magic, "HdrS".
const HDRS_MAGIC: &[u8; 4] = b"HdrS";
/// The first boot protocol version with `payload_offset`/`payload_length`.
const PROTOCOL_WITH_PAYLOAD: u16 = 0x0208;
/// Size of one setup sector.
const SECTOR_SIZE: usize = 512;
/// A `setup_sects` of 0 means 4 (boot.rst: for compatibility).
const DEFAULT_SETUP_SECTS: usize = 4;
/// The ELF magic at the start of a vmlinux.
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// The magic of LZ4's legacy frame, the one the kernel's `lz4 -l` writes.
const LZ4_LEGACY_MAGIC: u32 = 0x184c_2102;
/// Largest decompressed block of an LZ4 legacy frame (8 MiB).
const LZ4_LEGACY_BLOCK_MAX: usize = 8 << 20;

/// How a bzImage's payload is compressed (by its magic bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`), the kernel's default.
    Gzip,
    /// LZ4 legacy frame (`02 21 4c 18`), Debian's choice.
    Lz4,
    /// zstd (`28 b5 2f fd`), Ubuntu's and Fedora's.
    Zstd,
}

impl Compression {
    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Lz4 => "LZ4",
            Compression::Zstd => "zstd",
        }
    }
}

/// What the kernel file was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// An ELF vmlinux, taken as it is.
    Elf,
    /// A bzImage, its payload unpacked.
    BzImage(Compression),
}

/// A kernel ready to be loaded as ELF, and the bzImage's setup header when
/// there was one (it goes into the zero page).
#[derive(Debug)]
pub struct KernelImage {
    /// What the file was.
    pub format: KernelFormat,
    /// The ELF vmlinux.
    pub vmlinux: Vec<u8>,
    /// The bzImage's setup header (`None` for an ELF file).
    pub setup_header: Option<setup_header>,
}

/// Reads a kernel file's bytes: an ELF vmlinux as it is, a bzImage unpacked.
pub fn parse(bytes: &[u8]) -> Result<KernelImage, LinuxError> {
    if bytes.starts_with(ELF_MAGIC) {
        return Ok(KernelImage {
            format: KernelFormat::Elf,
            vmlinux: bytes.to_vec(),
            setup_header: None,
        });
    }
    if bytes.get(HDRS_OFFSET..HDRS_OFFSET + 4) != Some(HDRS_MAGIC.as_slice()) {
        return Err(LinuxError::UnknownFormat);
    }
    let header = read_setup_header(bytes)?;
    let version = header.version;
    if version < PROTOCOL_WITH_PAYLOAD {
        return Err(LinuxError::OldProtocol {
            major: (version >> 8) as u8,
            minor: version as u8,
        });
    }
    let setup_sects = match header.setup_sects as usize {
        0 => DEFAULT_SETUP_SECTS,
        n => n,
    };
    let protected_start = (setup_sects + 1) * SECTOR_SIZE;
    let start = protected_start + header.payload_offset as usize;
    let end = start + header.payload_length as usize;
    let payload = bytes.get(start..end).ok_or(LinuxError::Truncated {
        what: "the bzImage payload",
        need: end as u64,
        have: bytes.len() as u64,
    })?;
    let compression = detect(payload)?;
    let vmlinux = decompress(compression, payload)?;
    if !vmlinux.starts_with(ELF_MAGIC) {
        let mut first = [0u8; 4];
        let n = vmlinux.len().min(4);
        first[..n].copy_from_slice(&vmlinux[..n]);
        return Err(LinuxError::PayloadNotElf(first));
    }
    Ok(KernelImage {
        format: KernelFormat::BzImage(compression),
        vmlinux,
        setup_header: Some(header),
    })
}

/// Copies the setup header out of a bzImage.
fn read_setup_header(bytes: &[u8]) -> Result<setup_header, LinuxError> {
    let size = std::mem::size_of::<setup_header>();
    let raw = bytes
        .get(SETUP_HEADER_OFFSET..SETUP_HEADER_OFFSET + size)
        .ok_or(LinuxError::Truncated {
            what: "the setup header",
            need: (SETUP_HEADER_OFFSET + size) as u64,
            have: bytes.len() as u64,
        })?;
    // SAFETY: `raw` is exactly `size_of::<setup_header>()` bytes long;
    // `setup_header` is `repr(C, packed)` with only integer fields, so any
    // bit pattern is a valid value and an unaligned read is what `packed`
    // asks for.
    Ok(unsafe { std::ptr::read_unaligned(raw.as_ptr().cast::<setup_header>()) })
}

/// Names the compression by the payload's magic bytes.
fn detect(payload: &[u8]) -> Result<Compression, LinuxError> {
    let unsupported = [
        (&b"\xfd7zXZ\x00"[..], "xz"),
        (&b"BZh"[..], "bzip2"),
        (&b"\x5d\x00\x00"[..], "LZMA"),
        (&b"\x89LZO"[..], "LZO"),
    ];
    if payload.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if payload.starts_with(&LZ4_LEGACY_MAGIC.to_le_bytes()) {
        Ok(Compression::Lz4)
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if let Some((_, name)) = unsupported.iter().find(|(m, _)| payload.starts_with(m)) {
        Err(LinuxError::UnsupportedCompression(name))
    } else {
        Err(LinuxError::UnsupportedCompression("an unknown format"))
    }
}

/// Unpacks a payload whose last 4 bytes are its uncompressed size: for
/// gzip the stream's own ISIZE field (the kernel's build appends nothing to
/// a gzip payload), for the others a trailer the build appends after the
/// stream (`size_append` in the kernel's `scripts/Makefile.lib`).
fn decompress(compression: Compression, payload: &[u8]) -> Result<Vec<u8>, LinuxError> {
    let format = compression.name();
    let fail = |reason: String| LinuxError::Decompress { format, reason };
    let split = payload
        .len()
        .checked_sub(4)
        .ok_or_else(|| fail("the payload is shorter than its 4-byte size trailer".into()))?;
    let (stream, trailer) = payload.split_at(split);
    let data = match compression {
        Compression::Gzip => payload,
        Compression::Zstd | Compression::Lz4 => stream,
    };
    let size = u64::from(u32::from_le_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]));
    if size > VMLINUX_MAX_SIZE {
        return Err(LinuxError::TooLarge {
            size,
            max: VMLINUX_MAX_SIZE,
        });
    }
    let size = size as usize;
    let out = match compression {
        Compression::Gzip => read_bounded(flate2::read::GzDecoder::new(data), size)
            .map_err(|e| fail(e.to_string()))?,
        Compression::Zstd => {
            let decoder =
                ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| fail(e.to_string()))?;
            read_bounded(decoder, size).map_err(|e| fail(e.to_string()))?
        }
        Compression::Lz4 => lz4_legacy(data, size).map_err(fail)?,
    };
    if out.len() != size {
        return Err(fail(format!(
            "it unpacked to {} bytes, its trailer says {size}",
            out.len()
        )));
    }
    Ok(out)
}

/// Reads at most `size + 1` bytes, so a payload longer than its trailer says
/// is caught without unpacking all of it.
fn read_bounded(reader: impl Read, size: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size);
    reader.take(size as u64 + 1).read_to_end(&mut out)?;
    Ok(out)
}

/// Unpacks an LZ4 legacy frame: the magic, then blocks of a 32-bit
/// little-endian compressed length and that many bytes, each unpacking to
/// at most 8 MiB; the magic may recur (concatenated frames).
fn lz4_legacy(mut data: &[u8], size: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; size];
    let mut written = 0usize;
    let magic = LZ4_LEGACY_MAGIC.to_le_bytes();
    while !data.is_empty() {
        let Some((word, rest)) = data.split_first_chunk::<4>() else {
            return Err(format!("{} stray bytes after the last block", data.len()));
        };
        if *word == magic {
            data = rest;
            continue;
        }
        let len = u32::from_le_bytes(*word) as usize;
        let block = rest
            .get(..len)
            .ok_or_else(|| format!("a block of {len} bytes runs past the payload's end"))?;
        let room = (size - written).min(LZ4_LEGACY_BLOCK_MAX);
        let n = lz4_flex::block::decompress_into(block, &mut out[written..written + room])
            .map_err(|e| format!("{e} (at output byte {written})"))?;
        written += n;
        data = &rest[len..];
    }
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A fake vmlinux: the ELF magic and some text.
    fn fake_vmlinux() -> Vec<u8> {
        let mut v = ELF_MAGIC.to_vec();
        for i in 0..50_000u32 {
            v.extend_from_slice(&(i % 251).to_le_bytes());
        }
        v
    }

    /// A bzImage-like file: `setup_sects` sectors of setup, a setup header
    /// at 0x1f1 with the given version, `payload` after a 0x40-byte stub.
    fn bzimage(version: u16, payload: &[u8]) -> Vec<u8> {
        let setup_sects = 3u8;
        let mut header = setup_header {
            setup_sects,
            boot_flag: 0xaa55,
            header: u32::from_le_bytes(*HDRS_MAGIC),
            version,
            cmdline_size: 2047,
            payload_offset: 0x40,
            payload_length: payload.len() as u32,
            ..Default::default()
        };
        header.loadflags = 1;
        let mut file = vec![0u8; (setup_sects as usize + 1) * SECTOR_SIZE + 0x40];
        let size = std::mem::size_of::<setup_header>();
        // SAFETY: `header` is a plain `repr(C, packed)` integer struct; the
        // slice covers exactly its bytes and lives no longer than it.
        let raw = unsafe { std::slice::from_raw_parts((&raw const header).cast::<u8>(), size) };
        file[SETUP_HEADER_OFFSET..SETUP_HEADER_OFFSET + size].copy_from_slice(raw);
        file.extend_from_slice(payload);
        file
    }

    fn with_size(mut compressed: Vec<u8>, size: usize) -> Vec<u8> {
        compressed.extend_from_slice(&(size as u32).to_le_bytes());
        compressed
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        // As the kernel's build makes it: gzip's own trailer ends in the
        // size, nothing is appended.
        enc.finish().unwrap()
    }

    fn lz4(data: &[u8]) -> Vec<u8> {
        let mut out = LZ4_LEGACY_MAGIC.to_le_bytes().to_vec();
        for chunk in data.chunks(64 * 1024) {
            let block = lz4_flex::block::compress(chunk);
            out.extend_from_slice(&(block.len() as u32).to_le_bytes());
            out.extend_from_slice(&block);
        }
        with_size(out, data.len())
    }

    #[test]
    fn an_elf_is_taken_as_it_is() {
        let v = fake_vmlinux();
        let img = parse(&v).unwrap();
        assert_eq!(img.format, KernelFormat::Elf);
        assert!(img.setup_header.is_none());
        assert_eq!(img.vmlinux, v);
    }

    #[test]
    fn a_gzip_bzimage_unpacks_to_its_vmlinux_and_keeps_its_header() {
        let v = fake_vmlinux();
        let img = parse(&bzimage(0x020f, &gzip(&v))).unwrap();
        assert_eq!(img.format, KernelFormat::BzImage(Compression::Gzip));
        assert_eq!(img.vmlinux, v);
        let h = img.setup_header.unwrap();
        assert_eq!({ h.cmdline_size }, 2047);
        assert_eq!({ h.version }, 0x020f);
    }

    #[test]
    fn an_lz4_legacy_bzimage_unpacks_block_by_block() {
        let v = fake_vmlinux();
        let img = parse(&bzimage(0x020f, &lz4(&v))).unwrap();
        assert_eq!(img.format, KernelFormat::BzImage(Compression::Lz4));
        assert_eq!(img.vmlinux, v);
    }

    #[test]
    fn a_zstd_bzimage_unpacks() {
        let v = fake_vmlinux();
        let z = ruzstd::encoding::compress_to_vec(
            v.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let img = parse(&bzimage(0x020f, &with_size(z, v.len()))).unwrap();
        assert_eq!(img.format, KernelFormat::BzImage(Compression::Zstd));
        assert_eq!(img.vmlinux, v);
    }

    #[test]
    fn a_size_trailer_that_lies_is_an_error() {
        let v = fake_vmlinux();
        let mut p = gzip(&v);
        let n = p.len();
        p[n - 4..].copy_from_slice(&((v.len() - 1) as u32).to_le_bytes());
        let err = parse(&bzimage(0x020f, &p)).unwrap_err();
        assert!(err.to_string().contains("trailer says"), "{err}");
    }

    #[test]
    fn a_payload_that_is_not_an_elf_is_named() {
        let err = parse(&bzimage(0x020f, &gzip(b"not an elf at all"))).unwrap_err();
        assert!(matches!(err, LinuxError::PayloadNotElf(_)), "{err}");
    }

    #[test]
    fn unsupported_and_unknown_compressions_name_the_fix() {
        let xz = with_size(b"\xfd7zXZ\x00rest".to_vec(), 10);
        let err = parse(&bzimage(0x020f, &xz)).unwrap_err().to_string();
        assert!(
            err.contains("xz-compressed") && err.contains("vmlinux"),
            "{err}"
        );
        let odd = with_size(b"????".to_vec(), 10);
        let err = parse(&bzimage(0x020f, &odd)).unwrap_err().to_string();
        assert!(err.contains("unknown format"), "{err}");
    }

    #[test]
    fn old_protocols_truncated_files_and_strangers_are_errors() {
        let p = gzip(&fake_vmlinux());
        assert!(matches!(
            parse(&bzimage(0x0206, &p)),
            Err(LinuxError::OldProtocol { major: 2, minor: 6 })
        ));
        let mut cut = bzimage(0x020f, &p);
        cut.truncate(cut.len() - 10);
        assert!(matches!(parse(&cut), Err(LinuxError::Truncated { .. })));
        assert!(matches!(parse(&[0u8; 100]), Err(LinuxError::UnknownFormat)));
        assert!(matches!(parse(&[]), Err(LinuxError::UnknownFormat)));
    }

    #[test]
    fn a_huge_size_trailer_is_refused_before_decoding() {
        let p = with_size(vec![0x1f, 0x8b, 0, 0], 0);
        let mut p2 = p.clone();
        let n = p2.len();
        p2[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse(&bzimage(0x020f, &p2)),
            Err(LinuxError::TooLarge { .. })
        ));
    }
}
