"""Featurise one clip: audio (a whole file or a region) -> the feature set's matrix, or the reason it failed.

Long audio (frame-level sets, regions over `ONE_PASS_SECONDS`, 26 s) is featurised block by block (`BLOCK_SECONDS`,
10 s): each block of frames is computed from its own audio plus `CONTEXT_SECONDS` before it and
`RIGHT_CONTEXT_SECONDS` after it (so windows, smoothing and deltas near its edges see the same samples as in one
pass) and only the block's own frames are kept. `feature_stream` hands the blocks out one at a time, so a worker
holds one block's audio and features, not the hour's: `ser extract` writes them to disk as they come
(``ser.frontend.spill``), and only callers that ask for the joined matrix (`featurise`) hold it. Only extractors that
declare `blockwise` (openSMILE LLDs, Kaldi fbank/MFCC) are cut: the others have a whole-utterance step (a level
threshold relative to the loudest frame). Utterance-level sets (functionals) whose extractor `streams` are given a
long region's audio block by block (``AudioFile.stream``): every set openSMILE runs natively computes its contours in
blocks and summarises them in memory flat in length (``ser.frontend.long_functionals``, `bounded`); a set
openSMILE-python runs makes one pass that keeps every frame (limited by ``ser.limits.max_functionals_seconds``); the
rest read it whole. `ser
score` cuts long files into windows (``ser.score``).

The one path shared by `ser extract` and `ser score`, so a clip scored later gets exactly the features its
training data had. Runs in worker processes: `init_featuriser` builds the extractor once per process
(building openSMILE costs more than a short clip) and caps the worker's thread pools.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from ser.audio import open_audio
from ser.errors import InputFileError
from ser.frontend.featureset import FeatureSet
from ser.limits import FUNCTIONALS_MINUTES_ENV, max_functionals_seconds

#: (audio path, start s or None, end s or None), plus a perturbation line (utt2perturb) for an augmented copy
Task = tuple
R = TypeVar("R")

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


#: frame-level features of longer regions are computed block by block (seconds of frames per block): openSMILE's
#: emobase graph grows with the pass (block plus context) in steps, ~113 MiB of RSS up to 14 s passes, ~151 MiB for
#: 16-20 s, so 20 s blocks (26 s passes) left a 10 min file at 1.35x the peak RSS of a 10 s one while 14 s passes
#: cost what a 10 s file does (benchmarks/score.py --memory-only), for ~40% more compute than one pass
BLOCK_SECONDS = 10.0
#: audio read before a block: openSMILE's F0 envelope (F0env) carries over ~2 s (1 s gives differences of up to
#: 6 Hz; 3 s gives the one-pass values exactly)
CONTEXT_SECONDS = 3.0
#: audio read after a block: only analysis, smoothing and delta windows look ahead (tens of ms; 0.5 s already gives
#: the same emobase78 values as 3 s, bit for bit)
RIGHT_CONTEXT_SECONDS = 1.0
#: regions up to this long are featurised in one pass, as before blocks existed (and as with 20 s blocks and 3 s
#: context each side), so clips of ordinary length keep their features bit for bit
ONE_PASS_SECONDS = 26.0


def _cut_in_blocks(fs: FeatureSet, extractor: Any, first: float, last: float) -> bool:
    """True when [first, last) s is long enough, and the set frame-level and blockwise, to be featurised in blocks."""
    blockwise = getattr(extractor, "blockwise", False) and getattr(extractor, "frame_shift", None)
    return bool(fs.level == "frame" and blockwise and last - first > max(ONE_PASS_SECONDS, BLOCK_SECONDS))


def _streamed(fs: FeatureSet, extractor: Any, first: float, last: float) -> bool:
    """True when [first, last) s is long enough, and the set one whose single pass `streams`, to be read in blocks."""
    return bool(fs.level == "utterance" and getattr(extractor, "streams", False) and last - first > ONE_PASS_SECONDS)


def feature_stream(fs: FeatureSet, extractor: Any, path: str, start: float | None = None,
                   end: float | None = None) -> Iterator[np.ndarray]:
    """The features of one clip as consecutive row blocks (one block for short clips), so a caller that writes
    them out (``ser.frontend.spill``) never holds a long utterance's whole matrix; InputFileError as `featurise`."""
    audio = open_audio(path)
    first = start or 0.0
    last = end if end is not None and end > 0 else audio.duration
    if _cut_in_blocks(fs, extractor, first, last):
        yield from feature_blocks(fs, extractor, audio, first, last)
    elif fs.level == "utterance" and last - first > max_functionals_seconds() and not getattr(extractor, "bounded", False):
        raise InputFileError(path, f"{(last - first) / 60:.2f} min of audio for one '{fs.name}' vector: utterance-level sets are "
                             f"limited to {max_functionals_seconds() / 60:g} min (openSMILE keeps every frame for the "
                             f"percentiles); cut the recording into utterances (a segments file) or set "
                             f"{FUNCTIONALS_MINUTES_ENV}=MINUTES (0: no limit)")
    elif _streamed(fs, extractor, first, last):
        feats = extractor.stream(lambda: audio.stream(start, end, fs.sample_rate), fs.sample_rate)
        yield check_features(fs.postprocess(feats), str(audio.path), last - first)
    else:
        yield featurise_samples(fs, extractor, audio.read(start, end, fs.sample_rate), fs.sample_rate, path)


