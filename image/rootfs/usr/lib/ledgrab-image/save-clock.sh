#!/bin/sh
# Save the time to the card, as fake-hwclock does: systemd-timesyncd moves the clock at boot to
# no earlier than this file's modification time, so a board without a real-time clock that
# loses power starts at most one timer period late instead of at its last clean shutdown.
# Never moves the saved time backwards (a clock that is behind must not undo a good save).
# Usage: save-clock.sh [FILE]   (default /var/lib/systemd/timesync/clock)
set -eu
FILE=${1:-/var/lib/systemd/timesync/clock}
now=$(date +%s)
if [ -e "$FILE" ]; then
    saved=$(stat -c %Y "$FILE")
    if [ "$saved" -ge "$now" ]; then
        echo "kept the saved time $(date -u -d "@$saved" +%FT%TZ): the clock says earlier"
        exit 0
    fi
    touch "$FILE"
else
    mkdir -p "$(dirname "$FILE")"
    touch "$FILE"
    # timesyncd (its own user) updates this file too: it must stay that user's.
    if getent passwd systemd-timesync >/dev/null 2>&1; then
        chown systemd-timesync: "$FILE"
    fi
fi
echo "saved the time $(date -u -d "@$now" +%FT%TZ)"
