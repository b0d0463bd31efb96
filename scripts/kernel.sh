#!/usr/bin/env bash
# Build (once) a Linux 7.3 test kernel for ARCH from the fragments in configs/.
#
# The source comes from Debian's linux-source-7.3 .deb (downloaded into the
# toolchain root), extracted once into the cache and never patched. The build
# tree is out of tree (O=) under the cache, keyed by the source version, the
# fragments and the toolchain; it is rebuilt only when one of them changes.
#
# Usage: scripts/kernel.sh ARCH            build if needed; print the build dir
#        scripts/kernel.sh --print ARCH    print the build dir only
#        scripts/kernel.sh --source        extract if needed; print the source dir
# ARCH: x86_64 | riscv64
. "$(dirname "$0")/lib.sh"

if ! rslab_direct; then exec "$RSLAB_TOP/scripts/in-root.sh" "$0" "$@"; fi

# Kernel source: from the .deb in /debs (the root) or, without a root, from
# RSLAB_KSRC (an unpacked tree) or a linux-source-7.3 package installed in
# /usr/src.
source_dir() {
	if [ -n "${RSLAB_KSRC:-}" ]; then echo "$RSLAB_KSRC"; return; fi
	local deb tarball ver dir
	deb=$(ls /debs/"${RSLAB_KSRC_PKG}"_*.deb 2>/dev/null | head -n1 || true)
	if [ -n "$deb" ]; then
		ver=$(dpkg-deb -f "$deb" Version)
	else
		ver=$(dpkg-query -W -f '${Version}' "$RSLAB_KSRC_PKG" 2>/dev/null) ||
			die "no $RSLAB_KSRC_PKG: install it or set RSLAB_KSRC"
	fi
	dir="$RSLAB_CACHE/src/$RSLAB_KSRC_PKG-$ver"
	if [ ! -e "$dir/.complete" ]; then
		exec 7>"$RSLAB_CACHE/.source.lock"
		flock 7
	fi
	if [ ! -e "$dir/.complete" ]; then
		log "extracting $RSLAB_KSRC_PKG $ver into $dir"
		rm -rf "$dir" "$dir.tmp"
		mkdir -p "$dir.tmp"
		if [ -n "$deb" ]; then
			dpkg-deb -x "$deb" "$dir.tmp/deb"
			tarball=$(ls "$dir.tmp"/deb/usr/src/"$RSLAB_KSRC_PKG".tar.* | head -n1)
		else
			tarball=$(ls /usr/src/"$RSLAB_KSRC_PKG".tar.* | head -n1)
		fi
		tar -C "$dir.tmp" -xf "$tarball"
		mv "$dir.tmp/$RSLAB_KSRC_PKG" "$dir.tmp/linux"
		rm -rf "$dir.tmp/deb"
		touch "$dir.tmp/.complete"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir/linux"
}

karch() {
	case "$1" in
	x86_64 | x86_64-debug) echo x86_64 ;;
	riscv64 | riscv64-nokunit) echo riscv ;;
	*) die "unknown ARCH '$1' (x86_64, x86_64-debug, riscv64 or riscv64-nokunit)" ;;
	esac
}

# The fragments of a build: common, the arch's, then numa.config for the
# two-node kernels (all but riscv64-nokunit, the !NUMA build, which is
# riscv64 without KUnit) and a variant's own (<arch>-<variant>.config: the
# debug tier's checkers). A later line sets an option again over an earlier
# one.
fragments() {
	local base=${1%%-*}
	cat "$RSLAB_TOP/configs/common.config" "$RSLAB_TOP/configs/$base.config"
	[ "$1" = riscv64-nokunit ] || cat "$RSLAB_TOP/configs/numa.config"
	[ "$base" = "$1" ] || cat "$RSLAB_TOP/configs/$1.config"
}

build_dir() {
	local arch=$1 src key
	src=$(source_dir)
	key=$({
		echo "$src"
		fragments "$arch"
		rustc --version; clang --version | head -n1; bindgen --version
	} | sha256sum | cut -c1-16)
	echo "$RSLAB_CACHE/build/$arch-$key"
}

# Every CONFIG_ line of the fragments must survive expansion, as kunit.py checks.
check_config() {
	local b=$1 arch=$2 missing=
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) grep -qx "# ${line%=n} is not set" "$b/.config" || grep -qx "$line" "$b/.config" ||
			! grep -q "^${line%=n}=" "$b/.config" || missing="$missing $line" ;;
		CONFIG_*) grep -qx "$line" "$b/.config" || missing="$missing $line" ;;
		esac
	done < <(fragments "$arch" | tac | awk -F= '/^CONFIG_/ && !seen[$1]++' | tac)
	[ -z "$missing" ] || die "options not in the expanded $arch config:$missing (see $b/.config)"
}

build() {
	local arch=$1 src b ka
	src=$(source_dir)
	b=$(build_dir "$arch")
	ka=$(karch "$arch")
	[ -e "$b/.complete" ] && { echo "$b"; return; }
	# One builder per arch at a time; whoever waited finds the tree built.
	mkdir -p "$RSLAB_CACHE/build"
	exec 8>"$RSLAB_CACHE/build/.lock-$arch"
	flock 8
	[ -e "$b/.complete" ] && { echo "$b"; return; }
	log "building the $arch kernel in $b (cold: several minutes)"
	mkdir -p "$b"
	rm -f "$b/.complete"
	fragments "$arch" >"$b/fragment.config"
	case "$arch" in
	riscv64 | riscv64-nokunit)
		# As kunit.py does: the fragment on an empty config, then olddefconfig.
		cp "$b/fragment.config" "$b/.config"
		make -s -C "$src" O="$b" ARCH="$ka" LLVM=1 olddefconfig >"$b/config.log" 2>&1
		;;
	x86_64 | x86_64-debug)
		# virtme-ng's own minimal config plus our fragment.
		(cd "$src" && virtme-configkernel --allnoconfig --arch x86_64 \
			--custom "$b/fragment.config" O="$b" LLVM=1) >"$b/config.log" 2>&1
		;;
	esac
	check_config "$b" "$arch"
	make -s -C "$src" O="$b" ARCH="$ka" LLVM=1 rustavailable >>"$b/config.log" 2>&1 ||
		die "Rust is not available for this kernel build: see $b/config.log"
	local start=$SECONDS
	if ! make -C "$src" O="$b" ARCH="$ka" LLVM=1 -j"$(nproc)" >"$b/build.log" 2>&1; then
		tail -n 40 "$b/build.log" >&2
		die "the $arch kernel build failed: see $b/build.log"
	fi
	log "$arch kernel built in $((SECONDS - start)) s"
	touch "$b/.complete"
	# Superseded build trees of this arch only take disk space (the key is
	# 16 characters: x86_64's glob must not take x86_64-debug's trees).
	for old in "$RSLAB_CACHE/build/$arch-"????????????????; do
		[ "$old" = "$b" ] || rm -rf "$old"
	done
	echo "$b"
}

case "${1:-}" in
--print) build_dir "${2:?ARCH}" ;;
--source) source_dir ;;
x86_64 | x86_64-debug | riscv64 | riscv64-nokunit) build "$1" ;;
*) die "usage: $0 [--print] x86_64|x86_64-debug|riscv64|riscv64-nokunit | --source" ;;
esac
