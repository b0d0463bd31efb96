#!/bin/sh
# Runs inside a test VM (busybox sh on riscv64, virtme-ng's shell on x86_64).
# Loads rslab, then rslab_kunit (rslab's KUnit suites, on an instance of their
# own: they run at its load), prints each suite's KTAP results between markers
# for the host to parse, and checks load/unload behaviour.
# Every check prints "RSLAB-CHECK ok|fail <name>;"; the host counts them (the
# ";" ends the name: a kernel report printed meanwhile on the shared console
# may land right after it, on the same line).
#
# Usage: rslab-test.sh /path/to/rslab.ko [--debug] SUITE...
#   --debug: the debug tier (a KASAN/lockdep/kmemleak kernel): also the long
#            stress, and a kmemleak scan after the last unload.
ko=$1
shift
debug=
[ "${1:-}" = --debug ] && { debug=1; shift; }

check() {
	name=$1
	shift
	if "$@"; then echo "RSLAB-CHECK ok $name;"; else echo "RSLAB-CHECK fail $name;"; fi
}

grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
# Only warnings and worse on the console: KUnit's own output (read from
# debugfs below) would interleave with this script's lines on the shared
# serial console. dmesg keeps everything for the checks at the end.
dmesg -n 5 2>/dev/null || true

echo "RSLAB-GUEST nproc=$(nproc) kernel=$(uname -r) arch=$(uname -m)"
check guest_has_two_cpus test "$(nproc)" = 2
# Every tier that runs this: two NUMA nodes, one CPU each (the debug tier's
# too, so that lockdep sees the per-node locks; the !NUMA build is the
# riscv64-nokunit tier's).
nodes=$(cat /sys/devices/system/node/online 2>/dev/null)
echo "RSLAB-GUEST nodes=${nodes:-none} node0_cpus=$(cat /sys/devices/system/node/node0/cpulist 2>/dev/null)"
check guest_has_two_nodes test "$nodes" = 0-1
# (riscv64 numbers the boot hart CPU 0, whichever node QEMU put it on.)
check guest_one_cpu_per_node sh -c 'l="$(cat /sys/devices/system/node/node0/cpulist),$(cat /sys/devices/system/node/node1/cpulist)"; [ "$l" = 0,1 ] || [ "$l" = 1,0 ]'

