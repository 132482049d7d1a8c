#!/usr/bin/env bash
# Installs the Debian packages the image build and boot tests need, only when something is missing.
# Each package is named on its own: apt-get runs with --no-install-recommends, so a tool that is
# only recommended by another (arch-test by mmdebstrap) must be asked for by name.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have make || need+=(make)
have python3 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
have mmdebstrap || need+=(mmdebstrap)
# mmdebstrap refuses a foreign architecture without arch-test, and checks the archive keys with gpg.
have arch-test || need+=(arch-test)
have gpg || need+=(gpg)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
have update-binfmts || need+=(binfmt-support)
have qemu-system-aarch64 || need+=(qemu-system-arm)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have mcopy || need+=(mtools)
have mkfs.vfat || need+=(dosfstools)
{ have mke2fs && have debugfs; } || need+=(e2fsprogs)
have sfdisk || need+=(fdisk)
have unshare || need+=(util-linux)
# The upgrade boot test runs ledgrab-update on the guest over SSH, with a key made for the run.
{ have ssh && have ssh-keygen; } || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
