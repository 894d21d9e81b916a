"""Held-out calibration of the leave-one-corpus-out fold models: the expected calibration error (ECE, as
ser.calibration computes it) of each fold model's posteriors on the corpus it never saw, raw and after temperature
scaling fitted only on its training corpus (that corpus's own leave-one-speaker-out out-of-fold posteriors, as
`ser export --calibrate` fits the built-in model's temperature), and after the built-in model's temperature.

    python3 local/held_out_ece.py LOCO_EXP LOSO_EMODB_EXP LOSO_RAVDESS_EXP BUILTIN_T > table.md
    (LOCO_EXP holds held_out_<corpus>_{alone,grouped}.tsv from local/score_feats.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ser.calibration import apply_temperature, calibrate_experiment, expected_calibration_error

TRAINED_ON = {"emodb": "ravdess", "ravdess": "emodb"}  # held-out corpus -> the corpus its fold model trained on


def read_posteriors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(posteriors, class indices of the references) from a score_feats.py table."""
    lines = path.read_text(encoding="utf-8").splitlines()
    classes = lines[0].split("\t")[2:]
    rows = [line.split("\t") for line in lines[1:]]
    return np.array([[float(v) for v in r[2:]] for r in rows]), np.array([classes.index(r[1]) for r in rows])


def main(loco: Path, loso: dict[str, Path], builtin_t: float) -> None:
    print("| train -> test | scored | T fitted on train corpus | ECE raw | ECE after train-corpus T | "
          "ECE after built-in T | ECE raw (10 bins) | after train T (10 bins) | after built-in T (10 bins) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for test, train in TRAINED_ON.items():
        cal = calibrate_experiment(loso[train])
        for how in ("alone", "grouped"):
            probs, labels = read_posteriors(loco / f"held_out_{test}_{how}.tsv")
            cells = []
            for bins in (15, 10):
                cells += [100 * expected_calibration_error(p, labels, bins) for p in
                          (probs, apply_temperature(probs, cal.temperature), apply_temperature(probs, builtin_t))]
            print(f"| {train} -> {test} | {how} | {cal.temperature:.2f} (ECE {100 * cal.ece_before:.1f} -> "
                  f"{100 * cal.ece_after:.1f} on {cal.utterances} {train} clips) | "
                  + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), {"emodb": Path(sys.argv[2]), "ravdess": Path(sys.argv[3])}, float(sys.argv[4]))