suites="$*"
dmesg_has() { dmesg | grep -q "$1"; }
# dmesg_from MODULE TEXT: a line of MODULE's (its pr_fmt prefix, after the
# time stamp if the kernel prints one) says TEXT.
dmesg_from() { dmesg | grep -Eq "(^|\] )$1: $2"; }
# Prints the results of the suites that ran so far (once each per run;
# with an argument, of a later run of the same suites, tagged "suite@tag").
dump_ktap() {
	for s in $suites; do
		f=/sys/kernel/debug/kunit/$s/results
		t=$s${1:+@$1}
		if [ -r "$f" ] && ! echo " $dumped " | grep -q " $t "; then
			echo "RSLAB-KTAP-BEGIN $t"
			cat "$f"
			echo "RSLAB-KTAP-END $t"
			dumped="$dumped $t"
		fi
	done
}
dumped=
# kunit_run NAME [PARAM...]: loads rslab_kunit (its suites run), prints their
# results, unloads it; its instance gives back every page.
kunit_run() {
	tag=$1
	shift
	check "kunit_insmod$tag" insmod "$(dirname "$ko")/rslab_kunit.ko" "$@"
	dump_ktap "${tag#_}"
	check "kunit_rmmod$tag" rmmod rslab_kunit
	kunit_runs=$((kunit_runs + 1))
	check "kunit_unload_returned_every_page$tag" test "$(dmesg | grep -c "rslab_kunit: unloaded, 0 pages still taken from the kernel")" = $kunit_runs
}
kunit_runs=0
check insmod insmod "$ko"
check kunit_has_no_suites_in_rslab test ! -d /sys/kernel/debug/kunit/rslab_slab
kunit_run ""
echo "RSLAB-GUEST version=$(cat /sys/kernel/rslab/version)"
check version_readable test -s /sys/kernel/rslab/version
# The pool's buddyinfo and zoneinfo: a line per node with memory and zone
# (x86_64: DMA, DMA32, Normal; riscv64: DMA32, Normal).
sed 's/^/RSLAB-GUEST buddyinfo: /' /sys/kernel/rslab/pool/buddyinfo
sed 's/^/RSLAB-GUEST zoneinfo: /' /sys/kernel/rslab/pool/zoneinfo
nz=2
[ "$(uname -m)" = x86_64 ] && nz=3
check pool_buddyinfo_per_node_and_zone test "$(grep -c '^Node [0-9]*, zone  *\(DMA\|DMA32\|Normal\) ' /sys/kernel/rslab/pool/buddyinfo)" = "$((2 * nz))"
check pool_zoneinfo_per_node_and_zone test "$(grep -c '^Node [0-9]*, zone  *\(DMA\|DMA32\|Normal\) total [0-9]* free [0-9]*$' /sys/kernel/rslab/pool/zoneinfo)" = "$((2 * nz))"
# The command file is in debugfs (the KUnit suites run its commands without
# the file: a kthread cannot write debugfs), written here as a user does.
C=/sys/kernel/debug/rslab/control
check control_in_debugfs test -w $C
check control_not_in_sysfs test ! -e /sys/kernel/rslab/control
refused() { ! echo "$1" >$C 2>/dev/null; }
check control_refuses_garbage refused "shrink"
check control_refuses_bad_number refused "create kunit-g 99999999999"
check control_refuses_non_utf8 refused "$(printf 'create \377\376 8')"
check control_refuses_long_line refused "create $(head -c 300 /dev/zero | tr '\0' a) 8"
check control_creates sh -c "echo 'create guest-ctl 64' >$C && test -d /sys/kernel/rslab/caches/guest-ctl"
check control_create_twice_refused refused "create guest-ctl 64"
check control_workload sh -c "echo 'workload cache guest-ctl 2000 16' >$C"
check control_destroys sh -c "echo 'destroy guest-ctl' >$C && test ! -e /sys/kernel/rslab/caches/guest-ctl"
check control_destroy_unknown_refused refused "destroy guest-ctl"
# The hostile suite (scripts/guest/rslab-hostile.sh).
. "$(dirname "$0")/rslab-hostile.sh"
hostile_loaded
[ -z "$debug" ] || hostile_stress
# The exported API, used by a C module (samples/rslab_sample.c): its cache
# is in sysfs, and rslab cannot go while it is loaded.
sample=$(dirname "$ko")/rslab_sample.ko
S=/sys/kernel/rslab/caches/rslab-sample
check sample_insmod insmod "$sample"
check sample_ready sh -c 'dmesg | grep -q "rslab_sample: ready"'
check sample_cache_in_sysfs test -d $S
check sample_holds_objects test "$(cut -d' ' -f1 $S/objects 2>/dev/null || echo 0)" -ge 16
check sample_ctor_named grep -q "^sample_ctor+" $S/ctor
# Its sheaves cache, made with struct kmem_cache_args: 100 objects a sheaf
# (more than the 60 its size would give), 32 bytes of user copies.
SS=/sys/kernel/rslab/caches/rslab-sample-sheaves
check sample_args_sheaf_capacity test "$(cat $SS/sheaf_capacity)" = 100
check sample_args_usersize test "$(cat $SS/usersize)" = 32
check sample_plain_cache_no_sheaves test "$(cat $S/sheaf_capacity)" = 0
# Its prefilled sheaf, on a fresh cache: no spare to take, and back as one.
check sample_prefill_slow test "$(cut -d' ' -f1 $SS/sheaf_prefill_slow)" = 1
check sample_prefill_fast_none test "$(cut -d' ' -f1 $SS/sheaf_prefill_fast)" = 0
check sample_return_fast test "$(cut -d' ' -f1 $SS/sheaf_return_fast)" = 1
check sample_keeps_rslab_loaded sh -c "! rmmod rslab 2>/dev/null && test -d /sys/kernel/rslab"
sleep 1
check sample_rmmod rmmod rslab_sample
check sample_softirq_allocations sh -c 'dmesg | grep -q "rslab_sample: ok softirq context: 20 ticks"'
check sample_cache_destroyed test ! -e $S
check sample_sheaves_cache_destroyed test ! -e $SS
check sample_no_failure sh -c '! dmesg | grep -q "rslab_sample: FAIL"'
# The benchmark through the exported API, a smoke run (tiny counts): every
# case reports a line.
check api_bench_quick sh -c "insmod $(dirname "$ko")/rslab_bench.ko quick=1 && rmmod rslab_bench &&
	dmesg | grep -q 'rslab-bench: api done' &&
	test \$(dmesg | grep -c 'rslab-bench: api_[a-z0-9_]* ns/op rslab [0-9.]* [0-9.]* [0-9.]* kernel ') = \$((22 + $([ "$(nproc)" -ge 2 ] && echo 2 || echo 0)))"
