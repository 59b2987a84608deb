//! Files: the initramfs the VMM placed (`versus vm run --initrd DIR|FILE`,
//! `BootInfo::initrd_addr`), a newc cpio archive read in place as the
//! root directory `/` — read-only, never copied, never unpacked.
//!
//! # Cost
//!
//! Ring 0 is emulated on the project's machines (about 1 µs per
//! instruction), so the archive gets no index: finding a path scans the
//! headers from the start, comparing names (a header costs some 200
//! instructions: two hexadecimal fields and a name comparison), once per
//! path component. By that estimate (not measured alone) an `open` in an
//! archive of 100 entries costs tens of milliseconds; a whole test program
//! of about 30 file calls on a 7-entry archive runs in about 80 ms here.
//! The VMM bounds archives to 1024 entries. An open file
//! keeps what its header said (offsets, size, mode), so `read`, `fstat`
//! and `lseek` never scan; `getdents64` scans the archive once per call
//! from where it stopped.
//!
//! # The calls
//!
//! | call | answer |
//! |---|---|
//! | `openat` | `O_RDONLY` only (`O_DIRECTORY`, `O_NOFOLLOW` honoured): fds 3.., at most [`MAX_FILES`] (`EMFILE`); a write flag or `O_CREAT`: `EROFS` |
//! | `read`, `pread64` | a file's bytes; a directory: `EISDIR` |
//! | `lseek` | `SEEK_SET`, `SEEK_CUR`, `SEEK_END`; fds 0–2: `ESPIPE` |
//! | `fstat`, `newfstatat` | mode, size, nlink, inode, owner and mtime from the header |
//! | `getdents64` | a directory's entries: `.`, `..`, then its children in archive order |
//! | `readlink`, `readlinkat` | a symbolic link's target (`EINVAL` for anything else) |
//! | `close` | frees the descriptor |
//! | `fcntl` | `F_GETFD`/`F_SETFD` accepted (there is no `exec` to close on), `F_GETFL`; else `EINVAL` |
//!
//! Paths are resolved as Linux does: absolute, or relative to the
//! directory of `dirfd` (`AT_FDCWD` is `/`); `.`, `..` (`/..` is `/`),
//! symbolic links followed up to [`MAX_SYMLINKS`] times (`ELOOP`), paths
//! and expanded links up to [`PATH_BUF`] bytes (`ENAMETOOLONG`). Without
//! an initramfs `/` is an empty directory and every other path `ENOENT`.

use versus_abi::INITRD_PATH_MAX;

use crate::errno::{
    EBADF, EFAULT, EINVAL, EISDIR, ELOOP, EMFILE, ENAMETOOLONG, ENOENT, ENOTDIR, EROFS, ESPIPE,
    Errno, neg,
};
use crate::layout::phys_to_virt;
use crate::paging::AddressSpace;
use crate::percpu::PerCpu;
use crate::uaccess;

/// The first descriptor `openat` hands out (0–2 are the console).
pub const FIRST_FD: u64 = 3;
/// Open files per instance (descriptors `FIRST_FD..FIRST_FD + MAX_FILES`).
pub const MAX_FILES: usize = 16;
/// Symbolic links one path may pass through (Linux allows 40; a short
/// chain keeps a looping path's cost in emulated ring 0 bounded).
pub const MAX_SYMLINKS: u32 = 8;
/// Bytes of a path being resolved: the longest archive path and its NUL.
pub const PATH_BUF: usize = INITRD_PATH_MAX + 1;

/// newc header: magic, then 13 fields of 8 hexadecimal digits.
const HEADER_SIZE: usize = 110;
/// Header field numbers.
const F_INO: usize = 0;
const F_MODE: usize = 1;
const F_UID: usize = 2;
const F_GID: usize = 3;
const F_NLINK: usize = 4;
const F_MTIME: usize = 5;
const F_FILESIZE: usize = 6;
const F_NAMESIZE: usize = 11;
/// The last entry's name.
const TRAILER: &[u8] = b"TRAILER!!!";

