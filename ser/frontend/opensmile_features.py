"""openSMILE front end (kind: opensmile): Emobase LLDs with regression deltas, eGeMAPS functionals.

Frame-level sets take openSMILE's LLDs and append our own regression deltas (window 2, the
openSMILE/HTK formula), so `deltas: 2` gives 26 -> 78 for Emobase as GA-GRU uses; openSMILE's
own LLD_Deltas level stops at first order. Utterance-level sets return openSMILE's functionals; those openSMILE
runs natively also `stream` a long utterance's audio block by block, in memory that does not grow with the
utterance (``ser.frontend.long_functionals``, `bounded`: eGeMAPSv02, GeMAPSv01b, emobase, ComParE_2016, IS09-IS13).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.frontend.base import Blocks, open_blocks, register_extractor
from ser.frontend.deltas import add_deltas

_LEVELS = {"lld": "LowLevelDescriptors", "functionals": "Functionals"}
#: openSMILE's Emobase/eGeMAPS LLD frames advance by 10 ms
LLD_FRAME_SHIFT = 0.01


class _PythonSmile:
    """opensmile.Smile for sets ``ser.frontend.smile_native`` does not run: same call, (frames, features) out."""

    def __init__(self, smile: Any) -> None:
        self.smile = smile
        self.feature_names = list(smile.feature_names)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        # Smile(signal, rate) -> (channels, features, frames); skips the pandas DataFrame of process_signal
        out: Any = self.smile(samples.reshape(1, -1), rate)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32)[0].T)


def _python_smile(feature_set: str, feature_level: str) -> _PythonSmile:
    import opensmile

    try:
        smile_set = getattr(opensmile.FeatureSet, feature_set)
    except AttributeError:
        known = [name for name in dir(opensmile.FeatureSet) if not name.startswith("_")]
        raise ValueError(f"unknown openSMILE feature_set '{feature_set}'; known: {known}") from None
    return _PythonSmile(opensmile.Smile(feature_set=smile_set, feature_level=getattr(opensmile.FeatureLevel, _LEVELS[feature_level])))


@register_extractor("opensmile")
class OpenSmileExtractor:
    """One openSMILE set and level (``ser.frontend.smile_native``, else `opensmile.Smile`), built once per worker."""

    def __init__(self, feature_set: str = "emobase", feature_level: str = "lld", deltas: int = 0, delta_window: int = 2) -> None:
        from ser.frontend import smile_native

        if feature_level not in _LEVELS:
            raise ValueError(f"opensmile feature_level must be one of {sorted(_LEVELS)}, not '{feature_level}'")
        if feature_level == "functionals" and deltas:
            raise ValueError("deltas apply to frame-level (lld) features only")
        # the same features without importing opensmile-python's pandas stack, where the set allows
        native = smile_native.available(feature_set)
        self.smile: Any = smile_native.NativeSmile(feature_set, feature_level) if native else _python_smile(feature_set, feature_level)
        base = list(self.smile.feature_names)
        self.deltas = int(deltas)
        self.delta_window = int(delta_window)
        self.names = base + [f"{n}_d{'d' * k}" for k in range(self.deltas) for n in base]
        self.frame_shift = LLD_FRAME_SHIFT if feature_level == "lld" else None
        # LLDs depend on nearby samples only (F0env's smoothing reaches ~2 s back: see featurise.CONTEXT_SECONDS),
        # so long audio may be computed in blocks (tested equal to one pass)
        self.blockwise = feature_level == "lld"
        self._native_set = feature_set if native and feature_level == "functionals" else None
        self._streamer: Any = None

    @property
    def streams(self) -> bool:
        """True when one pass over a long utterance can take its audio in blocks (`stream`)."""
        return self._native_set is not None

    @property
    def bounded(self) -> bool:
        """True when `stream`'s memory does not grow with the utterance (no length limit is needed)."""
        from ser.frontend import long_functionals

        return self._native_set is not None and long_functionals.supported(self._native_set)

    def stream(self, blocks: Blocks, rate: int) -> np.ndarray:
        """Functionals of the concatenated `blocks`, equal to `self(concatenated, rate)`, never holding them whole
        (bit for bit through openSMILE's own pass; through ``ser.frontend.long_functionals`` bit for bit on the clips
        tested, see tests/test_long_functionals.py)."""
        if self._native_set is None:
            raise RuntimeError("this openSMILE set cannot stream its audio")
        if self.bounded:
            from ser.frontend import long_functionals

            return long_functionals.functionals(self._native_set, open_blocks(blocks), rate)
        if self._streamer is None:  # its own instance: the ring-buffered source is set at build time
            from ser.frontend import smile_native

            self._streamer = smile_native.NativeSmile(self._native_set, "functionals", streaming=True)
        return self._streamer.stream(open_blocks(blocks), rate).astype(np.float32, copy=False)

    @property
    def dim(self) -> int:
        return len(self.names)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        feats = self.smile(samples, rate)
        if self.deltas:
            feats = add_deltas(feats, self.deltas, self.delta_window)
        return feats.astype(np.float32, copy=False)


__all__ = ["LLD_FRAME_SHIFT", "OpenSmileExtractor"]
