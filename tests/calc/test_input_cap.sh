#!/bin/sh
# test_input_cap GRAD: `grad -f /dev/zero` stops at its input cap with a
# message instead of reading until realloc fails (issue 13, item 8).
grad=$1
out=$("$grad" -f /dev/zero x=1 2>&1)
status=$?
[ "$status" -ne 0 ] || { echo "grad -f /dev/zero succeeded"; exit 1; }
case "$out" in
*"cannot read /dev/zero: File too large"*) echo "ok: $out"; exit 0 ;;
*) echo "unexpected message (status $status): $out"; exit 1 ;;
esac