/// File types (`S_IFMT` bits of the mode).
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
/// The root directory when the archive has no `.` entry.
const ROOT_MODE: u32 = S_IFDIR | 0o755;

/// `openat` flags.
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_DIRECTORY: u64 = 0o200_000;
const O_NOFOLLOW: u64 = 0o400_000;
/// `AT_FDCWD`, as the low 32 bits of the register (`dirfd` is an `int`).
pub const AT_FDCWD: u32 = -100i32 as u32;
/// `newfstatat` flag: do not follow a final symbolic link.
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// `fcntl` commands.
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
/// `O_RDWR`: what `F_GETFL` says of the console.
const O_RDWR: u64 = 0o2;
/// `lseek` whence.
const SEEK_SET: u64 = 0;
const SEEK_CUR: u64 = 1;
const SEEK_END: u64 = 2;
/// `d_type` values of `getdents64`.
const DT_DIR: u8 = 4;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;
/// `struct linux_dirent64` before the name: d_ino, d_off, d_reclen, d_type.
const DIRENT_HEADER: u64 = 19;
/// `struct stat` on x86-64: 18 eight-byte words (144 bytes).
const STAT_WORDS: u64 = 18;
/// `st_blksize` of an archive file.
const BLKSIZE: u64 = 4096;

/// One archive entry, as its header describes it.
#[derive(Clone, Copy)]
pub struct Node {
    /// Offset and length of the normalised name (no leading `./` or `/`;
    /// the root is empty).
    name_off: usize,
    name_len: usize,
    /// Offset of the data (contents or link target) and its size.
    data_off: usize,
    size: usize,
    mode: u32,
    ino: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
}

impl Node {
    fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    fn is_link(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

/// The root directory when the archive has no `.` entry. A static copied
/// out rather than a value built in place: zeroing a struct compiles to
/// SSE `xorps`, which ring 0 may not run; a copy is plain moves.
static ROOT: Node = Node {
    name_off: 0,
    name_len: 0,
    data_off: 0,
    size: 0,
    mode: ROOT_MODE,
    ino: 1,
    nlink: 2,
    uid: 0,
    gid: 0,
    mtime: 0,
};

/// An open descriptor.
#[derive(Clone, Copy)]
pub struct OpenFile {
    /// In use.
    open: bool,
    /// What it is.
    node: Node,
    /// File position; for a directory, the `getdents64` cookie (0: `.`,
    /// 1: `..`, else 2 + the archive offset of the next header to look at).
    pos: u64,
}

/// Per-instance file state, in the zeroed `PerCpu` (all-zero: no file
/// open). The path buffers live here rather than on the entry stack: an
/// array cleared on the stack would compile to SSE stores ring 0 may not
/// run.
pub struct FsState {
    files: [OpenFile; MAX_FILES],
    /// The directory resolved so far (normalised, no leading `/`).
    cur: [u8; PATH_BUF],
    cur_len: usize,
    /// The path still to resolve, `rest[rest_pos..rest_len]`.
    rest: [u8; PATH_BUF],
    rest_pos: usize,
    rest_len: usize,
    /// Scratch for splicing a link target in front of the rest.
    tmp: [u8; PATH_BUF],
}

/// The archive's bytes (empty without one).
fn archive(pc: &PerCpu) -> &'static [u8] {
    let boot = pc.boot();
    if boot.initrd_size == 0 {
        return &[];
    }
    // SAFETY: the VMM placed `initrd_size` bytes at `initrd_addr` in RAM
    // region 0, below `first_free_addr` (so no allocation reuses them);
    // the direct map covers all RAM and nothing writes the archive.
    unsafe {
        core::slice::from_raw_parts(
            phys_to_virt(boot.initrd_addr) as *const u8,
            boot.initrd_size as usize,
        )
    }
}

/// Header field `index` of the header at `at`.
fn field(a: &[u8], at: usize, index: usize) -> Option<usize> {
    let start = at + 6 + 8 * index;
    let digits = a.get(start..start + 8)?;
    let mut value = 0usize;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | v as usize;
    }
    Some(value)
}

