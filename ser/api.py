"""The public Python API: load a model, label audio given as files or arrays, extract features.

The verbs run through the same objects (``ser.score.Scorer``, ``ser.frontend.featurise``), so a notebook gets the
numbers `ser score` prints::

    >>> import ser
    >>> model = ser.load_model()                       # the built-in model (or a path from `ser export`)
    >>> model.classes
    ['anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness']
    >>> model.predict(["a.wav", "b.wav"], speaker="anna")      # labels; speaker: pool the clips' statistics
    >>> model.predict_proba(samples, sr=44100)                  # a numpy array (or a list of them)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from ser.errors import SerError

Audio = Union[str, Path, np.ndarray]


class Model:
    """A loaded model bundle: `classes`, `info` (its metadata and card), `predict`, `predict_proba`, `predict_frame`,
    `timeline`."""

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        from ser.bundle import load_bundle, resolve_model_path
        from ser.score import Scorer

        self.bundle = load_bundle(resolve_model_path(path))
        self._scorer = Scorer(self.bundle, threads=threads)

    @property
    def classes(self) -> list[str]:
        return list(self.bundle.classes)

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.bundle.meta)

    def predict_proba(self, audio: Audio | Sequence[Audio], sr: int | None = None, speaker: str | None = None) -> np.ndarray:
        """(N, C) posteriors in `classes` order, one row per clip (a path, or an array with its rate `sr`).

        `speaker`: all clips are one speaker, normalised with their pooled statistics (10+ clips); without it each
        clip is scored alone. A clip that cannot be scored raises SerError naming it."""
        run = self._run(audio, sr, speaker)
        bad = [r for r in run.results if not r.ok]
        if bad:
            raise SerError(f"{bad[0].clip.path}: {bad[0].error}")
        return np.stack([r.posteriors for r in run.results])

    def predict(self, audio: Audio | Sequence[Audio], sr: int | None = None, speaker: str | None = None) -> list[str]:
        """The label of each clip (arg-max of `predict_proba`)."""
        return [self.classes[i] for i in self.predict_proba(audio, sr, speaker).argmax(axis=1)]

    def predict_frame(self, audio: Audio | Sequence[Audio], sr: int | None = None, speaker: str | None = None):
        """A pandas DataFrame as opensmile-python users expect: indexed by (file, start, end) in seconds (end NaN:
        to the end of the file), a `label` column and one posterior column per class; a clip that cannot be
        scored gets an empty label, NaN posteriors and its reason in `error` instead of raising."""
        import pandas as pd

        run = self._run(audio, sr, speaker)
        index = pd.MultiIndex.from_tuples([(r.clip.path, float(r.clip.start or 0.0),
                                            float("nan") if r.clip.end is None else float(r.clip.end)) for r in run.results],
                                          names=["file", "start", "end"])
        rows = [[r.label or ""] + (list(map(float, r.posteriors)) if r.posteriors is not None else [float("nan")] * len(self.classes))
                + [r.error or ""] for r in run.results]
        return pd.DataFrame(rows, index=index, columns=["label", *self.classes, "error"])

    def timeline(self, path: str | Path, vad: str = "energy", max_segment: float = 10.0) -> list[dict[str, Any]]:
        """Speech segments of a long recording with their labels and posteriors (`ser score --segment vad`)."""
        from ser.score import collect_clips, segment_clips
        from ser.segment import VADConfig

        clips = segment_clips(collect_clips([str(path)]), VADConfig(max_segment=max_segment), vad)
        run = self._scorer.score(clips)
        return [{"start": r.clip.start, "end": r.clip.end, "label": r.label, "error": r.error,
                 "posteriors": None if r.posteriors is None else dict(zip(self.classes, map(float, r.posteriors)))}
                for r in run.results]

    def _run(self, audio: Audio | Sequence[Audio], sr: int | None, speaker: str | None):
        from ser.score import Clip

        items = _as_list(audio)
        clips = [Clip(id=str(i), path=str(x) if not isinstance(x, np.ndarray) else f"<array {i}>", speaker=speaker)
                 for i, x in enumerate(items)]
        if all(not isinstance(x, np.ndarray) for x in items):
            return self._scorer.score(clips)
        feats, errors = _features(items, self.bundle.feature_set_dict, sr)
        return self._scorer.score_features(clips, feats, errors)


def load_model(path: str | Path | None = None, threads: int = 1) -> Model:
    """A model bundle from `ser export` (None: the built-in model)."""
    return Model(path, threads)


def extract(audio: Audio | Sequence[Audio], features: str = "emobase78", sr: int | None = None) -> list[np.ndarray]:
    """The (frames, dim) feature matrix of each clip, exactly as `ser extract` computes it (a feature-set name or YAML)."""
    from ser.frontend.featureset import load_feature_set

    feats, errors = _features(_as_list(audio), load_feature_set(features).to_dict(), sr)
    for i, err in enumerate(errors):
        if err:
            raise SerError(f"clip {i}: {err}")
    return feats


def _as_list(audio: Audio | Sequence[Audio]) -> list[Audio]:
    if isinstance(audio, (str, Path)) or (isinstance(audio, np.ndarray) and audio.ndim <= 2 and audio.dtype != object):
        return [audio]
    return list(audio)


def _features(items: Sequence[Audio], feature_dict: dict[str, Any], sr: int | None) -> tuple[list, list]:
    from ser.errors import InputFileError
    from ser.frontend.featurise import _WORKER, featurise, featurise_samples, init_featuriser

    init_featuriser(feature_dict, threads=0)
    fs, extractor = _WORKER["fs"], _WORKER["extractor"]
    feats: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for i, x in enumerate(items):
        try:
            if isinstance(x, np.ndarray):
                if sr is None:
                    raise InputFileError(f"<array {i}>", "give the sample rate: sr=...")
                feats.append(featurise_samples(fs, extractor, x, sr, f"<array {i}>"))
            else:
                feats.append(featurise(fs, extractor, str(x)))
            errors.append(None)
        except InputFileError as exc:
            feats.append(None)
            errors.append(exc.reason)
    return feats, errors


__all__ = ["Model", "extract", "load_model"]
