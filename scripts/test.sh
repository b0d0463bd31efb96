#!/usr/bin/env bash
# Run every rslab test and end with "N passed, N failed":
#   1. host: cargo test of the pure logic under rust/ (built by the root's
#      rustc, the kernel's version);
#   2. per tier (RSLAB_ARCHES, default the four below): build the tier's
#      kernel (cached) and rslab.ko with CLIPPY=1 (a warning fails the build
#      check), boot it, load rslab so its KUnit suites run, and count the
#      results as parsed by the kernel's tools/testing/kunit/kunit.py, plus
#      the guest's checks (scripts/guest/rslab-test.sh); and check the
#      disassembly of the fast paths (scripts/fastpath-calls.py: no call but
#      to their slow paths).
# Console logs: out/<arch>/test.log. Exit status 0 only if nothing failed.
. "$(dirname "$0")/lib.sh"

# The tiers, each a kernel and a boot (two NUMA nodes, one CPU each, but
# riscv64-nokunit):
#   riscv64       the kernel's defaults;
#   riscv64-init  the same kernel and module booted with init_on_alloc=1;
#   riscv64-nokunit  riscv64 without KUnit and without NUMA
#                 (configs/riscv64-nokunit.config): rslab.ko builds, loads,
#                 runs the demo and unloads there, on one node;
#   x86_64        booted with init_on_free=1;
#   x86_64-debug  the debug tier, x86_64 with KASAN, lockdep, kmemleak,
#                 DEBUG_LIST, DEBUG_OBJECTS and fault injection
#                 (configs/x86_64-debug.config), booted with init_on_alloc=1.
# (The kernel's lib/test_meminit.c needs init_on_alloc or init_on_free.)
arches=${RSLAB_ARCHES:-riscv64 riscv64-init riscv64-nokunit x86_64 x86_64-debug}
# A tier's kernel (and module build), and what its boot adds.
tier_kernel() { echo "${1%-init}"; }
tier_append() {
	case "$1" in
	riscv64-init | x86_64-debug) echo init_on_alloc=1 ;;
	x86_64) echo init_on_free=1 ;;
	esac
}
passed=0 failed=0 skipped=0
start=$SECONDS

count() { # label, "P F S"
	read -r p f s <<<"$2"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	log "$1: $p passed, $f failed, $s skipped"
}

