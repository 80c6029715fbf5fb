#!/bin/sh
# test_install BUILD_DIR SANITIZE: `meson install` of BUILD_DIR into a fresh
# temporary DESTDIR, then the installed wengert.pc must give working flags:
# a tiny program that includes <wengert.h> compiles and links against the
# installed static library (and against the shared one), and prints the
# lecture's 124, 44, 66.  SANITIZE is the build's b_sanitize: a sanitized
# library needs its runtime in the program too.  Only paths under the
# mktemp -d directory are written.
set -eu
build=$1
sanitize=${2:-none}
prog=$3 # tests/downstream/lecture.c, the README's lecture example
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install"; }
pc=$(find "$tmp/dest" -name wengert.pc)
[ -n "$pc" ] || fail "no wengert.pc under the DESTDIR"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
prefix=$(pkg-config --variable=prefix wengert)
# The .pc names the final prefix; point it into the DESTDIR.
pcx() { pkg-config --define-variable=prefix="$tmp/dest$prefix" "$@" wengert; }
cflags=$(pcx --cflags)
libdir=$(pcx --variable=libdir)
[ -f "$libdir/libwengert.a" ] || fail "no libwengert.a in $libdir"
[ -f "$(echo "$cflags" | sed 's/^-I//; s/ .*//')/wengert.h" ] || fail "cflags '$cflags' do not lead to wengert.h"
san=""
[ "$sanitize" != none ] && san="-fsanitize=$sanitize"


# Static: the Libs.private flags come with --static; -l:libwengert.a makes
# the linker take the archive although the shared library sits next to it.
libs_static=$(pcx --libs --static | sed 's/-lwengert\b/-l:libwengert.a/')
# shellcheck disable=SC2086
$cc -std=c17 $san $cflags "$prog" -o "$tmp/prog_static" $libs_static ||
    fail "static link with: $cflags $libs_static"
if readelf -d "$tmp/prog_static" | grep -q 'NEEDED.*libwengert'; then fail "the static program needs libwengert.so"; fi
out=$("$tmp/prog_static") || fail "the static program failed"
[ "$out" = "124 44 66" ] || fail "the static program printed '$out', want '124 44 66'"

# Shared: plain --libs.
# shellcheck disable=SC2086
$cc -std=c17 $san $cflags "$prog" -o "$tmp/prog_shared" $(pcx --libs) || fail "shared link"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/prog_shared") || fail "the shared program failed"
[ "$out" = "124 44 66" ] || fail "the shared program printed '$out', want '124 44 66'"
echo "test_install: ok (static and shared, prefix $prefix, flags $cflags $libs_static)"
