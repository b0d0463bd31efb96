#!/usr/bin/env bash
# Build rslab.ko for ARCH against KDIR (default: the cached test kernel for
# ARCH, built first if needed). The objects go to out/<arch>/module/ (kbuild's
# MO=), so builds for both arches can coexist; on x86_64 the kernel's
# tools/mm/slabinfo too (out/<arch>/module/slabinfo). Prints the path of
# rslab.ko.
#
# Usage: scripts/module.sh [x86_64|riscv64] [extra kbuild args, e.g. CLIPPY=1]
# Env:   KDIR=/path/to/a/rust-enabled/kernel/build   (optional)
. "$(dirname "$0")/lib.sh"

if ! rslab_direct; then exec "$RSLAB_TOP/scripts/in-root.sh" "$0" "$@"; fi

arch=${1:-x86_64}
[ $# -gt 0 ] && shift
case "$arch" in
x86_64 | x86) arch=x86_64 ka=x86_64 ;;
x86_64-debug) ka=x86_64 ;;
riscv64 | riscv) arch=riscv64 ka=riscv ;;
riscv64-nokunit) ka=riscv ;;
*) die "unknown ARCH '$arch' (x86_64, x86_64-debug, riscv64 or riscv64-nokunit)" ;;
esac
kdir=${KDIR:-$("$RSLAB_TOP/scripts/kernel.sh" "$arch")}
out="$RSLAB_OUT/$arch/module"
mkdir -p "$out"
make -s -C "$kdir" M="$RSLAB_TOP" MO="$out" ARCH="$ka" LLVM=1 "$@" modules >&2

# The kernel's own test modules of the allocation contract, each built twice
# from the kernel tree's file: as it is (against the kernel's allocator), and
# with one line added after its includes, `#include <rslab_compat.h>`, which
# maps the kernel's names onto rslab's exports (modules rslab_<name>.ko).
ksrc=$("$RSLAB_TOP/scripts/kernel.sh" --source)
kt="$out/kernel-tests"
rm -rf "$kt"
mkdir -p "$kt"
kobjs=
for t in test_meminit test_free_pages; do
	cp "$ksrc/lib/$t.c" "$kt/$t.c"
	last=$(grep -n '^#include ' "$kt/$t.c" | tail -n1 | cut -d: -f1)
	sed "${last}a #include <rslab_compat.h>" "$kt/$t.c" >"$kt/rslab_$t.c"
	# Nothing but that line differs from the kernel's file.
	[ "$(diff "$kt/$t.c" "$kt/rslab_$t.c" | grep -c '^[<>]')" = 1 ] ||
		die "rslab_$t.c: more than the include line differs from the kernel's $t.c"
	kobjs="$kobjs $t.o rslab_$t.o"
done
printf 'obj-m :=%s\nccflags-y := -I%s/include\n' "$kobjs" "$RSLAB_TOP" >"$kt/Kbuild"
make -s -C "$kdir" M="$kt" ARCH="$ka" LLVM=1 KBUILD_EXTRA_SYMBOLS="$out/Module.symvers" modules >&2
# The kernel's tools/mm/slabinfo, unmodified, for the guests to read rslab's
# caches with (x86_64 only: the root has no riscv64 C library).
if [ "$ka" = x86_64 ]; then
	cc -O2 -static -w -o "$out/slabinfo" "$("$RSLAB_TOP/scripts/kernel.sh" --source)/tools/mm/slabinfo.c" >&2
fi
echo "$out/rslab.ko"
