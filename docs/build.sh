#!/bin/sh
# docs/build.sh BUILD_DIR OUT_DIR [--check]: the API reference (Doxygen HTML in
# OUT_DIR/html) of every header `meson install` puts under include/wengert/,
# so a new public header is covered without a change here.  Fails on any
# Doxygen warning.  --check also writes the XML and fails unless every
# function, type, enum value and macro the headers declare has an entry.
set -eu
build=$1
out=$2
check=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
command -v doxygen >/dev/null 2>&1 || { echo "docs: doxygen is not installed (scripts/deps installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
meson install -C "$build" --destdir "$tmp/dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; echo "docs: meson install failed" >&2; exit 1; }
inc=$(dirname "$(find "$tmp/dest" -name wengert.h | head -1)")
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$here/../meson.build" | head -1)
mkdir -p "$out"
{
    cat "$here/Doxyfile"
    echo "INPUT = $inc"
    echo "STRIP_FROM_PATH = $inc"
    echo "OUTPUT_DIRECTORY = $out"
    echo "PROJECT_NUMBER = $version"
    echo "WARN_LOGFILE = $tmp/warnings.log"
    [ "$check" = --check ] && echo "GENERATE_XML = YES"
} >"$tmp/Doxyfile"
doxygen "$tmp/Doxyfile" >"$tmp/doxygen.log" 2>&1 || { cat "$tmp/doxygen.log" >&2; echo "docs: doxygen failed" >&2; exit 1; }
if [ -s "$tmp/warnings.log" ]; then
    sed "s|$inc/||" "$tmp/warnings.log" >&2
    echo "docs: FAIL: $(wc -l <"$tmp/warnings.log") Doxygen warning line(s)" >&2
    exit 1
fi
if [ "$check" = --check ]; then
    python3 - "$inc" "$out/xml/index.xml" <<'PY'
import os, re, sys
inc, index = sys.argv[1:]
have = set(re.findall(r"<name>([^<]+)</name>", open(index).read()))
want = {}
for h in sorted(os.listdir(inc)):
    if not h.endswith(".h"):
        continue
    text = re.sub(r"/\*.*?\*/", "", open(os.path.join(inc, h)).read(), flags=re.S)
    text = text.split("#ifdef __cplusplus\n}", 1)[0]  # the C part; wengert.hpp is C++
    names = set(re.findall(r"\b(wg_[a-z0-9_]+)\s*\(", text))           # functions and function-like macros
    names |= set(re.findall(r"}\s*(wg_[a-z0-9_]+)\s*;", text))         # typedef'd structs and enums
    names |= set(re.findall(r"typedef\s+struct\s+\w+\s+(wg_\w+)\s*;", text))
    names |= set(re.findall(r"^\s*(WG_[A-Z0-9_]+)\s*(?:=[^,\n]*)?,?\s*$", text, flags=re.M))  # enum values
    names |= set(re.findall(r"#define\s+(WG_[A-Z0-9_]+)\b", text))
    for n in names:
        if not n.startswith(("wg__", "WG__")) and not n.endswith("_H"):
            want[n] = h
missing = sorted(n for n in want if n not in have)
if missing:
    print("docs: FAIL: no entry for " + ", ".join(f"{n} ({want[n]})" for n in missing), file=sys.stderr)
    sys.exit(1)
print(f"docs: {len(want)} public names of {len({*want.values()})} C headers, each with an entry")
PY
fi
echo "docs: $out/html/index.html, no warnings"
