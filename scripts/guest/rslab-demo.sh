#!/bin/sh
# Runs inside the VM for scripts/run.sh: load rslab, run a workload on the
# page pool from every CPU, show the statistics and the whole sysfs tree,
# shrink with drop_caches, unload.
# Usage: rslab-demo.sh /path/to/rslab.ko
ko=$1
P=/sys/kernel/rslab/pool
echo "== guest: $(uname -m), $(nproc) CPUs, Linux $(uname -r)"
echo "== insmod rslab.ko"
insmod "$ko" || exit 1
echo "== echo 'workload pool 200000 4' > /sys/kernel/rslab/control"
echo "workload pool 200000 4" >/sys/kernel/rslab/control || echo "(workload failed: $?)"
dmesg | grep 'workload pool:' | tail -n 1 | sed 's/^\[[^]]*\] //'
echo "== echo 1 > $P/validate"
echo 1 >$P/validate && echo "pool consistent"
echo "== /sys/kernel/rslab/"
find /sys/kernel/rslab | sort | while read -r f; do
	if [ -d "$f" ]; then
		echo "$f/"
	elif [ "$(stat -c %a "$f" 2>/dev/null)" = 200 ]; then
		echo "$f (write-only)"
	else
		printf '%s: %s\n' "$f" "$(cat "$f" 2>&1 | head -n 20)"
	fi
done
echo "== echo 2 > /proc/sys/vm/drop_caches"
echo "pages_total before: $(cat $P/pages_total)"
echo 2 >/proc/sys/vm/drop_caches
echo "pages_total after:  $(cat $P/pages_total)"
echo "== rmmod rslab"
rmmod rslab
dmesg | grep 'rslab unloaded' | tail -n 1 | sed 's/^\[[^]]*\] //'
echo "RSLAB-GUEST done"
