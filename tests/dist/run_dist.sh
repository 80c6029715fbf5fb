#!/bin/sh
# run_dist.sh CASE P MPIRUN TEST_DIST LSAN_SUPP: one dist test under mpirun
# with P processes; every mpirun is bounded by a timeout, so a hang fails.
#   equiv     test_dist equiv, twice: both pass and print the same hashes
#             (repeated runs at one P are bit-identical)
#   mismatch  the last rank's model differs (shape, count, dtype): the error
#             on every rank, within the timeout
#   resume    20 steps straight against 8, checkpoint, 12 more in a new
#             mpirun: the two final checkpoints are the same bytes
set -u
case_=$1 np=$2 mpirun=$3 exe=$4 supp=$5
# Under ASan: Open MPI leaves its own allocations at exit; keep its
# components loaded so the suppressions see their names.  Harmless otherwise.
export OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$supp:print_suppressions=0:fast_unwind_on_malloc=0"
# One machine: shared memory only, and no single-copy (ptrace) transfers,
# which containers often forbid.
export OMPI_MCA_btl=self,vader
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
run() { # log, args...
    log=$1
    shift
    timeout -k 5 100 "$mpirun" --oversubscribe --allow-run-as-root -np "$np" "$exe" "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    [ $rc -eq 124 ] && echo "run_dist: TIMEOUT (a hang) after 100 s: $exe $*"
    return $rc
}
fail=0
case $case_ in
equiv)
    run "$tmp/1" equiv || fail=1
    run "$tmp/2" equiv || fail=1
    h1=$(grep '^hash' "$tmp/1") h2=$(grep '^hash' "$tmp/2")
    if [ -z "$h1" ] || [ "$h1" != "$h2" ]; then
        echo "run_dist: two runs at $np processes differ: '$h1' and '$h2'"
        fail=1
    fi
    ;;
mismatch)
    run "$tmp/m" mismatch || fail=1
    ;;
resume)
    run "$tmp/l1" resume 20 - "$tmp/straight.st" || fail=1
    run "$tmp/l2" resume 8 - "$tmp/half.st" || fail=1
    run "$tmp/l3" resume 12 "$tmp/half.st" "$tmp/resumed.st" || fail=1
    if ! cmp "$tmp/straight.st" "$tmp/resumed.st"; then
        echo "run_dist: 20 steps straight and 8 + 12 resumed differ at $np processes"
        fail=1
    elif cmp -s "$tmp/straight.st" "$tmp/half.st"; then
        echo "run_dist: the checkpoint after 8 steps equals the one after 20: training did nothing"
        fail=1
    else
        echo "resume at $np processes: 8 + 12 steps give the same bytes as 20"
    fi
    ;;
*)
    echo "run_dist: unknown case $case_"
    exit 2
    ;;
esac
exit $fail
