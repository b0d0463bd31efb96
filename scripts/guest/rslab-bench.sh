#!/bin/sh
# Runs inside the VM for scripts/bench.sh: load rslab, run the benchmark
# through the exported API (rslab_bench.ko) and in the module (`bench` on
# /sys/kernel/debug/rslab/control), print their result lines.
# Usage: rslab-bench.sh /path/to/rslab.ko [quick]
ko=$1
grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
echo "RSLAB-BENCH-GUEST $(uname -m) $(nproc)"
dmesg -n 1 2>/dev/null || true
insmod "$ko" || exit 1
dmesg -c >/dev/null 2>&1 || true
# Through the exported API first (a C module, as module authors call it),
# then rslab's own calls in the module.
insmod "$(dirname "$ko")/rslab_bench.ko" ${2:+quick=1} || echo "RSLAB-BENCH-FAILED api $?"
rmmod rslab_bench 2>/dev/null
echo "bench${2:+ $2}" >/sys/kernel/debug/rslab/control || echo "RSLAB-BENCH-FAILED $?"
# The recorded traces replayed (traces/README.md), each on a fresh rslab: its
# memory is counted from an empty pool. (The kernel's side runs twice.)
tdir=/traces
[ -d $tdir ] || tdir=$(dirname "$0")/../../traces
for t in "$tdir"/*.replay; do
	[ -f "$t" ] || continue
	# rslab's caches classic (its kmalloc classes too), then in the
	# sheaves mode (as its kmalloc classes are by default).
	for sh in 0 1; do
		rmmod rslab
		insmod "$ko" kmalloc_sheaves=$sh || exit 1
		insmod "$(dirname "$ko")/rslab_bench.ko" ${2:+quick=1} replay="$t" sheaves=$sh ||
			echo "RSLAB-BENCH-FAILED replay $t $sh $?"
		rmmod rslab_bench 2>/dev/null
	done
done
# The API cases again with allocation profiling on (`allocinfo=1`: each
# allocation and free walks the stack), as allocinfo_api_<case>: its cost.
rmmod rslab
insmod "$ko" allocinfo=1 || exit 1
insmod "$(dirname "$ko")/rslab_bench.ko" ${2:+quick=1} tag=allocinfo_ || echo "RSLAB-BENCH-FAILED allocinfo $?"
rmmod rslab_bench 2>/dev/null
# The burst again with rslab's decay on (`decay_ms=`, 1 s; 10 ms in a quick
# run, whose waits are a hundredth): rows decay_api_burst_256_*.
rmmod rslab
decay=1000
[ -n "$2" ] && decay=10
insmod "$ko" decay_ms=$decay || exit 1
insmod "$(dirname "$ko")/rslab_bench.ko" ${2:+quick=1} burst=1 tag=decay_ || echo "RSLAB-BENCH-FAILED decay $?"
rmmod rslab_bench 2>/dev/null
dmesg | grep 'rslab-bench:' | sed 's/^\[[^]]*\] //; s/^rslab: //; s/^rslab_bench: //'
rmmod rslab
echo "RSLAB-GUEST done"
