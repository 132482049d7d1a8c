#!/bin/bash
# Builds ledgrab-<version>-<arch>.img from Debian packages and the project's wheel, without
# mounting any file system or loop device: mmdebstrap -> mke2fs -d / mkfs.vfat + mcopy -> sfdisk + dd.
# Usage: image/build.sh [arm64|amd64]    (amd64 is the quick variant the smoke test boots)
set -euo pipefail

# The whole script is one function, read before it runs: editing it cannot derail a running build.
main() {

ARCH=${1:-arm64}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=${LEDGRAB_IMAGE_BUILD:-$HERE/build}
OUT=${LEDGRAB_IMAGE_OUT:-$HERE/out}
SUITE=bookworm
# A snapshot URL (e.g. https://snapshot.debian.org/archive/debian/20250520T000000Z) pins every
# package version; the default mirror is pinned instead by image/debian-<arch>.lock when present.
MIRROR=${LEDGRAB_IMAGE_MIRROR:-http://deb.debian.org/debian}
SECURITY=${LEDGRAB_IMAGE_SECURITY:-http://deb.debian.org/debian-security}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$REPO/ledgrab/__init__.py")
IMG="$OUT/ledgrab-$VERSION-$ARCH.img"
START=$(date +%s)
STEP=0
NSTEPS=7

step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d/%d] %s  (+%ds)\n' "$STEP" "$NSTEPS" "$*" "$(($(date +%s) - START))"
}
die() { echo "build.sh: $*" >&2; exit 1; }

case "$ARCH" in
arm64)
    KERNEL_PKGS="linux-image-arm64,raspi-firmware,firmware-brcm80211,wireless-regdb,wpasupplicant,iw"
    PY_PLATFORMS="--platform manylinux_2_36_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64"
    ;;
amd64)
    # Wi-Fi packages too, so the smoke test applies the same first-boot settings as a Pi.
    KERNEL_PKGS="linux-image-amd64,wireless-regdb,wpasupplicant,iw"
    PY_PLATFORMS="--platform manylinux_2_36_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
    ;;
*) die "unknown architecture '$ARCH' (arm64 or amd64)" ;;
esac
BASE_PKGS="systemd,systemd-sysv,systemd-timesyncd,systemd-resolved,udev,dbus,libpam-systemd,kmod"
BASE_PKGS+=",initramfs-tools,zstd,busybox,e2fsprogs,dosfstools,fdisk,iproute2,netbase"
BASE_PKGS+=",ca-certificates,tzdata,openssh-server,python3,python3-venv,less,nano"
PKGS="$BASE_PKGS,$KERNEL_PKGS"

mkdir -p "$BUILD" "$OUT"
# Only PyPI and the constraints below decide which wheels go in, not this host's pip settings.
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_EXTRA_INDEX_URL PIP_INDEX_URL || true

step "host tools and binfmt for $ARCH"
for t in mmdebstrap mke2fs mkfs.vfat mcopy sfdisk unshare python3; do
    command -v "$t" >/dev/null || die "missing $t (apt-get install mmdebstrap e2fsprogs dosfstools mtools fdisk)"
done
if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
    [ -x /usr/bin/qemu-aarch64-static ] || die "missing qemu-user-static (apt-get install qemu-user-static binfmt-support)"
    if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "binfmt for qemu-aarch64 could not be enabled"
    echo "binfmt: qemu-aarch64 $(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64)"
fi

step "wheels: ledgrab $VERSION and its dependencies for $ARCH (python 3.11)"
WHEELS="$BUILD/wheels-$ARCH"
rm -rf "$WHEELS" && mkdir -p "$WHEELS"
python3 -m pip wheel -q --no-deps --no-build-isolation "$REPO" -w "$WHEELS" 2>/dev/null ||
    python3 -m pip wheel -q --no-deps "$REPO" -w "$WHEELS"
LEDGRAB_WHL=$(ls "$WHEELS"/ledgrab-*.whl)
CONSTRAINTS=()
[ -f "$HERE/pip-constraints.txt" ] && CONSTRAINTS=(-c "$HERE/pip-constraints.txt")
# shellcheck disable=SC2086
python3 -m pip download -q --only-binary=:all: $PY_PLATFORMS --python-version 3.11 \
    --implementation cp "${CONSTRAINTS[@]}" -d "$WHEELS" "$LEDGRAB_WHL"
