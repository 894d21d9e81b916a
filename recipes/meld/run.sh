#!/usr/bin/env bash
# MELD text recipe (AGHMN, AAAI 2020, Table 3): 7 emotions, official train/dev/test split, memory bank K = 10,
# real-time setting (each turn labelled from itself and the turns before it); mean ± std over seeds.
#   bash run.sh                                    # every config, 5 seeds
#   bash run.sh --configs "bif_agru" --seeds 0,1   # some configs / seeds
#   bash run.sh --embeddings /path/GoogleNews-vectors-negative300.bin   # pre-trained word vectors (paper: word2vec)
#   bash run.sh --configs bif_agru --overrides "train.class_weights=true model_conf.hidden=200"   # config overrides
# Configs: conf/<name>.yaml (model, model_conf, train; `ser text-train --config conf/X.yaml --print-config`).
#   bash run.sh --stage 2                          # only the report (finished seeds are never retrained)
set -euo pipefail
cd "$(dirname "$0")"
log() { echo "$(date '+%H:%M:%S') [meld] $*" >&2; }

stage=0
stop_stage=2
configs="unif_agru unif_biagru bif_agru bif_biagru unif_soft bif_soft sclstm"
seeds=0,1,2,3,4
embeddings=""
device=cpu
overrides=""  # key=value words passed to every `ser text-train`
meld_dir=""
exp=exp
. ./db.sh
. ../tools/parse_options.sh "$@"
[ -n "$meld_dir" ] && MELD="$meld_dir"
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }

for c in $configs; do
  [ -f "conf/$c.yaml" ] || { echo "no config conf/$c.yaml (available: $(ls conf | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 1; }
done

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: MELD CSVs from $MELD -> data/meld (conversation JSON; mojibake repaired and counted)"
  [ -f data/meld/.done ] || { ser prepare-text meld "$MELD" data/meld && touch data/meld/.done; }
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  for c in $configs; do
    log "Stage 1: train $c, seeds $seeds (finished seeds are kept)"
    # shellcheck disable=SC2086  # overrides is a list of key=value words
    ser text-train --config "conf/$c.yaml" --seeds "$seeds" --device "$device" data/meld "$exp/$c" \
      ${embeddings:+train.embeddings=$embeddings} $overrides
  done
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
  log "Stage 2: report"
  dirs=""; for c in $configs; do dirs="$dirs $exp/$c"; done
  # shellcheck disable=SC2086
  ser text-report $dirs --compare "$exp/RESULTS.md"
  log "results: $(pwd)/$exp/RESULTS.md (one table) and $(pwd)/$exp/<config>/RESULTS.md (per config, with the command)"
fi
