"""openSMILE front end (kind: opensmile): Emobase LLDs with regression deltas, eGeMAPS functionals.

Frame-level sets take openSMILE's LLDs and append our own regression deltas (window 2, the
openSMILE/HTK formula), so `deltas: 2` gives 26 -> 78 for Emobase as GA-GRU uses; openSMILE's
own LLD_Deltas level stops at first order. Utterance-level sets return openSMILE's functionals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ser.frontend.base import register_extractor
from ser.frontend.deltas import add_deltas

_LEVELS = {"lld": "LowLevelDescriptors", "functionals": "Functionals"}
#: openSMILE's Emobase/eGeMAPS LLD frames advance by 10 ms
LLD_FRAME_SHIFT = 0.01


@register_extractor("opensmile")
class OpenSmileExtractor:
    """Wraps one `opensmile.Smile` object, built once per worker and reused for every file."""

    def __init__(self, feature_set: str = "emobase", feature_level: str = "lld", deltas: int = 0, delta_window: int = 2) -> None:
        import opensmile

        if feature_level not in _LEVELS:
            raise ValueError(f"opensmile feature_level must be one of {sorted(_LEVELS)}, not '{feature_level}'")
        if feature_level == "functionals" and deltas:
            raise ValueError("deltas apply to frame-level (lld) features only")
        try:
            smile_set = getattr(opensmile.FeatureSet, feature_set)
        except AttributeError:
            known = [name for name in dir(opensmile.FeatureSet) if not name.startswith("_")]
            raise ValueError(f"unknown openSMILE feature_set '{feature_set}'; known: {known}") from None
        self.smile = opensmile.Smile(feature_set=smile_set, feature_level=getattr(opensmile.FeatureLevel, _LEVELS[feature_level]))
        self.deltas = int(deltas)
        self.delta_window = int(delta_window)
        base = list(self.smile.feature_names)
        self.names = base + [f"{n}_d{'d' * k}" for k in range(self.deltas) for n in base]
        self.frame_shift = LLD_FRAME_SHIFT if feature_level == "lld" else None
        # LLDs depend on nearby samples only (F0env's smoothing reaches ~2 s back: see featurise.CONTEXT_SECONDS),
        # so long audio may be computed in blocks (tested equal to one pass)
        self.blockwise = feature_level == "lld"

    @property
    def dim(self) -> int:
        return len(self.names)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        # Smile(signal, rate) -> (channels, features, frames); skips the pandas DataFrame of process_signal.
        out: Any = self.smile(samples.reshape(1, -1), rate)
        feats = np.asarray(out, dtype=np.float32)[0].T
        feats = np.ascontiguousarray(feats)
        if self.deltas:
            feats = add_deltas(feats, self.deltas, self.delta_window)
        return feats.astype(np.float32, copy=False)
