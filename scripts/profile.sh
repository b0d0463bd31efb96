#!/usr/bin/env bash
# A profile of rslab against the kernel, in guest instructions: boots
# ARCH's test kernel (one CPU) under TCG with -icount and a plugin that
# counts the instructions every translated block runs
# (scripts/tb-profile.c), runs rslab_bench.ko with PARAMS
# (scripts/guest/rslab-profile.sh), and prints the 40 functions of rslab's
# modules that ran the most, then the 40 others (the kernel's SLUB and page
# allocator, the boot), named with the kernel's System.map and the modules'
# symbols that the guest prints. The counts cover the whole boot, and the
# benchmark runs each case on both sides (REPS times each): compare a
# function with its counterpart, not with the total. Not a test.
#
# Usage: scripts/profile.sh ARCH [PARAMS...]
#   e.g. scripts/profile.sh x86_64 replay=/traces/find.replay sheaves=1
# Env:   RSLAB_CPUS (default 1; 2 boots two nodes: under -icount QEMU runs
#        the vCPUs in turn on one thread, so the counts stay exact).
# Out:   out/ARCH/profile.log (console), .tb (raw counts), .txt (the table).
. "$(dirname "$0")/lib.sh"

if ! rslab_direct; then exec "$RSLAB_TOP/scripts/in-root.sh" "$0" "$@"; fi

arch=${1:?usage: scripts/profile.sh ARCH [PARAMS...]}
shift
case "$arch" in
x86_64 | riscv64) ;;
*) die "profile: x86_64 or riscv64, not '$arch'" ;;
esac
ko=$("$RSLAB_TOP/scripts/module.sh" "$arch")
kb=${KDIR:-$("$RSLAB_TOP/scripts/kernel.sh" "$arch")}
so="$RSLAB_OUT/tb-profile.so"
clang-19 -O2 -Wall -shared -fPIC -fvisibility=hidden -o "$so" "$RSLAB_TOP/scripts/tb-profile.c"
base="$RSLAB_OUT/$arch/profile"
rm -f "$base.tb"
RSLAB_APPEND="kunit.enable=0" RSLAB_CPUS=${RSLAB_CPUS:-1} RSLAB_ICOUNT=1 RSLAB_QUIET=1 RSLAB_MEM=${RSLAB_MEM:-3G} \
	RSLAB_PLUGIN="$so,out=$base.tb" \
	"$RSLAB_TOP/scripts/vm.sh" "$arch" "$base.log" "$ko" "$RSLAB_TOP/scripts/guest/rslab-profile.sh" "$@" ||
	true
[ -s "$base.tb" ] || die "profile: no counts from QEMU: see $base.log"
python3 "$RSLAB_TOP/scripts/tb-symbols.py" "$base.log" "$base.tb" "$kb/System.map" 40 >"$base.txt"
grep -a 'rslab-bench:' "$base.log" | sed 's/.*rslab-bench: /# /' >>"$base.txt" || true
cat "$base.txt"
