#!/bin/sh
# Runs inside the VM for scripts/run.sh: load rslab, run a workload on the
# page pool and one on a new slab cache from every CPU, show the statistics
# (a slabinfo-style table of every cache, the pool's and the new cache's
# files), destroy the cache, shrink with drop_caches, unload.
# Usage: rslab-demo.sh /path/to/rslab.ko
ko=$1
grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
P=/sys/kernel/rslab/pool
echo "== guest: $(uname -m), $(nproc) CPUs, Linux $(uname -r)"
echo "== insmod rslab.ko"
insmod "$ko" || exit 1
echo "== echo 'workload pool 200000 4' > /sys/kernel/debug/rslab/control"
echo "workload pool 200000 4" >/sys/kernel/debug/rslab/control || echo "(workload failed: $?)"
dmesg | grep 'workload pool:' | tail -n 1 | sed 's/^\[[^]]*\] //'
echo "== echo 1 > $P/validate"
echo 1 >$P/validate && echo "pool consistent"
C=/sys/kernel/rslab/caches
ctl() {
	echo "== echo '$1' > /sys/kernel/debug/rslab/control"
	echo "$1" >/sys/kernel/debug/rslab/control || echo "(failed: $?)"
}
ctl "create demo-700 700 0 hwcache"
ctl "workload cache demo-700 200000 256"
dmesg | grep 'workload cache' | tail -n 1 | sed 's/^\[[^]]*\] //'
echo "== echo 1 > $C/demo-700/validate"
echo 1 >$C/demo-700/validate && echo "cache consistent"
sample=$(dirname "$ko")/rslab_sample.ko
echo "== insmod rslab_sample.ko (a C module using the exported API, samples/rslab_sample.c)"
insmod "$sample" && dmesg | grep 'rslab_sample:' | sed 's/^\[[^]]*\] //'
echo "== caches (as tools/mm/slabinfo shows them: objects, slabs, size, order, fast/slow paths)"
printf '%-16s %8s %8s %6s %6s %5s %10s %10s %10s %10s\n' name objects total slabs objsize order alloc_fast alloc_slow free_fast free_slow
for d in "$C"/*/; do
	n=$(basename "$d")
	printf '%-16s %8s %8s %6s %6s %5s %10s %10s %10s %10s\n' "$n" "$(cut -d' ' -f1 "$d/objects")" \
		"$(cut -d' ' -f1 "$d/total_objects")" "$(cut -d' ' -f1 "$d/slabs")" "$(cat "$d/object_size")" \
		"$(cat "$d/order")" "$(cut -d' ' -f1 "$d/alloc_fastpath")" "$(cut -d' ' -f1 "$d/alloc_slowpath")" \
		"$(cut -d' ' -f1 "$d/free_fastpath")" "$(cut -d' ' -f1 "$d/free_slowpath")"
done
si=$(dirname "$ko")/slabinfo
if [ -x "$si" ]; then
	echo "== tools/mm/slabinfo, unmodified, with $C bound over /sys/kernel/slab (a private mount namespace)"
	unshare -m sh -c "mount --bind $C /sys/kernel/slab && $si && $si -r demo-700"
fi
show() {
	find "$1" | sort | while read -r f; do
		if [ -d "$f" ]; then
			echo "$f/"
		elif [ "$(stat -c %a "$f" 2>/dev/null)" = 200 ]; then
			echo "$f (write-only)"
		else
			printf '%s: %s\n' "$f" "$(cat "$f" 2>&1 | head -n 20)"
		fi
	done
}
echo "== /sys/kernel/rslab/ (pool and demo-700; every cache directory has the same files)"
show /sys/kernel/rslab/version
show /sys/kernel/rslab/pool
show $C/demo-700
echo "== echo 1 > $C/demo-700/shrink"
echo 1 >$C/demo-700/shrink
echo "slabs after shrink: $(cat $C/demo-700/slabs)"
ctl "destroy demo-700"
echo "== rmmod rslab (refused while rslab_sample uses it), rmmod rslab_sample"
rmmod rslab 2>&1 | sed 's/^/  /'
echo "$C/rslab-sample/ctor: $(cat $C/rslab-sample/ctor)"
rmmod rslab_sample && dmesg | grep 'rslab_sample: ok softirq\|rslab_sample: unloaded' | sed 's/^\[[^]]*\] //'
echo "== echo 2 > /proc/sys/vm/drop_caches"
echo "pages_total before: $(cat $P/pages_total)"
echo 2 >/proc/sys/vm/drop_caches
echo "pages_total after:  $(cat $P/pages_total)"
echo "== rmmod rslab"
rmmod rslab
dmesg | grep 'rslab: unloaded' | tail -n 1 | sed 's/^\[[^]]*\] //'
echo "RSLAB-GUEST done"
