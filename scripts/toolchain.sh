#!/usr/bin/env bash
# Build (once) the Debian trixie toolchain root that every build and boot
# runs in, and download the .debs the later steps need into the cache.
#
# The root is keyed by scripts/root-packages.txt and this script: change
# either and a new root is made next to the old one. Nothing is installed on
# the host except mmdebstrap (from the host's own Debian suite).
#
# Usage: scripts/toolchain.sh [--print]   (--print: only print the root's path)
. "$(dirname "$0")/lib.sh"

ROOT=$(rslab_root_dir)
if [ "${1:-}" = --print ]; then echo "$ROOT"; exit 0; fi
if rslab_direct; then
	log "RSLAB_NO_ROOT/RSLAB_IN_ROOT set: not making a toolchain root"
	exit 0
fi
[ -e "$ROOT/.complete" ] && exit 0
[ "$(id -u)" = 0 ] || die "making the toolchain root needs root (mmdebstrap, chroot)"

# One builder at a time; whoever waited finds the root made.
mkdir -p "$RSLAB_CACHE"
exec 9>"$RSLAB_CACHE/.toolchain.lock"
flock 9
[ -e "$ROOT/.complete" ] && exit 0

if ! command -v mmdebstrap >/dev/null; then
	log "installing mmdebstrap on the host (from the host's own suite)"
	retry apt-get update -qq
	retry apt-get install -y -qq mmdebstrap >/dev/null
fi

# The Debian mirror: the host's own, so no host name is hard-coded here.
mirror=$(
	{ grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
	  grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
	} | grep -E '/debian/?$' | head -n1
) || true
mirror=${mirror%/}
[ -n "$mirror" ] || die "no Debian mirror in the host's apt sources; set one up first"

pkgs=$(grep -v '^#' "$RSLAB_TOP/scripts/root-packages.txt" | grep -v '^$' | paste -sd, -)
mkdir -p "$RSLAB_CACHE"
tmp="$ROOT.tmp"
rm -rf "$tmp"
log "making the trixie toolchain root in $ROOT (about 1-2 minutes)"
# The root itself is amd64 only: no riscv64 index is needed for the toolchain.
mk() {
	rm -rf "$tmp"
	mmdebstrap --variant=apt --architectures=amd64 --include="$pkgs" \
		--aptopt='Acquire::Retries "5"' \
		trixie "$tmp" \
		"deb [arch=amd64] $mirror trixie main" \
		"deb [arch=amd64] $mirror trixie-backports main"
}
retry mk

# mmdebstrap drops the package lists; fetch them again and download the
# kernel source.
mkdir -p "$tmp/debs"
chmod 1777 "$tmp/debs"
cp -L /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
retry chroot "$tmp" apt-get update -qq
retry chroot "$tmp" sh -c "cd /debs && apt-get download -qq $RSLAB_KSRC_PKG"

# The riscv64 initramfs needs busybox-static:riscv64 (it conflicts with the
# amd64 package, so it is unpacked into the initramfs, not installed). It is a
# static binary with no dependencies, so any suite's build will do: take the
# first riscv64 index that downloads consistently (trixie's riscv64 indexes
# have been seen stale on mirrors, "File has unexpected size"; a mirror
# snapshot's testing/unstable Release files can be past Valid-Until: they are
# still signature-checked).
chroot "$tmp" dpkg --add-architecture riscv64
got=
for suite in trixie forky sid; do
	echo "deb [arch=riscv64] $mirror $suite main" >"$tmp/etc/apt/sources.list.d/rslab-riscv64.list"
	if chroot "$tmp" apt-get update -qq --error-on=any -o Acquire::Check-Valid-Until=false &&
		chroot "$tmp" sh -c 'cd /debs && apt-get download -qq busybox-static:riscv64'; then
		got=$suite
		break
	fi
	log "riscv64 index of $suite unusable; trying the next suite"
done
rm -f "$tmp/etc/apt/sources.list.d/rslab-riscv64.list"
chroot "$tmp" apt-get update -qq || true
[ -n "$got" ] || die "could not download busybox-static:riscv64 from any suite"
log "busybox-static:riscv64 from $got"
mkdir -p "$tmp/var/cache/rslab"
chroot "$tmp" sh -c 'rustc --version; bindgen --version; clang --version | head -n1' | sed 's/^/[rslab] root: /' >&2
touch "$tmp/.complete"
mv "$tmp" "$ROOT"
# Superseded roots only take disk space.
for old in "$RSLAB_CACHE"/root-*; do
	[ "$old" = "$ROOT" ] || rm -rf "$old"
done
log "toolchain root ready: $ROOT"
