//! `/proc/<pid>/mountinfo` (proc(5)), parsed once for everyone who needs the
//! host's mounts: the launcher's cgroup layout detection and `versus doctor`.

use serde::{Deserialize, Serialize};

/// One line of `/proc/<pid>/mountinfo`, with octal escapes decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfoEntry {
    /// Mount id (field 1).
    pub id: u64,
    /// `major:minor` of the filesystem (field 3).
    pub device: String,
    /// Root of the mount within its filesystem (field 4).
    pub root: String,
    /// Mount point (field 5).
    pub mount_point: String,
    /// Per-mount options (field 6).
    pub mount_options: Vec<String>,
    /// Optional fields such as `shared:1`, `master:2`.
    pub optional_fields: Vec<String>,
    /// Filesystem type after the ` - ` separator, e.g. `cgroup2`.
    pub fs_type: String,
    /// Mount source.
    pub source: String,
    /// Per-superblock options; for v1 cgroup mounts these name the controllers.
    pub super_options: Vec<String>,
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfoEntry> {
    text.lines().filter_map(parse_line).collect()
}

/// Parses one mountinfo line; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<MountInfoEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    // Six fixed fields come first; the separator is the first lone "-" after them
    // (optional fields are `tag[:value]`, never "-").
    let sep = 6 + fields.iter().skip(6).position(|f| *f == "-")?;
    if fields.len() < sep + 3 {
        return None;
    }
    let split_opts = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|o| !o.is_empty())
            .map(unescape_octal)
            .collect()
    };
    Some(MountInfoEntry {
        id: fields[0].parse().ok()?,
        device: fields[2].to_owned(),
        root: unescape_octal(fields[3]),
        mount_point: unescape_octal(fields[4]),
        mount_options: split_opts(fields[5]),
        optional_fields: fields[6..sep].iter().map(|s| (*s).to_owned()).collect(),
        fs_type: unescape_octal(fields[sep + 1]),
        source: unescape_octal(fields[sep + 2]),
        super_options: fields
            .get(sep + 3)
            .map(|s| split_opts(s))
            .unwrap_or_default(),
    })
}

/// Decodes the kernel's `\ooo` octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash).
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Super options of a v1 cgroup mount that do not name a controller
/// (`name=…` names a hierarchy, the rest are flags).
pub fn is_v1_non_controller_option(opt: &str) -> bool {
    matches!(
        opt,
        "rw" | "ro"
            | "noprefix"
            | "clone_children"
            | "xattr"
            | "cpuset_v2_mode"
            | "favordynmods"
            | "nofavordynmods"
            | "all"
            | "none"
            | ""
    ) || opt.contains('=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_spaces_and_optional_fields() {
        let line = r"41 31 0:38 / /sys/fs/cgroup/my\040cgroup\011tab rw,nosuid shared:5 master:1 - cgroup2 none\040src rw,nsdelegate";
        let e = parse_mountinfo(line).pop().expect("one entry");
        assert_eq!(e.id, 41);
        assert_eq!(e.device, "0:38");
        assert_eq!(e.root, "/");
        assert_eq!(e.mount_point, "/sys/fs/cgroup/my cgroup\ttab");
        assert_eq!(e.mount_options, ["rw", "nosuid"]);
        assert_eq!(e.optional_fields, ["shared:5", "master:1"]);
        assert_eq!(e.fs_type, "cgroup2");
        assert_eq!(e.source, "none src");
        assert_eq!(e.super_options, ["rw", "nsdelegate"]);
        assert_eq!(unescape_octal(r"a\134b\04"), r"a\b\04");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "garbage\n1 2 3 4 5 6 no separator\n31 23 0:28 / /x rw - cgroup2 cgroup2 rw\n1 2 0:1 / - rw - tmpfs\nx 23 0:28 / /y rw - cgroup2 cgroup2 rw\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].mount_point, "/x");
    }

    #[test]
    fn a_mount_point_named_dash() {
        let e = parse_mountinfo("5 1 0:9 / - rw - tmpfs tmpfs rw")
            .pop()
            .expect("entry");
        assert_eq!(e.mount_point, "-");
        assert_eq!(e.fs_type, "tmpfs");
    }

    #[test]
    fn controller_options_are_told_from_flags() {
        for flag in [
            "rw",
            "xattr",
            "name=systemd",
            "release_agent=/x",
            "favordynmods",
        ] {
            assert!(is_v1_non_controller_option(flag), "{flag}");
        }
        for controller in ["memory", "cpu", "cpuacct", "pids", "net_cls"] {
            assert!(!is_v1_non_controller_option(controller), "{controller}");
        }
    }
}
