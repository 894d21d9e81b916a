#!/usr/bin/env bash
# RAVDESS recipe: 8 emotions (neutral, calm, happy, sad, angry, fearful, disgust, surprised), 24 actors, speech only,
# per-speaker z-norm.
#   bash run.sh --ravdess-dir /path/to/ravdess                   # every config in conf/, leave-one-speaker-out (24 folds)
#   bash run.sh --protocol kfold6                                 # the common 6 speaker-disjoint folds of 4 actors
#   bash run.sh --configs "svm gagru"                             # some configs (one table in exp/<protocol>/RESULTS.md)
#   bash run.sh --stage 4 --stop-stage 6                          # rerun training (finished folds are skipped) + report
#   bash run.sh --configs gagru --tag lr5e-4 --overrides "train.lr=5e-4"   # a variant in its own exp dir
#   bash run.sh --configs gagru_ours --seeds "0 1 2"   # three seeds and their fused ensemble (<config>_<features>_seeds)
#   bash run.sh --protocol loso_v2 --configs gagru_ours --overrides train.average=5   # 2 validation speakers, 5-epoch average
# Stages: 0 prepare, 1 extract, 2 folds, 3 per-speaker CMVN stats, 4 train and score every fold (ser evaluate),
#         5 check that every fold of the plan has scores, 6 report, 7 export each config's final model (exp dir/model.ser;
#         not run by default: --stop-stage 7).
# Layout: data/ravdess, feats/<features>, folds/<protocol>, exp/<protocol>/<config>_<features>[_<tag>]/fold_<name>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [ravdess] $*" >&2; }

stage=0
stop_stage=6
nj=2         # parallel jobs: extraction workers (stage 1) and folds trained at once (stage 4)
configs="svm logreg dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"  # the papers' rows; *_ours: our training changes
features=""
protocol=loso
ravdess_dir=""
exp=exp
tag=""
seeds=""    # e.g. "0 1 2": train each config once per seed (train.seed) and report their fused ensemble (ser fuse)
overrides=""
device=auto
cluster=""   # a Dask cluster for extraction, folds and scoring: local:N, tcp://HOST:8786 or a scheduler file
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$ravdess_dir" ] && RAVDESS="$ravdess_dir"
case "$RAVDESS" in /*) ;; *) RAVDESS="$(pwd)/$RAVDESS" ;; esac  # a relative path is relative to where run.sh was called
cd "$here"  # data/, feats/, folds/, exp/ live in the recipe dir
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }
case "$protocol" in
  loso|loso_v2|kfold6) ;;
  *) echo "unknown --protocol '$protocol': use loso (one fold per actor), loso_v2 (the same, two validation actors) or kfold6 (6 folds of 4 actors)" >&2; exit 1 ;;
esac

. "$here/../tools/stages.sh"
resolve_configs

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare data/ravdess (audio-only speech, 8 emotions) from $RAVDESS"
  if [ ! -f data/ravdess/.done ]; then
    if [ ! -d "$RAVDESS" ]; then
      echo "no RAVDESS at '$RAVDESS': set RAVDESS=/path/to/ravdess (the folder holding Actor_01 .. Actor_24;" \
           "environment or db.sh) or pass --ravdess-dir DIR; $RAVDESS_SOURCE" >&2
      exit 1
    fi
    ser prepare ravdess "$RAVDESS" data/ravdess
    touch data/ravdess/.done
  fi
fi

run_common_stages data/ravdess
