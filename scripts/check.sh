#!/usr/bin/env bash
# rustfmt (with the kernel's .rustfmt.toml) over every Rust file of rslab,
# and a clippy build of the module (make CLIPPY=1) that must be warning-free.
# Usage: scripts/check.sh [--fix] [ARCH]    fix: reformat in place
#        scripts/check.sh --fmt-only        rustfmt --check only
. "$(dirname "$0")/lib.sh"

if ! rslab_direct; then exec "$RSLAB_TOP/scripts/in-root.sh" "$0" "$@"; fi
fix= fmt_only=
[ "${1:-}" = --fix ] && { fix=1; shift; }
[ "${1:-}" = --fmt-only ] && { fmt_only=1; shift; }
arch=${1:-x86_64}
ksrc=$("$RSLAB_TOP/scripts/kernel.sh" --source)
files=$(cd "$RSLAB_TOP" && find src kunit rust/*/src -name "*.rs" | sort)
cd "$RSLAB_TOP"
# shellcheck disable=SC2086
if [ -n "$fix" ]; then
	rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" $files
else
	rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check $files
fi
[ -n "$fmt_only" ] && exit 0
rm -f "$RSLAB_OUT/$arch/module/src/rslab.o"
out=$("$RSLAB_TOP/scripts/module.sh" "$arch" CLIPPY=1 2>&1 >/dev/null) || { echo "$out"; exit 1; }
if echo "$out" | grep -E '^(warning|error)'; then echo "$out"; exit 1; fi
echo "rustfmt and clippy clean"
