"""Mean/variance normalisation with Kaldi-format statistics.

Stats are Kaldi's 2 x (D+1) matrix: row 0 = [sum_1..sum_D, count], row 1 = [sumsq_1..sumsq_D, 0],
so `compute-cmvn-stats`/`apply-cmvn` users can read ours. The normalisation modes that use these
statistics are components in `ser.normalization`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ser.errors import SerError
from ser.frontend.arkio import open_scp

VAR_FLOOR = 1e-20  # as Kaldi's apply-cmvn; Emobase intensity deltas have variances near 1e-18


def stats_of(feats: np.ndarray) -> np.ndarray:
    """Kaldi CMVN stats of one (frames, dim) matrix, accumulated in float64."""
    x = np.asarray(feats, dtype=np.float64)
    dim = x.shape[1]
    stats = np.zeros((2, dim + 1), dtype=np.float64)
    stats[0, :dim] = x.sum(axis=0)
    stats[0, dim] = x.shape[0]
    stats[1, :dim] = (x * x).sum(axis=0)
    return stats


def sum_stats(stats: Iterable[np.ndarray]) -> np.ndarray:
    total = None
    for item in stats:
        total = item.copy() if total is None else total + item
    if total is None:
        raise SerError("no statistics to sum (empty set of utterances)")
    return total


def mean_std(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation from Kaldi stats (variance floored to stay finite)."""
    count = stats[0, -1]
    if count <= 0:
        raise SerError("CMVN statistics have a zero frame count")
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - mean * mean, VAR_FLOOR)
    return mean, np.sqrt(var)


def apply_stats(feats: np.ndarray, stats: np.ndarray, variance: bool = True) -> np.ndarray:
    mean, std = mean_std(stats)
    out = feats - mean
    if variance:
        out = out / std
    return out.astype(np.float32, copy=False)


def pool_by_speaker(items: Iterable[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Statistics per speaker from (speaker, feature matrix) pairs: what `ser compute-cmvn` writes and what
    `ser score` computes for the clips of one speaker (one implementation for both)."""
    out: dict[str, np.ndarray] = {}
    for speaker, feats in items:
        stats = stats_of(feats)
        out[speaker] = out[speaker] + stats if speaker in out else stats
    return out


def speaker_stats(feats_scp: str | Path, utt2spk: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Per-speaker stats over every utterance of the speaker in feats.scp (unlabelled audio only)."""
    def pairs() -> Iterable[tuple[str, np.ndarray]]:
        for utt, mat in open_scp(feats_scp, sequential=True):
            if utt not in utt2spk:
                raise SerError(f"{feats_scp}: utterance '{utt}' has no speaker in utt2spk")
            yield utt2spk[utt], mat

    return pool_by_speaker(pairs())


def write_cmvn(feat_dir: str | Path, stats: Mapping[str, np.ndarray]) -> None:
    """Write cmvn.ark/cmvn.scp (keyed by speaker) atomically in `feat_dir`."""
    from ser.frontend.arkio import write_ark_atomic

    feat_dir = Path(feat_dir)
    write_ark_atomic(feat_dir / "cmvn.ark", feat_dir / "cmvn.scp", ((spk, st.astype(np.float64)) for spk, st in stats.items()))


def read_cmvn(feat_dir: str | Path) -> dict[str, np.ndarray]:
    path = Path(feat_dir) / "cmvn.scp"
    if not path.is_file():
        raise SerError(f"{path} is missing: run `ser compute-cmvn {feat_dir}` first")
    return {spk: np.asarray(mat, dtype=np.float64) for spk, mat in open_scp(path).items()}


__all__ = [
    "VAR_FLOOR",
    "apply_stats",
    "mean_std",
    "pool_by_speaker",
    "read_cmvn",
    "speaker_stats",
    "stats_of",
    "sum_stats",
    "write_cmvn",
]