# The tier without KUnit: no test module is built, and rslab.ko loads, runs
# the demo (scripts/guest/rslab-demo.sh) and unloads, giving back every page,
# with nothing in the kernel log.
nokunit_tier() {
	local out=$1 ko=$2 kb p=0 f=0 name
	kb=$(in_root "$RSLAB_TOP/scripts/kernel.sh" --print riscv64-nokunit)
	log "riscv64-nokunit: booting the kernel without KUnit for the demo (console log: $out/test.log)"
	RSLAB_TIMEOUT=${RSLAB_TIMEOUT:-600} in_root "$RSLAB_TOP/scripts/vm.sh" riscv64-nokunit \
		"$out/test.log" "$ko" "$RSLAB_TOP/scripts/guest/rslab-demo.sh" || log "riscv64-nokunit: the VM exited with status $?"
	tr -d '\r' <"$out/test.log" >"$out/test.txt"
	for name in kernel_has_no_kunit no_test_module_built loaded demo_done unloaded_every_page kernel_log_clean; do
		case $name in
		kernel_has_no_kunit) grep -qx '# CONFIG_KUNIT is not set' "$kb/.config" ;;
		no_test_module_built) ! ls "$(dirname "$ko")"/*kunit*.ko >/dev/null 2>&1 ;;
		loaded) grep -q 'rslab: rslab .* loaded' "$out/test.txt" ;;
		demo_done) grep -q '^RSLAB-GUEST done' "$out/test.txt" ;;
		unloaded_every_page) grep -q 'rslab: unloaded, 0 pages still taken from the kernel' "$out/test.txt" ;;
		kernel_log_clean) ! grep -qE 'BUG:|WARNING:|Oops|Call Trace' "$out/test.txt" ;;
		esac && { p=$((p + 1)); continue; }
		f=$((f + 1))
		echo "riscv64-nokunit: FAIL check $name" >&2
	done
	count "riscv64-nokunit (no KUnit: build, load, demo, unload)" "$p $f 0"
}

# Make sure the toolchain root exists before anything runs in it.
in_root true

# 1. Host crate.
mkdir -p "$RSLAB_OUT"
if in_root cargo test --manifest-path "$RSLAB_TOP/rust/Cargo.toml" >"$RSLAB_OUT/cargo-test.log" 2>&1; then :; fi
cat "$RSLAB_OUT/cargo-test.log" >&2
res=$(awk '/^test result:/ { gsub(";", ""); p += $4; f += $6; s += $8 } END { print p+0, f+0, s+0 }' \
	"$RSLAB_OUT/cargo-test.log")
if ! grep -q '^test result:' "$RSLAB_OUT/cargo-test.log"; then res="0 1 0"; fi
count "host (cargo test)" "$res"

# rustfmt, with the kernel's .rustfmt.toml.
if in_root "$RSLAB_TOP/scripts/check.sh" --fmt-only >"$RSLAB_OUT/rustfmt.log" 2>&1; then
	count "rustfmt" "1 0 0"
else
	cat "$RSLAB_OUT/rustfmt.log" >&2
	count "rustfmt" "0 1 0"
fi

# The layering: each layer of src/ uses only those below it
# (scripts/layering.py), and the page pool (its kernel side and its pure
# logic) knows nothing of its user, the slab layer: no file of it names the
# layer, its types or its concept ("slab"; the kernel's SLUB may be cited).
if in_root python3 "$RSLAB_TOP/scripts/layering.py" "$RSLAB_TOP" >"$RSLAB_OUT/layering.log" 2>&1 &&
	! (cd "$RSLAB_TOP" && grep -rniwE -e 'slabs?' -e 'slab::[a-z_:]*' -e 'slab(page|pool|stat)' src/page_pool.rs src/page_pool rust/rslab-core/src/page_pool.rs rust/rslab-core/src/page_pool) >>"$RSLAB_OUT/layering.log"; then
	count "layering (each layer uses only those below it; the page pool does not name the slab layer)" "1 0 0"
else
	cat "$RSLAB_OUT/layering.log" >&2
	count "layering (a layer uses one above it, or the page pool names the slab layer)" "0 1 0"
fi

# The suites the module must run, straight from the sources.
suites=$( (grep -rho 'kunit_tests([a-z0-9_]*)' "$RSLAB_TOP"/kunit | sed 's/kunit_tests(\(.*\))/\1/'
	grep -ho '\.name = "[a-z0-9_]*"' "$RSLAB_TOP"/samples/*kunit*.c | sed 's/.*"\(.*\)"/\1/') | sort -u)
ksrc=$(in_root "$RSLAB_TOP/scripts/kernel.sh" --source)

# 2. Each arch.
for arch in $arches; do
	karch=$(tier_kernel "$arch")
	out="$RSLAB_OUT/$arch"
	mkdir -p "$out"
	if ! in_root "$RSLAB_TOP/scripts/kernel.sh" "$karch" >/dev/null; then
		count "$arch" "0 1 0"
		continue
	fi
	if [ "$karch" != "$arch" ]; then
		# Another boot of a tier built already.
		ko="$RSLAB_OUT/$karch/module/rslab.ko"
	else
		# Rebuild the Rust object, so that every warning is printed again.
		rm -f "$out/module/src/rslab.o"
		if ! ko=$(in_root "$RSLAB_TOP/scripts/module.sh" "$arch" CLIPPY=1 2>"$out/module-build.log"); then
			cat "$out/module-build.log" >&2
			count "$arch (module build)" "0 1 0"
			continue
		fi
		if grep -E '^(warning|error)' "$out/module-build.log" >&2; then
			count "$arch (module build: clippy/rustc warnings)" "0 1 0"
		else
			count "$arch (module build, clippy clean)" "1 0 0"
		fi
	fi
	if [ "$arch" = riscv64-nokunit ]; then
		nokunit_tier "$out" "$ko"
		continue
	fi
	# The fast paths make no call but to their slow paths (disassembly;
	# not on the debug tier, whose KASAN instrumentation calls by design).
	if [ "$arch" = riscv64 ] || [ "$arch" = x86_64 ]; then
		in_root python3 "$RSLAB_TOP/scripts/fastpath-calls.py" "$arch" "$ko" \
			>"$out/fastpath-calls.txt" 2>&1 || true
		cat "$out/fastpath-calls.txt" >&2
		res=$(tail -n1 "$out/fastpath-calls.txt" | sed -n 's/^fast paths: \([0-9]*\) passed, \([0-9]*\) failed/\1 \2 0/p')
		count "$arch (fast paths make no calls, from the disassembly)" "${res:-0 1 0}"
	fi
	# A log buffer that holds the whole run, for the guest's last check
	# (kernel_log_clean): the default 128 KiB lost the debug tier's start.
	a=$(tier_append "$arch")
	append="log_buf_len=16M${a:+ $a}"
	log "$arch: booting the test kernel${append:+ with $append} (console log: $out/test.log)"
	vm_start=$SECONDS
	tier=
	[ "$arch" = x86_64-debug ] && tier=--debug
	# shellcheck disable=SC2086
	RSLAB_APPEND="${RSLAB_APPEND:+$RSLAB_APPEND }$append" RSLAB_TIMEOUT=${RSLAB_TIMEOUT:-1800} \
		in_root "$RSLAB_TOP/scripts/vm.sh" "$karch" "$out/test.log" "$ko" \
		"$RSLAB_TOP/scripts/guest/rslab-test.sh" $tier $suites || log "$arch: the VM exited with status $?"
	log "$arch: VM run took $((SECONDS - vm_start)) s"
	# shellcheck disable=SC2086
	in_root python3 "$RSLAB_TOP/scripts/kunit-results.py" --kunit-py "$ksrc/tools/testing/kunit/kunit.py" \
		--label "$arch" "$out/test.log" $suites >"$out/results.txt" || true
	cat "$out/results.txt" >&2
	res=$(tail -n1 "$out/results.txt" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped/\1 \2 \3/p')
	[ -n "$res" ] || res="0 1 0"
	if [ "$(echo "$res" | cut -d' ' -f2)" != 0 ]; then
		log "$arch: failures; last lines of $out/test.log:"
		tail -n 60 "$out/test.log" >&2
	fi
	count "$arch (KUnit + guest checks)" "$res"
done

log "all tests took $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
