//! Step 4a — capabilities: which of root's powers the container keeps.
//!
//! The container starts as root with every capability. Before `execve` the child
//! keeps only [`DOCKER_DEFAULT`] (adjusted by `cap_add` / `cap_drop`):
//! every other capability is dropped from the **bounding** set (so nothing can ever
//! regain it), and the **effective** and **permitted** sets are set to the kept set.
//! The **inheritable** and **ambient** sets are cleared, as Docker does since 20.10.14
//! (CVE-2022-24769): a non-empty inheritable set lets a program with file capabilities
//! gain them across `execve`. Because PID 1 runs as uid 0, the kernel gives it its
//! bounding set again at `execve`, so `CapEff` inside equals the kept mask
//! (`00000000a80425fb` for the default).
//!
//! Names and numbers come from the `caps` crate; the child applies them with raw
//! `prctl`/`capset` calls (see [`crate::syscall`]) so that it allocates nothing.

use std::collections::BTreeSet;
use std::str::FromStr;

use caps::Capability;

use crate::error::{Error, Result};

/// Docker's default capability set (moby `oci/caps/defaults.go`): 14 capabilities,
/// mask `0xa80425fb`.
pub const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// Docker's default set as the kernel's bit mask (what `CapEff` shows in `/proc/self/status`).
pub const DOCKER_DEFAULT_MASK: u64 = 0xa804_25fb;

/// A set of capabilities, kept sorted by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet(BTreeSet<u8>);

impl CapabilitySet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Docker's default set.
    pub fn docker_default() -> Self {
        DOCKER_DEFAULT.iter().copied().collect()
    }

    /// Every capability the `caps` crate knows (0 ..= CAP_CHECKPOINT_RESTORE).
    pub fn all() -> Self {
        caps::all().into_iter().collect()
    }

    /// Whether `cap` is in the set.
    pub fn contains(&self, cap: Capability) -> bool {
        self.0.contains(&cap.index())
    }

    /// The kernel bit mask of the set.
    pub fn mask(&self) -> u64 {
        self.0.iter().fold(0, |m, &i| m | (1u64 << i))
    }

    /// The capabilities, sorted by number.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        let all: Vec<Capability> = caps::all().into_iter().collect();
        self.0
            .iter()
            .filter_map(move |i| all.iter().copied().find(|c| c.index() == *i))
    }

    /// The names (`CAP_CHOWN`, …), sorted by number.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|c| c.to_string()).collect()
    }

    /// The capabilities in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        Self(self.0.intersection(&other.0).copied().collect())
    }

    /// The capabilities in `self` but not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        Self(self.0.difference(&other.0).copied().collect())
    }

    /// True when the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn insert(&mut self, cap: Capability) {
        self.0.insert(cap.index());
    }

    fn remove(&mut self, cap: Capability) {
        self.0.remove(&cap.index());
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut s = Self::empty();
        for c in iter {
            s.insert(c);
        }
        s
    }
}

/// One entry of `--cap-add` / `--cap-drop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapName {
    /// `ALL`.
    All,
    /// One capability.
    One(Capability),
}

/// Parses a capability name as Docker accepts it: `CAP_SYS_ADMIN`, `SYS_ADMIN`,
/// `sys_admin`, `cap_sys_admin`, or `ALL` (any case).
pub fn parse_cap(name: &str) -> Result<CapName> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("all") {
        return Ok(CapName::All);
    }
    let canonical = caps::to_canonical(trimmed);
    Capability::from_str(&canonical)
        .map(CapName::One)
        .map_err(|_| {
            let hint = match closest_cap(&canonical) {
                Some(best) => format!("did you mean {best}? "),
                None => String::new(),
            };
            Error::invalid(
                "capability",
                format!(
                    "unknown capability '{trimmed}'; {hint}names are those of capabilities(7), \
                     with or without CAP_ and in any case (e.g. CAP_NET_ADMIN, net_admin), or ALL"
                ),
            )
        })
}

