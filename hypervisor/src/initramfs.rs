//! The initramfs (`versus vm run --initrd DIR|FILE`): an SVR4 "newc" cpio
//! archive, the format Linux unpacks its initramfs from, which the VMM
//! places in guest memory for the tiny kernel to read in place.
//!
//! # The format
//!
//! An archive is a sequence of entries, each a 110-byte ASCII header, the
//! entry's name and its data, and ends with an entry named `TRAILER!!!`:
//!
//! ```text
//! "070701"                      magic (6 bytes)
//! ino mode uid gid nlink mtime  13 fields of 8 hexadecimal digits each
//! filesize devmajor devminor
//! rdevmajor rdevminor namesize
//! check
//! name, NUL-terminated          namesize bytes (NUL included)
//! padding to a multiple of 4    counted from the start of the archive
//! data                          filesize bytes: a file's contents, a
//! padding to a multiple of 4    symbolic link's target, nothing for a directory
//! ```
//!
//! # What the writer makes of a directory
//!
//! [`from_dir`] stores the tree under the directory: the directory itself
//! as `.`, then every entry by its path relative to it (`etc`,
//! `etc/hello.txt`), parents before children, names in byte order — so the
//! same tree always gives the same bytes: inode numbers count up from 1 in
//! that order, owners are 0 (root), times are 0 (the epoch), only the
//! permission bits come from the files. Regular files, directories and
//! symbolic links (stored, not followed) are kept; a device, socket or FIFO
//! is refused with an error naming it, because a read-only archive cannot
//! carry what it would do. Hard links become separate copies. The archive is
//! bounded by [`INITRD_MAX_SIZE`] bytes and [`INITRD_MAX_ENTRIES`] entries,
//! and every name by [`INITRD_PATH_MAX`] bytes.
//!
//! # An archive file
//!
//! [`from_path`] takes a file as an archive made elsewhere (`find . | cpio
//! -o -H newc`) and checks it with [`parse`]: newc magic in every header,
//! hexadecimal fields, names and data inside the file, the trailer, the same
//! limits. A gzip-compressed archive (what `mkinitramfs` writes) is refused
//! with a message naming `gunzip`: the tiny kernel reads the archive in
//! place and has no decompressor.

use std::path::{Path, PathBuf};

use crate::layout::{INITRD_MAX_ENTRIES, INITRD_MAX_SIZE};
use versus_abi::INITRD_PATH_MAX;

/// The newc magic, first in every header.
pub const MAGIC: &[u8; 6] = b"070701";
/// Bytes of a header: the magic and 13 fields of 8 hexadecimal digits.
pub const HEADER_SIZE: usize = 6 + 13 * 8;
/// The name of the last entry.
pub const TRAILER: &[u8] = b"TRAILER!!!";
/// Headers, names and data start at multiples of this.
pub const ALIGN: usize = 4;

/// File-type bits of `mode` (`S_IFMT`) and the types an archive holds.
pub const S_IFMT: u32 = 0o170_000;
/// A directory.
pub const S_IFDIR: u32 = 0o040_000;
/// A regular file.
pub const S_IFREG: u32 = 0o100_000;
/// A symbolic link (its data is the target).
pub const S_IFLNK: u32 = 0o120_000;
/// A character device (written for a Linux guest's `/dev/console`; the
/// tiny kernel's reader refuses it).
pub const S_IFCHR: u32 = 0o020_000;
/// Permission bits kept from a file (set-id, sticky, rwx).
const PERMISSION_BITS: u32 = 0o7777;

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: &[u8; 2] = b"\x1f\x8b";

