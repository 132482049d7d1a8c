#!/bin/sh
# Runs inside the image root (chroot) at build time: installs LedGrab and sets the system up.
# Usage: customize.sh ARCH   (wheels are in /var/tmp/wheels)
set -eu
ARCH=$1
export LC_ALL=C.UTF-8 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The layout ledgrab-update keeps: one venv per version, `current` the one the unit runs
# (/opt/ledgrab/bin is current/bin), `previous` the one an update keeps to roll back to.
VERSION=$(ls /var/tmp/wheels/ledgrab-*.whl | sed -n 's|.*/ledgrab-\([^-]*\)-.*|\1|p')
RELEASE=/opt/ledgrab/releases/$VERSION
echo "venv: $RELEASE"
python3 -m venv "$RELEASE"
"$RELEASE/bin/pip" install -q --no-index --find-links /var/tmp/wheels 'ledgrab[pi]'
"$RELEASE/bin/pip" freeze --all >/usr/lib/ledgrab-image/python.txt
ln -s "releases/$VERSION" /opt/ledgrab/current
ln -s current/bin /opt/ledgrab/bin
ln -s /opt/ledgrab/bin/ledgrab /opt/ledgrab/bin/ledgrab-update /usr/local/bin/
/opt/ledgrab/bin/ledgrab --help >/dev/null 2>&1 || echo "warning: 'ledgrab --help' failed in the image"

echo "units"
systemctl enable -q systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
    ledgrab-firstboot.service ledgrab-grow-data.service ledgrab.service \
    ledgrab-set-clock.path ledgrab-save-clock.timer
# SSH stays off until ledgrab.txt says otherwise; host keys are made on the device, not shared.
systemctl disable -q ssh.service
# wpa_supplicant@wlan0 (enabled by first boot) drives the radio; the D-Bus instance is unused.
systemctl disable -q wpa_supplicant.service
rm -f /etc/ssh/ssh_host_*
# Package-list refreshes twice a day would write to the card for nothing on an appliance.
systemctl mask -q apt-daily.timer apt-daily-upgrade.timer

echo "identity"
echo ledgrab >/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\tledgrab\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts
ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime
echo Etc/UTC >/etc/timezone
# An empty machine-id makes systemd create a new one on the device's first boot.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -rf /var/log/journal
mkdir -p /var/lib/ledgrab /etc/ledgrab /var/lib/ledgrab-image /boot/firmware
chmod 0700 /etc/ledgrab

if [ "$ARCH" = arm64 ]; then
    echo "boot files: raspi-firmware hook with the image's settings"
    DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware
fi

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
dpkg-query -W -f='${Package} ${Version}\n' | sort >/usr/lib/ledgrab-image/packages.txt
