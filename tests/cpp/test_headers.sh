#!/bin/sh
# test_headers BUILD_DIR: every header `meson install` puts under
# include/wengert/ (so a header added anywhere is covered without a change
# here) compiled by itself, one translation unit each, as C++ with g++ and
# clang++ (when installed) in C++17 and C++20, and each .h as C17 with gcc,
# all with -Wall -Wextra -pedantic -Werror.  Only the mktemp -d directory is
# written.
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
meson install -C "$build" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; echo "test_headers: FAIL: meson install" >&2; exit 1; }
inc=$(dirname "$(find "$tmp/dest" -name wengert.h | head -1)")
[ -f "$inc/wengert.h" ] || { echo "test_headers: FAIL: no wengert.h installed" >&2; exit 1; }
cxxs=""
for c in g++ clang++; do command -v "$c" >/dev/null 2>&1 && cxxs="$cxxs $c"; done
[ -n "$cxxs" ] || { echo "test_headers: FAIL: no C++ compiler" >&2; exit 1; }
n=0
compile() { # compiler language std header
    printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$4" "$4" >"$tmp/tu"
    if ! "$1" -x "$2" -std="$3" -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc" "$tmp/tu" 2>"$tmp/err"; then
        echo "test_headers: FAIL: $4 with $1 -std=$3:" >&2
        head -20 "$tmp/err" >&2
        fail=$((fail + 1))
    fi
    n=$((n + 1))
}
headers=$(cd "$inc" && ls ./*.h ./*.hpp 2>/dev/null | sed 's|^\./||')
for h in $headers; do
    for cxx in $cxxs; do
        for std in c++17 c++20; do compile "$cxx" c++ "$std" "$h"; done
    done
    case $h in *.h) compile "${CC:-cc}" c c17 "$h" ;; esac
done
echo "test_headers: $n compilations of $(echo $headers | wc -w) headers ($(echo $headers)) with$cxxs, $fail failed"
[ "$fail" -eq 0 ]
