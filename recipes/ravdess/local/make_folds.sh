#!/usr/bin/env bash
# RAVDESS's evaluation protocols as `ser make-folds` calls.
#   local/make_folds.sh PROTOCOL DATA FOLDS
#   loso    24 folds, one per actor; validation = the next actor in sorted order; train = the 22 others
#   loso_v2 as loso, validation = the next two actors, one of each gender (the second swapped if needed)
#   kfold6  the common 6 speaker-disjoint folds of 4 consecutive actors (Actor_01-04, 05-08, ...);
#           validation = the next group; train = the other 4 groups
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loso|loso_v2|kfold6 DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loso) ser make-folds --kind loso "$data" "$folds" ;;
  loso_v2) ser make-folds --kind loso --valid-speakers 2 "$data" "$folds" ;;
  kfold6) ser make-folds --kind kfold-speakers --groups 6 "$data" "$folds" ;;
  *) echo "unknown RAVDESS protocol '$protocol' (use --protocol loso, loso_v2 or kfold6)" >&2; exit 1 ;;
esac
