#!/usr/bin/env bash
# The cross-corpus protocols as `ser make-folds` calls on the combined data dir (utt2corpus from `ser combine`).
#   local/make_folds.sh PROTOCOL DATA FOLDS
#   loco  one fold per corpus: test = that corpus; train and validation speakers from the other corpora only
#   loso  one fold per speaker of the combined set (both corpora in training; validation = the next speaker)
#   loso_emodb, loso_ravdess  one corpus alone (its 6-class data dir data/<corpus>6): the single-corpus reference
#         that the combined LOSO is compared with (features and statistics are the combined dir's, the same values)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loco|loso DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loco) ser make-folds --kind loco "$data" "$folds" ;;
  loso) ser make-folds --kind loso "$data" "$folds" ;;
  loso_emodb|loso_ravdess) ser make-folds --kind loso "data/${protocol#loso_}6" "$folds" ;;
  *) echo "unknown cross-corpus protocol '$protocol' (loco, loso, loso_emodb or loso_ravdess)" >&2; exit 1 ;;
esac
