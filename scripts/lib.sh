# Common settings for rslab's scripts. Sourced, never run.
# shellcheck shell=bash

set -euo pipefail
# Also inside $(...): a failing step of a function whose output is captured
# must fail the caller, not let it go on with half a result.
shopt -s inherit_errexit

RSLAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything expensive (toolchain root, kernel source and build trees, .debs)
# lives here, outside the repository, keyed by content.
RSLAB_CACHE=${RSLAB_CACHE:-/var/cache/rslab}
# Per-run output (console logs, initramfs images): inside the repo, ignored.
RSLAB_OUT=${RSLAB_OUT:-$RSLAB_TOP/out}
# The Debian source package providing the kernel tree.
RSLAB_KSRC_PKG=${RSLAB_KSRC_PKG:-linux-source-7.3}

log() { printf '[rslab] %s\n' "$*" >&2; }
die() { printf '[rslab] error: %s\n' "$*" >&2; exit 1; }

# True when commands run directly on the host instead of in the trixie root:
# either we are already inside the root, or the user asked for it on a host
# that has the toolchain itself (RSLAB_NO_ROOT=1, e.g. a Debian trixie host).
rslab_direct() { [ -n "${RSLAB_IN_ROOT:-}" ] || [ -n "${RSLAB_NO_ROOT:-}" ]; }

# The toolchain root's directory, keyed by the package list and how it is made.
rslab_root_dir() {
	local key
	key=$(cat "$RSLAB_TOP/scripts/root-packages.txt" "$RSLAB_TOP/scripts/toolchain.sh" | sha256sum | cut -c1-16)
	echo "$RSLAB_CACHE/root-$key"
}

# Run a command in the toolchain environment (the trixie root, or directly).
in_root() {
	if rslab_direct; then
		"$@"
	else
		"$RSLAB_TOP/scripts/in-root.sh" "$@"
	fi
}

# Retry a command a few times with a pause (Debian mirrors can be mid-sync).
retry() {
	local n=1 max=${RETRIES:-4}
	until "$@"; do
		[ "$n" -ge "$max" ] && return 1
		log "attempt $n of '$1' failed; retrying in $((n * 15)) s"
		sleep $((n * 15))
		n=$((n + 1))
	done
}