# A recorded trace replayed (its first 4096 operations): its time and memory
# lines; a damaged replay file is refused.
tdir=/traces
[ -d $tdir ] || tdir=$(dirname "$0")/../../traces
check api_replay_quick sh -c "insmod $(dirname "$ko")/rslab_bench.ko quick=1 replay=$tdir/fs.replay && rmmod rslab_bench &&
	dmesg | grep -q 'rslab-bench: replay fs: 4096 operations, [0-9]* caches' &&
	dmesg | grep -q 'rslab-bench: api_replay_fs ns/op rslab [0-9.]* [0-9.]* [0-9.]* kernel ' &&
	dmesg | grep -q 'rslab-bench: api_replay_fs_peak pages rslab [0-9.]* [0-9.]* [0-9.]* kernel ' &&
	dmesg | grep -q 'rslab-bench: api_replay_fs_avg pages rslab [0-9.]* [0-9.]* [0-9.]* kernel '"
head -c 1000 $tdir/fs.replay >/tmp/damaged.replay
check api_replay_refuses_damaged_file sh -c "! insmod $(dirname "$ko")/rslab_bench.ko replay=/tmp/damaged.replay 2>/dev/null &&
	dmesg | grep -q 'rslab-bench: /tmp/damaged.replay is not a replay file (-22)'"
# The allocation contract through the exported API (its suite runs at load).
check contract_kunit_insmod insmod "$(dirname "$ko")/rslab_contract_kunit.ko"
dump_ktap
check contract_kunit_rmmod rmmod rslab_contract_kunit
# The kernel's own test modules of the allocation contract (lib/test_*.c of
# the kernel tree, built as they are and, as rslab_<name>, with one include
# line added: <rslab_compat.h>), each beside the kernel's in this boot
# (test_meminit last: it has no exit, so it keeps rslab loaded).
kt=$(dirname "$ko")/kernel-tests
# test_free_pages: a million blocks of order 3 each way, with a reference
# taken while they are freed; a leak would run the guest out of memory. On
# every kernel (riscv64, x86_64, the debug one), not again on riscv64-init
# (riscv64's kernel, where init_on_alloc=1 only adds the zeroing of each
# block; on the debug tier that zeroing under KASAN takes minutes, spent).
case "${debug:-0}: $(cat /proc/cmdline) " in
"0:"*" init_on_alloc=1 "*) echo "RSLAB-GUEST test_free_pages: not run (riscv64-init: riscv64's kernel ran it)" ;;
*)
	for m in test_free_pages rslab_test_free_pages; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		check "${m}_insmod" insmod "$kt/$m.ko"
		echo "RSLAB-GUEST $m: $t0 .. $(cut -d' ' -f1 /proc/uptime) s (uptime)"
		check "${m}_completed" dmesg_from "$m" "Test completed"
		rmmod "$m" 2>/dev/null
	done
	check rslab_test_free_pages_no_compound_left test "$(cat /sys/kernel/rslab/pool/compound_pages)" = 0
	;;