if [ "$ARCH" = arm64 ]; then
    # rpi-ws281x is published as source only: build its wheel once in an emulated arm64 chroot.
    WS_CACHE="$BUILD/ws281x-wheel"
    if ! ls "$WS_CACHE"/rpi_ws281x-*.whl >/dev/null 2>&1; then
        rm -rf "$WS_CACHE" "$BUILD/ws281x-src" && mkdir -p "$WS_CACHE" "$BUILD/ws281x-src"
        python3 -m pip download -q --no-deps --no-binary=:all: "${CONSTRAINTS[@]}" \
            -d "$BUILD/ws281x-src" "rpi-ws281x>=5.0"
        mmdebstrap --variant=minbase --architectures=arm64 --format=null \
            --include=gcc,libc6-dev,python3-dev,python3-pip,python3-setuptools,python3-wheel \
            --customize-hook="mkdir -p \"\$1/src\" \"\$1/whl\"" \
            --customize-hook="copy-in $BUILD/ws281x-src/. /src" \
            --customize-hook="chroot \"\$1\" sh -c 'python3 -m pip wheel --no-deps --no-build-isolation -w /whl /src/*.tar.gz'" \
            --customize-hook="sync-out /whl $WS_CACHE" \
            "$SUITE" /dev/null "$MIRROR"
    fi
    cp "$WS_CACHE"/rpi_ws281x-*.whl "$WHEELS/"
fi
ls "$WHEELS" | sed 's/^/    /'

