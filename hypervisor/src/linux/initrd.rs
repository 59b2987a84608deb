//! The initramfs of a Linux guest: the one versus writes, whose `/init`
//! is the workload binary the other backends run, and where any initramfs
//! goes in guest memory for the zero page to point at.
//!
//! versus' archive holds three entries, in the order Linux unpacks them:
//!
//! ```text
//! dev           directory, 0755
//! dev/console   character device 5:1, 0600 — the kernel opens it as /init's
//!               stdin, stdout and stderr before running it
//! init          the workload, 0755 — run as PID 1 ("Run /init as init process")
//! ```
//!
//! The task and its arguments reach `/init` the way Linux passes them:
//! every command-line word after `--` becomes one of init's arguments.

use linux_loader::loader::bootparam::setup_header;

use super::LinuxError;
use super::zeropage::Initrd;
use crate::initramfs::{S_IFDIR, S_IFREG, Writer};
use crate::memory::MemoryLayout;

/// `/dev/console`'s device number (TTYAUX_MAJOR 5, minor 1).
pub const CONSOLE_MAJOR: u32 = 5;
/// See [`CONSOLE_MAJOR`].
pub const CONSOLE_MINOR: u32 = 1;
/// Permissions of the directory and of `/init`.
const EXECUTABLE: u32 = 0o755;
/// Permissions of `/dev/console` (root only, as Linux's own default list).
const CONSOLE_PERMISSIONS: u32 = 0o600;
/// An initramfs starts on a page boundary.
const PAGE: u64 = 4096;
/// The highest initramfs address a kernel takes when its setup header says
/// nothing (boot protocols before 2.03 and an ELF without a header): the
/// boot protocol's historical limit.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0x37ff_ffff;
/// Where Linux's command line ends and init's arguments start.
pub const INIT_ARGS_SEPARATOR: &str = "--";

/// The archive whose `/init` is `program` (a static x86-64 ELF).
pub fn workload_archive(program: &[u8]) -> Vec<u8> {
    let mut archive = Writer::new();
    archive.push(b"dev", S_IFDIR | EXECUTABLE, 2, &[]);
    archive.push_char_device(
        b"dev/console",
        CONSOLE_PERMISSIONS,
        CONSOLE_MAJOR,
        CONSOLE_MINOR,
    );
    archive.push(b"init", S_IFREG | EXECUTABLE, 1, program);
    archive.finish()
}

/// The command-line tail that hands `args` to `/init`: `-- word word …`.
/// Linux splits its command line on spaces and treats quotes itself, so a
/// word with whitespace, a quote or a control character is refused.
pub fn init_arguments(args: &[String]) -> Result<String, LinuxError> {
    if let Some(bad) = args.iter().find(|a| {
        a.is_empty()
            || a.chars()
                .any(|c| c.is_whitespace() || c == '"' || c.is_control())
    }) {
        return Err(LinuxError::InitArgument(bad.clone()));
    }
    Ok(std::iter::once(INIT_ARGS_SEPARATOR)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Where an initramfs of `size` bytes goes: as high in the low RAM region
/// as the kernel allows (its `initrd_addr_max`), on a page boundary, and
/// above the kernel's last byte (`kernel_end`) — where bootloaders put it,
/// so it stays clear of the memory the kernel's early allocations take.
pub fn place(
    layout: &MemoryLayout,
    header: Option<&setup_header>,
    kernel_end: u64,
    size: u64,
) -> Result<Initrd, LinuxError> {
    let addr_max = header
        .map(|h| h.initrd_addr_max)
        .filter(|&max| max != 0)
        .map_or(DEFAULT_INITRD_ADDR_MAX, u64::from);
    // One past the last byte the initramfs may use.
    let top = layout.low().end().min(addr_max.saturating_add(1));
    let room = top.saturating_sub(kernel_end.next_multiple_of(PAGE));
    if size > room {
        return Err(LinuxError::InitrdTooLarge { size, room });
    }
    let addr = (top - size) / PAGE * PAGE;
    Ok(Initrd { addr, size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initramfs::{S_IFCHR, S_IFMT};

    fn field(header: &[u8], index: usize) -> u32 {
        let start = 6 + index * 8;
        u32::from_str_radix(std::str::from_utf8(&header[start..start + 8]).unwrap(), 16).unwrap()
    }

    #[test]
    fn the_archive_holds_dev_console_and_the_program_as_init() {
        let program = b"\x7fELF pretend program";
        let archive = workload_archive(program);
        // The headers in order: dev, dev/console, init, then the trailer.
        let mut names = Vec::new();
        let mut at = 0;
        loop {
            let header = &archive[at..at + 110];
            assert_eq!(&header[..6], b"070701");
            let namesize = field(header, 11) as usize;
            let filesize = field(header, 6) as usize;
            let name = &archive[at + 110..at + 110 + namesize - 1];
            let data_at = (at + 110 + namesize).next_multiple_of(4);
            match name {
                b"dev/console" => {
                    assert_eq!(field(header, 1) & S_IFMT, S_IFCHR);
                    assert_eq!((field(header, 9), field(header, 10)), (5, 1), "rdev 5:1");
                }
                b"init" => {
                    assert_eq!(field(header, 1), S_IFREG | 0o755);
                    assert_eq!(&archive[data_at..data_at + filesize], program);
                }
                _ => {}
            }
            names.push(String::from_utf8_lossy(name).into_owned());
            if name == b"TRAILER!!!" {
                break;
            }
            at = (data_at + filesize).next_multiple_of(4);
        }
        assert_eq!(names, ["dev", "dev/console", "init", "TRAILER!!!"]);
    }

    #[test]
    fn init_arguments_follow_the_separator_and_refuse_what_linux_would_split() {
        let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            init_arguments(&args(&["getpid", "1000"])).unwrap(),
            "-- getpid 1000"
        );
        assert_eq!(init_arguments(&[]).unwrap(), "--");
        for bad in ["two words", "a\"quote", "", "tab\there"] {
            assert!(
                matches!(
                    init_arguments(&args(&["write", bad])),
                    Err(LinuxError::InitArgument(ref w)) if w == bad
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_initramfs_goes_high_in_low_ram_under_the_kernels_limit() {
        let layout = MemoryLayout::split(512 << 20).unwrap();
        let low_end = layout.low().end();
        let placed = place(&layout, None, 0x200_0000, 10_000).unwrap();
        assert_eq!(placed.addr % PAGE, 0);
        assert!(placed.addr + placed.size <= low_end && placed.addr + PAGE > low_end - 10_000);
        // A kernel that takes it no higher than 64 MiB.
        let header = setup_header {
            initrd_addr_max: 0x3ff_ffff,
            ..Default::default()
        };
        let capped = place(&layout, Some(&header), 0x200_0000, 10_000).unwrap();
        assert!(capped.addr + capped.size <= 0x400_0000, "{capped:?}");
        // Too large for the room between the kernel and the limit.
        let err = place(&layout, Some(&header), 0x3ff_0000, 0x2_0000);
        assert!(
            matches!(
                err,
                Err(LinuxError::InitrdTooLarge {
                    size: 0x2_0000,
                    room: 0x1_0000
                })
            ),
            "{err:?}"
        );
    }
}
