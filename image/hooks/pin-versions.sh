#!/bin/sh
# mmdebstrap setup hook: pins every package listed in a lock ("name version" lines) to that version.
# Usage: pin-versions.sh ROOT LOCK
set -eu
mkdir -p "$1/etc/apt/preferences.d"
awk 'NF == 2 { printf "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", $1, $2 }' "$2" \
    >"$1/etc/apt/preferences.d/ledgrab-lock"