/// What can go wrong turning a directory or a file into an initramfs.
#[derive(Debug, thiserror::Error)]
pub enum InitrdError {
    /// The file or directory cannot be read.
    #[error("--initrd: cannot read {path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A device, socket or FIFO in the directory.
    #[error(
        "--initrd: {path} is a {kind}; the initramfs holds only regular files, directories and symbolic links: remove it from the directory"
    )]
    Special {
        /// Which.
        path: PathBuf,
        /// "character device", "block device", "socket", "FIFO".
        kind: &'static str,
    },
    /// More bytes than [`INITRD_MAX_SIZE`].
    #[error(
        "--initrd: {path} makes an archive of more than {max} bytes (16 MiB, INITRD_MAX_SIZE): give a smaller directory"
    )]
    TooLarge {
        /// The directory or file given.
        path: PathBuf,
        /// [`INITRD_MAX_SIZE`].
        max: u64,
    },
    /// More entries than [`INITRD_MAX_ENTRIES`].
    #[error(
        "--initrd: {path} holds more than {max} entries (INITRD_MAX_ENTRIES): give a smaller directory"
    )]
    TooManyEntries {
        /// The directory or file given.
        path: PathBuf,
        /// [`INITRD_MAX_ENTRIES`].
        max: usize,
    },
    /// A name longer than [`INITRD_PATH_MAX`].
    #[error(
        "--initrd: the path {name:?} is {len} bytes long; at most {max} (INITRD_PATH_MAX) are accepted"
    )]
    NameTooLong {
        /// The name (lossy).
        name: String,
        /// Its length.
        len: usize,
        /// [`INITRD_PATH_MAX`].
        max: usize,
    },
    /// A gzip-compressed file.
    #[error(
        "--initrd: {path} is gzip-compressed; the tiny kernel reads the archive in place: give `gunzip -c {path} > initrd.cpio` instead"
    )]
    Compressed {
        /// The file.
        path: PathBuf,
    },
    /// Not a newc archive, or a damaged one.
    #[error(
        "--initrd: {path} is not a valid newc cpio archive: {why} at byte {offset} (make one with `find . | cpio -o -H newc`, or give a directory)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
        /// Where.
        offset: usize,
    },
    /// Neither a directory nor a regular file.
    #[error("--initrd: {path} is neither a directory nor a regular file")]
    NotFileOrDir {
        /// What was given.
        path: PathBuf,
    },
}

/// One entry of an archive, borrowed from its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The name, without its NUL.
    pub name: &'a [u8],
    /// Inode number.
    pub ino: u32,
    /// Type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: u32,
    /// The data: contents, or a link's target.
    pub data: &'a [u8],
}

/// A newc archive being written. Entries go in the order they are pushed;
/// [`Writer::finish`] adds the trailer.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
    next_ino: u32,
}

fn pad(bytes: &mut Vec<u8>) {
    while !bytes.len().is_multiple_of(ALIGN) {
        bytes.push(0);
    }
}

impl Writer {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one entry with the next inode number (owner 0, time 0);
    /// returns that number.
    pub fn push(&mut self, name: &[u8], mode: u32, nlink: u32, data: &[u8]) -> u32 {
        self.next_ino += 1;
        let ino = self.next_ino;
        self.raw(name, ino, mode, nlink, data, (0, 0));
        ino
    }

    /// Appends a character device node `major:minor` (for a Linux guest's
    /// `/dev/console`, which its kernel opens for `/init` before running
    /// it); returns its inode number.
    pub fn push_char_device(
        &mut self,
        name: &[u8],
        permissions: u32,
        major: u32,
        minor: u32,
    ) -> u32 {
        self.next_ino += 1;
        let ino = self.next_ino;
        self.raw(name, ino, S_IFCHR | permissions, 1, &[], (major, minor));
        ino
    }

    fn raw(&mut self, name: &[u8], ino: u32, mode: u32, nlink: u32, data: &[u8], rdev: (u32, u32)) {
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check (newc: unused)
        ];
        self.bytes.extend_from_slice(MAGIC);
        for field in fields {
            self.bytes
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(name);
        self.bytes.push(0);
        pad(&mut self.bytes);
        self.bytes.extend_from_slice(data);
        pad(&mut self.bytes);
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The archive: everything pushed, then the trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.raw(TRAILER, 0, 0, 1, &[], (0, 0));
        self.bytes
    }
}

/// Bytes a header and `name` take, padding included.
fn header_and_name(name_len: usize) -> usize {
    (HEADER_SIZE + name_len + 1).next_multiple_of(ALIGN)
}