esac
# lib/tests/slub_kunit.c ported to the exported API (its suite runs at load).
check slub_kunit_insmod insmod "$(dirname "$ko")/rslab_slub_kunit.ko"
dump_ktap
check slub_kunit_rmmod rmmod rslab_slub_kunit
# Its reports are SLUB's, with the caller that allocated the object.
check slub_kunit_report_bug dmesg_has "BUG TestSlub_RZ_alloc (.*): Object corrupt"
check slub_kunit_report_overwritten dmesg_has "\[Right Redzone overwritten\] 0x.* @offset=.* First byte 0x12 instead of 0xcc"
check slub_kunit_report_fix dmesg_has "FIX TestSlub_RZ_alloc: Restoring Right Redzone 0x.*=0xcc"
check slub_kunit_report_caller dmesg_has "Allocated in test_kmalloc_redzone_access+.* age=.* cpu=.* pid="
# U keeps the stack too (the stack depot), printed under the caller's line.
check slub_kunit_report_stack sh -c "dmesg | grep -A1 'Allocated in test_kmalloc_redzone_access+' | tail -n 1 | grep -q ' test_kmalloc_redzone_access+0x'"
check rmmod rmmod rslab
check sysfs_gone_after_rmmod test ! -e /sys/kernel/rslab
check debugfs_gone_after_rmmod test ! -e /sys/kernel/debug/rslab
# The module counts pages taken from the kernel and given back.
check unload_returned_every_page sh -c 'dmesg | grep -q "rslab: unloaded, 0 pages still taken from the kernel"'
# Loaded again with slub_debug= (the kernel's syntax): the named caches are
# debug caches, with the flag files saying so, checked on every operation.
check insmod_again insmod "$ko" "slub_debug=FZPU,guest-dbg-*,rslab-sample;T,guest-trace"
check version_after_reload test -s /sys/kernel/rslab/version
# The suites again, their instance under the same slub_debug=: counted too.
kunit_run _reload "slub_debug=FZPU,guest-dbg-*,rslab-sample;T,guest-trace"
D=/sys/kernel/rslab/caches
flags_of() { cat "$D/$1/sanity_checks" "$D/$1/red_zone" "$D/$1/poison" "$D/$1/store_user" "$D/$1/trace" | tr -d '\n'; }
for c in guest-dbg-a guest-trace guest-plain; do echo "create $c 64" >$C; done
check slub_debug_flags_fzpu test "$(flags_of guest-dbg-a)" = 11110
check slub_debug_flags_t test "$(flags_of guest-trace)" = 00001
# T: SLUB's trace() lines (and a stack dump each, licensed below).
check slub_debug_trace_alloc_free sh -c "echo 'workload cache guest-trace 8 4' >$C &&
	dmesg | grep -q 'TRACE guest-trace alloc 0x[0-9a-f]* inuse=[0-9]* fp=0x' &&
	dmesg | grep -q 'TRACE guest-trace free 0x[0-9a-f]* inuse=[0-9]* fp=0x'"
check slub_debug_other_caches_plain test "$(flags_of guest-plain)" = 00000
check slub_debug_kmalloc_plain test "$(flags_of kmalloc-64)" = 00000
check slub_debug_workload_validates sh -c "echo 'workload cache guest-dbg-a 5000 64' >$C && echo 1 >$D/guest-dbg-a/validate"
check slub_debug_no_cpu_partial test "$(cat $D/guest-dbg-a/cpu_partial)" = 0
check slub_debug_cpu_partial_refused sh -c "! echo 8 >$D/guest-dbg-a/cpu_partial 2>/dev/null"
# The sample's cache is a debug cache now: alloc_calls names its caller.
check slub_debug_sample_insmod insmod "$sample"
check slub_debug_sample_flags test "$(flags_of rslab-sample)" = 11110
# (Its allocations come from init code, freed after load: no symbol left.)
check slub_debug_alloc_calls grep -q "^ *[0-9][0-9]* [^ ][^ ]* age=[0-9/]* pid=[0-9-]*" $D/rslab-sample/alloc_calls
check slub_debug_free_calls test -s $D/rslab-sample/free_calls
echo "RSLAB-GUEST alloc_calls: $(cat $D/rslab-sample/alloc_calls | head -n 3)"
# Two nodes: SLUB's per-node breakdowns. A workload on both CPUs makes
# slabs of each CPU's node, and each node keeps up to min_partial empty
# ones (the slabinfo -n check below reads them too). (cpu_slabs is not
# checked: SLUB counts a CPU's partial slabs on the node of the first, and
# remote frees mix them.)
if [ -z "$debug" ]; then
	echo "create guest-numa 128" >$C
	echo "workload cache guest-numa 2000 64" >$C
	echo "RSLAB-GUEST guest-numa slabs: $(cat $D/guest-numa/slabs) cpu_slabs: $(cat $D/guest-numa/cpu_slabs) objects: $(cat $D/guest-numa/total_objects)"
	check numa_slabs_on_both_nodes grep -Eq '^[0-9]+ N0=[0-9]+ N1=[0-9]+$' $D/guest-numa/slabs
