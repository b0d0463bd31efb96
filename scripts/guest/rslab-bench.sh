#!/bin/sh
# Runs inside the VM for scripts/bench.sh: load rslab, run the benchmark
# (`bench` on /sys/kernel/debug/rslab/control), print its result lines.
# Usage: rslab-bench.sh /path/to/rslab.ko [quick]
ko=$1
grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
echo "RSLAB-BENCH-GUEST $(uname -m) $(nproc)"
dmesg -n 1 2>/dev/null || true
insmod "$ko" || exit 1
dmesg -c >/dev/null 2>&1 || true
echo "bench${2:+ $2}" >/sys/kernel/debug/rslab/control || echo "RSLAB-BENCH-FAILED $?"
dmesg | grep 'rslab-bench:' | sed 's/^\[[^]]*\] //; s/^rslab: //'
rmmod rslab
echo "RSLAB-GUEST done"
