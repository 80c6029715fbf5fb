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

# expect_fail NAME INCLUDE PATTERN WHAT: a probe including INCLUDE must fail
# to compile, and its errors must mention PATTERN (so it failed for that reason).
expect_fail() {
    printf '#include "%s"\nint main(void) { return 0; }\n' "$2" > "$tmp/$1.c"
    if $cc -std=c17 -fsyntax-only $inc "$tmp/$1.c" 2> "$tmp/$1.err"; then
        echo "FAIL: $2 compiles with nn's include path"; fail=1
    elif ! grep -q "$3" "$tmp/$1.err"; then
        echo "FAIL: the probe including $2 failed for another reason:"; cat "$tmp/$1.err"; fail=1
    else
        echo "ok: $4"
    fi
}
expect_fail direct wg_internal.h 'wg_internal.h' '#include "wg_internal.h" is not found from nn/'
expect_fail byroot autodiff/internal/wg_internal.h 'private to autodiff/ and ops/' \
    'wg_internal.h reached through the root stops at its #error'
exit $fail
