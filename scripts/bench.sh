#!/usr/bin/env bash
# The benchmark: boot each test kernel twice, load rslab, run `bench` (rslab
# against the kernel's own SLUB, kmalloc and page allocator, same boot,
# interleaved; then the recorded traces of traces/ replayed), and print a
# table; CSV and a PNG chart go to
# results/bench-<date>/ (not committed). Not a test: nothing is asserted.
#   1. TCG (x86_64 under KVM if the probe says it works): wall-clock ns/op.
#   2. TCG with `-icount shift=0,sleep=off` and one CPU: the guest clock
#      counts guest instructions, so ns/op are instructions/op, exact and
#      noise-free (single-CPU cases; scaling and cross-CPU are TCG-only).
#
# Usage: scripts/bench.sh [quick]
# Env:   RSLAB_ARCHES (default "x86_64 riscv64"), RSLAB_MEM (default 3G).
. "$(dirname "$0")/lib.sh"

quick=${1:-}
out="$RSLAB_TOP/results/bench-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
args=()
for arch in ${RSLAB_ARCHES:-x86_64 riscv64}; do
	ko=$(in_root "$RSLAB_TOP/scripts/module.sh" "$arch")
	for mode in ${RSLAB_BENCH_MODES:-time icount}; do
		log="$RSLAB_OUT/$arch/bench-$mode.log"
		# icount runs boot one CPU: the virtual clock counts every vCPU's
		# instructions, so a second CPU's background work would show up in
		# the measured CPU's counts. (The multi-CPU cases need the TCG run.)
		icount= ncpu=2
		[ "$mode" = icount ] && icount=1 ncpu=1
		# No KUnit at load (`kunit.enable=0`): the suites are the tests' job,
		# and they want two CPUs.
		RSLAB_APPEND="kunit.enable=0" \
		RSLAB_CPUS=$ncpu RSLAB_ICOUNT=$icount RSLAB_QUIET=1 RSLAB_MEM=${RSLAB_MEM:-3G} in_root "$RSLAB_TOP/scripts/vm.sh" \
			"$arch" "$log" "$ko" "$RSLAB_TOP/scripts/guest/rslab-bench.sh" $quick || true
		grep -q '^RSLAB-GUEST done' <(tr -d '\r' <"$log") || die "$arch: the guest did not finish: see $log"
		vm=$(sed -n 's/^\[rslab\] vm: //p' "$log" | head -n 1)
		cp "$log" "$out/$arch-$mode.log"
		args+=("$arch|$mode|$vm=$out/$arch-$mode.log")
	done
done
in_root python3 "$RSLAB_TOP/scripts/bench-report.py" "$out" "${args[@]}"
echo "results: $out"