fi
# The kernel's tools/mm/slabinfo, unmodified (built on x86_64 only), reads
# rslab's caches as SLUB's: their directory bound over /sys/kernel/slab in a
# private mount namespace. Its Flg column and its -r report show the debug
# flags (A: the sample asks for SLAB_HWCACHE_ALIGN), and the report the
# allocation calls.
si=$(dirname "$ko")/slabinfo
if [ -x "$si" ]; then
	slabinfo() { unshare -m sh -c "mount --bind $D /sys/kernel/slab && $si $*"; }
	slabinfo >/tmp/si-list 2>&1
	slabinfo -r rslab-sample >/tmp/si-report 2>&1
	sed 's/^/RSLAB-GUEST slabinfo: /' /tmp/si-list /tmp/si-report
	check slabinfo_flags_column grep -Eq "^rslab-sample +[0-9]+ .* APZFU$" /tmp/si-list
	check slabinfo_report_sanity grep -q "Sanity Checks : On " /tmp/si-report
	check slabinfo_report_redzone grep -q "Redzoning     : On " /tmp/si-report
	check slabinfo_report_poison grep -q "Poisoning     : On " /tmp/si-report
	check slabinfo_report_tracking grep -q "Tracking      : On " /tmp/si-report
	check slabinfo_report_tracing grep -q "Tracing       : Off" /tmp/si-report
	check slabinfo_report_alloc_calls sh -c "grep -A2 'rslab-sample: Kernel object allocation' /tmp/si-report | grep -q ' age='"
	if [ -z "$debug" ]; then
		# Its NUMA view (-n) reads the N<node>= breakdowns.
		slabinfo -n >/tmp/si-numa 2>&1
		sed 's/^/RSLAB-GUEST slabinfo -n: /' /tmp/si-numa
		check slabinfo_numa_nodes grep -Eq '^Slab +: +0 +1$' /tmp/si-numa
		check slabinfo_numa_sample_row grep -Eq '^rslab-sample +[0-9]+ +[0-9]+$' /tmp/si-numa
	fi
else
	echo "RSLAB-GUEST slabinfo: not built for this arch"
fi
sleep 1
check slub_debug_sample_rmmod rmmod rslab_sample
check slub_debug_caches_destroyed sh -c "for c in guest-dbg-a guest-trace guest-plain; do echo \"destroy \$c\" >$C || exit 1; done"
[ -z "$debug" ] && check numa_cache_destroyed sh -c "echo 'destroy guest-numa' >$C"

# rslab_leak.ko allocates, from one function, an object of a cache, a
# kmalloc object, a large kmalloc block and an object of a SLAB_NOLEAKTRACE
# cache, and keeps no reference anyone can find (freed at its unload).
# With rslab loaded with allocinfo=1 (for this part only: every allocation
# walks the stack), allocinfo counts each at its call site by its slot
# size, and at none after the unload. On the debug tier kmemleak reports
# the first three, each with the module's allocation stack, and not the
# fourth.
AI=/sys/kernel/debug/rslab/allocinfo
check allocinfo_reload sh -c "rmmod rslab && insmod $ko allocinfo=1"
# rslab's trace events (trace system rslab), where the kernel has event
# tracing (its own kmem events): enabled while rslab_leak.ko allocates and
# frees, and their records checked field by field below; pointers printed
# unhashed (hash-ptr off) to compare them with the addresses it prints. A
# record's call_site is symbolised when the trace is read: the allocations'
# are read while rslab_leak is loaded, the frees' (at its unload) as
# addresses, checked against its rslab_leak_free's.
T=/sys/kernel/tracing
grep -qs " $T " /proc/mounts || mount -t tracefs tracefs $T 2>/dev/null
tracing=
if [ -d $T/events/kmem ]; then
	tracing=1
	check trace_events_listed sh -c "ls $T/events/rslab | tr '\n' ' ' | grep -q 'rslab_kfree rslab_kmalloc rslab_kmem_cache_alloc rslab_kmem_cache_free rslab_mm_page_alloc rslab_mm_page_free'"
	echo 0 >$T/options/hash-ptr
	echo >$T/trace
	echo 1 >$T/events/rslab/enable
