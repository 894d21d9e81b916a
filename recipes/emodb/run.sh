#!/usr/bin/env bash
# EmoDB recipe: 7 emotions, 10 speakers, leave-one-speaker-out (validation = next speaker), per-speaker z-norm.
#   bash run.sh                               # every config in conf/ (see RESULTS.md for the measured table)
#   bash run.sh --configs "svm gagru"         # some configs
#   bash run.sh --stage 4 --stop-stage 6      # rerun training (finished folds are skipped) and the report
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [emodb] $*" >&2; }

stage=0
stop_stage=6
nj=2
configs="svm dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"
emodb_dir=""
exp=exp
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$emodb_dir" ] && EMODB="$emodb_dir"
case "$EMODB" in /*) ;; *) EMODB="$(pwd)/$EMODB" ;; esac  # a relative path is relative to where run.sh was called
cd "$here"  # data/, feats/, folds/, exp/ live in the recipe dir
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }

feature_of() { ser evaluate --config "conf/$1.yaml" --print-config | sed -n 's/^features: *//p'; }
features=""
for c in $configs; do
  [ -f "conf/$c.yaml" ] || { echo "no config conf/$c.yaml (available: $(ls conf | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 1; }
  f=$(feature_of "$c"); case " $features " in *" $f "*) ;; *) features="$features $f" ;; esac
done

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare data/emodb from $EMODB"
  if [ ! -d "$EMODB" ]; then
    log "no EmoDB at $EMODB; downloading $EMODB_URL (set EMODB=/path/to/emodb or --emodb-dir to use a local copy)"
    mkdir -p downloads
    python3 -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" "$EMODB_URL" downloads/emodb.zip \
      || { echo "download failed (offline?): get EmoDB from $EMODB_URL and pass --emodb-dir DIR" >&2; exit 1; }
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" downloads/emodb.zip downloads/emodb
    EMODB=downloads/emodb
  fi
  if [ ! -f data/emodb/.done ]; then
    ser prepare emodb "$EMODB" data/emodb
    touch data/emodb/.done
  fi
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  for f in $features; do
    log "Stage 1: extract $f"
    [ -f "feats/$f/.done" ] || { ser extract --features "$f" --nj "$nj" data/emodb "feats/$f" && touch "feats/$f/.done"; }
  done
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: leave-one-speaker-out folds"
  [ -f folds/loso/.done ] || ser make-folds --kind loso data/emodb folds/loso
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
  for f in $features; do
    log "Stage 3: per-speaker CMVN statistics for $f"
    [ -f "feats/$f/.cmvn.done" ] || { ser compute-cmvn "feats/$f" && touch "feats/$f/.cmvn.done"; }
  done
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 4 ]; then
  for c in $configs; do
    f=$(feature_of "$c"); tag="${c}_${f}"
    log "Stage 4-5: train and score every fold of $tag (finished folds are skipped)"
    ser evaluate --quiet --config "conf/$c.yaml" "feats/$f" folds/loso "$exp/$tag"
  done
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
  log "Stage 6: report"
  dirs=""
  for c in $configs; do dirs="$dirs $exp/${c}_$(feature_of "$c")"; done
  ser report $dirs --compare "$exp/RESULTS.md"
  log "results: $(pwd)/$exp/RESULTS.md (one table) and $(pwd)/$exp/<tag>/RESULTS.md (per config)"
fi
