#!/bin/sh
# Runs inside the VM for scripts/profile.sh: loads rslab, runs
# rslab_bench.ko with the given parameters (all its API cases without any;
# `replay=/traces/find.replay sheaves=1` for one trace), prints the modules'
# symbols and the kernel's `_text` (for the host to name the blocks QEMU
# counted), then the benchmark's result lines.
# Usage: rslab-profile.sh /path/to/rslab.ko [rslab_bench parameters...]
ko=$1
shift
dmesg -n 1 2>/dev/null || true
insmod "$ko" || exit 1
dmesg -c >/dev/null 2>&1 || true
bench=$(dirname "$ko")/rslab_bench.ko
# The traces are in the initramfs (riscv64) or the host's tree (x86_64).
tdir=/traces
[ -d $tdir ] || tdir=$(dirname "$0")/../../traces
args=$(echo "$@" | sed "s|/traces/|$tdir/|g")
# shellcheck disable=SC2086
insmod "$bench" $args || echo "RSLAB-PROFILE-FAILED $?"
grep -E ' _text$|\[' /proc/kallsyms | sed 's/^/RSLAB-KSYM /'
rmmod rslab_bench 2>/dev/null
dmesg | grep "rslab-bench:"
