#!/usr/bin/env bash
# EmoDB recipe: 7 emotions, 10 speakers, leave-one-speaker-out (validation = next speaker), per-speaker z-norm.
#   bash run.sh                                   # every config in conf/ (see RESULTS.md for the measured table)
#   bash run.sh --configs "svm gagru"             # some configs (one table in exp/loso/RESULTS.md)
#   bash run.sh --stage 4 --stop-stage 6          # rerun training (finished folds are skipped) and the report
#   bash run.sh --configs dnn --features emobase988                        # another feature set for a config
#   bash run.sh --configs gagru --tag lr5e-4 --overrides "train.lr=5e-4"   # a variant in its own exp dir
#   bash run.sh --configs gagru_ours --seeds "0 1 2"   # three seeds and their fused ensemble (<config>_<features>_seeds)
#   bash run.sh --protocol loso_v2 --configs gagru_ours --overrides train.average=5   # 2 validation speakers, 5-epoch average
#   bash run.sh --configs svm --stage 7 --stop-stage 7                     # a model bundle for `ser score`
#   bash run.sh --configs logreg --features egemaps88 --stage 8 --stop-stage 8 --trials 20   # nested-tuned C (`ser tune`)
# Stages: 0 prepare (the shared copy, or the official zip), 1 extract, 2 folds, 3 per-speaker CMVN stats,
#         4 train and score every fold (ser evaluate), 5 check that every fold has scores, 6 report,
#         7 export the final model (all speakers) of each config to exp/loso/<tag>/model.ser (not run by default),
#         8 nested search of the settings in conf/space/<config>.yaml (`ser tune`: inner LOSO over each fold's 9
#           training speakers, --trials per fold), refit, one test per fold -> exp/tuned/<tag>/ (not run by default).
# Layout: data/emodb, feats/<features>, folds/loso, exp/loso/<config>_<features>[_<tag>]/fold_<speaker>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [emodb] $*" >&2; }

stage=0
stop_stage=6
nj=2         # parallel jobs: extraction workers (stage 1) and folds trained at once (stage 4)
configs="svm dnn blstm_mean blstm_attention gagru bigru_att alstm alstm_lstm alstm_mean"
features=""
protocol=loso
emodb_dir=""
exp=exp
tag=""
seeds=""    # e.g. "0 1 2": train each config once per seed (train.seed) and report their fused ensemble (ser fuse)
overrides=""
device=auto
cluster=""   # a Dask cluster for extraction, folds and scoring: local:N, tcp://HOST:8786 or a scheduler file
trials=20    # stage 8: search trials per outer fold
inner=loso   # stage 8: inner folds over each outer fold's training speakers (loso or kfold:K)
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$emodb_dir" ] && EMODB="$emodb_dir"
case "$EMODB" in /*) ;; *) EMODB="$(pwd)/$EMODB" ;; esac  # a relative path is relative to where run.sh was called
cd "$here"  # data/, feats/, folds/, exp/ live in the recipe dir
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }
case "$protocol" in
  loso|loso_v2) ;;
  *) echo "unknown --protocol '$protocol': EmoDB has loso (one fold per speaker, one validation speaker) and loso_v2 (two validation speakers)" >&2; exit 1 ;;
esac

. "$here/../tools/stages.sh"
resolve_configs

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare data/emodb from $EMODB"
  if [ ! -f data/emodb/.done ]; then
    if [ ! -d "$EMODB" ]; then
      log "no EmoDB at $EMODB; downloading $EMODB_URL (set EMODB=/path/to/emodb or --emodb-dir to use a local copy)"
      mkdir -p downloads
      python3 -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" "$EMODB_URL" downloads/emodb.zip \
        || { echo "download failed (offline?): get EmoDB from $EMODB_URL and pass --emodb-dir DIR" >&2; exit 1; }
      . "$here/../tools/checksum.sh"
      verify_sha256 downloads/emodb.zip "$EMODB_SHA256" || exit 1
      python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" downloads/emodb.zip downloads/emodb
      EMODB=downloads/emodb
    fi
    ser prepare emodb "$EMODB" data/emodb
    touch data/emodb/.done
  fi
fi

run_common_stages data/emodb

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
  for c in $configs; do
    [ -f "conf/space/$c.yaml" ] || { echo "stage 8: no search space conf/space/$c.yaml for config $c" >&2; exit 1; }
    f=$(feature_of "$c"); d="$exp/tuned/${c}_${f}${tag:+_$tag}"
    log "Stage 8: nested search ($trials trials per fold, inner $inner) of conf/space/$c.yaml -> $d"
    # shellcheck disable=SC2086  # overrides is a list of key=value words
    ser tune --nj "$nj" ${cluster:+--cluster "$cluster"} --device "$device" --config "conf/$c.yaml" \
      --space "conf/space/$c.yaml" --trials "$trials" --inner "$inner" "feats/$f" "$folds" "$d" \
      ${features:+features=$features} $overrides
    log "results: $(pwd)/$d/RESULTS.md"
  done
fi
