#!/bin/sh
# Runs inside the VM for scripts/run.sh: load rslab, show its sysfs tree with
# every readable file's contents, unload.
# Usage: rslab-demo.sh /path/to/rslab.ko
ko=$1
echo "== guest: $(uname -m), $(nproc) CPUs, Linux $(uname -r)"
echo "== insmod rslab.ko"
insmod "$ko" || exit 1
echo "== /sys/kernel/rslab/"
find /sys/kernel/rslab | sort | while read -r f; do
	if [ -d "$f" ]; then
		echo "$f/"
	elif [ -r "$f" ] && [ "$(stat -c %a "$f" 2>/dev/null)" != 200 ]; then
		printf '%s: %s\n' "$f" "$(cat "$f" 2>&1 | head -n 20)"
	else
		echo "$f (write-only)"
	fi
done
echo "== rmmod rslab"
rmmod rslab
echo "RSLAB-GUEST done"
