#!/usr/bin/env bash
# Install the Debian packages a target needs, only when something is missing.
# Usage: scripts/system-deps.sh run|test
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
python_has_venv() { python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }

python_has_venv || need+=(python3-venv)
have_cmd make || need+=(make)
if [ "${1:-run}" = test ]; then
  have_cmd gcc || need+=(gcc libc6-dev)            # the fsync gate used by the slow-disk test
  have_cmd systemd-analyze || need+=(systemd)        # `systemd-analyze verify` on the unit
  [ -x /usr/bin/chromium ] || need+=(chromium)       # browser tests
  have_cmd ip || need+=(iproute2)                    # network namespaces for zeroconf tests
  have_cmd sfdisk || need+=(fdisk)                   # the image layout test reads a real partition table
  have_cmd unshare || need+=(util-linux)
  have_cmd rsyslogd || need+=(rsyslog)             # the syslog forwarding tests' receiver
  [ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || [ -e /usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so ] \
    || need+=(rsyslog-gnutls)                       # its TLS driver (RFC 5425 input)
fi

[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