def featurise(fs: FeatureSet, extractor: Any, path: str, start: float | None = None, end: float | None = None) -> np.ndarray:
    """Features of one clip (float32, frames x dim); InputFileError names the file and the reason."""
    return join_blocks(list(feature_stream(fs, extractor, path, start, end)))


def join_blocks(blocks: list[np.ndarray]) -> np.ndarray:
    """Row blocks as one matrix (a single block as it is, uncopied)."""
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def feature_blocks(fs: FeatureSet, extractor: Any, audio: Any, first: float, last: float,
                   block_seconds: float | None = None, context_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Frame-level features of [first, last) s of `audio` (an AudioFile) block by block (see the module doc), each
    block float32 and checked finite as it is made; the whole-utterance checks (some sound, some frames) run after
    the last block, so a consumer must treat the blocks as provisional until the iterator ends."""
    shift = float(extractor.frame_shift)
    step = int(fs.average_frames)
    per_block = max(1, int((block_seconds or BLOCK_SECONDS) / shift) // step) * step  # averaging groups stay whole
    context = int(np.ceil((context_seconds if context_seconds is not None else CONTEXT_SECONDS) / shift)) * shift
    after = int(np.ceil((context_seconds if context_seconds is not None else RIGHT_CONTEXT_SECONDS) / shift)) * shift
    heard, rows, k = False, 0, 0
    while True:
        core = first + k * per_block * shift
        lo, hi = max(first, core - context), min(last, core + per_block * shift + after)
        samples = audio.read(lo, hi, fs.sample_rate, allow_silence=True)
        heard = heard or bool(np.any(samples))
        raw = extractor(samples, fs.sample_rate)
        skip = int(round((core - lo) / shift))
        final = hi >= last
        block = np.asarray(fs.postprocess(raw[skip:] if final else raw[skip : skip + per_block]), dtype=np.float32)
        if block.ndim != 2:
            raise InputFileError(str(audio.path), f"the front end produced an array of shape {block.shape}, not frames")
        if not np.isfinite(block).all():
            raise InputFileError(str(audio.path), "the front end produced NaN/Inf values")
        rows += block.shape[0]
        yield block
        if final:
            break
        k += 1
    if not heard:
        raise InputFileError(audio.path, "all samples are zero (digital silence)")
    if rows == 0:
        raise InputFileError(str(audio.path), f"too short: the front end produced no frames from {last - first:.3f} s")


def featurise_blocks(fs: FeatureSet, extractor: Any, audio: Any, first: float, last: float,
                     block_seconds: float | None = None, context_seconds: float | None = None) -> np.ndarray:
    """`feature_blocks` joined into one matrix: equal to the one-pass matrix up to float rounding, see
    tests/test_frontend_extractors.py."""
    return join_blocks(list(feature_blocks(fs, extractor, audio, first, last, block_seconds, context_seconds)))


def check_features(feats: np.ndarray, name: str, seconds: float) -> np.ndarray:
    """The front end's matrix as float32, or InputFileError when it has no frames or non-finite values."""
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise InputFileError(name, f"too short: the front end produced no frames from {seconds:.3f} s")
    if not np.isfinite(feats).all():
        raise InputFileError(name, "the front end produced NaN/Inf values")
    return np.asarray(feats, dtype=np.float32)


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
    return check_features(fs.postprocess(extractor(samples, fs.sample_rate)), name, samples.size / fs.sample_rate)


def task_stream(task: Task) -> Iterator[np.ndarray]:
    """`feature_stream` of a task in a worker (after `init_featuriser`); an augmented copy is perturbed whole first."""
    path, start, end = task[:3]
    fs, extractor = _WORKER["fs"], _WORKER["extractor"]
    if len(task) > 3:  # an augmented copy: perturb the clip's samples, then the same featurisation
        from ser.frontend.perturb import Perturbation, apply_perturbation

        samples = apply_perturbation(open_audio(path).read(start, end, fs.sample_rate), fs.sample_rate,
                                     Perturbation.from_line(task[3]))
        yield featurise_samples(fs, extractor, samples, fs.sample_rate, path)
        return
    yield from feature_stream(fs, extractor, path, start, end)


def run_task(task: Task, collect: Callable[[Iterator[np.ndarray]], R]) -> tuple[R | None, str | None]:
    """(collect(task_stream(task)), None) or (None, reason): never raises for one bad clip, so the rest of the batch
    goes on."""
    try:
        return collect(task_stream(task)), None
    except InputFileError as exc:
        return None, exc.reason
    except Exception as exc:  # an extractor crash on one file must not stop the batch
        return None, f"feature extraction failed: {type(exc).__name__}: {exc}"


def featurise_task(task: Task) -> tuple[np.ndarray | None, str | None]:
    """`featurise` in a worker (after `init_featuriser`): (features, None) or (None, reason)."""
    return run_task(task, lambda blocks: join_blocks(list(blocks)))


def lost_task(task: Task, reason: str) -> tuple[None, str]:
    """What `featurise_task` would have returned for a clip whose worker process died (``ser.parallel``'s on_lost)."""
    return None, reason


__all__ = [
    "BLOCK_SECONDS",
    "CONTEXT_SECONDS",
    "ONE_PASS_SECONDS",
    "RIGHT_CONTEXT_SECONDS",
    "Task",
    "check_features",
    "feature_blocks",
    "feature_stream",
    "featurise",
    "featurise_blocks",
    "featurise_samples",
    "featurise_task",
    "init_featuriser",
    "join_blocks",
    "lost_task",
    "run_task",
    "task_stream",
]
