#!/bin/sh
# Builds versus' minimal Linux guest (`make linux-guest`): Debian's
# linux-source-6.1 with versus.config laid over tinyconfig, into
# guest-images/linux/out/bzImage (and out/vmlinux and out/System.map, whose
# symbols name a guest RIP in versus' failure reports). The work tree is guest-images/linux/build/ (git-ignored).
#
# LINUX_SOURCE_DEB=PATH uses a linux-source-6.1 .deb already at hand instead
# of `apt-get download`. JOBS=N sets make's parallelism (default: nproc).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build="$here/build"
out="$here/out"
fragment="$here/versus.config"
package=linux-source-6.1
jobs=${JOBS:-$(nproc)}

start=$(date +%s)
mkdir -p "$build" "$out"
cd "$build"

# 1. The source package, fetched once.
deb=${LINUX_SOURCE_DEB:-}
if [ -z "$deb" ]; then
    deb=$(ls "$build"/${package}_*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        echo "linux-guest: fetching $package with apt-get download"
        apt-get download "$package" || {
            echo "linux-guest: apt-get download $package failed: run 'apt-get update' (a Debian 12 package source is needed), or set LINUX_SOURCE_DEB to the .deb" >&2
            exit 1
        }
        deb=$(ls "$build"/${package}_*.deb | head -n 1)
    fi
fi

# 2. Its source tree, unpacked once per .deb.
tree="$build/$package"
if [ ! -f "$tree/.unpacked-from" ] || [ "$(cat "$tree/.unpacked-from")" != "$deb" ]; then
    echo "linux-guest: unpacking $deb"
    rm -rf "$tree" "$build/deb"
    dpkg-deb -x "$deb" "$build/deb"
    tar -C "$build" -xaf "$build/deb/usr/src/$package.tar.xz"
    rm -rf "$build/deb"
    echo "$deb" > "$tree/.unpacked-from"
fi

# 3. The configuration: tinyconfig, the fragment, the defaults of the rest.
cd "$tree"
make -s tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >/dev/null
make -s olddefconfig
missing=0
for line in $(grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment"); do
    if ! grep -qx "$line" .config; then
        echo "linux-guest: $line did not take (a dependency is off): fix versus.config" >&2
        missing=1
    fi
done
for name in $(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$fragment"); do
    if grep -q "^$name=" .config; then
        echo "linux-guest: $name is set although versus.config turns it off" >&2
        missing=1
    fi
done
[ "$missing" -eq 0 ] || exit 1

# 4. The kernel.
make -s -j"$jobs" bzImage
cp arch/x86/boot/bzImage "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
cp vmlinux "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
cp System.map "$out/System.map.tmp" && mv "$out/System.map.tmp" "$out/System.map"

end=$(date +%s)
echo "linux-guest: $out/bzImage ($(stat -c %s "$out/bzImage") bytes; vmlinux $(stat -c %s "$out/vmlinux") bytes) built in $((end - start)) s with $jobs jobs"
