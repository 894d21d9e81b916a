#!/usr/bin/env bash
# MSP-IMPROV recipe: 4 classes (neutral, happy, sad, angry; consensus labels of Evaluation.txt), 12 actors in
# 6 sessions, per-speaker z-norm, minority classes up-sampled by duplication in training (paper 002:
# train.balance: upsample in the torch configs; the SVM keeps balanced class weights).
#   bash run.sh --msp-improv-dir /path/to/MSP-IMPROV             # every config in conf/, leave-one-speaker-out
#   bash run.sh --protocol loso-session                           # leave-one-session-out (6 folds)
#   bash run.sh --configs "svm gagru"                             # some configs (one table in exp/<protocol>/RESULTS.md)
#   bash run.sh --stage 4 --stop-stage 6                          # rerun training (finished folds are skipped) + report
#   bash run.sh --configs gagru --tag lr5e-4 --overrides "train.lr=5e-4"   # a variant in its own exp dir
# Stages: 0 prepare, 1 extract, 2 folds, 3 per-speaker CMVN stats, 4 train and score every fold (ser evaluate),
#         5 check that every fold of the plan has scores, 6 report.
# Layout: data/msp_improv, feats/<features>, folds/<protocol>, exp/<protocol>/<config>_<features>[_<tag>]/fold_<name>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [msp_improv] $*" >&2; }

stage=0
stop_stage=6
nj=2
configs="svm dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"
features=""
protocol=loso
msp_improv_dir=""
exp=exp
tag=""
overrides=""
device=auto
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$msp_improv_dir" ] && MSP_IMPROV="$msp_improv_dir"
case "$MSP_IMPROV" in /*) ;; *) MSP_IMPROV="$(pwd)/$MSP_IMPROV" ;; esac  # a relative path is relative to where run.sh was called
cd "$here"  # data/, feats/, folds/, exp/ live in the recipe dir
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }
case "$protocol" in
  loso|loso-session) ;;
  *) echo "unknown --protocol '$protocol': use loso (one fold per speaker) or loso-session (one fold per session)" >&2; exit 1 ;;
esac

# features: --features overrides every config's own feature set (e.g. --features mfcc_pitch28).
declare -A feature_of_config=()
feature_sets=""
for c in $configs; do
  [ -f "conf/$c.yaml" ] || { echo "no config conf/$c.yaml (available: $(ls conf | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 1; }
  f=${features:-$(ser evaluate --config "conf/$c.yaml" --print-config | sed -n 's/^features: *//p')}
  feature_of_config[$c]=$f
  case " $feature_sets " in *" $f "*) ;; *) feature_sets="$feature_sets $f" ;; esac
done
feature_of() { echo "${feature_of_config[$1]}"; }
exp_of() { echo "$exp/$protocol/${1}_$(feature_of "$1")${tag:+_$tag}"; }
folds=folds/$protocol

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare data/msp_improv (4 classes from Evaluation.txt) from $MSP_IMPROV"
  if [ ! -f data/msp_improv/.done ]; then
    if [ ! -d "$MSP_IMPROV" ]; then
      echo "no MSP-IMPROV release at '$MSP_IMPROV': set MSP_IMPROV=/path/to/MSP-IMPROV (the folder holding" \
           "Evaluation.txt and session1 .. session6; environment or db.sh) or pass --msp-improv-dir DIR;" \
           "the corpus is $MSP_IMPROV_SOURCE" >&2
      exit 1
    fi
    local/prepare_data.sh "$MSP_IMPROV" data/msp_improv
    touch data/msp_improv/.done
  fi
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  for f in $feature_sets; do
    log "Stage 1: extract $f"
    [ -f "feats/$f/.done" ] || { ser extract --features "$f" --nj "$nj" data/msp_improv "feats/$f" && touch "feats/$f/.done"; }
  done
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: $protocol folds -> $folds"
  [ -f "$folds/.done" ] || local/make_folds.sh "$protocol" data/msp_improv "$folds"
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  for f in $feature_sets; do
    log "Stage 3: per-speaker CMVN statistics for $f"
    [ -f "feats/$f/.cmvn.done" ] || { ser compute-cmvn "feats/$f" && touch "feats/$f/.cmvn.done"; }
  done
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
  for c in $configs; do
    f=$(feature_of "$c"); d=$(exp_of "$c")
    log "Stage 4: train and score every fold of $d (finished folds are skipped, a killed one resumes)"
    # shellcheck disable=SC2086  # overrides is a list of key=value words
    ser evaluate --quiet --device "$device" --config "conf/$c.yaml" "feats/$f" "$folds" "$d" \
      ${features:+features=$features} $overrides
  done
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
  log "Stage 5: check that every fold of $folds has scores"
  for c in $configs; do
    d=$(exp_of "$c"); missing=""
    for fold in "$folds"/*/; do
      n=$(basename "$fold")
      [ -f "$d/fold_$n/.done" ] && [ -f "$d/fold_$n/scores.tsv" ] || missing="$missing $n"
    done
    [ -z "$missing" ] || { echo "$d: no scores for fold(s)$missing; rerun with --stage 4" >&2; exit 1; }
  done
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
  log "Stage 6: report"
  dirs=""
  for c in $configs; do dirs="$dirs $(exp_of "$c")"; done
  # shellcheck disable=SC2086
  ser report $dirs --compare "$exp/$protocol/RESULTS.md"
  log "results: $(pwd)/$exp/$protocol/RESULTS.md (one table) and $(pwd)/$exp/$protocol/<tag>/RESULTS.md (per config)"
fi
