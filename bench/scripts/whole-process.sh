#!/bin/sh
# whole-process.sh: the whole process of a start-up, as `time` sees it,
# side by side with hyperfine (issue 13): `versus vm run -- startup`
# against QEMU's microvm booting a PVH stub to exit, and `versus container
# run -- startup` against crun running the same static workload.
#
# Usage (as root, from the repository root, after `cargo build --release`):
#   bench/scripts/whole-process.sh [RUNS]
# RUNS defaults to 40, after 5 warm-up runs each. Needs hyperfine; QEMU
# (qemu-system-x86) and crun are compared where installed, else skipped with
# a line saying so. Everything it builds goes to a temporary directory that
# is removed on exit.
set -eu

runs=${1:-40}
warmup=5
root=$(cd "$(dirname "$0")/../.." && pwd)
# VERSUS=path times another build of versus (an A/B of two builds).
versus=${VERSUS:-$root/target/release/versus}

fail() {
    echo "whole-process.sh: $*" >&2
    exit 1
}

command -v hyperfine >/dev/null || fail "hyperfine is missing (apt-get install hyperfine)"
[ -x "$versus" ] || fail "$versus is missing: run \`cargo build --release\` first"
# The workload ELF versus embeds, as the images crate's build left it.
workload=$(ls -t "$root"/target/release/build/versus-images-*/out/guest-target/x86_64-unknown-linux-gnu/release/versus-workload 2>/dev/null | head -n 1)
[ -n "$workload" ] || fail "the release build's workload ELF is missing: run \`cargo build --release\` first"

work=$(mktemp -d /tmp/versus-whole-process.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

set -- --warmup "$warmup" --runs "$runs" -N --export-json "$work/times.json"

# Median and range of each command of the last hyperfine run: the machine
# is shared and noisy, and a mean would follow its outliers.
medians() {
    python3 - "$work/times.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
first = statistics.median(results[0]["times"])
for r in results:
    t = sorted(r["times"])
    m = statistics.median(t)
    print(f"  {r['command']:<18} median {m * 1e3:7.2f} ms  (range {t[0] * 1e3:.2f}-{t[-1] * 1e3:.2f} ms)  {m / first:5.2f}x the first")
PY
}

# versus' own launch → marker figure, to set the whole process against.
launch_median() {
    for _ in $(seq 15); do
        "$versus" "$1" run --json -- startup | sed -n 's/.*"startup_ns": *\([0-9]*\).*/\1/p' | head -n 1
    done | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f ms\n", v[int((NR + 1) / 2)] / 1e6 }'
}

vm_cmds="$versus vm run -- startup"
if [ -r /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null; then
    as --32 -o "$work/pvh-stub.o" "$root/bench/scripts/pvh-stub.S"
    ld -m elf_i386 -Ttext=0x100000 -e pvh_start -o "$work/pvh-stub.elf" "$work/pvh-stub.o"
    # isa-debug-exit makes QEMU exit with status 1 for the stub's 0.
    qemu="qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off,pic=off,pit=off,isa-serial=on \
-accel kvm -cpu host -m 16M -smp 1 -nodefaults -no-user-config -nographic -display none \
-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $work/pvh-stub.elf"
    echo "== VM: versus vm against QEMU microvm (PVH stub to isa-debug-exit)"
    hyperfine "$@" -i -n "versus vm" "$vm_cmds" -n "qemu microvm" "$qemu"
    medians
else
    echo "== VM: QEMU microvm skipped (no readable /dev/kvm or no qemu-system-x86_64)"
    hyperfine "$@" -n "versus vm" "$vm_cmds"
    medians
fi
echo "versus vm launch → start marker (median of 15 --json runs): $(launch_median vm)"

ct_cmds="$versus container run -- startup"
if [ "$(id -u)" = 0 ] && command -v crun >/dev/null; then
    bundle=$work/bundle
    mkdir -p "$bundle/rootfs"
    cp "$workload" "$bundle/rootfs/workload"
    (cd "$bundle" && crun spec)
    # The same static workload as PID 1; no terminal, as versus runs it.
    python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = ["/workload", "startup"]
spec["process"]["terminal"] = False
json.dump(spec, open(path, "w"))
PY
    echo "== container: versus container against crun (same workload, crun's default spec)"
    # crun refuses a hybrid host whose cgroup2 hierarchy holds controllers
    # ("cgroups in hybrid mode not supported"); in a mount namespace of its
    # own, with an empty tmpfs over /sys/fs/cgroup/unified, both runtimes
    # see the v1 hierarchies only. The host's mounts are left as they are.
    unified=/sys/fs/cgroup/unified
    if grep -qs . "$unified/cgroup.controllers"; then
        echo "   (hybrid host with cgroup2 controllers: both run in a private mount namespace with $unified hidden)"
        unshare -m --propagation private sh -c 'mount -t tmpfs versus-hide-unified "$0" && exec hyperfine "$@"' \
            "$unified" "$@" -n "versus container" "$ct_cmds" \
            -n "crun" "crun run --bundle $bundle versus-whole-process-$$"
    else
        hyperfine "$@" -n "versus container" "$ct_cmds" \
            -n "crun" "crun run --bundle $bundle versus-whole-process-$$"
    fi
    medians
else
    echo "== container: crun skipped (not root or no crun)"
    if [ "$(id -u)" = 0 ]; then
        hyperfine "$@" -n "versus container" "$ct_cmds"
        medians
    fi
fi
[ "$(id -u)" != 0 ] || echo "versus container launch → start marker (median of 15 --json runs): $(launch_median container)"
echo "note: on cgroup v1 a cgroup join may wait an RCU grace period (7-17 ms) unless the cgroup hierarchy runs with favordynmods; say which in any figure"