/// The directory or archive file at `path` as archive bytes: a directory
/// through [`from_dir`], a file checked by [`parse`].
pub fn from_path(path: &Path) -> Result<Vec<u8>, InitrdError> {
    let io = |source| InitrdError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return from_dir(path);
    }
    if !meta.is_file() {
        return Err(InitrdError::NotFileOrDir {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > INITRD_MAX_SIZE {
        return Err(InitrdError::TooLarge {
            path: path.to_path_buf(),
            max: INITRD_MAX_SIZE,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(GZIP_MAGIC) {
        return Err(InitrdError::Compressed {
            path: path.to_path_buf(),
        });
    }
    parse(&bytes, path)?;
    Ok(bytes)
}

/// The tree under `dir` as a newc archive (see the module documentation).
pub fn from_dir(dir: &Path) -> Result<Vec<u8>, InitrdError> {
    let mut walk = Walk {
        root: dir,
        writer: Writer::new(),
        entries: 0,
    };
    walk.dir(dir, b".")?;
    walk.check_size(0)?;
    Ok(walk.writer.finish())
}

/// The state of one [`from_dir`].
struct Walk<'a> {
    root: &'a Path,
    writer: Writer,
    entries: usize,
}

impl Walk<'_> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InitrdError + '_ {
        move |source| InitrdError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Refuses an archive that would pass the limits once `more` bytes and
    /// the trailer are added.
    fn check_size(&self, more: u64) -> Result<(), InitrdError> {
        let total = self.writer.len() as u64 + more + header_and_name(TRAILER.len()) as u64;
        if total > INITRD_MAX_SIZE {
            return Err(InitrdError::TooLarge {
                path: self.root.to_path_buf(),
                max: INITRD_MAX_SIZE,
            });
        }
        Ok(())
    }

    /// Counts one entry named `name`, against the limits.
    fn admit(&mut self, name: &[u8], data_len: u64) -> Result<(), InitrdError> {
        if name.len() > INITRD_PATH_MAX {
            return Err(InitrdError::NameTooLong {
                name: String::from_utf8_lossy(name).into_owned(),
                len: name.len(),
                max: INITRD_PATH_MAX,
            });
        }
        self.entries += 1;
        if self.entries > INITRD_MAX_ENTRIES {
            return Err(InitrdError::TooManyEntries {
                path: self.root.to_path_buf(),
                max: INITRD_MAX_ENTRIES,
            });
        }
        self.check_size(header_and_name(name.len()) as u64 + data_len.next_multiple_of(4))
    }

    /// Stores directory `path` as `name`, then its children.
    fn dir(&mut self, path: &Path, name: &[u8]) -> Result<(), InitrdError> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let mut children = Vec::new();
        for child in std::fs::read_dir(path).map_err(Self::io(path))? {
            let child = child.map_err(Self::io(path))?;
            let meta = std::fs::symlink_metadata(child.path()).map_err(Self::io(&child.path()))?;
            children.push((child.file_name(), meta));
        }
        children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let meta = std::fs::metadata(path).map_err(Self::io(path))?;
        let subdirs = children.iter().filter(|c| c.1.is_dir()).count() as u32;
        self.admit(name, 0)?;
        let perms = meta.permissions().mode() & PERMISSION_BITS;
        self.writer.push(name, S_IFDIR | perms, 2 + subdirs, &[]);
        for (file_name, meta) in children {
            let child_path = path.join(&file_name);
            let child_name = if name == b"." {
                file_name.as_bytes().to_vec()
            } else {
                [name, b"/", file_name.as_bytes()].concat()
            };
            let perms = meta.permissions().mode() & PERMISSION_BITS;
            let kind = meta.file_type();
            if kind.is_dir() {
                self.dir(&child_path, &child_name)?;
            } else if kind.is_file() {
                self.admit(&child_name, meta.len())?;
                let data = std::fs::read(&child_path).map_err(Self::io(&child_path))?;
                // The file may have grown since its metadata was read.
                self.check_size(data.len().next_multiple_of(4) as u64)?;
                self.writer.push(&child_name, S_IFREG | perms, 1, &data);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&child_path).map_err(Self::io(&child_path))?;
                let target = target.as_os_str().as_bytes();
                self.admit(&child_name, target.len() as u64)?;
                self.writer.push(&child_name, S_IFLNK | 0o777, 1, target);
            } else {
                let kind = if kind.is_char_device() {
                    "character device"
                } else if kind.is_block_device() {
                    "block device"
                } else if kind.is_socket() {
                    "socket"
                } else {
                    "FIFO"
                };
                return Err(InitrdError::Special {
                    path: child_path,
                    kind,
                });
            }
        }
        Ok(())
    }
}

/// The [`InitrdError`] for a damaged archive.
fn malformed(path: &Path, why: &'static str, offset: usize) -> InitrdError {
    InitrdError::Malformed {
        path: path.to_path_buf(),
        why,
        offset,
    }
}

/// One 8-digit hexadecimal field.
fn hex_field(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.len() != 8 {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// Every entry of `bytes` before the trailer, checked: newc magic,
/// hexadecimal fields, NUL-terminated names of at most [`INITRD_PATH_MAX`]
/// bytes, names and data inside the archive, at most
/// [`INITRD_MAX_ENTRIES`] entries, and the trailer. `path` names the
/// archive in errors.
pub fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<Entry<'a>>, InitrdError> {
    let fail = |why, offset| Err(malformed(path, why, offset));
    let mut entries = Vec::new();
    let mut offset = 0;
    loop {
        if bytes
            .get(offset..offset + MAGIC.len())
            .is_some_and(|m| m != MAGIC)
        {
            return fail("no 070701 magic", offset);
        }
        let Some(header) = bytes.get(offset..offset + HEADER_SIZE) else {
            return fail(
                "the archive ends inside a header (no TRAILER!!! entry)",
                offset,
            );
        };
        let mut fields = [0u32; 13];
        for (i, field) in fields.iter_mut().enumerate() {
            let at = 6 + 8 * i;
            *field = match hex_field(&header[at..at + 8]) {
                Some(value) => value,
                None => return fail("a header field is not hexadecimal", offset + at),
            };
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            _,
            _,
            _,
            _,
            namesize,
            _,
        ] = fields;
        let name_start = offset + HEADER_SIZE;
        let namesize = namesize as usize;
        let Some(name) = bytes.get(name_start..name_start + namesize) else {
            return fail("a name runs past the end", name_start);
        };
        let Some((&0, name)) = name.split_last() else {
            return fail("a name does not end with NUL", name_start);
        };
        if name.contains(&0) {
            return fail("a name contains NUL", name_start);
        }
        if name.len() > INITRD_PATH_MAX {
            return fail(
                "a name is longer than INITRD_PATH_MAX (255 bytes)",
                name_start,
            );
        }
        let data_start = (name_start + namesize).next_multiple_of(ALIGN);
        let Some(data) = bytes.get(data_start..data_start + filesize as usize) else {
            return fail("an entry's data runs past the end", data_start);
        };
        if name == TRAILER {
            return Ok(entries);
        }
        if entries.len() == INITRD_MAX_ENTRIES {
            return Err(InitrdError::TooManyEntries {
                path: path.to_path_buf(),
                max: INITRD_MAX_ENTRIES,
            });
        }
        entries.push(Entry {
            name,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            data,
        });
        offset = (data_start + filesize as usize).next_multiple_of(ALIGN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Vec<Entry<'_>>, (&'static str, usize)> {
        super::parse(bytes, Path::new("test.cpio")).map_err(|e| match e {
            InitrdError::Malformed { why, offset, .. } => (why, offset),
            other => panic!("{other}"),
        })
    }

    #[test]
    fn header_fields_padding_and_trailer() {
        let mut w = Writer::new();
        assert_eq!(w.push(b"a", S_IFREG | 0o644, 1, b"hello"), 1);
        let bytes = w.finish();
        // Header: magic, then ino 1, mode, uid, gid, nlink, mtime, size 5.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[6..14], b"00000001");
        assert_eq!(&bytes[14..22], b"000081a4");
        assert_eq!(&bytes[38..46], b"00000001");
        assert_eq!(&bytes[54..62], b"00000005");
        // namesize 2 ("a\0"); 110 + 2 = 112 is aligned already.
        assert_eq!(&bytes[94..102], b"00000002");
        assert_eq!(&bytes[110..112], b"a\0");
        assert_eq!(&bytes[112..117], b"hello");
        // Data padded to 120, then the trailer's header.
        assert_eq!(&bytes[117..120], &[0, 0, 0]);
        assert_eq!(&bytes[120..126], b"070701");
        assert_eq!(&bytes[230..241], b"TRAILER!!!\0");
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(bytes.len(), 244);
    }

    #[test]
    fn round_trip_through_the_reader() {
        let mut w = Writer::new();
        w.push(b".", S_IFDIR | 0o755, 3, &[]);
        w.push(b"etc", S_IFDIR | 0o755, 2, &[]);
        w.push(b"etc/motd", S_IFREG | 0o600, 1, b"hi there\n");
        w.push(b"link", S_IFLNK | 0o777, 1, b"etc/motd");
        let bytes = w.finish();
        let entries = parse(&bytes).unwrap();
        let names: Vec<&[u8]> = entries.iter().map(|e| e.name).collect();
        assert_eq!(names, [&b"."[..], b"etc", b"etc/motd", b"link"]);
        assert_eq!(entries[2].data, b"hi there\n");
        assert_eq!(entries[2].mode, S_IFREG | 0o600);
        assert_eq!(entries[3].data, b"etc/motd");
        assert_eq!(
            entries.iter().map(|e| e.ino).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(entries[0].nlink, 3);
    }

    #[test]
    fn a_directory_gives_the_same_bytes_every_time() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "bee").unwrap();
        std::fs::write(dir.path().join("a.txt"), "ay").unwrap();
        std::fs::set_permissions(
            dir.path().join("a.txt"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/b.txt", dir.path().join("c")).unwrap();
        let first = from_path(dir.path()).unwrap();
        assert_eq!(first, from_dir(dir.path()).unwrap());
        let entries = parse(&first).unwrap();
        let names: Vec<&[u8]> = entries.iter().map(|e| e.name).collect();
        assert_eq!(names, [&b"."[..], b"a.txt", b"c", b"sub", b"sub/b.txt"]);
        assert_eq!(entries[1].mode, S_IFREG | 0o640);
        assert_eq!(entries[2].mode & S_IFMT, S_IFLNK);
        assert_eq!(entries[2].data, b"sub/b.txt");
        assert_eq!(entries[0].nlink, 3);
        assert!(entries.iter().all(|e| e.mtime == 0 && e.uid == 0));
    }

    #[test]
    fn damaged_archives_are_refused() {
        let mut w = Writer::new();
        w.push(b"f", S_IFREG | 0o644, 1, b"data");
        let good = w.finish();
        let truncated = &good[..good.len() - 20];
        assert!(parse(truncated).is_err());
        assert!(parse(&good[..50]).is_err());
        assert_eq!(parse(b"").unwrap_err().1, 0);
        let mut bad_magic = good.clone();
        bad_magic[5] = b'7';
        assert_eq!(parse(&bad_magic).unwrap_err().0, "no 070701 magic");
        let mut bad_hex = good.clone();
        bad_hex[10] = b'z';
        assert_eq!(parse(&bad_hex).unwrap_err().1, 6);
        let mut huge = good.clone();
        huge[54..62].copy_from_slice(b"7fffffff");
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn files_are_checked_and_gzip_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("initrd.gz");
        std::fs::write(&gz, b"\x1f\x8b\x08\x00rest").unwrap();
        let message = from_path(&gz).unwrap_err().to_string();
        assert!(message.contains("gunzip"), "{message}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"just some text, not an archive at all........").unwrap();
        let message = from_path(&text).unwrap_err().to_string();
        assert!(
            message.contains("not a valid newc cpio archive"),
            "{message}"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("big")).unwrap();
        big.set_len(INITRD_MAX_SIZE).unwrap();
        let message = from_dir(dir.path()).unwrap_err().to_string();
        assert!(message.contains("INITRD_MAX_SIZE"), "{message}");
        let long = tempfile::tempdir().unwrap();
        std::fs::write(long.path().join("x".repeat(250)), b"").unwrap();
        std::fs::create_dir(long.path().join("d")).unwrap();
        // 255 bytes: accepted; 256: refused.
        std::fs::write(long.path().join("d").join("y".repeat(253)), b"").unwrap();
        assert!(from_dir(long.path()).is_ok());
        std::fs::write(long.path().join("d").join("z".repeat(254)), b"").unwrap();
        let message = from_dir(long.path()).unwrap_err().to_string();
        assert!(message.contains("INITRD_PATH_MAX"), "{message}");
    }

    #[test]
    fn special_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let message = from_dir(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("pipe") && message.contains("FIFO"),
            "{message}"
        );
    }
}