/// The entry at `at`: (name offset, name length without NUL, data offset,
/// data size, next header). `None` at the trailer or a damaged header.
fn entry(a: &[u8], at: usize) -> Option<(usize, usize, usize, usize, usize)> {
    // `at` may come from the user (a directory cookie set with `lseek`).
    if at >= a.len() {
        return None;
    }
    let namesize = field(a, at, F_NAMESIZE)?;
    let size = field(a, at, F_FILESIZE)?;
    let name_off = at + HEADER_SIZE;
    let data_off = (name_off + namesize + 3) & !3;
    let next = (data_off + size + 3) & !3;
    if namesize == 0 || data_off + size > a.len() {
        return None;
    }
    let name = a.get(name_off..name_off + namesize - 1)?;
    if name == TRAILER {
        return None;
    }
    Some((name_off, namesize - 1, data_off, size, next))
}

/// A name without its leading `./` and `/` (`.` becomes empty: the root).
fn normalise(a: &[u8], mut off: usize, mut len: usize) -> (usize, usize) {
    loop {
        if len >= 2 && a[off] == b'.' && a[off + 1] == b'/' {
            off += 2;
            len -= 2;
        } else if len >= 1 && a[off] == b'/' {
            off += 1;
            len -= 1;
        } else if len == 1 && a[off] == b'.' {
            return (off + 1, 0);
        } else {
            return (off, len);
        }
    }
}

/// The node of the header at `at`, named by the normalised name given.
fn node_at(a: &[u8], at: usize, name: (usize, usize), data_off: usize, size: usize) -> Node {
    let f = |i| field(a, at, i).unwrap_or(0) as u32;
    Node {
        name_off: name.0,
        name_len: name.1,
        data_off,
        size,
        mode: f(F_MODE),
        ino: f(F_INO),
        nlink: f(F_NLINK),
        uid: f(F_UID),
        gid: f(F_GID),
        mtime: f(F_MTIME),
    }
}

/// The entry whose normalised name is `path`: a linear scan.
fn find(a: &[u8], path: &[u8]) -> Option<Node> {
    let mut at = 0;
    while let Some((name_off, name_len, data_off, size, next)) = entry(a, at) {
        let name = normalise(a, name_off, name_len);
        if a[name.0..name.0 + name.1] == *path {
            return Some(node_at(a, at, name, data_off, size));
        }
        at = next;
    }
    if path.is_empty() {
        return Some(ROOT);
    }
    None
}

impl FsState {
    fn file(&self, fd: u64) -> Result<&OpenFile, Errno> {
        let i = fd.wrapping_sub(FIRST_FD) as usize;
        match self.files.get(i) {
            Some(file) if file.open => Ok(file),
            _ => Err(EBADF),
        }
    }

    fn file_mut(&mut self, fd: u64) -> Result<&mut OpenFile, Errno> {
        let i = fd.wrapping_sub(FIRST_FD) as usize;
        match self.files.get_mut(i) {
            Some(file) if file.open => Ok(file),
            _ => Err(EBADF),
        }
    }

    /// Starts from `dirfd`'s directory (`AT_FDCWD`: the root).
    fn start_at(&mut self, a: &[u8], dirfd: u64) -> Result<(), Errno> {
        self.cur_len = 0;
        if dirfd as u32 == AT_FDCWD {
            return Ok(());
        }
        let node = self.file(dirfd)?.node;
        if !node.is_dir() {
            return Err(ENOTDIR);
        }
        self.cur[..node.name_len].copy_from_slice(&a[node.name_off..node.name_off + node.name_len]);
        self.cur_len = node.name_len;
        Ok(())
    }

    fn skip_slashes(&mut self) {
        while self.rest_pos < self.rest_len && self.rest[self.rest_pos] == b'/' {
            self.rest_pos += 1;
        }
    }

