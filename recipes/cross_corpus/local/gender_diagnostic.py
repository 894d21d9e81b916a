"""Diagnostic for the `speaker_gender` normalisation (RESULTS.md, "Lone clips normalised by the training speakers
of their own gender"): on each held-out corpus of the leave-one-corpus-out folds, how often the bundle's gender
classifier is right, and the lone-clip UAR when each clip gets the statistics of its true gender (utt2gender)
instead of its predicted one. Decides nothing: utt2gender is not known for a user's clip.

    python3 local/gender_diagnostic.py FEAT_DIR EXP_DIR      (prints a Markdown table)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ser.bundle import load_bundle
from ser.features_table import FeatureTable
from ser.metrics import compute_metrics
from ser.normalization import gender_name
from ser.score import Scorer


def diagnose(feat_dir: Path, exp_dir: Path) -> None:
    table = FeatureTable(feat_dir)
    corpus_of, utt2emo = table.data.maps["utt2corpus"], table.data.utt2emo
    print("| held-out corpus | gender classifier accuracy | lone UAR, predicted gender | lone UAR, true gender |")
    print("|---|---:|---:|---:|")
    for corpus in sorted(set(corpus_of.values())):
        scorer = Scorer(load_bundle(exp_dir / f"fold_{corpus}" / "model.ser"))
        norm = scorer.normalization
        utts = sorted(u for u, c in corpus_of.items() if c == corpus and utt2emo.get(u) in scorer.classes)
        truth = [gender_name(table.gender_of(u)) for u in utts]
        guessed = [norm.predict_gender(table.raw[u])[0] for u in utts]
        uar = {}
        for how, genders in (("predicted", guessed), ("true", truth)):
            post = scorer.posteriors([norm.apply_gender(table.raw[u], g)[0] for u, g in zip(utts, genders)])
            labels = [scorer.classes[int(i)] for i in np.argmax(post, axis=1)]
            uar[how] = compute_metrics([utt2emo[u] for u in utts], labels, scorer.classes).uar
        right = np.mean([t == g for t, g in zip(truth, guessed)])
        print(f"| {corpus} ({len(utts)} clips) | {100 * right:.1f}% | {100 * uar['predicted']:.1f} | {100 * uar['true']:.1f} |")


if __name__ == "__main__":
    diagnose(Path(sys.argv[1]), Path(sys.argv[2]))