fi
check leak_insmod insmod "$(dirname "$ko")/rslab_leak.ko"
if [ -n "$tracing" ]; then
	cp $T/trace /tmp/trace-alloc
	slot_quiet=$(cat $D/leak-quiet/slab_size 2>/dev/null)
	# rslab_leak_free's text: from its address to the next symbol's (the
	# addresses are fixed-width hex: compared as strings).
	leak_free=$(awk '$3 == "rslab_leak_free" { print $1 }' /proc/kallsyms)
	# (Functions only: riscv64 lists its local labels, $x and .L*, too.)
	leak_end=$(awk -v s="$leak_free" '$2 ~ /^[tT]$/ && $3 !~ /^[.$]/ && ("x" $1) > ("x" s) && (m == "" || ("x" $1) < ("x" m)) { m = $1 } END { print m }' /proc/kallsyms)
	echo "RSLAB-GUEST trace: rslab_leak_free at $leak_free..$leak_end"
fi
sed 's/^/RSLAB-GUEST allocinfo: /' $AI | grep rslab_leak
# sites BYTES CALLS: how many of rslab_leak's sites hold BYTES in CALLS objects.
sites() { grep -Ec "^ *$1 +$2 rslab_leak_objects\+0x[0-9a-f]+/0x[0-9a-f]+ \[rslab_leak\]$" $AI; }
slot=$(cat $D/leak-cache/slab_size 2>/dev/null)
slot_km=$(cat $D/kmalloc-256/slab_size 2>/dev/null)
check allocinfo_header sh -c "head -n 2 $AI | tr '\n' '|' | grep -q '^allocinfo - version: 2.0|#     <size>  <calls> <tag info>|$'"
check allocinfo_counts_cache_objects test "$(sites "$slot" 1)" = 2
check allocinfo_counts_kmalloc_object test "$(sites "$slot_km" 1)" = 1
check allocinfo_counts_large_kmalloc test "$(sites 16384 1)" = 1
# kmemleak_scan FILE: two scans (an object is reported once it stayed
# unreferenced, and older than 5 s, over a scan), their report into FILE and
# (its first 80 lines) the log.
kmemleak_scan() {
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$1"
	sed 's/^/RSLAB-KMEMLEAK /' "$1" | head -n 80
}
if [ -n "$debug" ]; then
	kmemleak_scan /tmp/leaks
	# reported ADDR SIZE: the report of ADDR, its size, and the leaker's
	# allocating function in its backtrace (before the next report).
	reported() {
		test -n "$1" && awk -v a="unreferenced object $1 (size $2):" '
			index($0, a) == 1 { on = 1; next }
			/^unreferenced object/ { on = 0 }
			on && /rslab_leak_objects/ { found = 1 }
			END { exit !found }' /tmp/leaks
	}
	leaks() {
		check kmemleak_reports_cache_object reported "$1" 96
		# kmalloc(200): its class's object, as SLUB reports it; the large
		# block by the size asked for.
		check kmemleak_reports_kmalloc_object reported "$2" 256
		check kmemleak_reports_large_kmalloc reported "$3" 12288
		check kmemleak_skips_noleaktrace sh -c "test -n '$4' && ! grep -q 'unreferenced object $4 ' /tmp/leaks"
	}
	leaks $(dmesg | sed -n 's/.*rslab_leak: object \(0x[0-9a-f]*\) kmalloc \(0x[0-9a-f]*\) large \(0x[0-9a-f]*\) quiet \(0x[0-9a-f]*\)$/\1 \2 \3 \4/p' | tail -n 1)
