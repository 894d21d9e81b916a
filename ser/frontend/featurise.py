"""Featurise one clip: audio (a whole file or a region) -> the feature set's matrix, or the reason it failed.

The one path shared by `ser extract` and `ser score`, so a clip scored later gets exactly the features its
training data had. Runs in worker processes: `init_featuriser` builds the extractor once per process
(building openSMILE costs more than a short clip) and caps the worker's thread pools.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ser.audio import open_audio
from ser.errors import InputFileError
from ser.frontend.featureset import FeatureSet

#: (audio path, start s or None, end s or None)
Task = tuple[str, "float | None", "float | None"]

_WORKER: dict[str, Any] = {}


def init_featuriser(feature_dict: dict[str, Any], threads: int = 1) -> None:
    """Build the extractor for this process (kept while the feature set is the same) and cap its threads.

    Thread pools already loaded (numpy's BLAS, OpenMP) ignore OMP_NUM_THREADS set this late, so they are
    capped with threadpoolctl; competing pools on few cores made numpy front ends ~3x slower.
    """
    if threads:
        from threadpoolctl import threadpool_limits

        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        threadpool_limits(threads)
        if sys.modules.get("torch") is not None:
            sys.modules["torch"].set_num_threads(threads)
    if _WORKER.get("fs_dict") != feature_dict:
        fs = FeatureSet.from_dict(feature_dict)
        _WORKER.update(fs=fs, extractor=fs.build(), fs_dict=dict(feature_dict))


def featurise(fs: FeatureSet, extractor: Any, path: str, start: float | None = None, end: float | None = None) -> np.ndarray:
    """Features of one clip (float32, frames x dim); InputFileError names the file and the reason."""
    return featurise_samples(fs, extractor, open_audio(path).read(start, end, fs.sample_rate), fs.sample_rate, path)


def featurise_samples(fs: FeatureSet, extractor: Any, samples: np.ndarray, rate: int, name: str = "<array>") -> np.ndarray:
    """Features of samples already in memory (the Python API's arrays); `name` is what errors call them."""
    from ser.audio import MAX_RATE, MIN_RATE, resample

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:  # (samples, channels) as soundfile gives them
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0:
        raise InputFileError(name, f"expected a non-empty 1-D array of samples, got shape {samples.shape}")
    if not MIN_RATE <= int(rate) <= MAX_RATE:
        raise InputFileError(name, f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if not np.isfinite(samples).all():
        raise InputFileError(name, "NaN or Inf samples")
    samples = resample(samples, int(rate), fs.sample_rate)
    feats = fs.postprocess(extractor(samples, fs.sample_rate))
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise InputFileError(name, f"too short: the front end produced no frames from {samples.size / fs.sample_rate:.3f} s")
    if not np.isfinite(feats).all():
        raise InputFileError(name, "the front end produced NaN/Inf values")
    return np.asarray(feats, dtype=np.float32)


def featurise_task(task: Task) -> tuple[np.ndarray | None, str | None]:
    """`featurise` in a worker (after `init_featuriser`): (features, None) or (None, reason); never raises
    for one bad clip, so the rest of the batch goes on."""
    path, start, end = task
    try:
        return featurise(_WORKER["fs"], _WORKER["extractor"], path, start, end), None
    except InputFileError as exc:
        return None, exc.reason
    except Exception as exc:  # an extractor crash on one file must not stop the batch
        return None, f"feature extraction failed: {type(exc).__name__}: {exc}"


def lost_task(task: Task, reason: str) -> tuple[None, str]:
    """What `featurise_task` would have returned for a clip whose worker process died (``ser.parallel``'s on_lost)."""
    return None, reason
