#!/usr/bin/env bash
# Cross-corpus recipe: EmoDB (German) and RAVDESS (English) in one label space (6 shared classes: anger, disgust,
# fear, happiness, neutral, sadness; RAVDESS calm -> neutral, EmoDB boredom and RAVDESS surprise dropped).
#   bash run.sh                                   # every config, both protocols, the scoring of each held-out corpus
#   bash run.sh --configs logreg --protocols loco # one config, leave-one-corpus-out only
#   bash run.sh --stage 8 --stop-stage 8 --builtin logreg   # export the chosen config as a calibrated bundle
#   bash run.sh --configs logreg_strong_chan --protocols loco --copies "--reverb-rt60 0.5 --telephone" --score-from feats
#                                                 # + channel copies (stage 1), each held-out corpus scored from features
# Protocols: loco = leave one corpus out (train on one corpus, validation speakers from it, test = the other corpus);
#            loso = leave one speaker out over the combined set (both corpora in training; per-corpus breakdown);
#            loso_emodb, loso_ravdess = each corpus alone (the single-corpus references: --protocols "loso_emodb loso_ravdess").
# Stages: 0 prepare both corpora and combine them (data/acted6, utt2corpus, labels.yaml), 1 extract (with --copies:
#         also the augmented copies of every utterance into feats/<set>/augment; a loco fold trains only on the copies
#         of its own training corpus's utterances, ser.copies; the held-out corpus is never copied into training), 2 folds,
#         3 per-speaker CMVN, 4 train and score every fold, 5 check, 6 report (per-corpus breakdown),
#         7 score each held-out corpus with its loco fold model as a user would (`ser score DATA`): every clip alone,
#           all pooled as one source (--speaker <corpus>-all) and grouped by speaker
#           -> exp/loco/<tag>/held_out_<corpus>_{alone,source,grouped}.json and exp/cross_corpus.md
#           (--score-from feats: the same scoring read from the extracted features, local/score_feats.py, + posteriors),
#         8 (not by default) export --builtin CONFIG trained on both corpora (loso exp), calibrated, with its card.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "$(date '+%H:%M:%S') [cross_corpus] $*" >&2; }

stage=0
stop_stage=7
nj=2
configs="svm_prob logreg logreg_strong logreg_e988"
protocols="loco loso"
features=""
emodb_dir=""
ravdess_dir=""
exp=exp
tag=""
overrides=""
device=auto
cluster=""   # a Dask cluster for extraction, folds and scoring: local:N, tcp://HOST:8786 or a scheduler file
builtin=""
copies=""        # ser extract options for augmented copies in stage 1, e.g. "--reverb-rt60 0.5 --telephone --noise-snr 15"
score_from=audio # stage 7: audio (ser score re-extracts every clip) or feats (the same scoring from feats/<set>)
classes=anger,disgust,fear,happiness,neutral,sadness
. "$here/db.sh"
. "$here/../tools/parse_options.sh" "$@"
[ -n "$emodb_dir" ] && EMODB="$emodb_dir"
[ -n "$ravdess_dir" ] && RAVDESS="$ravdess_dir"
cd "$here"
command -v ser >/dev/null || { echo "the 'ser' command is not on PATH: run 'make install' and use .venv/bin" >&2; exit 1; }

. "$here/../tools/stages.sh"
data=data/acted6

if [ ${stage} -le 0 ] && [ ${stop_stage} -ge 0 ]; then
  log "Stage 0: prepare EmoDB ($EMODB) and RAVDESS ($RAVDESS); combine them into $data ($classes)"
  for c in emodb ravdess; do
    dir=$EMODB; [ $c = ravdess ] && dir=$RAVDESS
    [ -d "$dir" ] || { echo "no $c corpus at '$dir': pass --$c-dir DIR (see db.sh)" >&2; exit 1; }
    [ -f data/$c/.done ] || { ser prepare $c "$dir" data/$c && touch data/$c/.done; }
    # each corpus alone, in the shared label space: what stage 7 scores
    [ -f data/${c}6/.done ] || { ser combine --classes "$classes" data/${c}6 "$c=data/$c" && touch data/${c}6/.done; }
  done
  [ -f $data/.done ] || { ser combine --classes "$classes" $data data/emodb data/ravdess && touch $data/.done; }
fi

if [ -n "$copies" ] && [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
  protocol=loco
  resolve_configs
  for f in $feature_sets; do
    log "Stage 1: extract $f with copies ($copies) -> feats/$f/augment"
    # shellcheck disable=SC2086  # copies is a list of ser extract options
    ser extract --features "$f" --nj "$nj" ${cluster:+--cluster "$cluster"} --no-progress $copies $data "feats/$f"
  done
fi

for protocol in $protocols; do
  resolve_configs
  # stages 1-6 of the shared recipe code on the combined data dir (folds from local/make_folds.sh PROTOCOL)
  (stop_stage=$((stop_stage < 6 ? stop_stage : 6)); run_common_stages $data)
done

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
  protocol=loco
  resolve_configs
  for c in $configs; do
    d=$(exp_of "$c")
    if [ "$score_from" = feats ]; then
      log "Stage 7: each fold model of $d scores its held-out corpus's clips in feats/$(feature_of "$c") (alone, one source, grouped)"
      python3 local/score_feats.py "feats/$(feature_of "$c")" "$d" alone source grouped
      continue
    fi
    for corpus in emodb ravdess; do
      for how in alone source grouped; do
        out=$d/held_out_${corpus}_$how.json
        [ -f "$out" ] && continue
        log "Stage 7: $d/fold_$corpus/model.ser scores data/${corpus}6 ($how)"
        flag=""; [ $how = alone ] && flag=--alone; [ $how = source ] && flag="--speaker ${corpus}-all"
        ser score --quiet --nj "$nj" ${cluster:+--cluster "$cluster"} --model "$d/fold_$corpus/model.ser" $flag --metrics "$out.tmp" data/${corpus}6 > /dev/null
        mv "$out.tmp" "$out"
      done
    done
  done
  dirs=""; for c in $configs; do dirs="$dirs $(exp_of "$c")"; done
  # shellcheck disable=SC2086
  python3 local/summarise.py $dirs > "$exp/cross_corpus.md"
  log "held-out corpus table: $(pwd)/$exp/cross_corpus.md"
fi

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ]; then
  [ -n "$builtin" ] || { echo "stage 8 needs --builtin CONFIG (the config chosen by the rule in RESULTS.md)" >&2; exit 1; }
  protocol=loso
  configs=$builtin
  resolve_configs
  d=$(exp_of "$builtin")
  log "Stage 8: $d trained on both corpora, calibrated on its out-of-fold posteriors -> $d/model.ser"
  ser export --calibrate --card local/card.yaml "$d" "$d/model.ser"
  ser info "$d/model.ser"
fi
