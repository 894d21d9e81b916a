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
#         5 check that every fold of the plan has scores, 6 report, 7 export each config's final model (exp dir/model.ser;
#         not run by default: --stop-stage 7).
# Layout: data/msp_improv, feats/<features>, folds/<protocol>, exp/<protocol>/<config>_<features>[_<tag>]/fold_<name>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [msp_improv] $*" >&2; }

stage=0
stop_stage=6
nj=2         # parallel jobs: extraction workers (stage 1) and folds trained at once (stage 4)
configs="svm dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"
features=""
protocol=loso
msp_improv_dir=""
exp=exp
tag=""
seeds=""    # e.g. "0 1 2": train each config once per seed (train.seed) and report their fused ensemble (ser fuse)
overrides=""
device=auto
cluster=""   # a Dask cluster for extraction, folds and scoring: local:N, tcp://HOST:8786 or a scheduler file
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

. "$here/../tools/stages.sh"
resolve_configs

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

run_common_stages data/msp_improv