    /// Resolves `rest` from `cur` (see the module documentation); follows a
    /// final symbolic link when `follow` is set.
    fn resolve(&mut self, a: &[u8], follow: bool) -> Result<Node, Errno> {
        if self.rest_len == 0 {
            return Err(ENOENT);
        }
        if self.rest[0] == b'/' {
            self.cur_len = 0;
        }
        let mut links = 0;
        loop {
            self.skip_slashes();
            if self.rest_pos == self.rest_len {
                // Ends at `cur` ("/", "dir/.", "a/..").
                return find(a, &self.cur[..self.cur_len]).ok_or(ENOENT);
            }
            let start = self.rest_pos;
            while self.rest_pos < self.rest_len && self.rest[self.rest_pos] != b'/' {
                self.rest_pos += 1;
            }
            let len = self.rest_pos - start;
            let trailing_slash = self.rest_pos < self.rest_len;
            self.skip_slashes();
            let last = self.rest_pos == self.rest_len;
            if len == 1 && self.rest[start] == b'.' {
                continue;
            }
            if len == 2 && self.rest[start] == b'.' && self.rest[start + 1] == b'.' {
                while self.cur_len > 0 && self.cur[self.cur_len - 1] != b'/' {
                    self.cur_len -= 1;
                }
                self.cur_len = self.cur_len.saturating_sub(1);
                continue;
            }
            let parent_len = self.cur_len;
            let sep = usize::from(parent_len > 0);
            if parent_len + sep + len > INITRD_PATH_MAX {
                return Err(ENAMETOOLONG);
            }
            if sep == 1 {
                self.cur[parent_len] = b'/';
            }
            self.cur[parent_len + sep..parent_len + sep + len]
                .copy_from_slice(&self.rest[start..start + len]);
            self.cur_len = parent_len + sep + len;
            let node = find(a, &self.cur[..self.cur_len]).ok_or(ENOENT)?;
            if node.is_link() && (!last || follow || trailing_slash) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ELOOP);
                }
                self.cur_len = parent_len;
                let target = &a[node.data_off..node.data_off + node.size];
                self.splice_link(target, trailing_slash)?;
                continue;
            }
            if last {
                if trailing_slash && !node.is_dir() {
                    return Err(ENOTDIR);
                }
                return Ok(node);
            }
            if !node.is_dir() {
                return Err(ENOTDIR);
            }
        }
    }

    /// `rest` becomes the link's target, followed by `/` and what was left
    /// of it if anything was, or if the link's name ended in `/` (which
    /// asks for a directory: `link/` to a file is `ENOTDIR`).
    fn splice_link(&mut self, target: &[u8], slash: bool) -> Result<(), Errno> {
        let left = self.rest_len - self.rest_pos;
        let slash = slash || left > 0;
        let total = target.len() + usize::from(slash) + left;
        if total > PATH_BUF || target.is_empty() {
            return Err(if target.is_empty() {
                ENOENT
            } else {
                ENAMETOOLONG
            });
        }
        self.tmp[..target.len()].copy_from_slice(target);
        if slash {
            self.tmp[target.len()] = b'/';
            self.tmp[target.len() + 1..total]
                .copy_from_slice(&self.rest[self.rest_pos..self.rest_len]);
        }
        self.rest[..total].copy_from_slice(&self.tmp[..total]);
        self.rest_pos = 0;
        self.rest_len = total;
        if target[0] == b'/' {
            self.cur_len = 0;
        }
        Ok(())
    }
}

