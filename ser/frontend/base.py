"""The extractor contract and the registry that maps a feature YAML's `kind:` to an implementation.

An extractor turns one utterance's mono float32 samples into a (frames, dim) float32 matrix
(utterance-level sets return one row). Extractors are built once per worker process and reused,
because building some of them (openSMILE) costs more than processing a short clip.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable, Protocol, Union

import numpy as np


class Extractor(Protocol):
    """What every front end provides."""

    #: feature names, one per output column (len(names) == dim)
    names: list[str]
    #: seconds between frames (None for utterance-level functionals)
    frame_shift: float | None
    #: optional, default False: True when a frame depends only on samples within a few seconds of it, so long
    #: audio may be featurised block by block with context (``ser.frontend.featurise``); False for extractors with
    #: a whole-utterance step (a level threshold relative to the loudest frame, a global pitch decoding)
    #: optional, default False: `streams` True and a method `stream(blocks, rate)` when one pass over an utterance can
    #: take its audio as consecutive blocks (openSMILE functionals), so a long utterance is never read whole
    #: optional, default False: `bounded` True when `stream`'s memory does not grow with the utterance either, so
    #: no length limit applies (``ser.limits.max_functionals_seconds``)

    @property
    def dim(self) -> int: ...

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray: ...


ExtractorFactory = Callable[..., Extractor]
#: what an extractor's `stream` takes: consecutive sample blocks, or a callable that opens them afresh (a wrapper
#: that needs several passes over a long utterance, e.g. its level first, asks for the callable)
Blocks = Union[Iterable[np.ndarray], Callable[[], Iterable[np.ndarray]]]


def open_blocks(blocks: Blocks) -> Iterable[np.ndarray]:
    """The blocks of one pass: a fresh stream from a callable, else the iterable itself (one pass only)."""
    return blocks() if callable(blocks) else blocks


_EXTRACTORS: dict[str, ExtractorFactory] = {}


def register_extractor(kind: str) -> Callable[[ExtractorFactory], ExtractorFactory]:
    """Class/function decorator: `@register_extractor("opensmile")`; duplicate kinds are an error."""

    def wrap(factory: ExtractorFactory) -> ExtractorFactory:
        if kind in _EXTRACTORS:
            raise ValueError(f"feature extractor kind '{kind}' is registered twice")
        _EXTRACTORS[kind] = factory
        return factory

    return wrap


def _import_builtin_extractors() -> None:
    # Imported for their registration side effect; each module imports its heavy library lazily.
    from ser.frontend import kaldi_features, librosa_features, opensmile_features, spectral36  # noqa: F401


def make_extractor(kind: str, options: dict[str, Any]) -> Extractor:
    """Build the extractor registered under `kind` with the YAML's `options:`."""
    _import_builtin_extractors()
    if kind not in _EXTRACTORS:
        raise ValueError(f"unknown feature extractor kind '{kind}'; known: {', '.join(sorted(_EXTRACTORS))}")
    return _EXTRACTORS[kind](**options)


def registered_kinds() -> list[str]:
    _import_builtin_extractors()
    return sorted(_EXTRACTORS)


__all__ = ["Blocks", "Extractor", "ExtractorFactory", "make_extractor", "register_extractor", "open_blocks", "registered_kinds"]
