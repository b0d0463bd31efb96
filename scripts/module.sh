#!/usr/bin/env bash
# Build rslab.ko for ARCH against KDIR (default: the cached test kernel for
# ARCH, built first if needed). The objects go to out/<arch>/module/ (kbuild's
# MO=), so builds for both arches can coexist. Prints the path of rslab.ko.
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
*) die "unknown ARCH '$arch' (x86_64, x86_64-debug or riscv64)" ;;
esac
kdir=${KDIR:-$("$RSLAB_TOP/scripts/kernel.sh" "$arch")}
out="$RSLAB_OUT/$arch/module"
mkdir -p "$out"
make -s -C "$kdir" M="$RSLAB_TOP" MO="$out" ARCH="$ka" LLVM=1 "$@" modules >&2
echo "$out/rslab.ko"
