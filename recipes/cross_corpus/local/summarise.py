"""The held-out corpus table of the cross-corpus recipe: for each config, the UAR/accuracy that `ser score` measured
on each held-out corpus with the leave-one-corpus-out fold model (clips scored alone, all pooled as one source where
stage 7 scored that too, and grouped by speaker), and the selection score of RESULTS.md's rule: mean over the two
directions of (alone UAR + grouped UAR) / 2 (the source figures select nothing).

    python3 local/summarise.py EXP_DIR... > exp/cross_corpus.md     (the loco experiment dirs, one per config)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CORPORA = {"emodb": "ravdess", "ravdess": "emodb"}  # held-out corpus -> the corpus its fold model trained on


def main(exp_dirs: list[Path]) -> None:
    print("| config | train -> test | alone UAR | alone acc | one-source UAR | one-source acc | grouped UAR | grouped acc |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    scores = {}
    for d in exp_dirs:
        total = []
        for test, train in CORPORA.items():
            files = {how: d / f"held_out_{test}_{how}.json" for how in ("alone", "source", "grouped")}
            if not files["source"].is_file():  # scored before stage 7 had the source mode
                del files["source"]
            m = {how: json.loads(path.read_text())["shared"] for how, path in files.items()}
            total.append((m["alone"]["uar"] + m["grouped"]["uar"]) / 2)
            cells = [f"{100 * m[how]['uar']:.1f} | {100 * m[how]['accuracy']:.1f}" if how in m else "- | -"
                     for how in ("alone", "source", "grouped")]
            print(f"| {d.name} | {train} -> {test} | {' | '.join(cells)} |")
        scores[d.name] = sum(total) / len(total)
    print("\nSelection score (mean over both directions of (alone UAR + grouped UAR) / 2):")
    for name, value in sorted(scores.items(), key=lambda kv: -kv[1]):
        print(f"- {name}: {100 * value:.2f}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
