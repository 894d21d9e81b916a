"""Feature normalisation as components: one registered class per mode, used by training, evaluation,
export and scoring alike.

Why a component: a clip must be normalised the same way when a fold is trained, when its test speaker is
scored, when the final model is exported and when `ser score` labels new audio, but the statistics come
from different places at each step (a fold's training utterances, each speaker's own unlabelled audio in
`cmvn.scp`, the clips of one speaker in a scoring run). Each mode says once what it learns from training
data, what it adapts to at test time, and what a bundle must store. The mode moves UAR by 10+ points on
acted corpora, so every report states it (`description`).

Life cycle of a normaliser:

- ``fit(source, utts)``: statistics of the training utterances only (never labels, never test data); this
  is what a bundle stores (``state()``; ``from_state`` rebuilds it);
- ``adapt(speaker_stats)``: unlabelled per-speaker statistics of the audio about to be normalised
  (`cmvn.scp` in evaluation, the clips grouped by speaker in `ser score`); modes that do not use them ignore it;
- ``apply(feats, speaker)`` -> (normalised matrix, which statistics were used: shown by `ser score`), clipped
  to [-clip, clip] when the option is on (``normalization_clip`` in a config; stored in the bundle's state).

Statistics are Kaldi's 2 x (D+1) count/sum/sum-of-squares matrices (``ser.frontend.cmvn``). A new mode is
one class decorated with ``@register_normalization`` that overrides ``_apply`` (and ``_state``/``_load``).
"""

from __future__ import annotations

from typing import ClassVar, Mapping, Protocol, Sequence

import numpy as np

from ser.errors import SerError
from ser.frontend.cmvn import apply_stats, pool_by_speaker, stats_of, sum_stats

#: What `ser score` prints when a clip of an unknown speaker is normalised with the training speakers' statistics.
TRAINING_SPEAKERS = "training-speakers"


class StatisticsSource(Protocol):
    """Where `fit` reads training statistics from (``ser.features_table.FeatureTable`` provides it)."""

    def utterance_stats(self, utt: str) -> np.ndarray: ...

    def speaker_of(self, utt: str) -> str: ...

    def speaker_stats(self, speaker: str) -> np.ndarray: ...


class Normalization:
    """Base class: the identity. Subclasses override what their mode needs."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: True when `apply` needs each speaker's own statistics (cmvn.scp in training, speaker groups in scoring)
    uses_speaker_stats: ClassVar[bool] = False

    def fit(self, source: StatisticsSource, utts: Sequence[str]) -> "Normalization":
        return self

    def adapt(self, speaker_stats: Mapping[str, np.ndarray]) -> None:
        """Unlabelled statistics of the speakers about to be normalised (ignored unless uses_speaker_stats)."""

    #: normalised values are clipped to [-clip, clip] (0: off, the default and what older bundles get). Why:
    #: eGeMAPS ratio functionals (``*_stddevNorm`` = std/mean with a mean near zero) jump by tens of standard
    #: deviations under inaudible changes (a codec, 1 ms of silence) and flip the label of a linear model.
    clip: float = 0.0

    def apply(self, feats: np.ndarray, speaker: str | None = None) -> tuple[np.ndarray, str]:
        """The mode's normalisation, then the clip: every caller (training, export, scoring) goes through here."""
        out, used = self._apply(feats, speaker)
        if self.clip > 0:
            out = np.clip(out, -self.clip, self.clip)
        return out, used

    def _apply(self, feats: np.ndarray, speaker: str | None) -> tuple[np.ndarray, str]:
        return feats, self.name

    def state(self) -> dict[str, np.ndarray]:
        """What a bundle stores; the clip only when on, so bundles without it are unchanged."""
        out = self._state()
        if self.clip > 0:
            out["clip"] = np.array([self.clip])
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> "Normalization":
        norm = cls()._load(state)
        norm.clip = float(state["clip"][0]) if "clip" in state else 0.0  # bundles before the option: no clip
        return norm

    def _load(self, state: Mapping[str, np.ndarray]) -> "Normalization":
        return self


_MODES: dict[str, type[Normalization]] = {}


def register_normalization(cls: type[Normalization]) -> type[Normalization]:
    """Class decorator: make a mode available by its `name` (in configs, bundles and reports)."""
    if not cls.name or cls.name in _MODES:
        raise SerError(f"normalisation mode '{cls.name}' has no name or is registered twice")
    _MODES[cls.name] = cls
    return cls


def normalization_names() -> list[str]:
    return list(_MODES)


def normalization_class(name: str) -> type[Normalization]:
    if name not in _MODES:
        raise SerError(f"normalization must be one of {', '.join(_MODES)}, not '{name}'")
    return _MODES[name]


def make_normalization(name: str, clip: float = 0.0, **options: float) -> Normalization:
    """A fresh (unfitted) normaliser of mode `name`, its outputs clipped to [-clip, clip] when clip > 0
    (options a mode does not take are ignored)."""
    cls = normalization_class(name)
    import inspect

    if clip < 0:
        raise SerError(f"normalization_clip must be 0 (off) or positive, not {clip}")
    accepted = inspect.signature(cls.__init__).parameters
    norm = cls(**{k: v for k, v in options.items() if k in accepted})
    norm.clip = float(clip)
    return norm