/// Copies the NUL-terminated user path at `va` into `rest`: `EFAULT` if
/// unreadable, `ENAMETOOLONG` beyond [`PATH_BUF`]. Translates once per
/// page rather than per byte.
fn copy_path(pc: &mut PerCpu, va: u64) -> Result<(), Errno> {
    let space = AddressSpace { pml4: pc.pml4 };
    let mut len = 0;
    loop {
        let (pa, in_page) = space
            .translate(va.wrapping_add(len as u64), false)
            .ok_or(EFAULT)?;
        for i in 0..in_page as usize {
            // SAFETY: `pa..pa + in_page` is a user-readable frame
            // (translated above), read through the direct map.
            let byte = unsafe { (phys_to_virt(pa + i as u64) as *const u8).read() };
            if byte == 0 {
                pc.fs.rest_pos = 0;
                pc.fs.rest_len = len;
                return Ok(());
            }
            if len == PATH_BUF {
                return Err(ENAMETOOLONG);
            }
            pc.fs.rest[len] = byte;
            len += 1;
        }
    }
}

/// Resolves the user path `path` relative to `dirfd`.
fn lookup(pc: &mut PerCpu, dirfd: u64, path: u64, follow: bool) -> Result<Node, Errno> {
    let a = archive(pc);
    copy_path(pc, path)?;
    if pc.fs.rest_len > 0 && pc.fs.rest[0] == b'/' {
        // Absolute: `dirfd` is ignored, as by Linux.
        pc.fs.cur_len = 0;
    } else {
        pc.fs.start_at(a, dirfd)?;
    }
    pc.fs.resolve(a, follow)
}

/// `openat(dirfd, path, flags)`.
pub fn openat(pc: &mut PerCpu, dirfd: u64, path: u64, flags: u64) -> Result<u64, Errno> {
    let node = match lookup(pc, dirfd, path, flags & O_NOFOLLOW == 0) {
        Err(ENOENT) if flags & O_CREAT != 0 => return Err(EROFS),
        other => other?,
    };
    if node.is_link() {
        return Err(ELOOP);
    }
    if flags & O_DIRECTORY != 0 && !node.is_dir() {
        return Err(ENOTDIR);
    }
    if flags & O_ACCMODE != 0 || flags & O_TRUNC != 0 {
        return Err(if node.is_dir() { EISDIR } else { EROFS });
    }
    let slot = pc.fs.files.iter().position(|f| !f.open).ok_or(EMFILE)?;
    pc.fs.files[slot] = OpenFile {
        open: true,
        node,
        pos: 0,
    };
    Ok(FIRST_FD + slot as u64)
}

/// `close(fd)` for fds 3 and up.
pub fn close(pc: &mut PerCpu, fd: u64) -> Result<u64, Errno> {
    pc.fs.file_mut(fd)?.open = false;
    Ok(0)
}

/// `fcntl(fd, cmd)` on any open descriptor: the close-on-exec flag is
/// accepted and reads as clear (nothing ever executes another program);
/// `F_GETFL` says read-only for the initramfs's files, read-write for the
/// console's.
pub fn fcntl(pc: &mut PerCpu, fd: u64, cmd: u64) -> Result<u64, Errno> {
    let console = fd < FIRST_FD && pc.open_fds & (1 << fd) != 0;
    if !console {
        pc.fs.file(fd)?;
    }
    match cmd {
        F_GETFD | F_SETFD => Ok(0),
        F_GETFL if console => Ok(O_RDWR),
        F_GETFL => Ok(0),
        _ => Err(EINVAL),
    }
}

/// Copies up to `len` bytes of the file at `pos` to `buf`.
fn read_at(pc: &PerCpu, node: &Node, buf: u64, len: u64, pos: u64) -> Result<u64, Errno> {
    if node.is_dir() {
        return Err(EISDIR);
    }
    let size = node.size as u64;
    if pos >= size {
        return Ok(0);
    }
    let n = len.min(size - pos);
    let src = archive(pc)[node.data_off + pos as usize..].as_ptr();
    uaccess::copy_to_user(pc, buf, src, n)?;
    Ok(n)
}

