#!/usr/bin/env bash
# Run a command inside the trixie toolchain root (made on first use).
#
# The command runs in a private mount namespace: /proc, /sys and /dev are
# bind-mounted (rslave, so nothing propagates back to the host), as are the
# repository and the cache directory, at the same paths as on the host. The
# mounts vanish with the command. The working directory is kept.
#
# Usage: scripts/in-root.sh CMD [ARGS...]
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 CMD [ARGS...]"
if rslab_direct; then exec "$@"; fi

ROOT=$(rslab_root_dir)
[ -e "$ROOT/.complete" ] || "$RSLAB_TOP/scripts/toolchain.sh"
[ "$(id -u)" = 0 ] || die "entering the toolchain root needs root (or set RSLAB_NO_ROOT=1 on a trixie host)"

mkdir -p "$RSLAB_OUT"
export ROOT RSLAB_TOP RSLAB_CACHE RSLAB_OUT
exec unshare --mount --propagation private -- bash -euc '
	for d in proc sys dev; do
		mount --rbind "/$d" "$ROOT/$d"
		mount --make-rslave "$ROOT/$d"
	done
	for d in "$RSLAB_TOP" "$RSLAB_CACHE" "$RSLAB_OUT"; do
		mkdir -p "$ROOT$d"
		mount --bind "$d" "$ROOT$d"
	done
	[ -e /etc/resolv.conf ] && cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
	cwd=$(pwd)
	exec chroot "$ROOT" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 CI="${CI:-}" \
		RSLAB_IN_ROOT=1 RSLAB_CACHE="$RSLAB_CACHE" RSLAB_OUT="$RSLAB_OUT" \
		RSLAB_KVM="${RSLAB_KVM:-}" RSLAB_TIMEOUT="${RSLAB_TIMEOUT:-}" RSLAB_QUIET="${RSLAB_QUIET:-}" \
		RSLAB_MEM="${RSLAB_MEM:-}" RSLAB_CPUS="${RSLAB_CPUS:-}" RSLAB_NODES="${RSLAB_NODES:-}" \
		RSLAB_ICOUNT="${RSLAB_ICOUNT:-}" RSLAB_APPEND="${RSLAB_APPEND:-}" KDIR="${KDIR:-}" \
		RSLAB_PLUGIN="${RSLAB_PLUGIN:-}" \
		bash -c "cd \"\$0\" 2>/dev/null || cd /; exec \"\$@\"" "$cwd" "$@"
' rslab-in-root "$@"
