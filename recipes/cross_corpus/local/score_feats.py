"""Stage 7 from the extracted features: each held-out corpus scored by its leave-one-corpus-out fold model, as
`ser score [--alone] --metrics` scores the corpus's data dir, but reading the combined feature dir instead of
extracting every clip again (the same wavs and feature set give the same matrices; on 2 CPU cores this saves the
~10 minutes a re-extraction of 1702 clips costs per config). Also keeps each clip's posteriors for calibration.

    python3 local/score_feats.py FEAT_DIR EXP_DIR [MODE ...]
        (writes EXP_DIR/held_out_<corpus>_<mode>.json and .tsv; modes: alone, grouped (by speaker, the default two)
         and source: every clip of the corpus as one speaker, as `ser score --speaker SOURCE` pools a folder)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ser.bundle import load_bundle
from ser.datadir import DataDir
from ser.score import Scorer, score_feature_dir
from ser.score_metrics import labelled_score


MODES = ("alone", "grouped", "source")


def score_held_out(feat_dir: Path, exp_dir: Path, modes: tuple[str, ...] = ("alone", "grouped")) -> None:
    """Write the metrics JSON and a posterior table per held-out corpus and scoring mode."""
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}: use {', '.join(MODES)}")
    corpus_of = DataDir.read(feat_dir).maps["utt2corpus"]
    for corpus in sorted(set(corpus_of.values())):
        model = exp_dir / f"fold_{corpus}" / "model.ser"
        utts = sorted(u for u, c in corpus_of.items() if c == corpus)
        for how in modes:
            bundle = load_bundle(model)
            scorer = Scorer(bundle)  # fresh: per-speaker statistics adapted by one run must not leak into the next
            run = score_feature_dir(scorer, feat_dir, utts, alone=how == "alone",
                                    group=f"{corpus}-all" if how == "source" else None)
            record = {"model": str(model), "inputs": [str(feat_dir)], "corpus": corpus, "alone": how == "alone", "mode": how,
                      "normalization": bundle.normalization, "from_features": True, **labelled_score(run).to_dict()}
            (exp_dir / f"held_out_{corpus}_{how}.json").write_text(json.dumps(record, indent=1) + "\n")
            with open(exp_dir / f"held_out_{corpus}_{how}.tsv", "w", encoding="utf-8") as out:
                out.write("utt\treference\t" + "\t".join(run.classes) + "\n")
                for r in run.results:
                    out.write(f"{r.clip.id}\t{r.clip.reference}\t" + "\t".join(f"{p:.6f}" for p in r.posteriors) + "\n")


if __name__ == "__main__":
    score_held_out(Path(sys.argv[1]), Path(sys.argv[2]), tuple(sys.argv[3:]) or ("alone", "grouped"))
