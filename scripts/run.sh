#!/usr/bin/env bash
# The main job: set everything up (toolchain root, test kernel, rslab.ko),
# boot the ARCH test kernel (default x86_64), load rslab, show its sysfs tree,
# unload. The guest's output is printed; the full console log is kept in
# out/<arch>/run.log.
#
# Usage: scripts/run.sh [x86_64|riscv64]
. "$(dirname "$0")/lib.sh"

arch=${1:-x86_64}
ko=$(in_root "$RSLAB_TOP/scripts/module.sh" "$arch")
log="$RSLAB_OUT/$arch/run.log"
RSLAB_QUIET=1 in_root "$RSLAB_TOP/scripts/vm.sh" "$arch" "$log" "$ko" \
	"$RSLAB_TOP/scripts/guest/rslab-demo.sh" || true
# Show what the guest printed, without the kernel's console chatter.
sed -n '/^\[rslab\] vm:/p; /^== guest/,/^RSLAB-GUEST done/p' "$log" | tr -d '\r' | grep -v '^RSLAB-GUEST'
grep -q '^RSLAB-GUEST done' <(tr -d '\r' <"$log") || die "the guest did not finish: see $log"
