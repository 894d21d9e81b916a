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
    #: what a clip without statistics of its own speaker is normalised with (empty: the mode needs none);
    #: `ser score` notes and model cards quote it, so the wording lives once, with the mode
    lone_fallback: ClassVar[str] = ""

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
    lone_fallback = "the training speakers' pooled statistics"

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
        return apply_stats(feats, self.fallback), TRAINING_SPEAKERS + used_note(self, speaker)

    def _state(self) -> dict[str, np.ndarray]:
        if self.fallback is None:
            return {}
        return {"fallback": self.fallback, "min_count": np.array([self.min_count])}

    def _load(self, state: Mapping[str, np.ndarray]) -> "SpeakerNormalization":
        self.fallback = _state_array(state, "fallback", self.name)
        self.min_count = float(state["min_count"][0]) if "min_count" in state else 0.0  # ser 0.1 bundles: no minimum
        return self


#: the genders `speaker_gender` tells apart, in the order of its stored statistics (utt2gender: f/m, female/male)
GENDERS = ("female", "male")


def gender_name(value: str | None) -> str | None:
    """utt2gender's value as one of GENDERS (f, F, female, w, ... -> female), or None when it names neither."""
    head = str(value or "").strip().lower()[:1]
    return {"f": "female", "w": "female", "m": "male"}.get(head)


@register_normalization
class SpeakerGenderNormalization(SpeakerNormalization):
    """Per-speaker normalisation, with a better fallback for a clip alone: the pooled statistics of the training
    speakers of its predicted gender instead of all of them.

    Why: pooled over women and men, the training statistics leave a lone clip with its voice's pitch and resonance
    level, the largest speaker offset and mostly a matter of gender, which a model trained on speaker-normalised
    features reads as emotion. The gender is predicted from the clip itself by a linear classifier fitted at `fit`
    on the training clips and their utt2gender (the feature rows' mean, normalised by all training speakers'
    statistics); `apply` says which gender it used and how sure it was. Speakers with statistics of their own are
    normalised exactly as by `speaker`.
    """

    name = "speaker_gender"
    description = ("per-speaker z-normalisation (each speaker's own unlabelled audio, cmvn.scp); a clip without "
                   "statistics of its speaker gets the training speakers of its predicted gender")
    lone_fallback = "the pooled statistics of the training speakers of the gender a classifier in the model predicts for it"

    def __init__(self, min_count: float = 0.0) -> None:
        super().__init__(min_count)
        self.by_gender: dict[str, np.ndarray] = {}
        self.weights: np.ndarray | None = None  # logistic regression on the fallback-normalised mean row: P(male)
        self.bias = 0.0

    def fit(self, source: StatisticsSource, utts: Sequence[str]) -> "SpeakerGenderNormalization":
        super().fit(source, utts)
        gender_of = getattr(source, "gender_of", None)
        genders = {u: gender_name(gender_of(u)) if gender_of else None for u in utts}
        unknown = sorted(u for u, g in genders.items() if g is None)
        if unknown:
            raise SerError(f"normalization '{self.name}' needs the gender (f/m) of every training utterance in utt2gender; "
                           f"{len(unknown)} have none, e.g. {unknown[0]}")
        by_speaker: dict[str, set[str]] = {}
        for u, g in genders.items():
            by_speaker.setdefault(source.speaker_of(u), set()).add(g)
        mixed = sorted(s for s, gs in by_speaker.items() if len(gs) > 1)
        if mixed:
            raise SerError(f"normalization '{self.name}': speaker '{mixed[0]}' has utterances of both genders in utt2gender")
        for gender in GENDERS:
            speakers = sorted(s for s, gs in by_speaker.items() if gender in gs)
            if not speakers:
                raise SerError(f"normalization '{self.name}' needs training speakers of both genders; none is {gender}")
            self.by_gender[gender] = sum_stats(source.speaker_stats(s) for s in speakers)
        from sklearn.linear_model import LogisticRegression

        rows = np.stack([self._gender_input(source.utterance_stats(u)) for u in utts])
        target = np.array([GENDERS.index(genders[u]) for u in utts])
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(rows, target)
        self.weights, self.bias = model.coef_[0].astype(np.float64), float(model.intercept_[0])
        return self

    def _gender_input(self, stats: np.ndarray) -> np.ndarray:
        """The classifier's input: a clip's mean feature row, normalised by every training speaker's statistics."""
        count = max(float(stats[0, -1]), 1.0)
        return apply_stats((stats[0, :-1] / count)[None, :], self.fallback)[0]

    def predict_gender(self, feats: np.ndarray) -> tuple[str, float]:
        """The gender the classifier gives a clip's feature matrix, and its probability."""
        if self.weights is None:
            raise SerError(f"normalization '{self.name}' has no gender classifier (fit it first)")
        z = float(self._gender_input(stats_of(np.asarray(feats, dtype=np.float64))) @ self.weights + self.bias)
        p_male = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return ("male", p_male) if p_male >= 0.5 else ("female", 1.0 - p_male)

    def _apply(self, feats: np.ndarray, speaker: str | None) -> tuple[np.ndarray, str]:
        if speaker is not None and speaker in self.speakers:
            return super()._apply(feats, speaker)
        gender, p = self.predict_gender(feats)
        out, used = self.apply_gender(feats, gender)
        return out, f"{used}(p={p:.2f}){used_note(self, speaker)}"

    def apply_gender(self, feats: np.ndarray, gender: str) -> tuple[np.ndarray, str]:
        """`feats` normalised by the pooled statistics of the training speakers of `gender` (one of GENDERS)."""
        return apply_stats(feats, self.by_gender[gender]), f"{TRAINING_SPEAKERS}-{gender}"

    def _state(self) -> dict[str, np.ndarray]:
        out = super()._state()
        if self.weights is not None:
            out.update({f"fallback_{g}": st for g, st in self.by_gender.items()})
            out.update(gender_weights=self.weights, gender_bias=np.array([self.bias]))
        return out

    def _load(self, state: Mapping[str, np.ndarray]) -> "SpeakerGenderNormalization":
        super()._load(state)
        self.by_gender = {g: _state_array(state, f"fallback_{g}", self.name) for g in GENDERS}
        self.weights = _state_array(state, "gender_weights", self.name)
        self.bias = float(_state_array(state, "gender_bias", self.name)[0])
        return self


def used_note(norm: SpeakerNormalization, speaker: str | None) -> str:
    """Why a named speaker still got the fallback (too little audio of their own), or nothing."""
    if speaker in norm.too_little:
        return f" ({speaker}: {norm.too_little[speaker]:g} feature rows, fewer than the {norm.min_count:g} own statistics need)"
    return ""


def describe(name: str) -> str:
    """The sentence reports print for a mode."""
    return normalization_class(name).description


__all__ = [
    "TRAINING_SPEAKERS",
    "GENDERS",
    "Normalization",
    "StatisticsSource",
    "describe",
    "gender_name",
    "load_normalization",
    "make_normalization",
    "normalization_class",
    "normalization_names",
    "pool_by_speaker",
    "register_normalization",
]
