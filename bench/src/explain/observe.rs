//! Looking at a running container from the host, as any host tool could:
//! through `/proc`, with no help from the launcher.
//!
//! A watcher thread polls `/proc` while the container runs and keeps the
//! first process that descends from versus, lives in another PID namespace
//! and no longer runs versus' own executable — the container's PID 1 after
//! its exec. What it records (host PID, executable, namespaces, cgroup) is
//! what `ls -l /proc/PID/ns` and `cat /proc/PID/cgroup` would show.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::escape::{self, DirId, Walk};

/// The namespace kinds shown, in `/proc/PID/ns` names.
pub(crate) const NAMESPACES: [&str; 7] = ["pid", "uts", "mnt", "net", "ipc", "user", "cgroup"];

/// How often the watcher looks at `/proc`: often enough to catch a
/// workload that runs for a few milliseconds, rarely enough to stay out of
/// the measurement's way on a shared machine.
const POLL_INTERVAL: Duration = Duration::from_micros(500);

/// A process seen from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Its PID on the host.
    pub pid: i32,
    /// Its executable, as `/proc/PID/exe` names it.
    pub exe: String,
    /// `(kind, link)` for each of [`NAMESPACES`]: `pid:[4026531836]`.
    pub namespaces: Vec<(String, String)>,
    /// Its cgroups: see [`cgroup_summary`].
    pub cgroup: String,
    /// What else was looked at while it ran (see [`Inspection`]).
    pub inspection: Inspection,
}

/// The container's own view of the namespaced resources, read from the
/// host while it runs: through `/proc/PID/…`, and for IPC and cgroup from
/// a short-lived thread that joins the container's namespace with `setns`
/// (both are per-thread, so versus' other threads stay where they are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inspection {
    /// Network interfaces in its network namespace (`/proc/PID/net/dev`).
    pub interfaces: Vec<String>,
    /// The entries of its root directory (`/proc/PID/root`).
    pub root_entries: Vec<String>,
    /// Its real uid as the host sees it (`Uid:` of `/proc/PID/status`).
    pub host_uid: Option<u32>,
    /// Whether the message queue [`Watcher::start`] was given is visible
    /// in its IPC namespace (`None`: no queue, or the check failed).
    pub queue_visible: Option<bool>,
    /// Its own cgroup as it sees it, from inside its cgroup namespace.
    pub cgroup_inside: Option<String>,
    /// Its root directory, as the host names it (`/proc/PID/root`).
    pub root: Option<DirId>,
    /// The classic chroot escape tried from inside its mount namespace,
    /// when [`Look::walk_out`] asked for it: the directory of its root it
    /// started from, and the walk or why it could not be made.
    pub walk_out: Option<(String, Result<Walk, String>)>,
    /// Its cgroup files, when [`Look::cgroup_files`] asked for them.
    pub cgroup_files: Option<CgroupFiles>,
    /// Its security labels, when [`Look::labels`] asked for them (see
    /// [`labels_of`]).
    pub labels: Option<Vec<(String, LabelRead)>>,
    /// What its root filesystem holds, when [`Look::root_tree`] asked for
    /// it.
    pub root_tree: Option<Tree>,
}

/// What a directory tree holds on its own filesystem: the file systems
/// mounted inside it (a container's `/proc`, `/dev`, `/sys`) are not its
/// content and are left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tree {
    /// Regular files.
    pub files: u64,
    /// Their sizes, added up.
    pub bytes: u64,
    /// Files named as a Linux kernel image is (see [`is_kernel_image`]).
    pub kernels: u64,
}

/// Whether a file's name is one a Linux kernel image goes by on a
/// distribution (`/boot/vmlinuz-6.1.0-18-amd64`, `vmlinux`, `bzImage`).
fn is_kernel_image(name: &str) -> bool {
    name.starts_with("vmlinuz") || name.starts_with("vmlinux") || name == "bzImage"
}

