#!/usr/bin/env bash
# Records a real allocation trace for the benchmark's replay: boots the
# riscv64 test kernel (2 CPUs), runs a workload under the kernel's kmem trace
# events (scripts/guest/rslab-trace.sh), and reduces the trace to a replay
# file (scripts/trace-reduce.py) in traces/<workload>.replay. Not part of
# the tests: the traces are committed, with how they were made
# (traces/README.md).
#
# Usage: scripts/trace-record.sh [WORKLOAD...]   (default: fs find exec)
. "$(dirname "$0")/lib.sh"

arch=riscv64
ko=$(in_root "$RSLAB_TOP/scripts/module.sh" "$arch")
mkdir -p "$RSLAB_TOP/traces" "$RSLAB_OUT/$arch"
for w in "${@:-fs find exec}"; do
	for w1 in $w; do
		log="$RSLAB_OUT/$arch/trace-$w1.log"
		RSLAB_APPEND="kunit.enable=0" RSLAB_QUIET=1 RSLAB_MEM=2G in_root "$RSLAB_TOP/scripts/vm.sh" \
			"$arch" "$log" "$ko" "$RSLAB_TOP/scripts/guest/rslab-trace.sh" "$w1" || true
		tr -d '\r' <"$log" >"$log.clean"
		grep -q '^RSLAB-GUEST done' "$log.clean" || die "$w1: the guest did not finish: see $log"
		sed -n "/^RSLAB-TRACE-BEGIN $w1\$/,/^RSLAB-TRACE-END $w1\$/p" "$log.clean" | sed '1d;$d' |
			base64 -d | gunzip >"$RSLAB_OUT/$arch/trace-$w1.txt"
		grep '^RSLAB-TRACE-CACHE ' "$log.clean" >"$RSLAB_OUT/$arch/trace-$w1.caches"
		grep '^RSLAB-TRACE-LOST ' "$log.clean" >&2
		python3 "$RSLAB_TOP/scripts/trace-reduce.py" "$RSLAB_OUT/$arch/trace-$w1.txt" \
			"$RSLAB_OUT/$arch/trace-$w1.caches" "$RSLAB_TOP/traces/$w1.replay"
	done
done
