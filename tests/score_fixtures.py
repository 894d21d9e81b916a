"""A tiny EmoDB experiment (3 speakers x 8 clips, emobase78_avg5, per-speaker CMVN, one LOSO fold of a
tiny GA-GRU) shared by the bundle and scoring tests."""

from __future__ import annotations

from pathlib import Path

from ser.cli import main
from ser.datadir import DataDir

SPEAKERS = ("03", "08", "09")
PER_SPEAKER = 8
TINY_GAGRU = ["encoder=gagru", "encoder_conf.hidden_size=16", "encoder_conf.num_layers=1", "train.batch_size=16",
              "train.patience=100", "train.lr=3e-3", "train.threads=1", "train.device=cpu"]
LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


def build_experiment(emodb_dir: Path, root: Path, epochs: int = 2) -> Path:
    """root/{data,feats,folds,exp}; exp holds fold 03 (test speaker 03) trained for `epochs` epochs."""
    import torch

    torch.set_num_threads(1)
    ids = []
    for spk in SPEAKERS:
        ids += sorted(p.stem for p in emodb_dir.glob(f"{spk}*.wav"))[:PER_SPEAKER]
    wavs = {u: str(emodb_dir / f"{u}.wav") for u in ids}
    DataDir(maps={"wav.scp": wavs, "utt2spk": {u: u[:2] for u in ids}, "utt2emo": {u: LETTERS[u[5]] for u in ids}}).write(root / "data")
    assert main(["extract", "--features", "emobase78_avg5", "--nj", "2", "--no-progress", str(root / "data"), str(root / "feats")]) == 0
    assert main(["compute-cmvn", str(root / "feats")]) == 0
    assert main(["make-folds", str(root / "data"), str(root / "folds")]) == 0
    assert main(["evaluate", "--quiet", "--folds", "03", str(root / "feats"), str(root / "folds"), str(root / "exp"),
                 *TINY_GAGRU, f"train.max_epochs={epochs}"]) == 0
    return root / "exp"


def read_scores(path: Path) -> dict[str, list[float]]:
    lines = path.read_text().splitlines()[1:]
    return {line.split("\t")[0]: [float(v) for v in line.split("\t")[3:]] for line in lines}