def load_normalization(name: str, state: Mapping[str, np.ndarray]) -> Normalization:
    """The normaliser a bundle stored."""
    return normalization_class(name).from_state(state)


def _state_array(state: Mapping[str, np.ndarray], key: str, mode: str) -> np.ndarray:
    if key not in state:
        raise SerError(f"'{mode}' normalisation needs its statistics '{key}', which the model file lacks")
    return np.asarray(state[key], dtype=np.float64)


@register_normalization
class NoNormalization(Normalization):
    name = "none"
    description = "none"


@register_normalization
class UtteranceNormalization(Normalization):
    """Each utterance by its own mean and variance: needs nothing from training, removes level and channel
    offsets of single clips, but also the between-utterance differences that carry emotion."""

    name = "utterance"
    description = "per-utterance z-normalisation"

    def _apply(self, feats: np.ndarray, speaker: str | None) -> tuple[np.ndarray, str]:
        return apply_stats(feats, stats_of(feats)), self.name


@register_normalization
class GlobalNormalization(Normalization):
    """One mean and variance from the training utterances (of the fold; never its test speakers)."""

    name = "global"
    description = "global z-normalisation from each fold's training utterances only"

    def __init__(self) -> None:
        self.stats: np.ndarray | None = None

    def fit(self, source: StatisticsSource, utts: Sequence[str]) -> "GlobalNormalization":
        self.stats = sum_stats(source.utterance_stats(u) for u in utts)
        return self

    def _apply(self, feats: np.ndarray, speaker: str | None) -> tuple[np.ndarray, str]:
        if self.stats is None:
            raise SerError("global normalisation needs statistics of the training part (fit it first)")
        return apply_stats(feats, self.stats), self.name

    def _state(self) -> dict[str, np.ndarray]:
        return {} if self.stats is None else {"stats": self.stats}

    def _load(self, state: Mapping[str, np.ndarray]) -> "GlobalNormalization":
        self.stats = _state_array(state, "stats", self.name)
        return self


@register_normalization
class SpeakerNormalization(Normalization):
    """Each speaker by the statistics of their own unlabelled audio (the papers' protocol).

    `fit` pools the training speakers' statistics: the fallback for audio whose speaker is unknown (a lone
    clip in `ser score`), which is stored in a bundle. `adapt` gives the speakers to be normalised. A
    speaker with too little audio for statistics of their own (fewer than `min_count` feature rows: one
    clip of functionals has a single row, whose "standard deviation" is zero) falls back too, and `apply`
    says so: statistics of one clip made every clip look alike (the same label and posteriors for all).
    """

    name = "speaker"
    description = "per-speaker z-normalisation (each speaker's own unlabelled audio, cmvn.scp)"
    uses_speaker_stats = True

    def __init__(self, min_count: float = 0.0) -> None:
        self.fallback: np.ndarray | None = None
        self.speakers: dict[str, np.ndarray] = {}
        self.too_little: dict[str, float] = {}
        self.min_count = float(min_count)

    def fit(self, source: StatisticsSource, utts: Sequence[str]) -> "SpeakerNormalization":
        speakers = sorted({source.speaker_of(u) for u in utts})
        self.fallback = sum_stats(source.speaker_stats(s) for s in speakers)
        return self

    def adapt(self, speaker_stats: Mapping[str, np.ndarray]) -> None:
        self.speakers = {s: st for s, st in speaker_stats.items() if st[0, -1] >= self.min_count}
        self.too_little = {s: float(st[0, -1]) for s, st in speaker_stats.items() if st[0, -1] < self.min_count}

    def _apply(self, feats: np.ndarray, speaker: str | None) -> tuple[np.ndarray, str]:
        if speaker is not None and speaker in self.speakers:
            return apply_stats(feats, self.speakers[speaker]), f"speaker:{speaker}"
        if self.fallback is None:
            raise SerError(f"no statistics for speaker '{speaker}' (run `ser compute-cmvn`) and no fallback")
        used = TRAINING_SPEAKERS
        if speaker in self.too_little:
            used += f" ({speaker}: {self.too_little[speaker]:g} feature rows, fewer than the {self.min_count:g} own statistics need)"
        return apply_stats(feats, self.fallback), used

    def _state(self) -> dict[str, np.ndarray]:
        if self.fallback is None:
            return {}
        return {"fallback": self.fallback, "min_count": np.array([self.min_count])}

    def _load(self, state: Mapping[str, np.ndarray]) -> "SpeakerNormalization":
        self.fallback = _state_array(state, "fallback", self.name)
        self.min_count = float(state["min_count"][0]) if "min_count" in state else 0.0  # ser 0.1 bundles: no minimum
        return self


def describe(name: str) -> str:
    """The sentence reports print for a mode."""
    return normalization_class(name).description


__all__ = [
    "TRAINING_SPEAKERS",
    "Normalization",
    "StatisticsSource",
    "describe",
    "load_normalization",
    "make_normalization",
    "normalization_class",
    "normalization_names",
    "pool_by_speaker",
    "register_normalization",
]
