//! Executing the planned [`Step`]s through the [`Syscall`] seam, in order, stopping at
//! the first failure (the caller reports the failed step by its description).

use nix::errno::Errno;

use super::{Op, Step};
use crate::syscall::Syscall;

/// Runs the steps in order; on failure returns the index of the failed step and the errno.
pub(crate) fn run_steps(
    steps: &[Step],
    sys: &dyn Syscall,
) -> std::result::Result<(), (usize, Errno)> {
    for (i, step) in steps.iter().enumerate() {
        let r = match &step.op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => sys.mount(
                source.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            ),
            Op::RemountReadOnly { target } => sys.remount_read_only(target),
            Op::RemountNoDev { target } => sys.remount_nodev(target),
            Op::Mkdir { path, mode } => sys.mkdir(path, *mode),
            Op::WriteFile { path, data, mode } => sys.write_file(path, data, *mode),
            Op::Symlink { target, link } => sys.symlink(target, link),
            Op::Chdir { path } => sys.chdir(path),
            Op::PivotRoot { new_root, put_old } => sys.pivot_root(new_root, put_old),
            Op::Umount { target, flags } => sys.umount2(target, *flags),
            Op::SetHostname { name } => sys.sethostname(name),
            Op::LoopbackUp => sys.loopback_up(),
        };
        r.map_err(|e| (i, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::plan::tests::ctx;
    use crate::rootfs::{PlannedRootfs, plan_steps};
    use crate::syscall::fake::RecordingSyscall;

    #[test]
    fn a_failed_step_is_reported_by_index_with_its_description() {
        let root = PlannedRootfs::Dir {
            path: "/x".into(),
            has_tmp: false,
            has_sys: false,
            overlay: None,
        };
        let steps = plan_steps(&ctx(&root));
        let fake = RecordingSyscall::failing_at("pivot_root", Errno::EINVAL);
        let (i, e) = run_steps(&steps, &fake).unwrap_err();
        assert_eq!(e, Errno::EINVAL);
        assert_eq!(steps[i].what, "pivot_root into /x");
        assert_eq!(fake.calls().last().unwrap(), "pivot_root . .");
    }
}
