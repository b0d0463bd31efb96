# The hostile suite, sourced by rslab-test.sh (busybox sh on riscv64, the
# root's sh on x86_64), which defines check(). Caches made here are named
# hostile-*: the reports they provoke on purpose are theirs to check.
#
#   hostile_loaded   with rslab loaded: bad writes to every writable file,
#                    races of workloads with destroy, validate, CPU hotplug
#                    and drop_caches, and the counter identities after them;
#   hostile_unload   with rslab loaded: unload while a workload runs and
#                    while the control file is open; ends with it unloaded.

R=/sys/kernel/rslab
CTL=/sys/kernel/debug/rslab/control
# The cache and kmalloc workloads do a twentieth of their operations on the
# debug tier, where kmemleak tracks every object handed out, as it does
# SLUB's: each operation takes about 55 times as long there (measured, 2M
# operations on two CPUs: 2.1 s, with kmemleak 115 s). The pool's pages are
# not tracked.
DIV=1
[ -z "${debug:-}" ] || DIV=20
LONG=$(head -c 5000 /dev/zero | tr '\0' a)
LONGNUM=$(head -c 5000 /dev/zero | tr '\0' 7)

# wr FILE FORMAT: one write() of printf's FORMAT to FILE; prints OK or the
# errno's name. (The format starts with "%s" and an empty argument: dash's
# printf takes a format starting with "-" for an option.)
wr() {
	out=$(printf "%s$2" "" | dd of="$1" bs=65536 conv=notrunc 2>&1) && {
		echo OK
		return
	}
	case "$out" in
	*"Invalid argument"*) echo EINVAL ;;
	*"Device or resource busy"*) echo EBUSY ;;
	*"No such file"*) echo ENOENT ;;
	*"File exists"*) echo EEXIST ;;
	*"Operation not permitted"*) echo EPERM ;;
	*"Resource temporarily unavailable"*) echo EAGAIN ;;
	*"Input/output error"*) echo EIO ;;
	*"No such device"*) echo ENODEV ;;
	*) echo "other($out)" ;;
	esac
}

# refuse NAME FILE ERRNO FORMAT...: each write is refused with ERRNO and
# leaves the file's contents (if readable) as they were.
refuse() {
	name=$1 f=$2 want=$3
	shift 3
	before=$(cat "$f" 2>/dev/null)
	bad=
	for v in "$@"; do
		got=$(wr "$f" "$v")
		after=$(cat "$f" 2>/dev/null)
		if [ "$got" != "$want" ] || [ "$after" != "$before" ]; then
			bad="$bad [$(printf '%.24s' "$v"): $got]"
		fi
	done
	[ -z "$bad" ] || echo "RSLAB-HOSTILE $name:$bad"
	check "$name" test -z "$bad"
}

# accept NAME FILE VALUE: the write succeeds and reads back as VALUE; the
# old value is written back after.
accept() {
	before=$(cat "$2")
	got=$(wr "$2" "$3\n")
	back=$(cat "$2")
	wr "$2" "$before\n" >/dev/null
	[ "$got" = OK ] && [ "$back" = "$3" ] || echo "RSLAB-HOSTILE $1: $got, reads $back"
	check "$1" test "$got" = OK -a "$back" = "$3"
}

# Not numbers, signs, overflows, huge strings, embedded NULs, non-UTF-8.
GARBAGE='x\n|-1\n|+\n|1 2\n|0x\n|\377\n|1\0002\n|2147483648x\n|18446744073709551616\n|99999999999999999999999\n|-9223372036854775808\n|'"$LONG"'|'"$LONGNUM"

# each_garbage NAME FILE ERRNO [EXTRA...]: refuse with the garbage above
# (those that a file of SLUB's takes by their first byte are left to the
# caller) plus EXTRA.
each_garbage() {
	name=$1 f=$2 want=$3
	shift 3
	old_ifs=$IFS
	IFS='|'
	# shellcheck disable=SC2086
	set -- $GARBAGE "$@"
	IFS=$old_ifs
	refuse "$name" "$f" "$want" "$@"
}

stat_total() { cut -d' ' -f1 "$1"; }

# running CACHE PID: waits until the workload PID has objects out in CACHE
# (so it runs and holds the control file); false if it ended first.
running() {
	n=0
	while [ "$(cat $R/caches/$1/objects 2>/dev/null)" = 0 ]; do
		kill -0 "$2" 2>/dev/null || return 1
		n=$((n + 1))
		[ $n -lt 300 ] || return 1
		sleep 0.1
	done
	kill -0 "$2" 2>/dev/null
}

