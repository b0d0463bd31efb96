#!/usr/bin/env bash
# Boot a test kernel for ARCH, run a guest script with rslab.ko, power off.
# The whole console goes to LOG; the boot has a timeout (RSLAB_TIMEOUT, s).
#
#   riscv64: qemu-system-riscv64 -M virt -smp 2 (TCG) with OpenSBI and an
#            initramfs of busybox-static:riscv64 + rslab.ko + the script.
#   x86_64:  virtme-ng (vng) with 2 CPUs; KVM only if a short probe boots a
#            kernel with it (RSLAB_KVM=auto, the default; 0 = never, 1 = always),
#            TCG otherwise.
#
# RSLAB_CPUS sets the number of CPUs (default 2).
# RSLAB_NODES sets the number of NUMA nodes (default 2, the kernels having
# CONFIG_NUMA; 1 on riscv64-nokunit, whose kernel has not, and with one
# CPU):
# the CPUs and the memory are split evenly, node i holding CPUs
# i*CPUS/NODES.. (so with the defaults each node has one CPU and 1 GiB).
# RSLAB_ICOUNT=1 adds QEMU's `-icount shift=0,sleep=off` (TCG only): the
# guest clock advances 1 ns per guest instruction, so times measured in the
# guest are instruction counts (single-threaded TCG: not for scaling).
# RSLAB_PLUGIN (with RSLAB_ICOUNT) loads a TCG plugin: QEMU's `-plugin`
# argument (scripts/profile.sh).
#
# Usage: scripts/vm.sh ARCH LOG KO GUEST_SCRIPT [ARGS...]
. "$(dirname "$0")/lib.sh"

if ! rslab_direct; then exec "$RSLAB_TOP/scripts/in-root.sh" "$0" "$@"; fi

arch=$1 log=$2 ko=$3 script=$4
shift 4
timeout=${RSLAB_TIMEOUT:-900}
mem=${RSLAB_MEM:-2G}
cpus=${RSLAB_CPUS:-2}
kb=${KDIR:-$("$RSLAB_TOP/scripts/kernel.sh" "$arch")}
nodes=${RSLAB_NODES:-2}
# One node on the !NUMA kernel and with one CPU (the benchmark's icount run).
{ [ "$arch" = riscv64-nokunit ] || [ "$cpus" = 1 ]; } && nodes=${RSLAB_NODES:-1}
case "$mem" in
*G) mem_mib=$((${mem%G} * 1024)) ;;
*M) mem_mib=${mem%M} ;;
*) die "RSLAB_MEM: a size in M or G, not '$mem'" ;;
esac
[ $((cpus % nodes)) = 0 ] && [ $((mem_mib % nodes)) = 0 ] ||
	die "$cpus CPUs and $mem_mib MiB do not split over $nodes nodes"
# Per node: its first and last CPU and its memory, for QEMU or vng.
qemu_numa=() vng_numa=()
if [ "$nodes" -gt 1 ]; then
	for ((n = 0; n < nodes; n++)); do
		first=$((n * cpus / nodes)) last=$(((n + 1) * cpus / nodes - 1))
		qemu_numa+=(-object "memory-backend-ram,id=mem$n,size=$((mem_mib / nodes))M"
			-numa "node,nodeid=$n,cpus=$first-$last,memdev=mem$n")
		vng_numa+=(--numa "$((mem_mib / nodes))M,cpus=$first-$last")
	done
fi
mkdir -p "$(dirname "$log")"
: >"$log"

quote() { printf '%q ' "$@"; }

# Prints "kvm" if this machine's KVM boots our x86_64 kernel, else "tcg".
# Result cached per kernel build for this run's output dir.
kvm_probe() {
	local cache="$RSLAB_OUT/kvm-probe-$(basename "$kb")"
	case "${RSLAB_KVM:-auto}" in 0) echo tcg; return ;; 1) echo kvm; return ;; esac
	[ -f "$cache" ] && { cat "$cache"; return; }
	local r=tcg
	if [ -w /dev/kvm ]; then
		if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256M -nographic -no-reboot \
			-kernel "$kb/arch/x86/boot/bzImage" -append "console=ttyS0 panic=-1" 2>&1 |
			grep -q -m1 'Linux version'; then
			r=kvm
		fi
	fi
	echo "$r" >"$cache"
	echo "$r"
}

