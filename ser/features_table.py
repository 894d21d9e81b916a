"""Features of one extracted data dir, ready for folds: raw matrices, the statistics normalisers fit on,
and labelled sets (normalised inputs + class indices) for a list of utterances.

Loaded once per experiment. Per-speaker statistics come from `cmvn.scp` (each speaker's own unlabelled
audio: the papers' protocol) and are read only when a normaliser asks for them; a normaliser is fitted on
a fold's training utterances only (``ser.normalization``), so nothing about test speakers leaks into a scaler.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ser.datadir import LABELS_FILE, DataDir
from ser.errors import SerError
from ser.frontend.arkio import open_scp
from ser.frontend.cmvn import read_cmvn, speaker_stats, stats_of
from ser.limits import load_yaml_file
from ser.normalization import Normalization, make_normalization

#: below this much audio a speaker's own statistics are not used (normalised with the training speakers' instead)
MIN_CLIPS = 10
MIN_SECONDS = 3.0


@dataclass
class LabelledSet:
    """One part of a fold: normalised inputs, class index per utterance, and who spoke it."""

    utts: list[str]
    inputs: list[np.ndarray]
    labels: np.ndarray
    speakers: list[str]
    genders: list[str]  # "" where utt2gender has no entry
    corpora: list[str] = field(default_factory=list)  # utt2corpus of a combined data dir ("" without one)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([x.shape[0] for x in self.inputs], dtype=np.int64)

    def __add__(self, other: "LabelledSet") -> "LabelledSet":
        return LabelledSet(self.utts + other.utts, self.inputs + other.inputs,
                           np.concatenate([self.labels, other.labels]).astype(np.int64),
                           self.speakers + other.speakers, self.genders + other.genders, self.corpora + other.corpora)

    def subset(self, indices: Sequence[int]) -> "LabelledSet":
        """The utterances at `indices`, in that order."""
        pick = list(indices)
        return LabelledSet([self.utts[i] for i in pick], [self.inputs[i] for i in pick],
                           self.labels[pick].astype(np.int64), [self.speakers[i] for i in pick],
                           [self.genders[i] for i in pick], [self.corpora[i] for i in pick] if self.corpora else [])

    def random_split(self, fraction: float, seed: int) -> tuple["LabelledSet", "LabelledSet"]:
        """(rest, a random `fraction` of the utterances), drawn with `seed`; both keep the original order."""
        order = np.random.default_rng(seed).permutation(len(self.utts))
        n_valid = min(len(order) - 1, max(1, round(fraction * len(order))))
        return self.subset(sorted(order[n_valid:])), self.subset(sorted(order[:n_valid]))

    def corpus_weights(self) -> np.ndarray:
        """Per-utterance weights N / (K n_corpus) that give each of the K corpora the same total weight, so a
        large corpus does not drown a small one in multi-corpus training (all 1 with a single corpus)."""
        corpora = np.asarray(self.corpora or [""] * len(self.utts))
        names, counts = np.unique(corpora, return_counts=True)
        per = {n: len(corpora) / (len(names) * c) for n, c in zip(names, counts)}
        return np.array([per[c] for c in corpora], dtype=np.float64)


class FeatureTable:
    """Raw matrices by utterance plus the statistics normalisers need (a ``StatisticsSource``)."""

    def __init__(self, feat_dir: str | Path) -> None:
        self.feat_dir = Path(feat_dir)
        if not (self.feat_dir / "feats.scp").is_file():
            raise SerError(f"{self.feat_dir}/feats.scp is missing: run `ser extract` first")
        self.data = DataDir.read(self.feat_dir)
        header_path = self.feat_dir / "feats.yaml"
        self.header = load_yaml_file(header_path, "feature header") if header_path.is_file() else {}
        reader = open_scp(self.feat_dir / "feats.scp")
        self.raw: dict[str, np.ndarray] = {utt: np.asarray(reader[utt], dtype=np.float32) for utt in sorted(reader)}
        self.level = (self.header.get("feature_set") or {}).get("level", "frame")
        self.dim = next(iter(self.raw.values())).shape[1]
        self._speaker_stats: dict[str, np.ndarray] | None = None
        labels = self.feat_dir / LABELS_FILE
        #: the data dir's label space (classes and per-corpus mapping of `ser combine`), recorded in experiments
        self.label_space = load_yaml_file(labels, "label space file") if labels.is_file() else None
        self._copies = None

    def copy_table(self):  # -> ser.copies.CopyTable
        """The augmented copies in this feature dir's augment/ folder, read once (only when a config asks for them)."""
        if self._copies is None:
            from ser.copies import CopyTable

            self._copies = CopyTable(self.feat_dir)
        return self._copies

    def subset(self, utts: Sequence[str]) -> "FeatureTable":
        """A table holding only `utts`: their matrices, data-dir entries and their speakers' statistics.

        Why: a search that must never see a held-out speaker gets this instead of the full table, so it
        cannot read that speaker's features, labels or statistics even by mistake (``ser.tune``); it also
        needs no files, so it can be sent to worker processes or a cluster as it is.
        """
        keep = [u for u in utts if u in self.raw]
        missing = sorted(set(utts) - set(keep))
        if missing:
            raise SerError(f"{self.feat_dir}: {len(missing)} utterance(s) not in feats.scp, e.g. {missing[0]}")
        speakers = {self.data.utt2spk[u] for u in keep}
        stats = self.all_speaker_stats()
        part = copy.copy(self)
        part.raw = {u: self.raw[u] for u in sorted(keep)}
        part.data = self.data.subset_utts(keep)
        part._speaker_stats = {s: st for s, st in stats.items() if s in speakers}
        return part

    @property
    def utts(self) -> list[str]:
        return list(self.raw)

    @property
    def frame_level(self) -> bool:
        return self.level == "frame"

    @property
    def feature_set_name(self) -> str | None:
        return (self.header.get("feature_set") or {}).get("name")

    @property
    def min_statistics_rows(self) -> float:
        """Feature rows a speaker needs for statistics of their own: 10 clips of functionals, or 3 s of frames."""
        if not self.frame_level:
            return float(MIN_CLIPS)
        shift = float(self.header.get("frame_shift") or 0.01)
        return MIN_SECONDS / shift

    # --- StatisticsSource ---------------------------------------------------------------------------
    def utterance_stats(self, utt: str) -> np.ndarray:
        return stats_of(self.raw[utt])

    def speaker_of(self, utt: str) -> str:
        return self.data.utt2spk[utt]

    def gender_of(self, utt: str) -> str | None:
        """utt2gender's entry for `utt` (None without one): what `speaker_gender` normalisation learns from."""
        return (self.data.get("utt2gender") or {}).get(utt)

    def speaker_stats(self, speaker: str) -> np.ndarray:
        stats = self.all_speaker_stats()
        if speaker not in stats:
            raise SerError(f"{self.feat_dir}/cmvn.scp has no statistics for speaker '{speaker}': rerun `ser compute-cmvn`")
        return stats[speaker]

    def all_speaker_stats(self) -> dict[str, np.ndarray]:
        """cmvn.scp (or, without it, the same statistics computed in memory), read once."""
        if self._speaker_stats is None:
            if (self.feat_dir / "cmvn.scp").is_file():
                self._speaker_stats = read_cmvn(self.feat_dir)
            else:
                print(f"note: {self.feat_dir}/cmvn.scp missing; computing per-speaker stats in memory", file=sys.stderr)
                self._speaker_stats = speaker_stats(self.feat_dir / "feats.scp", self.data.utt2spk)
        return self._speaker_stats

    # --- normalised, labelled data ------------------------------------------------------------------
    def normalization(self, mode: str, train_utts: Sequence[str], clip: float = 0.0) -> Normalization:
        """A `mode` normaliser fitted on the training utterances; per-speaker modes adapted to every speaker's
        own statistics (unlabelled audio, the papers' protocol), which must cover every speaker here. `clip` > 0
        clips the normalised values to [-clip, clip] (stored in the bundle, so scoring clips alike)."""
        norm = make_normalization(mode, clip=clip, min_count=self.min_statistics_rows).fit(self, train_utts)
        if norm.uses_speaker_stats:
            stats = self.all_speaker_stats()
            missing = sorted(set(self.data.utt2spk.values()) - set(stats))
            if missing:
                raise SerError(f"{self.feat_dir}/cmvn.scp has no statistics for speaker '{missing[0]}': rerun `ser compute-cmvn`")
            norm.adapt(stats)
            few = sorted(getattr(norm, "too_little", {}))
            if few:
                print(f"note: {len(few)} speaker(s) of {self.feat_dir} have too little audio for statistics of their own "
                      f"({', '.join(few[:5])}{' ...' if len(few) > 5 else ''}): normalised with the training speakers' "
                      "statistics, as `ser score` would", file=sys.stderr)
        return norm

    def matrices(self, utts: Sequence[str], norm: Normalization) -> list[np.ndarray]:
        return [norm.apply(self.raw[u], self.data.utt2spk[u])[0] for u in utts]

    def labelled(self, utts: Sequence[str], classes: Sequence[str], norm: Normalization,
                 warn: Callable[[str], None]) -> LabelledSet:
        """Inputs and class indices; utterances with a label outside `classes` are reported and left out."""
        index = {c: i for i, c in enumerate(classes)}
        utt2emo = self.data.utt2emo
        kept, dropped = [], {}
        for utt in utts:
            label = utt2emo.get(utt)
            if label in index:
                kept.append(utt)
            else:
                dropped[label] = dropped.get(label, 0) + 1
        for label, count in sorted(dropped.items(), key=lambda kv: str(kv[0])):
            warn(f"{count} utterances with label '{label}' are not in the class list {list(classes)}: left out")
        utt2gender = self.data.get("utt2gender") or {}
        utt2corpus = self.data.get("utt2corpus") or {}
        return LabelledSet(utts=kept, inputs=self.matrices(kept, norm),
                           labels=np.array([index[utt2emo[u]] for u in kept], dtype=np.int64),
                           speakers=[self.data.utt2spk[u] for u in kept], genders=[utt2gender.get(u, "") for u in kept],
                           corpora=[utt2corpus.get(u, "") for u in kept])


__all__ = ["FeatureTable", "LabelledSet", "MIN_CLIPS", "MIN_SECONDS"]
