#!/bin/sh
# Grows the data partition (the last one) to the end of the card, then its ext4 file system online.
set -eu
part=$(findfs LABEL=ledgrab-data)
name=$(basename "$part")
disk=/dev/$(basename "$(readlink -f "/sys/class/block/$name/..")")
number=$(cat "/sys/class/block/$name/partition")
echo ", +" | sfdisk --no-reread --no-tell-kernel -q -N "$number" "$disk"
partx -u -n "$number" "$disk"
resize2fs "$part"
mkdir -p /var/lib/ledgrab-image
touch /var/lib/ledgrab-image/data-grown
echo "data partition $part now $(($(cat "/sys/class/block/$name/size") / 2048)) MiB"