rc=0
case "$arch" in
riscv64 | riscv64-nokunit)
	ird="$RSLAB_OUT/$arch/initramfs"
	rm -rf "$ird"
	mkdir -p "$ird"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
	bbdeb=$(ls /debs/busybox-static_*_riscv64.deb | head -n1)
	dpkg-deb -x "$bbdeb" "$ird/.bb"
	cp "$(find "$ird/.bb" -path "*bin/busybox" -type f | head -n1)" "$ird/bin/busybox"
	rm -rf "$ird/.bb"
	cp "$ko" "$ird/rslab.ko"
	# The modules built beside it: rslab's KUnit suites and the C users of
	# its exported API (the sample, the KUnit ports, the benchmark, the
	# kmemleak check's leaker).
	for m in rslab_kunit rslab_sample rslab_slub_kunit rslab_contract_kunit rslab_bench rslab_leak; do
		if [ -f "$(dirname "$ko")/$m.ko" ]; then
			cp "$(dirname "$ko")/$m.ko" "$ird/$m.ko"
		fi
	done
	# The kernel's test modules, both builds (scripts/module.sh).
	if [ -d "$(dirname "$ko")/kernel-tests" ]; then
		mkdir -p "$ird/kernel-tests"
		cp "$(dirname "$ko")"/kernel-tests/*.ko "$ird/kernel-tests/"
	fi
	# The recorded allocation traces, for the benchmark's replay (x86_64's
	# guest reads them in the repository).
	if [ -d "$RSLAB_TOP/traces" ]; then
		mkdir -p "$ird/traces"
		cp "$RSLAB_TOP"/traces/*.replay "$ird/traces/"
	fi
	# The script's folder comes along: guest scripts source their siblings.
	cp -r "$(dirname "$script")" "$ird/guest"
	cat >"$ird/init" <<-INIT
	#!/bin/busybox sh
	/bin/busybox --install -s
	export PATH=/bin:/sbin:/usr/bin:/usr/sbin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t tmpfs tmpfs /tmp
	sh /guest/$(basename "$script") /rslab.ko $(quote "$@")
	echo "RSLAB-GUEST exit \$?"
	poweroff -f
	INIT
	chmod +x "$ird/init"
	(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$RSLAB_OUT/$arch/initramfs.cpio.gz"
	icount=()
	[ -n "${RSLAB_ICOUNT:-}" ] && icount=(-icount shift=0,sleep=off)
	[ -n "${RSLAB_ICOUNT:-}" ] && [ -n "${RSLAB_PLUGIN:-}" ] && icount+=(-plugin "$RSLAB_PLUGIN")
	echo "[rslab] vm: $arch TCG${RSLAB_ICOUNT:+ icount}, $cpus CPUs, $mem, $nodes nodes" >>"$log"
	timeout "$timeout" qemu-system-riscv64 -M virt -cpu rv64 -smp "$cpus" -m "$mem" "${icount[@]}" "${qemu_numa[@]}" \
		-bios /usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin \
		-kernel "$kb/arch/riscv/boot/Image" -initrd "$RSLAB_OUT/$arch/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 oops=panic${RSLAB_QUIET:+ loglevel=1}${RSLAB_APPEND:+ $RSLAB_APPEND}" \
		-no-reboot -nographic -monitor none </dev/null >>"$log" 2>&1 || rc=$?
	;;
x86_64 | x86_64-debug)
	accel=$(kvm_probe)
	opts=(--disable-kvm)
	[ "$accel" = kvm ] && opts=()
	if [ -n "${RSLAB_ICOUNT:-}" ]; then
		accel=tcg opts=(--disable-kvm --qemu-opts="-icount shift=0,sleep=off${RSLAB_PLUGIN:+ -plugin $RSLAB_PLUGIN}")
	fi
	echo "[rslab] vm: $arch $(echo "$accel" | tr a-z A-Z)${RSLAB_ICOUNT:+ icount}, $cpus CPUs, $mem, $nodes nodes" >>"$log"
	opts+=("${vng_numa[@]}")
	[ -n "${RSLAB_QUIET:-}" ] || opts+=(--verbose)
	# A socket per node: CPUs that share a last-level cache on different
	# nodes make the kernel warn ("llc-sibling ... not on the same node").
	smp=$cpus
	[ "$nodes" -gt 1 ] && smp="$cpus,sockets=$nodes"
	timeout "$timeout" vng --run "$kb" "${opts[@]}" --cpus "$smp" --memory "$mem" \
		--append "oops=panic panic=-1${RSLAB_APPEND:+ $RSLAB_APPEND}" \
		--exec "sh $(quote "$script" "$ko" "$@")" </dev/null 2>&1 | cat >>"$log" || rc=$?
	# (Through a pipe: QEMU reopens a file on stdout with truncation.)
	;;
*) die "unknown ARCH '$arch'" ;;
esac
[ $rc = 124 ] && echo "[rslab] vm: TIMEOUT after ${timeout}s" >>"$log"
exit $rc
