#!/usr/bin/env bash
# IEMOCAP's evaluation protocols as `ser make-folds` calls.
#   local/make_folds.sh PROTOCOL DATA FOLDS
#   loso          10 folds, one per speaker; validation = the other speaker of the test speaker's session
#                 (papers 002/003; make-folds takes the partner from utt2session); train = the 8 others
#   loso-session  5 folds, one per session (both speakers tested); validation = the next session
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loso|loso-session DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loso|loso-session) ser make-folds --kind "$protocol" "$data" "$folds" ;;
  *) echo "unknown IEMOCAP protocol '$protocol' (use --protocol loso or --protocol loso-session)" >&2; exit 1 ;;
esac