SLUB_STATS="alloc_fastpath alloc_slowpath free_fastpath free_slowpath free_frozen
free_add_partial free_remove_partial alloc_from_partial alloc_slab alloc_refill
alloc_node_mismatch free_slab cpuslab_flush deactivate_full deactivate_empty
deactivate_to_head deactivate_to_tail deactivate_remote_frees deactivate_bypass
order_fallback cmpxchg_double_cpu_fail cmpxchg_double_fail cpu_partial_alloc
cpu_partial_free cpu_partial_node cpu_partial_drain"

# The sum of the "Cn=v" parts of a SLUB_STATS file.
stat_sum() {
	s=0
	for w in $(cut -d' ' -f2- "$1"); do
		case "$w" in C*=*) s=$((s + ${w#*=})) ;; esac
	done
	echo $s
}

# Every number file of a cache, a counter file and the action files.
cache_files() {
	d=$R/caches/$1
	each_garbage "hostile_$1_min_partial" "$d/min_partial" EINVAL '4294967296\n'
	each_garbage "hostile_$1_cpu_partial" "$d/cpu_partial" EINVAL '4294967296\n'
	# Any u32 is a number SLUB takes here: no overflow further down.
	accept "hostile_$1_cpu_partial_2^31" "$d/cpu_partial" 2147483648
	accept "hostile_$1_cpu_partial_u32_max" "$d/cpu_partial" 4294967295
	accept "hostile_$1_min_partial_2^31" "$d/min_partial" 2147483648
	# SLUB's shrink, validate and counters look at the first byte only.
	for f in shrink validate; do
		refuse "hostile_$1_$f" "$d/$f" EINVAL 'x\n' '0\n' '2\n' '-1\n' '\377\n' "$LONG" '\n'
	done
	# The 26 SLUB_STATS counters take "0" (by its first byte) and nothing
	# else, and keep their count.
	bad=
	for n in $SLUB_STATS; do
		f=$d/$n
		before=$(stat_total "$f")
		for v in 'x\n' '1\n' '-1\n' '\377\n' "$LONG" '18446744073709551616\n'; do
			got=$(wr "$f" "$v")
			[ "$got" = EINVAL ] || bad="$bad $n:$got"
		done
		[ "$(stat_total "$f")" -ge "$before" ] || bad="$bad $n:changed"
	done
	check "hostile_$1_counter_files" test -z "$bad"
}

hostile_loaded() {
	ncaches=$(ls $R/caches | wc -l)
	# The pool's files.
	for w in min low high; do
		each_garbage "hostile_pool_watermark_$w" "$R/pool/watermark_$w" EINVAL
	done
	# Numbers that parse but break min <= low <= high.
	refuse hostile_pool_watermark_order "$R/pool/watermark_low" EINVAL '2147483648\n' '4294967296\n' '18446744073709551615\n'
	accept hostile_pool_watermark_high_max "$R/pool/watermark_high" 18446744073709551615
	for f in shrink validate; do
		each_garbage "hostile_pool_$f" "$R/pool/$f" EINVAL '0\n' '2\n' '4294967297\n'
	done
	for f in alloc_fastpath grow alloc_fail; do
		refuse "hostile_pool_$f" "$R/pool/$f" EINVAL 'x\n' '1\n' '-1\n' '\377\n' "$LONG"
	done
	# Every cache file, on a kmalloc class and on a cache of ours.
	echo 'create hostile-a 200' >$CTL
	cache_files kmalloc-64
	cache_files hostile-a
	# The control file: every bad line is refused and makes no cache.
	refuse hostile_control_syntax $CTL EINVAL 'x\n' 'create\n' 'create hostile-b\n' \
		'create . 8\n' 'create .. 8\n' 'create hostile/b 8\n' 'create hostile-b 8 0 shiny\n' \
		'create hostile-b 0\n' 'create hostile-b -1\n' 'create hostile-b 8 3\n' '\377\n' \
		'create hostile-\000b 8\n' "create $LONG 8\n" "$LONG"
	refuse hostile_control_overflow $CTL EINVAL 'create hostile-b 2147483648\n' \
		'create hostile-b 4294967296\n' 'create hostile-b 18446744073709551616\n' \
		'create hostile-b 8 2147483648\n' 'create hostile-b 8 4294967296\n' \
		'workload pool 2147483648\n' 'workload pool 4294967296\n' 'workload pool 10 4294967296\n' \
		'workload cache hostile-a 10 2147483648\n' 'workload cache hostile-a 18446744073709551616\n'
	refuse hostile_control_exists $CTL EEXIST 'create kmalloc-64 8\n' 'create hostile-a 8\n'
	refuse hostile_control_kmalloc $CTL EPERM 'destroy kmalloc-64\n'
	refuse hostile_control_unknown $CTL ENOENT 'destroy hostile-none\n' 'workload cache hostile-none 10\n'
	check hostile_control_made_nothing test "$(ls $R/caches | wc -l)" = $((ncaches + 1))

	# An open file of a cache that goes: reads fail, nothing breaks.
	echo 'create hostile-fd 64' >$CTL
	exec 5<$R/caches/hostile-fd/objects
	echo 'destroy hostile-fd' >$CTL
	check hostile_fd_across_destroy sh -c "! cat <&5 >/dev/null 2>&1"
	exec 5<&-

	# Destroy during a workload: refused while objects are out, and the
	# cache stays whole; after the workload, destroy works.
	echo 'create hostile-w 128' >$CTL
	echo "workload cache hostile-w $((3000000 / DIV)) 256" >$CTL &
	wl=$!
	check hostile_workload_running running hostile-w $wl
	d=$(wr $CTL 'destroy hostile-w\n')
	check hostile_destroy_during_workload_refused test "$d" = EBUSY
	check hostile_busy_destroy_keeps_the_cache test -r $R/caches/hostile-w/objects
	# Validate while the workload runs: never a false finding (EIO).
	vbad= vn=0
	while kill -0 $wl 2>/dev/null && [ $vn -lt 20 ]; do
		v=$(wr $R/caches/hostile-w/validate '1\n')
		vn=$((vn + 1))
		case "$v" in OK | EAGAIN) ;; *) vbad="$vbad $v" ;; esac
	done
	echo "RSLAB-HOSTILE cache validate under load: $vn runs,$vbad"
	check hostile_cache_validate_under_load test -z "$vbad" -a $vn -gt 0
	wait $wl
	check hostile_destroy_after_workload sh -c "echo 'destroy hostile-w' >$CTL"
	check hostile_cache_gone test ! -e $R/caches/hostile-w

	# drop_caches and pool validate during a pool workload: no GFP_KERNEL
	# allocation fails, and validate is exact (never EIO).
	echo 'workload pool 3000000 4' >$CTL &
	wl=$!
	pbad= pn=0
	sleep 0.2
	while kill -0 $wl 2>/dev/null && [ $pn -lt 40 ]; do
		echo 2 >/proc/sys/vm/drop_caches
		v=$(wr $R/pool/validate '1\n')
		pn=$((pn + 1))
		[ "$v" = OK ] || pbad="$pbad $v"
	done
	wait $wl
	echo "RSLAB-HOSTILE pool validate and drop_caches under load: $pn runs,$pbad"
	check hostile_pool_validate_under_load test -z "$pbad" -a $pn -gt 0
	check hostile_drop_caches_no_failed_allocations sh -c \
		"dmesg | grep 'workload pool:' | tail -n1 | grep -q ' 0 failed allocations'"

	# CPU 1 offline and back during a cache workload.
	echo 'create hostile-h 700' >$CTL
	echo "workload cache hostile-h $((6000000 / DIV)) 128" >$CTL &
	wl=$!
	running hostile-h $wl
	hp=ok
	for op in 0 1; do
		n=0
		until echo $op >/sys/devices/system/cpu/cpu1/online 2>/dev/null; do
			n=$((n + 1))
			[ $n -lt 40 ] || { hp=fail; break; }
			sleep 0.1
		done
	done
	check hostile_hotplug_during_workload kill -0 $wl
	wait $wl
	check hostile_cpu_offline_online_during_workload test $hp = ok
	check hostile_two_cpus_again test "$(cat /sys/devices/system/cpu/online)" = 0-1
	check hostile_cache_validate_after_hotplug sh -c "echo 1 >$R/caches/hostile-h/validate"

	# Counter identities after known workloads, quiescent.
	for f in alloc_fastpath alloc_slowpath free_fastpath free_slowpath; do
		echo 0 >$R/caches/hostile-h/$f
	done
	echo 'workload cache hostile-h 50000 64' >$CTL
	d=$R/caches/hostile-h
	a=$(($(stat_total $d/alloc_fastpath) + $(stat_total $d/alloc_slowpath)))
	f=$(($(stat_total $d/free_fastpath) + $(stat_total $d/free_slowpath)))
	echo "RSLAB-HOSTILE allocations $a frees $f"
	check hostile_allocations_equal_frees test "$a" = "$f" -a "$a" -gt 0
	# (`objects` counts a CPU slab's free objects as in use, as SLUB's
	# does: flush the CPU slabs first.)
	echo 1 >$d/shrink
	check hostile_no_objects_left test "$(cat $d/objects)" = 0
	bad=
	for f in $d/alloc_fastpath $d/free_slowpath $R/pool/alloc_fastpath $R/pool/drain; do
		[ "$(stat_total $f)" = "$(stat_sum $f)" ] || bad="$bad $f"
	done
	check hostile_total_is_the_sum_of_cpus test -z "$bad"
	echo 'destroy hostile-h' >$CTL
	echo 'destroy hostile-a' >$CTL
	# Pages taken - pages free = pages on per-CPU lists + pages of slabs.
	held=0
	for c in $R/caches/*; do
		held=$((held + ($(cut -d' ' -f1 $c/slabs) << $(cat $c/order))))
	done
	pcp=0
	for n in $(sed 's/.* count \([0-9]*\) .*/\1/' $R/pool/pcp); do pcp=$((pcp + n)); done
	total=$(cat $R/pool/pages_total) free=$(cat $R/pool/pages_free)
	echo "RSLAB-HOSTILE pages total $total free $free pcp $pcp slabs $held"
	check hostile_pages_add_up test $((total - free)) = $((pcp + held))
	check hostile_pool_validate_at_rest sh -c "echo 1 >$R/pool/validate"
}

