#!/bin/sh
# test_downstream KIND BUILD_DIR SOURCE_ROOT: wengert as a user's project
# gets it.  `meson install` of BUILD_DIR into a fresh temporary DESTDIR, found
# through its wengert.pc (PKG_CONFIG_PATH, and PKG_CONFIG_SYSROOT_DIR for the
# DESTDIR), then, by KIND:
#   pc     the .pc lists each private dependency once
#   make   make/Makefile builds lecture.c (shared and static) and lecture_cpp.cpp
#   meson  meson/meson.build, dependency('wengert'), builds both programs
#   cmake  cmake/CMakeLists.txt, pkg_check_modules, builds both programs
#   cmake-config  cmake-config/CMakeLists.txt, find_package(wengert CONFIG)
#          (CMAKE_PREFIX_PATH), shared, static and C++
#   readme a fenced block of README.md is exactly each of these project files
#          and lecture_cpp.cpp
# Each program must print the lecture's 124 44 66 (and the C++ one the
# matmul error and XOR solved).  Only the mktemp -d directory is written.
set -eu
kind=$1
build=$2
root=$3
here=$root/tests/downstream
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "test_downstream $kind: FAIL: $*" >&2; exit 1; }

if [ "$kind" = readme ]; then
    for f in meson/meson.build cmake/CMakeLists.txt cmake-config/CMakeLists.txt make/Makefile lecture_cpp.cpp; do
        python3 - "$root/README.md" "$here/$f" <<'PY' || fail "README.md does not show tests/downstream/$f verbatim"
import re, sys
readme, snippet = (open(p).read() for p in sys.argv[1:])
# One fenced block of the README is exactly the file.
sys.exit(0 if re.search(r"^```\w*\n" + re.escape(snippet) + r"```$", readme, flags=re.M) else 1)
PY
    done
    echo "test_downstream readme: ok"
    exit 0
fi

meson install -C "$build" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install"; }
pc=$(find "$tmp/dest" -name wengert.pc)
[ -n "$pc" ] || fail "no wengert.pc under the DESTDIR"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$tmp/dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
libdir=$tmp/dest$(pkg-config --variable=libdir wengert | sed "s|^$tmp/dest||")
[ -f "$libdir/libwengert.so" ] || fail "no libwengert.so in $libdir"

want_c="124 44 66"
want_cpp="124 44 66
matmul: inner dimensions differ: a is f32[2,3], b is f32[2,3]
xor: 0 1 1 0"
run() { # program, expected output
    [ -x "$1" ] || fail "$1 was not built"
    out=$(LD_LIBRARY_PATH="$libdir" "$1") || fail "$1 failed"
    [ "$out" = "$2" ] || fail "$1 printed '$out', want '$2'"
}
src=$tmp/src
mkdir "$src"
cp "$here/lecture.c" "$here/lecture_cpp.cpp" "$src/"

case $kind in
pc)
    # Each token of Libs.private once, each -l once over Libs and
    # Libs.private, and nothing both in Requires.private and Libs.private.
    for field in Libs.private Requires.private; do
        dup=$(sed -n "s/^$field: *//p" "$pc" | tr ' ,' '\n\n' | grep -v '^$' | sort | uniq -d)
        [ -z "$dup" ] || fail "$field lists $(echo $dup) more than once: $(cat "$pc")"
    done
    dup=$(pkg-config --libs --static wengert | tr ' ' '\n' | grep -v '^$' | sort | uniq -d)
    [ -z "$dup" ] || fail "pkg-config --libs --static repeats $(echo $dup)"
    for r in $(sed -n 's/^Requires.private: *//p' "$pc" | tr ',' ' '); do
        for l in $(pkg-config --libs-only-l "$r" 2>/dev/null); do
            sed -n 's/^Libs.private: *//p' "$pc" | tr ' ' '\n' | grep -qx -- "$l" &&
                fail "$l is in Libs.private and comes again through Requires.private $r"
        done
    done
    echo "test_downstream pc: ok: $(grep -E '^(Libs|Requires)' "$pc" | tr '\n' ';')"
    ;;
make)
    cp "$here/make/Makefile" "$src/"
    make -C "$src" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make"; }
    run "$src/lecture" "$want_c"
    run "$src/lecture_cpp" "$want_cpp"
    run "$src/lecture_static" "$want_c"
    readelf -d "$src/lecture" | grep -q 'NEEDED.*libwengert' || fail "lecture does not use libwengert.so"
    if readelf -d "$src/lecture_static" | grep -q 'NEEDED.*libwengert'; then fail "lecture_static needs libwengert.so"; fi
    echo "test_downstream make: ok (shared, static and C++)"
    ;;
meson)
    cp "$here/meson/meson.build" "$src/"
    meson setup "$tmp/b" "$src" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; fail "meson setup"; }
    meson compile -C "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "meson compile"; }
    run "$tmp/b/lecture" "$want_c"
    run "$tmp/b/lecture_cpp" "$want_cpp"
    echo "test_downstream meson: ok"
    ;;
cmake)
    command -v cmake >/dev/null 2>&1 || fail "cmake is not installed (scripts/deps installs it)"
    cp "$here/cmake/CMakeLists.txt" "$src/"
    cmake -S "$src" -B "$tmp/b" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; fail "cmake configure"; }
    cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "cmake --build"; }
    run "$tmp/b/lecture" "$want_c"
    run "$tmp/b/lecture_cpp" "$want_cpp"
    echo "test_downstream cmake: ok"
    ;;
cmake-config)
    command -v cmake >/dev/null 2>&1 || fail "cmake is not installed (scripts/deps installs it)"
    cp "$here/cmake-config/CMakeLists.txt" "$src/"
    prefix=$tmp/dest$(pkg-config --variable=prefix wengert | sed "s|^$tmp/dest||")
    cmake -S "$src" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/setup.log" 2>&1 ||
        { cat "$tmp/setup.log" >&2; fail "cmake configure"; }
    cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "cmake --build"; }
    run "$tmp/b/lecture" "$want_c"
    run "$tmp/b/lecture_static" "$want_c"
    run "$tmp/b/lecture_cpp" "$want_cpp"
    if readelf -d "$tmp/b/lecture_static" | grep -q 'NEEDED.*libwengert'; then fail "lecture_static needs libwengert.so"; fi
    echo "test_downstream cmake-config: ok (shared, static and C++)"
    ;;
*) fail "unknown kind" ;;
esac