/// Walks `root` (without following symbolic links) and counts what it
/// holds; what cannot be read is left out of the count.
pub(crate) fn tree_of(root: &std::path::Path) -> Tree {
    use std::os::unix::fs::MetadataExt;
    let mut tree = Tree::default();
    // Followed: `/proc/PID/root` is itself a link to the process' root.
    let Ok(top) = std::fs::metadata(root) else {
        return tree;
    };
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.dev() != top.dev() {
                continue;
            }
            if metadata.is_dir() {
                pending.push(entry.path());
            } else if metadata.is_file() {
                tree.files += 1;
                tree.bytes += metadata.len();
                if is_kernel_image(&entry.file_name().to_string_lossy()) {
                    tree.kernels += 1;
                }
            }
        }
    }
    tree
}

/// What the watcher does besides finding the process.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Look {
    /// A SysV message queue id to look for in its IPC namespace.
    pub queue: Option<i32>,
    /// Try the classic chroot escape from inside its mount namespace.
    pub walk_out: bool,
    /// Read its cgroup's limit files once, and its `cpu.stat` until it
    /// ends (see [`CgroupFiles`]).
    pub cgroup_files: bool,
    /// Read its security labels (see [`labels_of`]).
    pub labels: bool,
    /// Count what its root filesystem holds (see [`tree_of`]).
    pub root_tree: bool,
}

/// The files of `/proc/PID/` that name a process' security label: the
/// label of whichever major LSM is active (AppArmor's profile, SELinux's
/// context, Smack's label), and AppArmor's own interface, which answers
/// even when another module owns `attr/current`.
pub(crate) const LABEL_FILES: [&str; 2] = ["attr/current", "attr/apparmor/current"];

/// A label file's content, or the error the kernel answered: `EINVAL`
/// from `attr/current` when no module keeps labels, `ENOENT` for
/// `attr/apparmor` when AppArmor is not in the kernel.
pub(crate) type LabelRead = Result<String, nix::errno::Errno>;

/// The security labels of the process `pid` (`"self"` for versus): one
/// read of each of [`LABEL_FILES`].
pub(crate) fn labels_of(pid: &str) -> Vec<(String, LabelRead)> {
    LABEL_FILES
        .iter()
        .map(|file| {
            let read = std::fs::read_to_string(format!("/proc/{pid}/{file}"))
                // The kernel ends a label with a newline or a NUL.
                .map(|text| text.trim_end_matches(['\n', '\0']).to_string())
                .map_err(|error| nix::errno::Errno::from_raw(error.raw_os_error().unwrap_or(0)));
            (file.to_string(), read)
        })
        .collect()
}

/// A running process' cgroup files, read from the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CgroupFiles {
    /// `(file, content)` of its CPU, memory and pids limit files (cgroup
    /// v1 `cpu.cfs_quota_us`, `cpu.cfs_period_us`, `memory.limit_in_bytes`;
    /// v2 `cpu.max`, `memory.max`; both `pids.max`), as read while it ran.
    pub limits: Vec<(String, String)>,
    /// `(key, value)` of its `cpu.stat` at the last read before it ended.
    pub cpu_stat: Vec<(String, u64)>,
}

/// How often the watcher rereads `cpu.stat` once it found the process:
/// the counts only grow, so the last read before the cgroup goes is what
/// matters, and a read every few periods of the CPU limit (100 ms) keeps
/// the loss small.
const CPU_STAT_INTERVAL: Duration = Duration::from_millis(20);

/// The namespaces of the process `pid` (`"self"` for versus).
pub(crate) fn namespaces_of(pid: &str) -> Vec<(String, String)> {
    NAMESPACES
        .iter()
        .map(|kind| {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
                .map(|target| target.display().to_string())
                .unwrap_or_else(|error| format!("unreadable ({error})"));
            (kind.to_string(), link)
        })
        .collect()
}

