#!/usr/bin/env bash
# IEMOCAP recipe: 4 classes (neutral, happy+excited, sad, angry), 10 speakers in 5 sessions, per-speaker z-norm.
#   bash run.sh --iemocap-dir /path/to/IEMOCAP_full_release      # every config in conf/, leave-one-speaker-out
#   bash run.sh --configs "gagru blstm_attention"                 # some configs (one table in exp/loso/RESULTS.md)
#   bash run.sh --protocol loso-session                           # leave-one-session-out instead
#   bash run.sh --stage 4 --stop-stage 6                          # rerun training (finished folds are skipped) + report
#   bash run.sh --text true                                       # also the AGHMN text experiments on the transcripts
#   bash run.sh --configs gagru --tag lr5e-4 --overrides "train.lr=5e-4"   # a variant in its own exp dir
# Stages: 0 prepare, 1 extract, 2 folds, 3 per-speaker CMVN stats, 4 train and score every fold (ser evaluate),
#         5 check that every fold of the plan has scores, 6 report, 7 export each config's final model (exp dir/model.ser;
#         not run by default: --stop-stage 7).
# Layout: data/iemocap, feats/<features>, folds/<protocol>, exp/<protocol>/<config>_<features>[_<tag>]/fold_<name>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [iemocap] $*" >&2; }

stage=0
stop_stage=6
nj=2         # parallel jobs: extraction workers (stage 1) and folds trained at once (stage 4)
configs="svm dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"
features=""
protocol=loso
iemocap_dir=""
exp=exp
tag=""
seeds=""    # e.g. "0 1 2": train each config once per seed (train.seed) and report their fused ensemble (ser fuse)
overrides=""
device=auto
cluster=""   # a Dask cluster for extraction, folds and scoring: local:N, tcp://HOST:8786 or a scheduler file
text=false   # true: also run the AGHMN text experiments on the release transcripts (../iemocap_text, 6 classes)
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$iemocap_dir" ] && IEMOCAP="$iemocap_dir"
case "$IEMOCAP" in /*) ;; *) IEMOCAP="$(pwd)/$IEMOCAP" ;; esac  # a relative path is relative to where run.sh was called
cd "$here"  # data/, feats/, folds/, exp/ live in the recipe dir
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }
case "$protocol" in
  loso|loso-session) ;;
  *) echo "unknown --protocol '$protocol': use loso (one fold per speaker) or loso-session (one fold per session)" >&2; exit 1 ;;
esac

. "$here/../tools/stages.sh"
resolve_configs

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare data/iemocap (4 classes, exc merged into happy) from $IEMOCAP"
  if [ ! -f data/iemocap/.done ]; then
    if [ ! -d "$IEMOCAP" ]; then
      echo "no IEMOCAP release at '$IEMOCAP': set IEMOCAP=/path/to/IEMOCAP_full_release (environment or db.sh)" \
           "or pass --iemocap-dir DIR; the corpus is $IEMOCAP_SOURCE" >&2
      exit 1
    fi
    ser prepare iemocap "$IEMOCAP" data/iemocap
    touch data/iemocap/.done
  fi
fi

run_common_stages data/iemocap

if [ "$text" = true ]; then
  log "Text: AGHMN on the release transcripts (sessions 1-4 train/dev, session 5 test) via ../iemocap_text/run.sh"
  bash ../iemocap_text/run.sh --source iemocap-text --iemocap-dir "$IEMOCAP"
fi
