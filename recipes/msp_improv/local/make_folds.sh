#!/usr/bin/env bash
# MSP-IMPROV's evaluation protocols as `ser make-folds` calls.
#   local/make_folds.sh PROTOCOL DATA FOLDS
#   loso          12 folds, one per speaker ("leave-one-person-out", paper 002); validation = the other
#                 speaker of the test speaker's session (utt2session); train = the 10 others
#   loso-session  6 folds, one per session (both speakers tested); validation = the next session
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loso|loso-session DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loso|loso-session) ser make-folds --kind "$protocol" "$data" "$folds" ;;
  *) echo "unknown MSP-IMPROV protocol '$protocol' (use --protocol loso or --protocol loso-session)" >&2; exit 1 ;;
esac