/// A thread watching `/proc` for the container's PID 1.
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Option<Seen>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching, and looks at the process as `look` says.
    pub(crate) fn start(look: Look) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(None));
        let thread = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || watch(&stop, &seen, look))
        };
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// What was seen so far (the watcher keeps running).
    pub(crate) fn seen(&self) -> Option<Seen> {
        self.seen.lock().ok().and_then(|seen| seen.clone())
    }

    /// Stops the watcher and returns what it saw.
    pub(crate) fn finish(mut self) -> Option<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A watcher that panicked saw nothing worth reporting.
            let _ = thread.join();
        }
        self.seen()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn watch(stop: &AtomicBool, seen: &Mutex<Option<Seen>>, look: Look) {
    let me = std::process::id() as i32;
    let my_exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let my_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap_or_default();
    while !stop.load(Ordering::Relaxed) {
        if let Some(mut found) = find(me, &my_exe, &my_pid_ns) {
            found.inspection = inspect(found.pid, look);
            let pid = found.pid;
            if let Ok(mut slot) = seen.lock() {
                *slot = Some(found);
            }
            if look.cgroup_files {
                follow_cpu_stat(pid, stop, seen);
            }
            return;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// One look at `/proc`: the first descendant of `me` in another PID
/// namespace that runs something other than `my_exe`.
fn find(me: i32, my_exe: &PathBuf, my_pid_ns: &PathBuf) -> Option<Seen> {
    let parents = parents()?;
    for &pid in parents.keys() {
        if pid == me || !descends_from(pid, me, &parents) {
            continue;
        }
        let Ok(pid_ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
            continue;
        };
        if &pid_ns == my_pid_ns || &exe == my_exe {
            continue;
        }
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        return Some(Seen {
            pid,
            exe: exe.display().to_string(),
            namespaces: namespaces_of(&pid.to_string()),
            cgroup: cgroup_summary(&cgroup),
            inspection: Inspection::default(),
        });
    }
    None
}

/// The directory of `pid`'s cgroup for `controller` on this host, from its
/// `/proc/PID/cgroup` and where the hierarchy is mounted.
fn cgroup_dir(pid: i32, controller: &str) -> Option<PathBuf> {
    use container::cgroup::{Layout, Place};
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let layout = Layout::detect(std::path::Path::new("/"));
    let path_of = |wanted: &dyn Fn(&str) -> bool| {
        text.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            wanted(controllers).then(|| path.trim_start_matches('/').to_string())
        })
    };
    match layout.locate(controller)? {
        Place::V1(mount) => {
            let path = path_of(&|controllers| controllers.split(',').any(|c| c == controller))?;
            Some(mount.join(path))
        }
        Place::V2(mount) => Some(mount.join(path_of(&|controllers| controllers.is_empty())?)),
    }
}

/// The limit files of `pid`'s CPU, memory and pids cgroups, those that
/// exist.
fn cgroup_limits(pid: i32) -> Vec<(String, String)> {
    const FILES: [(&str, &str); 6] = [
        ("cpu", "cpu.cfs_quota_us"),
        ("cpu", "cpu.cfs_period_us"),
        ("cpu", "cpu.max"),
        ("memory", "memory.limit_in_bytes"),
        ("memory", "memory.max"),
        ("pids", "pids.max"),
    ];
    FILES
        .iter()
        .filter_map(|(controller, file)| {
            let content = std::fs::read_to_string(cgroup_dir(pid, controller)?.join(file)).ok()?;
            Some((file.to_string(), content.trim().to_string()))
        })
        .collect()
}

/// The `key value` lines of a `cpu.stat`.
pub(crate) fn cpu_stat_of(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Rereads `pid`'s `cpu.stat` into `seen` until told to stop or the
/// cgroup is gone.
fn follow_cpu_stat(pid: i32, stop: &AtomicBool, seen: &Mutex<Option<Seen>>) {
    let Some(file) = cgroup_dir(pid, "cpu").map(|dir| dir.join("cpu.stat")) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            return;
        };
        if let Ok(mut slot) = seen.lock()
            && let Some(files) = slot
                .as_mut()
                .and_then(|found| found.inspection.cgroup_files.as_mut())
        {
            files.cpu_stat = cpu_stat_of(&text);
        }
        std::thread::sleep(CPU_STAT_INTERVAL);
    }
}

