"""Diagnostic for scoring a folder of one source pooled as one speaker (RESULTS.md, "Many clips of one source
without speaker labels"): how much the folder's mix of emotions matters. On each held-out corpus of the
leave-one-corpus-out folds, the same fold model scores (a) every clip pooled, (b) a neutral-heavy folder (every
neutral clip and a fifth of each other class, as call archives are mostly neutral), (c) each emotion on its own
as a folder; each against the same clips scored alone. Decides nothing: it says how far the caveat reaches.

    python3 local/source_mix_diagnostic.py FEAT_DIR EXP_DIR      (prints a Markdown table)
"""

from __future__ import annotations

import sys
from pathlib import Path

from ser.bundle import load_bundle
from ser.datadir import DataDir
from ser.metrics import compute_metrics
from ser.score import Scorer, score_feature_dir


def _scores(model: Path, feat_dir: Path, utts: list[str], truth: dict[str, str], classes: list[str]) -> tuple:
    """Metrics of `utts` scored alone and pooled as one source, arg-max over `classes` (the corpus's classes, not
    the folder's: `labelled_score` restricts to the classes a folder holds, which makes a one-emotion folder always
    right)."""
    out = []
    for alone in (True, False):
        scorer = Scorer(load_bundle(model))  # fresh: pooled statistics must not leak from one folder to the next
        run = score_feature_dir(scorer, feat_dir, utts, alone=alone, group=None if alone else "folder")
        keep = [scorer.classes.index(c) for c in classes]
        labels = [classes[int(r.posteriors[keep].argmax())] for r in run.results]
        out.append(compute_metrics([truth[u] for u in utts], labels, classes))
    return tuple(out)


def diagnose(feat_dir: Path, exp_dir: Path) -> None:
    data = DataDir.read(feat_dir)
    corpus_of, utt2emo = data.maps["utt2corpus"], data.utt2emo
    print("| held-out corpus | folder | clips | UAR alone | UAR pooled | accuracy alone | accuracy pooled "
          "| recall alone -> pooled, per class in the folder |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for corpus in sorted(set(corpus_of.values())):
        model = exp_dir / f"fold_{corpus}" / "model.ser"
        classes = load_bundle(model).classes
        utts = sorted(u for u, c in corpus_of.items() if c == corpus and utt2emo.get(u) in classes)
        present = [c for c in classes if any(utt2emo[u] == c for u in utts)]
        folders = {"all clips": utts,
                   "neutral-heavy (all neutral + 1/5 of the rest)":
                       [u for i, u in enumerate(utts) if utt2emo[u] == "neutral" or i % 5 == 0]}
        folders.update({f"{c} only": [u for u in utts if utt2emo[u] == c] for c in present})
        for name, folder in folders.items():
            inside = [c for c in present if any(utt2emo[u] == c for u in folder)]
            alone, pooled = _scores(model, feat_dir, folder, utt2emo, present)
            recalls = ", ".join(f"{c} {100 * alone.recall[present.index(c)]:.0f} -> {100 * pooled.recall[present.index(c)]:.0f}"
                                for c in inside)
            uar = (f"{100 * alone.uar:.1f} | {100 * pooled.uar:.1f}" if len(inside) > 1 else "- | -")
            print(f"| {corpus} | {name} | {len(folder)} | {uar} | {100 * alone.wa:.1f} | {100 * pooled.wa:.1f} | {recalls} |")


if __name__ == "__main__":
    diagnose(Path(sys.argv[1]), Path(sys.argv[2]))