step "base root file system (mmdebstrap, $SUITE, $ARCH; cached)"
LOCK="$HERE/debian-$ARCH.lock"
# The lock is not part of the key: a cached base is checked against it after customising.
KEY=$( { echo "$SUITE $MIRROR $SECURITY $PKGS"; cat "$HERE"/hooks/*.sh; } | sha256sum | cut -c1-16)
BASE="$BUILD/base-$ARCH-$KEY"
if [ -d "$BASE" ]; then
    echo "reusing $BASE"
else
    PIN_HOOK=()
    if [ -f "$LOCK" ]; then
        PIN_HOOK=(--setup-hook="$HERE/hooks/pin-versions.sh \"\$1\" $LOCK")
    fi
    rm -rf "$BASE.partial"
    mmdebstrap --variant=minbase --architectures="$ARCH" --format=directory \
        --components=main,non-free-firmware \
        --include="$PKGS" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        "${PIN_HOOK[@]}" \
        --setup-hook="mkdir -p \"\$1/etc\" && python3 $HERE/layout.py fstab > \"\$1/etc/fstab\"" \
        --essential-hook="$HERE/hooks/initramfs-defer.sh \"\$1\"" \
        --customize-hook="$HERE/hooks/initramfs-once.sh \"\$1\"" \
        --customize-hook="rm -f \"\$1/etc/apt/preferences.d/ledgrab-lock\"" \
        "$SUITE" "$BASE.partial" \
        "deb $MIRROR $SUITE main non-free-firmware" \
        "deb $MIRROR $SUITE-updates main non-free-firmware" \
        "deb $SECURITY $SUITE-security main non-free-firmware"
    mv "$BASE.partial" "$BASE"
fi

step "customise: LedGrab venv, units, first-boot, flash-friendly settings"
ROOT="$BUILD/root-$ARCH"
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
cp -r "$HERE/rootfs/." "$ROOT/"
for unit in ledgrab.service ledgrab-set-clock.service ledgrab-set-clock.path; do
    install -m 0644 "$REPO/systemd/$unit" "$ROOT/usr/lib/systemd/system/$unit"
done
mkdir -p "$ROOT/var/tmp/wheels"
cp "$WHEELS"/*.whl "$ROOT/var/tmp/wheels/"
if [ "$ARCH" = arm64 ]; then
    python3 "$HERE/layout.py" raspi-defaults >"$ROOT/etc/default/raspi-firmware"
    python3 "$HERE/layout.py" raspi-custom >"$ROOT/etc/default/raspi-firmware-custom"
fi
# The chroot gets private mounts of /proc and /dev that vanish with the namespace.
unshare --mount --propagation private bash -euo pipefail -c '
    ROOT=$1 ARCH=$2
    mount -t proc proc "$ROOT/proc"
    mount --rbind /dev "$ROOT/dev"
    chroot "$ROOT" /bin/sh /usr/lib/ledgrab-image/customize.sh "$ARCH"
' customize "$ROOT" "$ARCH"
rm -rf "$ROOT/var/tmp/wheels"
cp "$ROOT/usr/lib/ledgrab-image/packages.txt" "$OUT/ledgrab-$VERSION-$ARCH.packages"
cp "$ROOT/usr/lib/ledgrab-image/python.txt" "$OUT/ledgrab-$VERSION-$ARCH.python"
if [ -f "$LOCK" ] && ! diff -u "$LOCK" "$OUT/ledgrab-$VERSION-$ARCH.packages" >"$BUILD/lock.diff"; then
    echo "WARNING: installed Debian packages differ from $LOCK (see $BUILD/lock.diff);" \
        "the mirror no longer serves some pinned versions"
    [ "${LEDGRAB_IMAGE_STRICT:-0}" = 1 ] && die "strict build: package versions changed"
fi

step "partitions: FAT boot, ext4 root, ext4 data"
BOOTDIR="$BUILD/boot-$ARCH"
rm -rf "$BOOTDIR" && mkdir -p "$BOOTDIR"
cp -r "$ROOT/boot/firmware/." "$BOOTDIR/"
find "$ROOT/boot/firmware" -mindepth 1 -delete
if [ "$ARCH" = amd64 ]; then
    # No Pi firmware here: the smoke test takes the kernel from the FAT, like the Pi firmware does.
    cp "$ROOT"/boot/vmlinuz-* "$BOOTDIR/vmlinuz"
    cp "$ROOT"/boot/initrd.img-* "$BOOTDIR/initrd.img"
fi
install -m 0644 "$HERE/ledgrab.txt" "$BOOTDIR/ledgrab.txt"
if [ "$ARCH" = arm64 ]; then
    # What the Pi firmware reads must be there, generated by raspi-firmware's hooks.
    for f in bootcode.bin start.elf start4.elf fixup.dat fixup4.dat config.txt cmdline.txt \
        bcm2837-rpi-3-b.dtb bcm2711-rpi-4-b.dtb bcm2711-rpi-400.dtb bcm2837-rpi-zero-2-w.dtb; do
        [ -e "$BOOTDIR/$f" ] || die "boot partition lacks $f"
    done
    grep -q "root=LABEL=ledgrab-root" "$BOOTDIR/cmdline.txt" || die "cmdline.txt: root not by label"
    grep -q "^dtparam=audio=off" "$BOOTDIR/config.txt" || die "config.txt: audio not off"
    grep -q "^initramfs initrd.img-" "$BOOTDIR/config.txt" || die "config.txt: no initramfs line"
    sed 's/^/    cmdline.txt: /' "$BOOTDIR/cmdline.txt"
fi
ROOT_USED=$(du -sm --apparent-size "$ROOT" | cut -f1)
ROOT_MIB=$((ROOT_USED * 5 / 4 + 256))
python3 "$HERE/layout.py" offsets --root-mib "$ROOT_MIB" >"$BUILD/offsets-$ARCH"
read -r _ BOOT_START BOOT_MIB < <(sed -n 1p "$BUILD/offsets-$ARCH")
read -r _ ROOT_START _ < <(sed -n 2p "$BUILD/offsets-$ARCH")
read -r _ DATA_START DATA_MIB < <(sed -n 3p "$BUILD/offsets-$ARCH")
rm -f "$BUILD"/p-*.img
mkfs.vfat -C -F 32 -n LEDGRAB "$BUILD/p-boot.img" $((BOOT_MIB * 1024)) >/dev/null
mcopy -s -i "$BUILD/p-boot.img" "$BOOTDIR"/* ::
echo "boot: $(du -sh "$BOOTDIR" | cut -f1) in ${BOOT_MIB} MiB FAT32 'LEDGRAB'"
mke2fs -q -t ext4 -L ledgrab-root -m 1 -d "$ROOT" "$BUILD/p-root.img" "${ROOT_MIB}M"
echo "root: ${ROOT_USED} MiB of files in ${ROOT_MIB} MiB ext4 'ledgrab-root'"
mkdir -p "$BUILD/empty-data"
mke2fs -q -t ext4 -L ledgrab-data -m 0 -d "$BUILD/empty-data" "$BUILD/p-data.img" "${DATA_MIB}M"
echo "data: ${DATA_MIB} MiB ext4 'ledgrab-data' (grown to the end of the card at first boot)"

step "assemble $IMG"
SIZE_MIB=$(python3 "$HERE/layout.py" size --root-mib "$ROOT_MIB")
rm -f "$IMG"
truncate -s "${SIZE_MIB}M" "$IMG"
python3 "$HERE/layout.py" sfdisk --root-mib "$ROOT_MIB" | sfdisk -q "$IMG"
dd if="$BUILD/p-boot.img" of="$IMG" bs=1M seek="$BOOT_START" conv=notrunc,sparse status=none
dd if="$BUILD/p-root.img" of="$IMG" bs=1M seek="$ROOT_START" conv=notrunc,sparse status=none
dd if="$BUILD/p-data.img" of="$IMG" bs=1M seek="$DATA_START" conv=notrunc,sparse status=none
rm -f "$BUILD"/p-*.img
sfdisk -l "$IMG" | sed 's/^/    /'

step "done"
(cd "$OUT" && sha256sum "$(basename "$IMG")" >"$(basename "$IMG").sha256")
echo "image: $IMG"
echo "size: $(du -h --apparent-size "$IMG" | cut -f1) ($(stat -c %s "$IMG") bytes)"
echo "manifests: $OUT/ledgrab-$VERSION-$ARCH.packages, $OUT/ledgrab-$VERSION-$ARCH.python"
echo "build time: $(($(date +%s) - START)) s"
}

main "$@"
exit $?