# The debug tier's stress: on both CPUs at once, 2M operations on each of
# three caches (64, 700 and 3000 bytes), 2M kmalloc operations of random
# sizes and 2M pool operations of random orders, all with cross-CPU frees,
# while caches and the pool are shrunk and drop_caches runs; then every
# structure is validated.
hostile_stress() {
	sizes="64 700 3000"
	for z in $sizes; do echo "create hostile-s$z $z" >$CTL; done
	pids=
	for z in $sizes; do
		echo "workload cache hostile-s$z $((1000000 / DIV)) 256" >$CTL &
		pids="$pids $!"
	done
	echo "workload kmalloc $((1000000 / DIV)) 256" >$CTL &
	pids="$pids $!"
	echo 'workload pool 1000000 6' >$CTL &
	pids="$pids $!"
	rounds=0
	while :; do
		alive=
		for p in $pids; do kill -0 $p 2>/dev/null && alive=1; done
		[ -n "$alive" ] || break
		for z in $sizes; do echo 1 >$R/caches/hostile-s$z/shrink; done
		echo 1 >$R/pool/shrink
		echo 2 >/proc/sys/vm/drop_caches
		rounds=$((rounds + 1))
		sleep 1
	done
	ok=1
	for p in $pids; do wait $p || ok=; done
	echo "RSLAB-HOSTILE stress: $rounds rounds of shrink and drop_caches"
	dmesg | grep -E 'workload (cache hostile-s|kmalloc|pool)' | tail -n 5 | sed 's/^\[[^]]*\] /RSLAB-HOSTILE /'
	check hostile_stress_workloads_clean test -n "$ok"
	check hostile_stress_no_failures_no_corruption sh -c \
		"dmesg | grep -E 'workload (cache hostile-s|kmalloc|pool)' | tail -n 5 | grep -v ' 0 failed allocations, 0 corrupted' | grep -q . && exit 1; exit 0"
	check hostile_stress_shrunk_meanwhile test $rounds -gt 0
	for z in $sizes; do
		check "hostile_stress_validate_s$z" sh -c "echo 1 >$R/caches/hostile-s$z/validate"
		echo "destroy hostile-s$z" >$CTL
	done
	check hostile_stress_pool_validate sh -c "echo 1 >$R/pool/validate"
}

hostile_unload() {
	# While a command runs (and holds the control file open), the module is
	# in use: rmmod is refused and changes nothing; after, it goes whole.
	echo 'create hostile-u 96' >$CTL
	echo "workload cache hostile-u $((2000000 / DIV)) 256" >$CTL &
	wl=$!
	running hostile-u $wl
	check hostile_rmmod_refused_during_workload sh -c "! rmmod rslab 2>/dev/null"
	wait $wl
	check hostile_still_loaded test -d $R/caches/hostile-u
	# An open control file pins the module too; closing it lets it go.
	exec 6>$CTL
	check hostile_rmmod_refused_while_open sh -c "! rmmod rslab 2>/dev/null"
	exec 6>&-
	check hostile_rmmod_after_close rmmod rslab
	check hostile_unload_returned_every_page sh -c \
		'dmesg | tail -n 5 | grep -q "rslab: unloaded, 0 pages still taken from the kernel"'
}
