"""Stage 7's figures from the recipe's extracted features instead of re-extracting the audio.

Why: stage 7 (`ser score data/<corpus>6`) extracts every clip again, twice (alone, grouped), which takes longer than a
2-core machine under load allows. This scores the same clips' matrices from feats/<set> with each loco fold model by
the code `ser score` runs (``Scorer.score_features``: alone = the bundle's training-speaker statistics, grouped = each
speaker's own), and prints UAR and accuracy (%) on the held-out corpus.

    python local/held_out_feats.py exp/loco/<config dir> feats/egemaps88
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ser.bundle import load_bundle
from ser.datadir import DataDir
from ser.frontend.arkio import open_scp
from ser.score import Clip, Scorer


def uar_acc(ref: list[str], hyp: list[str]) -> tuple[float, float]:
    """Unweighted average recall over the reference classes, and accuracy, in %."""
    r, h = np.array(ref), np.array(hyp)
    recalls = [np.mean(h[r == c] == c) for c in sorted(set(ref))]
    return 100 * float(np.mean(recalls)), 100 * float(np.mean(r == h))


def main(exp_dir: str, feat_dir: str) -> int:
    data = DataDir.read(Path(feat_dir))
    corpus_of = data.get("utt2corpus") or {}
    reader = open_scp(Path(feat_dir) / "feats.scp")
    print("| train -> test | alone UAR | alone acc | grouped UAR | grouped acc |\n|---|---:|---:|---:|---:|")
    for held in ("emodb", "ravdess"):
        scorer = Scorer(load_bundle(Path(exp_dir) / f"fold_{held}" / "model.ser"))
        utts = sorted(u for u in reader if corpus_of.get(u) == held)
        feats = [np.asarray(reader[u], dtype=np.float32) for u in utts]
        ref = [data.utt2emo[u] for u in utts]
        cells = []
        for grouped in (False, True):
            clips = [Clip(id=u, path="", speaker=data.utt2spk[u] if grouped else None) for u in utts]
            run = scorer.score_features(clips, feats, [None] * len(utts))
            cells += uar_acc(ref, [r.label for r in run.results])
        other = "RAVDESS" if held == "emodb" else "EmoDB"
        print(f"| {other} -> {'EmoDB' if held == 'emodb' else 'RAVDESS'} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
