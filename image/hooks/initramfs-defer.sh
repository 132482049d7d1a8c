#!/bin/sh
# mmdebstrap essential hook: while packages install, update-initramfs does nothing, so the kernel
# and every package that triggers initramfs-tools do not each rebuild it (minutes under qemu).
set -eu
chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real \
    --add /usr/sbin/update-initramfs
mkdir -p "$1/usr/sbin"
printf '#!/bin/sh\necho "update-initramfs: deferred to the end of the image build"\n' \
    >"$1/usr/sbin/update-initramfs"
chmod 0755 "$1/usr/sbin/update-initramfs"
