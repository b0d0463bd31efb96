#!/bin/sh
# Runs inside a riscv64 VM for scripts/trace-record.sh: records the kernel's
# own kmem events (kmalloc, kfree, kmem_cache_alloc, kmem_cache_free) while a
# workload runs, then prints the trace, gzipped and base64-encoded, between
# markers, and each recorded cache's object size and alignment.
# rslab is not loaded: the trace is of the kernel's SLUB.
#
# Usage: rslab-trace.sh /path/to/rslab.ko WORKLOAD   (fs, find or exec)
work=${2:?workload}
T=/sys/kernel/tracing
grep -qs " $T " /proc/mounts || mount -t tracefs tracefs $T || exit 1
dmesg -n 1 2>/dev/null || true

# tmpfs churn: a tree of files of a few sizes written, copied, renamed,
# archived, unpacked and removed, in rounds.
fs_work() {
	mkdir -p /tmp/w
	for r in 1 2 3; do
		for d in a b c d e f g h; do
			mkdir -p /tmp/w/$r/$d
			for f in 1 2 3 4 5 6 7 8 9 10 11 12; do
				dd if=/dev/zero of=/tmp/w/$r/$d/$f bs=$((f * 700)) count=1 2>/dev/null
			done
		done
		cp -r /tmp/w/$r /tmp/w/$r.copy
		for f in /tmp/w/$r.copy/*/*; do mv "$f" "$f.moved"; done
		tar cf /tmp/w/$r.tar /tmp/w/$r.copy
		mkdir -p /tmp/w/$r.x
		tar xf /tmp/w/$r.tar -C /tmp/w/$r.x
		rm -rf /tmp/w/$r.copy /tmp/w/$r.x /tmp/w/$r.tar
	done
	rm -rf /tmp/w
}

# find and tar over the kernel's own trees (kernfs and procfs inodes and
# dentries, seq_file buffers).
find_work() {
	find /sys/kernel /sys/devices >/dev/null 2>&1
	find /proc/sys >/dev/null 2>&1
	tar cf - /proc/sys/vm /proc/sys/kernel 2>/dev/null | wc -c >/dev/null
	cat /proc/*/status >/dev/null 2>&1
	ls -lR /sys/module >/dev/null 2>&1
}

# Process creation: shells, pipes and short commands.
exec_work() {
	i=0
	while [ $i -lt 60 ]; do
		sh -c 'echo $$ | cat | wc -c' >/dev/null
		ls /proc/self/ >/dev/null
		i=$((i + 1))
	done
}

echo 0 >$T/tracing_on
echo >$T/trace
echo 65536 >$T/buffer_size_kb
for e in kmalloc kfree kmem_cache_alloc kmem_cache_free; do
	echo 1 >$T/events/kmem/$e/enable || exit 1
done
echo 1 >$T/tracing_on
"${work}_work"
echo 0 >$T/tracing_on
echo "RSLAB-TRACE-LOST $(cat $T/per_cpu/cpu*/stats | sed -n 's/^overrun: //p' | tr '\n' ' ')"
echo "RSLAB-TRACE-BEGIN $work"
gzip -c $T/trace | base64
echo "RSLAB-TRACE-END $work"
# Each recorded cache: its object size and alignment (kmem_cache_alloc's
# record has the size only).
for n in $(sed -n 's/.* kmem_cache_alloc: .* name=\([^ ]*\) .*/\1/p' $T/trace | sort -u); do
	[ -r /sys/kernel/slab/$n/align ] &&
		echo "RSLAB-TRACE-CACHE $n $(cat /sys/kernel/slab/$n/object_size) $(cat /sys/kernel/slab/$n/align)"
done
echo "RSLAB-GUEST done"
