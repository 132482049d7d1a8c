#!/bin/sh
# mmdebstrap customize hook: puts update-initramfs back and builds the initramfs, once. Its
# post-update hooks (raspi-firmware's) then copy kernel, initrd and device trees to /boot/firmware.
set -eu
rm -f "$1/usr/sbin/update-initramfs"
chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real \
    --remove /usr/sbin/update-initramfs
start=$(date +%s)
chroot "$1" update-initramfs -c -k all
echo "initramfs built once in $(($(date +%s) - start)) s"
