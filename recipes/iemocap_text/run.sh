#!/usr/bin/env bash
# IEMOCAP text recipe (AGHMN, AAAI 2020, Table 2): 6 emotions, sessions 1-4 train/dev, session 5 test, K = 40,
# real-time setting (each turn labelled from itself and the turns before it); mean ± std over seeds.
#   bash run.sh                                    # every config, 5 seeds, on the AGHMN-format JSON split
#   bash run.sh --source iemocap-text --iemocap-dir /corpora/IEMOCAP_full_release   # from the release instead
#   bash run.sh --configs "bif_agru" --seeds 0,1   # some configs / seeds
#   bash run.sh --embeddings /path/GoogleNews-vectors-negative300.bin   # pre-trained word vectors (paper: word2vec)
#   bash run.sh --configs bif_agru --overrides "train.class_weights=true model_conf.hidden=200"   # config overrides
# Configs: conf/<name>.yaml (model, model_conf, train; `ser text-train --config conf/X.yaml --print-config`).
#   bash run.sh --stage 2                          # only the report (finished seeds are never retrained)
set -euo pipefail
cd "$(dirname "$0")"
log() { echo "$(date '+%H:%M:%S') [iemocap_text] $*" >&2; }

stage=0
stop_stage=2
configs="unif_agru unif_biagru bif_agru bif_biagru unif_soft bif_soft sclstm"
seeds=0,1,2,3,4
embeddings=""
device=cpu
overrides=""  # key=value words passed to every `ser text-train`
source=conv-json   # conv-json: AGHMN-format JSON files (the shared copy); iemocap-text: the licensed release
iemocap_dir=""      # the release (with --source iemocap-text)
iemocap_json_dir="" # the AGHMN-format JSON files (with --source conv-json)
split_seed=0
exp=""         # default: exp (JSON copy) or exp_release (from the release), so the two never mix
. ./db.sh
. ../tools/parse_options.sh "$@"
[ -n "$iemocap_dir" ] && IEMOCAP="$iemocap_dir"
[ -n "$iemocap_json_dir" ] && IEMOCAP_JSON="$iemocap_json_dir"
case "$source" in
  conv-json) data=data/iemocap6; exp=${exp:-exp} ;;
  iemocap-text) data=data/iemocap6_release; exp=${exp:-exp_release} ;;
  *) echo "unknown --source '$source': conv-json (AGHMN-format JSON) or iemocap-text (the release)" >&2; exit 1 ;;
esac
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }

for c in $configs; do
  [ -f "conf/$c.yaml" ] || { echo "no config conf/$c.yaml (available: $(ls conf | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 1; }
done

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  if [ "$source" = iemocap-text ]; then
    log "Stage 0: IEMOCAP release $IEMOCAP -> $data (sessions 1-4 train/dev 80:20 by dialogue, seed $split_seed; session 5 test)"
    [ -f "$data/.done" ] || { ser prepare-text iemocap-text "$IEMOCAP" "$data" --seed "$split_seed" && touch "$data/.done"; }
  else
    log "Stage 0: conversation JSON from $IEMOCAP_JSON -> $data"
    [ -f "$data/.done" ] || { ser prepare-text conv-json "$IEMOCAP_JSON" "$data" && touch "$data/.done"; }
  fi
fi

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  for c in $configs; do
    log "Stage 1: train $c, seeds $seeds (finished seeds are kept)"
    # shellcheck disable=SC2086  # overrides is a list of key=value words
    ser text-train --config "conf/$c.yaml" --seeds "$seeds" --device "$device" "$data" "$exp/$c" \
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
