#!/usr/bin/env bash
# EmoDB's evaluation protocol as a `ser make-folds` call.
#   local/make_folds.sh loso DATA FOLDS
#   loso     10 folds, one per speaker; validation = the next speaker in sorted order (16 -> 03); train = the 8 others
#   loso_v2  as loso, validation = the next two speakers, one of each gender (03 -> 08, 10); train = the 7 others
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loso|loso_v2 DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loso) ser make-folds --kind loso "$data" "$folds" ;;
  loso_v2) ser make-folds --kind loso --valid-speakers 2 "$data" "$folds" ;;
  *) echo "unknown EmoDB protocol '$protocol' (use --protocol loso or loso_v2)" >&2; exit 1 ;;
esac
