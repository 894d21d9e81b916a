# Shared by the audio recipes (emodb, iemocap, ravdess, msp_improv, cross_corpus): resolve the configs' feature sets, then run
# stages 1-6 on a prepared data dir. The calling run.sh sets stage, stop_stage, nj, configs, features,
# protocol, exp, tag, seeds (empty: one run per config), overrides, device, cluster (empty: local processes), defines log(), cds into its recipe dir (with local/make_folds.sh)
# and runs its own stage 0.

# resolve_configs: check every conf/<config>.yaml exists and find its feature set
# (--features overrides every config's own feature set, e.g. --features mfcc_pitch28).
resolve_configs() {
  declare -gA feature_of_config=()
  feature_sets=""
  for c in $configs; do
    [ -f "conf/$c.yaml" ] || { echo "no config conf/$c.yaml (available: $(ls conf | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 1; }
    f=${features:-$(ser evaluate --config "conf/$c.yaml" --print-config | sed -n 's/^features: *//p')}
    feature_of_config[$c]=$f
    case " $feature_sets " in *" $f "*) ;; *) feature_sets="$feature_sets $f" ;; esac
  done
  folds=folds/$protocol
}

feature_of() { echo "${feature_of_config[$1]}"; }
# exp_of CONFIG: the config's experiment dir; with --seeds "0 1 2" it is the fused ensemble (<dir>_seeds), whose
# members are seed_dirs_of CONFIG (<dir>_s0, <dir>_s1, ...), each trained with train.seed=<seed>.
exp_base_of() { echo "$exp/$protocol/${1}_$(feature_of "$1")${tag:+_$tag}"; }
exp_of() { echo "$(exp_base_of "$1")${seeds:+_seeds}"; }
seed_dirs_of() { local s; for s in ${seeds:-}; do echo "$(exp_base_of "$1")_s$s"; done; }
# training_runs_of CONFIG: what stage 4 trains (the seeds' members, or the config's one dir) with its overrides
training_runs_of() {
  if [ -z "${seeds:-}" ]; then echo "$(exp_of "$1")|"; return; fi
  local s; for s in ${seeds:-}; do echo "$(exp_base_of "$1")_s$s|train.seed=$s"; done
}

# run_common_stages DATA: 1 extract, 2 folds, 3 per-speaker CMVN, 4 train+score (ser evaluate), 5 check, 6 report,
# 7 export each config's final model (trained on all speakers, epochs chosen by the folds) to <exp dir>/model.ser.
run_common_stages() {
  local data="$1"
  if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
    for f in $feature_sets; do
      log "Stage 1: extract $f"
      [ -f "feats/$f/.done" ] || { ser extract --features "$f" --nj "$nj" ${cluster:+--cluster "$cluster"} "$data" "feats/$f" \
                                     && touch "feats/$f/.done"; }
    done
  fi

  if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ]; then
    log "Stage 2: $protocol folds -> $folds"
    [ -f "$folds/.done" ] || local/make_folds.sh "$protocol" "$data" "$folds"
  fi

  if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
    for f in $feature_sets; do
      log "Stage 3: per-speaker CMVN statistics for $f"
      [ -f "feats/$f/.cmvn.done" ] || { ser compute-cmvn "feats/$f" && touch "feats/$f/.cmvn.done"; }
    done
  fi

  if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
    for c in $configs; do
      f=$(feature_of "$c")
      while IFS='|' read -r d seed_override; do
        log "Stage 4: train and score every fold of $d (finished folds are skipped, a killed one resumes)"
        # shellcheck disable=SC2086  # overrides is a list of key=value words
        ser evaluate --quiet --nj "$nj" ${cluster:+--cluster "$cluster"} --device "$device" --config "conf/$c.yaml" "feats/$f" "$folds" "$d" \
          ${features:+features=$features} $overrides $seed_override
      done < <(training_runs_of "$c")
      if [ -n "${seeds:-}" ]; then
        log "Stage 4: seed ensemble $(exp_of "$c") = mean posteriors of seeds $seeds (ser fuse)"
        # shellcheck disable=SC2046
        ser fuse "$(exp_of "$c")" $(seed_dirs_of "$c")
      fi
    done
  fi

  if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
    log "Stage 5: check that every fold of $folds has scores"
    for c in $configs; do
      while IFS='|' read -r d _; do
        missing=""
        for fold in "$folds"/*/; do
          n=$(basename "$fold")
          [ -f "$d/fold_$n/.done" ] && [ -f "$d/fold_$n/scores.tsv" ] || missing="$missing $n"
        done
        [ -z "$missing" ] || { echo "$d: no scores for fold(s)$missing; rerun with --stage 4" >&2; exit 1; }
      done < <(training_runs_of "$c")
    done
  fi

  if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
    log "Stage 6: report"
    dirs=""
    for c in $configs; do dirs="$dirs $(exp_of "$c")"; done
    # shellcheck disable=SC2086
    ser report $dirs
    # one table over every experiment of this protocol reported so far (a run with --configs X adds X to it)
    all=""
    ref=""  # significance is tested against the SVM baseline when this protocol has one (else the first row)
    for d in "$exp/$protocol"/*/; do
      [ -f "$d/results.json" ] || continue
      all="$all ${d%/}"
      case "$(basename "$d")" in svm_*) [ -n "$ref" ] || ref=$(basename "$d") ;; esac
    done
    # shellcheck disable=SC2086
    ser report $all --compare "$exp/$protocol/RESULTS.md" ${ref:+--reference "$ref"}
    log "results: $(pwd)/$exp/$protocol/RESULTS.md (one table) and $(pwd)/$exp/$protocol/<tag>/RESULTS.md (per config)"
  fi

  if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ]; then
    for c in $configs; do
      d=$(exp_of "$c")
      if [ -n "${seeds:-}" ]; then  # a model file holds one model: the first seed's stands for the ensemble
        read -r first_seed _ <<< "$seeds"
        d="$(exp_base_of "$c")_s$first_seed"
        log "Stage 7: a seed ensemble exports its first member ($d); score it, or fuse the members' scores"
      fi
      log "Stage 7: export $d/model.ser (final model on all speakers)"
      [ -f "$d/model.ser" ] || ser export "$d" "$d/model.ser"  # the exp dir's config.yaml holds the overrides
    done
    log "score new audio with: ser score --model $(pwd)/$(exp_of "${configs%% *}")/model.ser clip.wav"
  fi
}