/// `read(fd, buf, len)` for fds 3 and up, as RAX holds the answer (the
/// system-call dispatcher tail-calls it).
#[inline(never)]
pub fn read(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> u64 {
    match read_inner(pc, fd, buf, len) {
        Ok(n) => n,
        Err(errno) => neg(errno),
    }
}

fn read_inner(pc: &mut PerCpu, fd: u64, buf: u64, len: u64) -> Result<u64, Errno> {
    let file = *pc.fs.file(fd)?;
    let n = read_at(pc, &file.node, buf, len, file.pos)?;
    pc.fs.file_mut(fd)?.pos = file.pos + n;
    Ok(n)
}

/// `pread64(fd, buf, len, offset)`.
pub fn pread64(pc: &mut PerCpu, fd: u64, buf: u64, len: u64, offset: u64) -> Result<u64, Errno> {
    if fd < FIRST_FD && pc.open_fds & (1 << fd) != 0 {
        return Err(ESPIPE);
    }
    let file = *pc.fs.file(fd)?;
    if (offset as i64) < 0 {
        return Err(EINVAL);
    }
    read_at(pc, &file.node, buf, len, offset)
}

/// `lseek(fd, offset, whence)`.
pub fn lseek(pc: &mut PerCpu, fd: u64, offset: u64, whence: u64) -> Result<u64, Errno> {
    if fd < FIRST_FD && pc.open_fds & (1 << fd) != 0 {
        return Err(ESPIPE);
    }
    let file = pc.fs.file_mut(fd)?;
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => file.pos as i64,
        SEEK_END if !file.node.is_dir() => file.node.size as i64,
        _ => return Err(EINVAL),
    };
    let pos = base.checked_add(offset as i64).ok_or(EINVAL)?;
    if pos < 0 {
        return Err(EINVAL);
    }
    file.pos = pos as u64;
    Ok(pos as u64)
}

/// Writes `node`'s `struct stat` to `buf`.
fn write_stat(pc: &PerCpu, buf: u64, node: &Node) -> Result<u64, Errno> {
    // Cleared in user memory, then the non-zero words (see `FsState`).
    uaccess::clear_user(pc, buf, STAT_WORDS * 8)?;
    let size = node.size as u64;
    for (word, value) in [
        (1, u64::from(node.ino)),
        (2, u64::from(node.nlink)),
        (3, u64::from(node.mode) | u64::from(node.uid) << 32),
        (4, u64::from(node.gid)),
        (6, size),
        (7, BLKSIZE),
        (8, size.div_ceil(512)),
        (9, u64::from(node.mtime)),
        (11, u64::from(node.mtime)),
        (13, u64::from(node.mtime)),
    ] {
        uaccess::put_u64(pc, buf.wrapping_add(word * 8), value)?;
    }
    Ok(0)
}

/// `fstat(fd, buf)` for fds 3 and up.
pub fn fstat(pc: &mut PerCpu, fd: u64, buf: u64) -> Result<u64, Errno> {
    let node = pc.fs.file(fd)?.node;
    write_stat(pc, buf, &node)
}

/// `stat` of the root directory (the working directory).
pub fn stat_root(pc: &mut PerCpu, buf: u64) -> Result<u64, Errno> {
    let node = find(archive(pc), b"").unwrap_or(ROOT);
    write_stat(pc, buf, &node)
}

/// `newfstatat(dirfd, path, buf, flags)` with a non-empty path.
pub fn newfstatat(
    pc: &mut PerCpu,
    dirfd: u64,
    path: u64,
    buf: u64,
    flags: u64,
) -> Result<u64, Errno> {
    let node = lookup(pc, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    write_stat(pc, buf, &node)
}

/// `readlinkat(dirfd, path, buf, size)` (`readlink` with `AT_FDCWD`).
pub fn readlinkat(
    pc: &mut PerCpu,
    dirfd: u64,
    path: u64,
    buf: u64,
    size: u64,
) -> Result<u64, Errno> {
    let node = lookup(pc, dirfd, path, false)?;
    if !node.is_link() || (size as i64) <= 0 {
        return Err(EINVAL);
    }
    let n = size.min(node.size as u64);
    let src = archive(pc)[node.data_off..].as_ptr();
    uaccess::copy_to_user(pc, buf, src, n)?;
    Ok(n)
}

/// The `d_type` of a mode.
fn d_type(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFDIR => DT_DIR,
        S_IFLNK => DT_LNK,
        _ => DT_REG,
    }
}

