#!/bin/sh
# test_mnist_options MNIST: every absurd option of the MNIST demo is refused
# at once, with exit status 2 and a message naming the option (issue 13,
# item 2: --batch 2^62 overflowed a buffer size, --lr nan was ignored, --lr -1
# said "out of memory", --epochs 2^63-1 overflowed, --hidden '' trained with
# no hidden layer, --threads 2^40 was truncated to 1, a bad --save was found
# after training).  None of these runs reaches the data.
mnist=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
check() { # want-substring, options...
    want=$1
    shift
    out=$("$mnist" --data "$tmp/none" --no-plots "$@" 2>&1)
    status=$?
    case "$out" in
    *"$want"*) [ "$status" -eq 2 ] && { echo "ok: $*: $want"; return; } ;;
    esac
    echo "FAIL: mnist $*: status $status (want 2), output: $out"
    fails=$((fails + 1))
}
check "--batch: 4611686018427387904 is out of range" --batch 4611686018427387904
check "--batch: 0 is out of range" --batch 0
check "--lr: nan is out of range" --lr nan
check "--lr: -1 is out of range" --lr -1
check "--lr: inf is out of range" --lr inf
check "--epochs: 9223372036854775807 is out of range" --epochs 9223372036854775807
check "--hidden '': want sizes" --hidden ''
check "--threads: 1099511627776 is out of range" --threads 1099511627776
check "--train-subset: -1 is out of range" --train-subset -1
check "--save $tmp/missing/m.safetensors: its folder does not exist" --save "$tmp/missing/m.safetensors"
check "--save $tmp: is a folder" --save "$tmp"
[ "$fails" -eq 0 ]