/// The known capability whose name is closest to `canonical` (edit distance ≤ 3).
fn closest_cap(canonical: &str) -> Option<String> {
    caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .map(|n| (edit_distance(&n, canonical), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Computes the kept set from Docker's default and the `--cap-add` / `--cap-drop` lists,
/// with Docker's rules: `--cap-drop ALL` starts from nothing (then `--cap-add` adds),
/// `--cap-add ALL` starts from everything (then `--cap-drop` removes); otherwise
/// default ∪ add ∖ drop. A capability both added and dropped is an error.
pub fn compute_kept(add: &[String], drop: &[String]) -> Result<CapabilitySet> {
    let add: Vec<CapName> = add.iter().map(|n| parse_cap(n)).collect::<Result<_>>()?;
    let drop: Vec<CapName> = drop.iter().map(|n| parse_cap(n)).collect::<Result<_>>()?;
    for a in &add {
        if let CapName::One(c) = a
            && drop.contains(&CapName::One(*c))
        {
            return Err(Error::Conflict(format!(
                "{c} is both added (--cap-add) and dropped (--cap-drop)"
            )));
        }
    }
    let add_all = add.contains(&CapName::All);
    let drop_all = drop.contains(&CapName::All);
    if add_all && drop_all {
        return Err(Error::Conflict(
            "--cap-add ALL and --cap-drop ALL together".into(),
        ));
    }
    let mut kept = if add_all {
        CapabilitySet::all()
    } else if drop_all {
        CapabilitySet::empty()
    } else {
        CapabilitySet::docker_default()
    };
    for a in &add {
        if let CapName::One(c) = a {
            kept.insert(*c);
        }
    }
    for d in &drop {
        if let CapName::One(c) = d {
            kept.remove(*c);
        }
    }
    Ok(kept)
}

/// The highest capability number the running kernel knows
/// (`/proc/sys/kernel/cap_last_cap`); 40 (CAP_CHECKPOINT_RESTORE) if unreadable.
pub fn kernel_last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(Capability::CAP_CHECKPOINT_RESTORE.index())
}

/// The capabilities the launcher can hand on: its bounding set, and as root
/// (no new user namespace) also its permitted set — `capset` cannot raise
/// what the launcher itself does not hold, and `execve` drops whatever is
/// outside the bounding set. `None` when they cannot be read.
pub fn launcher_grantable(rootless: bool) -> Option<CapabilitySet> {
    let bounding: CapabilitySet = caps::read(None, caps::CapSet::Bounding)
        .ok()?
        .into_iter()
        .collect();
    if rootless {
        return Some(bounding);
    }
    let permitted: CapabilitySet = caps::read(None, caps::CapSet::Permitted)
        .ok()?
        .into_iter()
        .collect();
    Some(bounding.intersection(&permitted))
}

/// What the child does with capabilities, computed before `clone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapPlan {
    /// Capability numbers `0..=last` to drop from the bounding set (bit i = drop cap i).
    pub bounding_drop: u64,
    /// Effective = permitted = this mask; inheritable = 0.
    pub keep: u64,
    /// The kernel's highest capability number.
    pub last_cap: u8,
}

impl CapPlan {
    /// The plan for `kept` on a kernel whose highest capability is `last_cap`.
    pub fn new(kept: &CapabilitySet, last_cap: u8) -> Self {
        let last_cap = last_cap.min(63);
        let all_mask = if last_cap == 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap + 1)) - 1
        };
        let keep = kept.mask() & all_mask;
        Self {
            bounding_drop: all_mask & !keep,
            keep,
            last_cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn docker_default_mask_is_a80425fb() {
        assert_eq!(CapabilitySet::docker_default().mask(), DOCKER_DEFAULT_MASK);
        assert_eq!(compute_kept(&[], &[]).unwrap().mask(), 0xa80425fb);
    }

    #[test]
    fn names_parse_in_every_docker_spelling() {
        for n in [
            "CAP_SYS_ADMIN",
            "SYS_ADMIN",
            "sys_admin",
            "cap_sys_admin",
            " Sys_Admin ",
        ] {
            assert_eq!(
                parse_cap(n).unwrap(),
                CapName::One(Capability::CAP_SYS_ADMIN),
                "{n}"
            );
        }
        assert_eq!(parse_cap("all").unwrap(), CapName::All);
        assert_eq!(parse_cap("ALL").unwrap(), CapName::All);
    }

    #[test]
    fn unknown_names_are_errors_with_a_hint() {
        let e = parse_cap("sys_admn").unwrap_err().to_string();
        assert!(e.contains("unknown capability 'sys_admn'"), "{e}");
        assert!(e.contains("did you mean CAP_SYS_ADMIN?"), "{e}");
        let e = parse_cap("frobnicate").unwrap_err().to_string();
        assert!(e.contains("capabilities(7)"), "{e}");
        assert!(!e.contains("did you mean"), "{e}");
        assert!(compute_kept(&s(&["nope"]), &[]).is_err());
    }

    #[test]
    fn add_and_drop_follow_docker_rules() {
        let k = compute_kept(&s(&["sys_admin"]), &s(&["net_raw", "CAP_MKNOD"])).unwrap();
        assert!(k.contains(Capability::CAP_SYS_ADMIN));
        assert!(!k.contains(Capability::CAP_NET_RAW));
        assert!(!k.contains(Capability::CAP_MKNOD));
        assert!(k.contains(Capability::CAP_CHOWN));
        assert_eq!(
            k.mask(),
            (DOCKER_DEFAULT_MASK | (1 << 21)) & !(1 << 13) & !(1 << 27)
        );

        let only = compute_kept(&s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap();
        assert_eq!(only.names(), vec!["CAP_NET_ADMIN".to_string()]);

        let all_but = compute_kept(&s(&["ALL"]), &s(&["SYS_ADMIN"])).unwrap();
        assert!(!all_but.contains(Capability::CAP_SYS_ADMIN));
        assert!(all_but.contains(Capability::CAP_SYS_MODULE));

        assert!(matches!(
            compute_kept(&s(&["chown"]), &s(&["CAP_CHOWN"])),
            Err(Error::Conflict(_))
        ));
        assert!(compute_kept(&s(&["ALL"]), &s(&["ALL"])).is_err());
    }

    #[test]
    fn plan_drops_everything_else_up_to_the_kernels_last_cap() {
        let p = CapPlan::new(&CapabilitySet::docker_default(), 40);
        assert_eq!(p.keep, DOCKER_DEFAULT_MASK);
        assert_eq!(p.bounding_drop, ((1u64 << 41) - 1) & !DOCKER_DEFAULT_MASK);
        // A kernel that knows fewer capabilities: nothing above its last one is touched.
        let p = CapPlan::new(&CapabilitySet::all(), 37);
        assert_eq!(p.bounding_drop, 0);
        assert_eq!(p.keep, (1u64 << 38) - 1);
        assert_eq!(CapabilitySet::docker_default().names().len(), 14);
    }
}
