#!/bin/sh
# Proves nn/ and optim/ cannot reach the tape's internals.  Compiles probes
# with exactly the include path nn/ and optim/ get (the project root,
# autodiff, ops, nn, optim; no autodiff/internal, no WG_BUILDING_CORE):
#   1. the public headers compile (control);
#   2. #include "wg_internal.h" fails: the file is not on the path;
#   3. #include "autodiff/internal/wg_internal.h" (reachable through the
#      root) fails at the header's #error guard.
# usage: no_internal.sh CC SOURCE_ROOT
cc="$1"; root="$2"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
inc="-I$root -I$root/autodiff -I$root/ops -I$root/nn -I$root/optim"
fail=0

printf '#include "wg_nn.h"\n#include "wg_optim.h"\nint main(void) { return 0; }\n' > "$tmp/public.c"
if ! $cc -std=c17 -fsyntax-only $inc "$tmp/public.c" 2> "$tmp/err0"; then
    echo "FAIL: the public headers do not compile with nn's include path:"; cat "$tmp/err0"; fail=1
else
    echo "ok: public headers compile with nn's include path"
fi

printf '#include "wg_internal.h"\nint main(void) { return 0; }\n' > "$tmp/direct.c"
if $cc -std=c17 -fsyntax-only $inc "$tmp/direct.c" 2> "$tmp/err1"; then
    echo "FAIL: wg_internal.h is on nn's include path"; fail=1
elif ! grep -q 'wg_internal.h' "$tmp/err1"; then
    echo "FAIL: the probe failed for another reason:"; cat "$tmp/err1"; fail=1
else
    echo "ok: #include \"wg_internal.h\" is not found from nn/"
fi

printf '#include "autodiff/internal/wg_internal.h"\nint main(void) { return 0; }\n' > "$tmp/byroot.c"
if $cc -std=c17 -fsyntax-only $inc "$tmp/byroot.c" 2> "$tmp/err2"; then
    echo "FAIL: wg_internal.h compiles outside the core"; fail=1
elif ! grep -q 'private to autodiff/ and ops/' "$tmp/err2"; then
    echo "FAIL: the probe failed without the header's #error:"; cat "$tmp/err2"; fail=1
else
    echo "ok: wg_internal.h reached through the root stops at its #error"
fi
exit $fail
