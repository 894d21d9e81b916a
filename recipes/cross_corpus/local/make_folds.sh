#!/usr/bin/env bash
# The cross-corpus protocols as `ser make-folds` calls on the combined data dir (utt2corpus from `ser combine`).
#   local/make_folds.sh PROTOCOL DATA FOLDS
#   loco  one fold per corpus: test = that corpus; train and validation speakers from the other corpora only
#   loso  one fold per speaker of the combined set (both corpora in training; validation = the next speaker)
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 loco|loso DATA FOLDS" >&2; exit 1; }
protocol=$1 data=$2 folds=$3
case "$protocol" in
  loco) ser make-folds --kind loco "$data" "$folds" ;;
  loso) ser make-folds --kind loso "$data" "$folds" ;;
  *) echo "unknown cross-corpus protocol '$protocol' (loco or loso)" >&2; exit 1 ;;
esac