/// Looks at the running process `pid` (see [`Inspection`]).
fn inspect(pid: i32, look: Look) -> Inspection {
    let interfaces = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|text| interfaces_of(&text))
        .unwrap_or_default();
    let mut root_entries: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/root"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    root_entries.sort();
    let host_uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| uid_of(&status));
    let queue = look.queue;
    let inside = std::thread::spawn(move || inside_view(pid, queue))
        .join()
        .unwrap_or_default();
    let root_dir = format!("/proc/{pid}/root");
    let walk_out = look.walk_out.then(|| {
        // A directory of its root to chroot into: the first, by name.
        let foothold = root_entries.iter().find(|name| {
            std::fs::symlink_metadata(format!("{root_dir}/{name}"))
                .is_ok_and(|metadata| metadata.is_dir())
        });
        let Some(foothold) = foothold else {
            let why = "its root holds no directory to chroot into".to_string();
            return (String::new(), Err(why));
        };
        let walk = escape::from_mount_namespace(pid, foothold).map_err(|error| error.to_string());
        let foothold = foothold.clone();
        (foothold, walk)
    });
    Inspection {
        interfaces,
        root_entries,
        host_uid,
        queue_visible: inside.0,
        cgroup_inside: inside.1,
        root: DirId::of(std::path::Path::new(&root_dir)).ok(),
        walk_out,
        cgroup_files: look.cgroup_files.then(|| CgroupFiles {
            limits: cgroup_limits(pid),
            cpu_stat: Vec::new(),
        }),
        labels: look.labels.then(|| labels_of(&pid.to_string())),
        root_tree: look
            .root_tree
            .then(|| tree_of(std::path::Path::new(&root_dir))),
    }
}

/// On a fresh thread: joins `pid`'s IPC and cgroup namespaces and reads,
/// from there, whether `queue` exists and what `pid`'s cgroup is. The
/// thread ends afterwards, and its namespaces with it.
fn inside_view(pid: i32, queue: Option<i32>) -> (Option<bool>, Option<String>) {
    use nix::sched::{CloneFlags, setns};
    let join = |kind: &str, flag: CloneFlags| {
        std::fs::File::open(format!("/proc/{pid}/ns/{kind}"))
            .ok()
            .and_then(|file| setns(&file, flag).ok())
    };
    let queue_visible = match (queue, join("ipc", CloneFlags::CLONE_NEWIPC)) {
        // /proc/sysvipc lists the queues of the reading thread's IPC
        // namespace: after setns, the container's.
        (Some(id), Some(())) => std::fs::read_to_string("/proc/sysvipc/msg")
            .ok()
            .map(|table| queue_listed(&table, id)),
        _ => None,
    };
    // /proc/PID/cgroup shows paths relative to the reader's cgroup
    // namespace: after setns, what the container itself reads.
    let cgroup_inside = join("cgroup", CloneFlags::CLONE_NEWCGROUP).and_then(|()| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .map(|text| cgroup_summary(&text))
    });
    (queue_visible, cgroup_inside)
}