fi
check leak_rmmod rmmod rslab_leak
if [ -n "$tracing" ]; then
	echo 0 >$T/events/rslab/enable
	grep -E 'rslab_leak|rslab_k?(mem_cache_)?free' $T/trace | grep -v -E 'insmod|rmmod rslab$' | sed 's/^/RSLAB-GUEST trace: /' | head -n 20
	# traced FILE EVENT FIELDS: one record of EVENT in FILE with exactly
	# FIELDS (an ERE) after "EVENT: ".
	traced() {
		test "$(grep -Ec "$2: $3\$" "$1")" = 1
	}
	site='call_site=rslab_leak_objects\+0x[0-9a-f]+/0x[0-9a-f]+ \[rslab_leak\]'
	# freed_from EVENT FIELDS: one record of EVENT with FIELDS after its
	# call_site, an address in rslab_leak_free's text.
	freed_from() {
		test -n "$leak_free" && test -n "$leak_end" &&
			test "$(grep -E "$1: call_site=0x[0-9a-f]+ $2\$" $T/trace |
				sed 's/.*call_site=0x\([0-9a-f]*\) .*/\1/' |
				awk -v s="$leak_free" -v e="$leak_end" '("x" $1) >= ("x" s) && ("x" $1) < ("x" e) { n++ } END { print n + 0 }')" = 1
	}
	trace_checks() {
		obj=${1#0x} km=${2#0x} large=${3#0x} quiet=${4#0x}
		p='ptr=(0x)?0*'
		check trace_kmem_cache_alloc traced /tmp/trace-alloc rslab_kmem_cache_alloc "$site ${p}$obj name=leak-cache bytes_req=96 bytes_alloc=$slot gfp_flags=GFP_KERNEL node=-1"
		check trace_kmalloc traced /tmp/trace-alloc rslab_kmalloc "$site ${p}$km bytes_req=200 bytes_alloc=256 gfp_flags=GFP_KERNEL node=-1"
		check trace_kmalloc_large traced /tmp/trace-alloc rslab_kmalloc "$site ${p}$large bytes_req=12288 bytes_alloc=16384 gfp_flags=GFP_KERNEL node=-1"
		check trace_kmem_cache_alloc_quiet traced /tmp/trace-alloc rslab_kmem_cache_alloc "$site ${p}$quiet name=leak-quiet bytes_req=96 bytes_alloc=$slot_quiet gfp_flags=GFP_KERNEL node=-1"
		check trace_kmem_cache_free freed_from rslab_kmem_cache_free "${p}$obj name=leak-cache"
		check trace_kmem_cache_free_quiet freed_from rslab_kmem_cache_free "${p}$quiet name=leak-quiet"
		check trace_kfree freed_from rslab_kfree "${p}$km"
		check trace_kfree_large freed_from rslab_kfree "${p}$large"
	}
	trace_checks $(dmesg | sed -n 's/.*rslab_leak: object \(0x[0-9a-f]*\) kmalloc \(0x[0-9a-f]*\) large \(0x[0-9a-f]*\) quiet \(0x[0-9a-f]*\)$/\1 \2 \3 \4/p' | tail -n 1)
fi
# Freed: each site is still listed, with nothing live (as an address: the
# module's symbols went with it).
check allocinfo_sites_emptied_by_frees test "$(grep -Ec '^ +0 +0 0x[0-9a-f]+$' $AI)" = 4
check allocinfo_off_again sh -c "rmmod rslab && insmod $ko && test \"\$(wc -l <$AI)\" = 2"
# Decay: `decay_ms=` at load reaches the pool and every cache (an hour here:
# no pass within this part); a cache given a short period once idle makes
# exactly one pass, which gives back every slab it kept.
check decay_param_reaches_pool_and_caches sh -c "rmmod rslab && insmod $ko decay_ms=3600000 &&
	test \$(cat /sys/kernel/rslab/pool/decay_ms) = 3600000 && test \$(cat $D/kmalloc-64/decay_ms) = 3600000"
echo 'create guest-decay 200' >$C
echo 'workload cache guest-decay 2000 16' >$C
kept=$(cut -d' ' -f1 $D/guest-decay/slabs)
# With event tracing: the decay's work is queued exactly twice (a look that
# notes the activity, then the pass), and never again while the cache idles.
wq=$T/events/workqueue/workqueue_queue_work
if [ -n "$tracing" ] && [ -d $wq ]; then
	echo >$T/trace
	echo 1 >$wq/enable
fi
echo 50 >$D/guest-decay/decay_ms
for i in $(seq 100); do
	[ "$(cat $D/guest-decay/decay_passes)" = 0 ] || break
	sleep 0.1
done
sleep 0.5
if [ -n "$tracing" ] && [ -d $wq ]; then
	looks=$(grep -c 'function=.*decay' $T/trace)
	sleep 1
	check decay_work_queued_twice_then_never_while_idle sh -c "test $looks = 2 &&
		test \$(grep -c 'function=.*decay' $T/trace) = 2"
	echo 0 >$wq/enable
fi
check decay_idle_cache_gives_back_every_slab_once sh -c "test $kept -gt 0 &&
	test \$(cat $D/guest-decay/decay_passes) = 1 && test \$(cat $D/guest-decay/decay_slabs) = $kept &&
	test \"\$(cut -d' ' -f1 $D/guest-decay/slabs)\" = 0"
check decay_off_again sh -c "echo 'destroy guest-decay' >$C && rmmod rslab && insmod $ko &&
	test \$(cat /sys/kernel/rslab/pool/decay_ms) = 0"
# Adaptive sheaf capacity's files: 0 or 1 on a sheaves cache (EINVAL for
# anything else, and on a classic cache), a budget no lower than every CPU
# at sheaf_capacity; a workload with it on leaves the cache consistent.
echo 'create guest-adapt 256 0 sheaves' >$C
echo 'create guest-adapt-classic 256' >$C
A=$D/guest-adapt
check sheaf_adaptive_files sh -c "test \$(cat $A/sheaf_adaptive) = 0 &&
	! echo 2 >$A/sheaf_adaptive 2>/dev/null && echo 1 >$A/sheaf_adaptive && test \$(cat $A/sheaf_adaptive) = 1 &&
	! echo 1 >$D/guest-adapt-classic/sheaf_adaptive 2>/dev/null &&
	test \$(cat $D/guest-adapt-classic/sheaf_budget) = 0 && echo 'destroy guest-adapt-classic' >$C &&
	b=\$(cat $A/sheaf_budget) && ! echo 1 >$A/sheaf_budget 2>/dev/null && test \$(cat $A/sheaf_budget) = \$b &&
	grep -Eq '^[0-9]+ C0=[0-9]+ C1=[0-9]+$' $A/sheaf_capacity_cpu"
check sheaf_adaptive_workload sh -c "echo 'workload cache guest-adapt 20000 64' >$C && echo 1 >$A/validate &&
	echo 'destroy guest-adapt' >$C"
hostile_unload
if [ -n "$debug" ]; then
	# kmemleak after the last unload: nothing may be left.
	kmemleak_scan /tmp/kmemleak
	check kmemleak_reports_nothing test ! -s /tmp/kmemleak
fi
# lib/test_meminit.c, against the kernel's allocator and (rslab_) against
# rslab's, loaded again for it: the module has no exit, so rslab stays
# loaded from here on. It needs init_on_alloc or init_on_free (the kernel's
# fails without either), which the test boots give but riscv64's first.
cmdline=$(cat /proc/cmdline)
case " $cmdline " in
*" init_on_alloc=1 "* | *" init_on_free=1 "*)
	check insmod_for_test_meminit insmod "$ko"
	for m in test_meminit rslab_test_meminit; do
		check "${m}_insmod" insmod "$kt/$m.ko"
		dmesg | grep -E "(^|\] )$m: " | sed "s/^/RSLAB-GUEST /"
		for f in test_pages test_kvmalloc test_kmemcache test_rcu_persistent; do
			check "${m}_$f" dmesg_from "$m" "all [0-9]* tests in $f passed"
		done
		check "${m}_all_passed" dmesg_from "$m" "all [0-9]* tests passed!"
	done
	;;
