#!/bin/bash
# Builds on a fresh Debian 12 host, to prove the recipe needs nothing the host happened to have:
# makes a minimal bookworm root (mmdebstrap --variant=minbase, what a debian:12 container holds),
# copies the working tree in, and there runs image/host-deps.sh and then the given make targets.
# Usage: image/fresh-host.sh [make targets...]   (default: image image-boot-virt)
# The root and everything built in it stay in $LEDGRAB_FRESH_HOST (image/build/fresh-host).
set -euo pipefail

main() {

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
WORK=${LEDGRAB_FRESH_HOST:-$HERE/build/fresh-host}
MIRROR=${LEDGRAB_IMAGE_MIRROR:-http://deb.debian.org/debian}
SECURITY=${LEDGRAB_IMAGE_SECURITY:-http://deb.debian.org/debian-security}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(image image-boot-virt)
START=$(date +%s)
stamp() { printf '\n==> %s  (+%ds)\n' "$*" "$(($(date +%s) - START))"; }

[ "$(id -u)" -eq 0 ] || { echo "fresh-host.sh: needs root (mmdebstrap, chroot)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "fresh-host.sh: apt-get install mmdebstrap" >&2; exit 1; }

stamp "fresh Debian 12 root (minbase) in $WORK/root"
rm -rf "$WORK" && mkdir -p "$WORK"
mmdebstrap --variant=minbase --format=directory bookworm "$WORK/root" \
    "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
    "deb $SECURITY bookworm-security main"
# What belongs to this host's network, not to the recipe: its resolver, and the local CAs it
# trusts (a TLS-inspecting proxy's, say; ca-certificates adds them when host-deps.sh installs it).
cp /etc/resolv.conf "$WORK/root/etc/resolv.conf"
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$WORK/root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$WORK/root/usr/local/share/ca-certificates/"
fi
echo "packages in the fresh root: $(chroot "$WORK/root" dpkg-query -W | wc -l)"

stamp "the working tree into /src"
mkdir -p "$WORK/root/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - -cf -) | tar -C "$WORK/root/src" -xf -

stamp "image/host-deps.sh, then make ${TARGETS[*]} (inside the fresh root)"
# Private mounts of /proc, /sys and /dev that vanish with the namespace; build.sh mounts
# binfmt_misc itself when the build is for a foreign architecture. The root is bound onto itself
# first: build.sh runs `unshare --mount`, which sets the propagation of `/`, and the kernel
# refuses that (EINVAL) when the chroot's `/` is not a mount point.
unshare --mount --propagation private bash -euo pipefail -c '
    ROOT=$1; shift
    mount --bind "$ROOT" "$ROOT"
    mount -t proc proc "$ROOT/proc"
    mount --rbind /sys "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        /bin/bash -euo pipefail -c '"'"'
        cd /src
        t0=$(date +%s)
        image/host-deps.sh
        echo "host-deps.sh: $(($(date +%s) - t0)) s"
        for target in "$@"; do
            t0=$(date +%s)
            make "$target"
            echo "make $target: $(($(date +%s) - t0)) s"
        done
    '"'"' fresh-host "$@"
' fresh-host "$WORK/root" "${TARGETS[@]}"

stamp "done: the results are in $WORK/root/src/image/out"
# Targets such as image-host-deps build nothing: that is not a failure.
ls -l "$WORK/root/src/image/out" 2>/dev/null || echo "(no image/out: the targets built nothing)"
}

main "$@"
exit $?
