"""Features of one extracted data dir, normalised per the experiment's protocol, ready for folds.

Loaded once per experiment. Per-speaker statistics come from `cmvn.scp` (each speaker's own
unlabelled audio: the papers' protocol); global statistics are computed per fold from the fold's
training utterances only, so nothing about test speakers leaks into a scaler.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import kaldiio
import numpy as np
import yaml

from ser.datadir import DataDir
from ser.errors import SerError
from ser.frontend.cmvn import normalize, read_cmvn, speaker_stats, stats_of, sum_stats


class FeatureTable:
    """Raw matrices by utterance plus the statistics each normalisation mode needs."""

    def __init__(self, feat_dir: str | Path, normalization: str) -> None:
        self.feat_dir = Path(feat_dir)
        if not (self.feat_dir / "feats.scp").is_file():
            raise SerError(f"{self.feat_dir}/feats.scp is missing: run `ser extract` first")
        self.data = DataDir.read(self.feat_dir)
        self.normalization = normalization
        header_path = self.feat_dir / "feats.yaml"
        self.header = yaml.safe_load(header_path.read_text(encoding="utf-8")) if header_path.is_file() else {}
        reader = kaldiio.load_scp(str(self.feat_dir / "feats.scp"))
        self.raw: dict[str, np.ndarray] = {utt: np.asarray(reader[utt], dtype=np.float32) for utt in sorted(reader)}
        self.level = (self.header.get("feature_set") or {}).get("level", "frame")
        self.dim = next(iter(self.raw.values())).shape[1]
        self.speaker_stats: dict[str, np.ndarray] = {}
        if normalization == "speaker":
            if (self.feat_dir / "cmvn.scp").is_file():
                self.speaker_stats = read_cmvn(self.feat_dir)
            else:
                print(f"note: {self.feat_dir}/cmvn.scp missing; computing per-speaker stats in memory", file=sys.stderr)
                self.speaker_stats = speaker_stats(self.feat_dir / "feats.scp", self.data.utt2spk)

    @property
    def utts(self) -> list[str]:
        return list(self.raw)

    def global_stats(self, train_utts: Sequence[str]) -> np.ndarray:
        return sum_stats(stats_of(self.raw[u]) for u in train_utts)

    def matrices(self, utts: Sequence[str], global_stats: np.ndarray | None = None) -> list[np.ndarray]:
        """Normalised matrices for `utts` (global mode needs the fold's training stats)."""
        out = []
        for utt in utts:
            spk = self.data.utt2spk[utt]
            st = self.speaker_stats.get(spk) if self.normalization == "speaker" else None
            if self.normalization == "speaker" and st is None:
                raise SerError(f"{self.feat_dir}/cmvn.scp has no statistics for speaker '{spk}': rerun `ser compute-cmvn`")
            out.append(normalize(self.raw[utt], self.normalization, speaker_stats=st, global_stats=global_stats))
        return out