/// Whether `name` is a direct child of directory `dir` (both normalised).
fn is_child(name: &[u8], dir: &[u8]) -> bool {
    if name.is_empty() {
        return false;
    }
    let rest = if dir.is_empty() {
        name
    } else if name.len() > dir.len() + 1 && name[..dir.len()] == *dir && name[dir.len()] == b'/' {
        &name[dir.len() + 1..]
    } else {
        return false;
    };
    !rest.contains(&b'/')
}

/// The next entry of directory `dir` from cookie `pos`: (inode, type,
/// name offset, name length, next cookie), or `None` at the end. The
/// names `.` and `..` come from `DOTS`.
fn next_dirent(a: &[u8], dir: &Node, pos: u64) -> Option<(u32, u8, *const u8, usize, u64)> {
    const DOTS: &[u8; 2] = b"..";
    match pos {
        0 => return Some((dir.ino, DT_DIR, DOTS.as_ptr(), 1, 1)),
        1 => {
            // `..`: the parent's inode (the root is its own parent).
            let name = &a[dir.name_off..dir.name_off + dir.name_len];
            let parent_len = name.iter().rposition(|&c| c == b'/').unwrap_or(0);
            let ino = find(a, &name[..parent_len]).map_or(dir.ino, |n| n.ino);
            return Some((ino, DT_DIR, DOTS.as_ptr(), 2, 2));
        }
        _ => {}
    }
    let dir_name = &a[dir.name_off..dir.name_off + dir.name_len];
    let mut at = (pos - 2) as usize;
    while let Some((name_off, name_len, data_off, size, next)) = entry(a, at) {
        let name = normalise(a, name_off, name_len);
        if is_child(&a[name.0..name.0 + name.1], dir_name) {
            let node = node_at(a, at, name, data_off, size);
            let leaf = a[name.0..name.0 + name.1]
                .iter()
                .rposition(|&c| c == b'/')
                .map_or(0, |slash| slash + 1);
            return Some((
                node.ino,
                d_type(node.mode),
                a[name.0 + leaf..].as_ptr(),
                name.1 - leaf,
                2 + next as u64,
            ));
        }
        at = next;
    }
    None
}

/// `getdents64(fd, dirp, count)`: as many `struct linux_dirent64` as fit.
pub fn getdents64(pc: &mut PerCpu, fd: u64, dirp: u64, count: u64) -> Result<u64, Errno> {
    let file = *pc.fs.file(fd)?;
    if !file.node.is_dir() {
        return Err(ENOTDIR);
    }
    let a = archive(pc);
    let mut pos = file.pos;
    let mut written = 0u64;
    while let Some((ino, kind, name, len, next)) = next_dirent(a, &file.node, pos) {
        let reclen = (DIRENT_HEADER + len as u64 + 1).next_multiple_of(8);
        if written + reclen > count {
            if written == 0 {
                return Err(EINVAL);
            }
            break;
        }
        let at = dirp.wrapping_add(written);
        uaccess::put_u64(pc, at, u64::from(ino))?;
        uaccess::put_u64(pc, at.wrapping_add(8), next)?;
        let tail = [reclen as u8, (reclen >> 8) as u8, kind];
        uaccess::copy_to_user(pc, at.wrapping_add(16), tail.as_ptr(), 3)?;
        uaccess::copy_to_user(pc, at.wrapping_add(DIRENT_HEADER), name, len as u64)?;
        let end = DIRENT_HEADER + len as u64;
        uaccess::clear_user(pc, at.wrapping_add(end), reclen - end)?;
        written += reclen;
        pos = next;
    }
    pc.fs.file_mut(fd)?.pos = pos;
    Ok(written)
}