*) echo "RSLAB-GUEST test_meminit: not run (no init_on_alloc=1 or init_on_free=1)" ;;
esac
# Anything the kernel complained about during the run fails it.
# rslab's own error reports: pages still in use at destroy, bad frees,
# failed validation.
# The KUnit suites, the contract suite and the hostile suite provoke some on
# purpose, in caches named kunit-*, contract-* and hostile-*; those are
# theirs to check.
# (On the debug tier: KASAN's and lockdep's reports start "BUG:" and
# "WARNING:", DEBUG_LIST's and DEBUG_OBJECTS' warn or BUG too.)
# Each "TRACE <cache> alloc|free" line (a cache with T) and each refused
# rslab_cache_create() (a warning with the stack, as kmem_cache_create()'s)
# licenses one stack dump.
if dmesg | awk '/TRACE [^ ]+ (alloc|free) |rslab_cache_create failed with error/{n++} /Call Trace/{if (n > 0) {n--; next}} {print}' |
	grep -E 'BUG:|WARNING:|Oops|Call Trace|list_(add|del) corruption|ODEBUG:|rslab(_kunit)?: .*(still in use|bad free|double free|validate:)' |
	grep -vE 'rslab(_kunit)?: cache (kunit|hostile|TestSlub|contract)' >/tmp/rslab-complaints; then
	cat /tmp/rslab-complaints
	echo "RSLAB-CHECK fail kernel_log_clean;"
else
	echo "RSLAB-CHECK ok kernel_log_clean;"
fi
echo "RSLAB-GUEST done"
