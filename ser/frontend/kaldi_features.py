"""Kaldi-compatible front ends (kinds: kaldi_fbank, kaldi_mfcc) via torchaudio.compliance.kaldi.

The YAML `options:` are passed straight to `torchaudio.compliance.kaldi.fbank` / `.mfcc` (Kaldi's
option names with underscores: num_mel_bins, frame_length and frame_shift in ms, dither,
num_ceps, use_energy, snip_edges, ...); unknown names are rejected when the extractor is built.
`sample_frequency` is not an option: it is the rate of the samples being processed.

Scaling: our samples are float32 in [-1, 1]; Kaldi reads 16-bit WAV as raw integer values, so the
waveform is multiplied by 32768 before the call. This makes the output identical to Kaldi's
compute-fbank-feats / compute-mfcc-feats on the same 16-bit file: log mel energies (and c0, and
the optional log-energy column) are shifted by 2*ln(32768) ~ 20.8 relative to unscaled input,
and `energy_floor`/`dither` (both in the int16 domain) mean what they mean in Kaldi recipes.

Frames follow Kaldi: with the default snip_edges=true an utterance of N samples gives
1 + (N - window) // shift frames; a signal shorter than one window (or than min_duration) is a
ValueError saying so, rather than an empty matrix that would fail later with a vaguer message.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ser.frontend.base import register_extractor

#: float [-1, 1) -> Kaldi's int16 sample values
INT16_SCALE = 32768.0
#: torchaudio arguments that are not options (the waveform and its rate come from the call)
_NOT_OPTIONS = {"waveform", "sample_frequency"}


def _kaldi_function(name: str) -> Callable[..., Any]:
    import torchaudio.compliance.kaldi as kaldi

    return getattr(kaldi, name)


class _KaldiExtractor:
    #: a frame depends only on nearby samples (no dither, no whole-utterance step): ser.frontend.featurise may
    #: compute long audio in blocks (tested equal to one pass)
    blockwise = True
    _function_name = ""

    def __init__(self, **options: Any) -> None:
        self._function = _kaldi_function(self._function_name)
        params = inspect.signature(self._function).parameters
        known = set(params) - _NOT_OPTIONS
        unknown = set(options) - known
        if unknown:
            hint = " (sample_frequency comes from the audio's rate)" if "sample_frequency" in unknown else ""
            raise ValueError(f"kind kaldi_{self._function_name}: unknown options {sorted(unknown)}{hint}; known: {sorted(known)}")
        self.options = dict(options)
        merged = {name: p.default for name, p in params.items() if name in known}
        merged.update(self.options)
        self.frame_shift = float(merged["frame_shift"]) / 1000.0
        self.blockwise = not merged.get("subtract_mean", False)  # subtract_mean: a whole-utterance step
        self.names = self._column_names(merged)

    def _column_names(self, options: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return len(self.names)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        import torch

        samples = np.asarray(samples, dtype=np.float32).reshape(1, -1)
        waveform = torch.from_numpy(samples * np.float32(INT16_SCALE))
        try:
            with torch.no_grad():
                feats = self._function(waveform, sample_frequency=float(rate), **self.options)
        except AssertionError as err:  # torchaudio asserts on a signal shorter than one window
            raise ValueError(f"kaldi_{self._function_name}: signal of {samples.shape[1]} samples at {rate} Hz is too short: {err}") from None
        if feats.numel() == 0:
            raise ValueError(f"kaldi_{self._function_name}: signal of {samples.shape[1]} samples at {rate} Hz gives no frames")
        return np.ascontiguousarray(feats.numpy(), dtype=np.float32)


@register_extractor("kaldi_fbank")
class KaldiFbankExtractor(_KaldiExtractor):
    """Log Mel filterbank energies (Kaldi compute-fbank-feats)."""

    _function_name = "fbank"

    def _column_names(self, options: dict[str, Any]) -> list[str]:
        names = [f"fbank_{i}" for i in range(int(options["num_mel_bins"]))]
        if options["use_energy"]:  # torchaudio: last column with htk_compat, else first
            names = names + ["log_energy"] if options["htk_compat"] else ["log_energy"] + names
        return names


@register_extractor("kaldi_mfcc")
class KaldiMfccExtractor(_KaldiExtractor):
    """MFCCs (Kaldi compute-mfcc-feats); c0 is replaced by log energy when use_energy is true."""

    _function_name = "mfcc"

    def _column_names(self, options: dict[str, Any]) -> list[str]:
        names = [f"mfcc_{i}" for i in range(int(options["num_ceps"]))]
        if options["use_energy"]:
            names[0] = "log_energy"
        if options["htk_compat"]:  # c0/energy moves to the last column
            names = names[1:] + names[:1]
        return names


__all__ = ["INT16_SCALE", "KaldiFbankExtractor", "KaldiMfccExtractor"]