/// The interface names of a `/proc/net/dev` table.
pub(crate) fn interfaces_of(table: &str) -> Vec<String> {
    table
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

/// The real uid of a `/proc/PID/status` text.
fn uid_of(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// Whether message queue `id` is a row of a `/proc/sysvipc/msg` table
/// (`key msqid perms …`).
fn queue_listed(table: &str, id: i32) -> bool {
    table
        .lines()
        .skip(1)
        .any(|row| row.split_whitespace().nth(1) == Some(id.to_string().as_str()))
}

/// A SysV message queue made on the host for the IPC demonstration,
/// removed when dropped.
pub(crate) struct HostQueue {
    id: i32,
}

impl HostQueue {
    /// A new private queue, readable by root only.
    pub(crate) fn create() -> std::io::Result<HostQueue> {
        // SAFETY: msgget takes no pointers; IPC_PRIVATE always makes a new
        // queue, owned by this HostQueue and removed in its Drop.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(HostQueue { id })
    }

    /// Its id (`msqid`).
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// Whether the host (versus' own IPC namespace) lists it.
    pub(crate) fn visible_on_host(&self) -> bool {
        std::fs::read_to_string("/proc/sysvipc/msg")
            .is_ok_and(|table| queue_listed(&table, self.id))
    }
}

impl Drop for HostQueue {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID takes no buffer (a null pointer is allowed) and
        // removes only the queue this value created.
        unsafe {
            libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

/// `/proc/PID/cgroup` in one short line: each path other than the root
/// with the hierarchies (controllers) it is in — `/versus/run-1 (pids,
/// memory, cpu)` on cgroup v1, `/versus/run-1 (unified)` on v2 — or the
/// root `/` when the process is in no cgroup of its own.
pub(crate) fn cgroup_summary(text: &str) -> String {
    let mut paths: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        // `hierarchy-id:controllers:path`; the path may hold ':'.
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if path == "/" {
            continue;
        }
        let name = if controllers.is_empty() {
            "unified".to_string()
        } else {
            controllers.to_string()
        };
        match paths.iter_mut().find(|(known, _)| known == path) {
            Some((_, names)) => names.push(name),
            None => paths.push((path.to_string(), vec![name])),
        }
    }
    if paths.is_empty() {
        return "/".to_string();
    }
    paths
        .iter()
        .map(|(path, names)| format!("{path} ({})", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every process' parent, from `/proc/PID/stat`.
fn parents() -> Option<HashMap<i32, i32>> {
    let mut parents = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = u32::try_from(pid)
            .ok()
            .and_then(container::host::parent_pid)
            .and_then(|ppid| i32::try_from(ppid).ok())
        {
            parents.insert(pid, ppid);
        }
    }
    Some(parents)
}

fn descends_from(mut pid: i32, ancestor: i32, parents: &HashMap<i32, i32>) -> bool {
    // A bounded walk: /proc can change under us, and a stale map must not
    // make us loop.
    for _ in 0..parents.len() {
        match parents.get(&pid) {
            Some(&parent) if parent == ancestor => return true,
            Some(&parent) if parent > 0 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// The file system types mounted in a `/proc/PID/mountinfo` table
/// (`cgroup`, `cgroup2`, `overlay`, …), each once.
pub(crate) fn mounted_types(mountinfo: &str) -> std::collections::BTreeSet<String> {
    mountinfo
        .lines()
        .filter_map(|line| line.split_once(" - "))
        .filter_map(|(_, fs)| fs.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ancestry_walk_follows_parents_and_stops() {
        let parents: HashMap<i32, i32> = [(10, 1), (11, 10), (12, 11), (20, 1)].into();
        assert!(descends_from(12, 10, &parents));
        assert!(!descends_from(20, 10, &parents));
        let looped: HashMap<i32, i32> = [(5, 6), (6, 5)].into();
        assert!(!descends_from(5, 99, &looped));
    }

    #[test]
    fn the_mounted_file_system_types_are_read_from_the_field_after_the_dash() {
        let table = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
34 1 0:31 / /cgroup-looking rw shared:1 - ext4 /dev/sda1 rw
";
        let types: Vec<String> = mounted_types(table).into_iter().collect();
        assert_eq!(types, ["cgroup", "cgroup2", "ext4"]);
    }

    #[test]
    fn cgroup_lines_are_summarised_by_path() {
        let v1 = "9:name=systemd:/\n8:pids:/versus/run-1\n4:memory:/versus/run-1\n0::/\n";
        assert_eq!(cgroup_summary(v1), "/versus/run-1 (pids, memory)");
        assert_eq!(
            cgroup_summary("0::/versus/run-2\n"),
            "/versus/run-2 (unified)"
        );
        assert_eq!(cgroup_summary("0::/\n"), "/");
    }

    #[test]
    fn cpu_stat_lines_are_read() {
        let v1 = "nr_periods 12\nnr_throttled 9\nthrottled_time 453000000\n";
        assert_eq!(
            cpu_stat_of(v1),
            [
                ("nr_periods".to_string(), 12),
                ("nr_throttled".to_string(), 9),
                ("throttled_time".to_string(), 453_000_000),
            ]
        );
        assert!(cpu_stat_of("garbage\n").is_empty());
    }

    #[test]
    fn proc_tables_are_read() {
        let dev = "Inter-|   Receive\n face |bytes\n    lo: 0 0\n  eth0: 1 2\n";
        assert_eq!(interfaces_of(dev), ["lo", "eth0"]);
        assert_eq!(
            uid_of("Name:\tx\nUid:\t100000\t100000\t100000\t100000\n"),
            Some(100000)
        );
        let msg = "       key      msqid perms\n         0          7   600\n";
        assert!(queue_listed(msg, 7));
        assert!(!queue_listed(msg, 70));
    }

    #[test]
    fn versus_own_namespaces_are_readable() {
        let namespaces = namespaces_of("self");
        assert_eq!(namespaces.len(), NAMESPACES.len());
        assert!(namespaces[0].1.starts_with("pid:["), "{namespaces:?}");
    }
}
