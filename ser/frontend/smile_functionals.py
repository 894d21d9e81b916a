"""openSMILE's utterance functionals for the GeMAPS/eGeMAPS and emobase sets, in numpy, over one LLD contour.

Why: openSMILE's ``cFunctionals`` with ``frameMode = full`` keeps every frame of every LLD of an utterance in memory
until the end of input. With these functions the LLD contours can be streamed to disk and the functionals computed
afterwards, one contour at a time, with the values openSMILE would give (tested against openSMILE's own
``cFunctionals`` run on the same contours, ``tests/test_smile_functionals.py``).

Each function reproduces one ``cFunctionals`` block of the configs shipped in the opensmile wheel
(``gemaps/v01b/GeMAPSv01b_core.func.conf.inc``, ``egemaps/v02/eGeMAPSv02_core.func.conf.inc``, ``functL1`` of
``emobase/emobase.conf``) and returns its values for one input contour, in openSMILE's output order, as float32.
The arithmetic follows openSMILE's precision where it changes results: values and most intermediate results are
float32 (openSMILE's FLOAT_DMEM), the arithmetic mean and the moments are accumulated in double and the mean handed
on rounded to float32, and sums are sequential (``np.cumsum``) as openSMILE's loops are.

openSMILE behaviours reproduced on purpose (see the functions for details):

* ``nonZeroFuncts=1`` drops the frames equal to 0 and computes every functional over the rest, as if the kept frames
  were adjacent (slopes and peak positions over the compacted contour). If nothing is left, all outputs are 0.
* ``stddevNorm = 2`` is stddev / mean with the signed mean (no abs), stddev / 1 where the mean is 0, and 0 where the
  variance is 0.
* Percentiles interpolate linearly between the two nearest ranks of the sorted contour, in float32.
* Segment lengths are last frame - first frame of the segment (one less than the frame count); segments are runs of
  at least 3 target frames, a single off-target frame does not break a run, two do; at most 1000 are counted.
* Peaks2's rising/falling slopes include a slope from the last extremum to the end of the contour in the mean but not
  in the standard deviation; a contour with no extremum gets (last - first) / frames, not divided by the period.
* A contour with no frames at all makes openSMILE write no output row; these functions raise ValueError for it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F32 = np.float32

#: openSMILE's defaults for the nonX/eqX segmenters (cFunctionalSegments: segMinLng, pauseMinLng)
SEGMENT_MIN_FRAMES = 3
PAUSE_MIN_FRAMES = 2
#: Segments.maxNumSeg of the GeMAPS temporal blocks: segments after the 1000th are not counted
MAX_SEGMENTS = 1000
#: Peaks2.relThresh of the GeMAPS blocks: extrema closer than this fraction of the contour's range are merged
PEAK_REL_THRESHOLD = 0.1
#: cVectorOperation's default logfloor for dBp
DB_LOG_FLOOR = 1e-12

_MAX, _MIN = 1, 0


def _contour(x: npt.ArrayLike) -> np.ndarray:
    """`x` as a 1-D float32 array; no frames is an error (openSMILE writes no row for it)."""
    arr = np.asarray(x, dtype=F32).reshape(-1)
    if arr.size == 0:
        raise ValueError("an LLD contour with no frames has no functionals (openSMILE writes no output row)")
    return arr


#: frames per piece of the sums below: an hour's contour (360,000 frames) is summed in pieces, so the float64
#: temporaries of a sum stay ~0.5 MB each instead of ~3 MB (the worker's peak memory stays flat in length)
CHUNK = 65536


def _pieces(n: int) -> range:
    return range(0, n, CHUNK)


def _seq_add(carry: float, values: np.ndarray) -> float:
    """`carry` plus `values` added one by one, left to right (what a C loop gives; np.sum's pairwise order can differ
    in the last bit): a cumulative sum that starts from the carry, so pieces chain exactly."""
    if values.size == 0:
        return carry
    return float(np.cumsum(np.concatenate(([carry], values)))[-1])


def _seq_sum(values: np.ndarray) -> float:
    """Left-to-right float64 sum of `values`, piece by piece."""
    total = 0.0
    for i in _pieces(values.size):
        total = _seq_add(total, np.asarray(values[i : i + CHUNK], dtype=np.float64))
    return total


def _mean32(x: np.ndarray) -> F32:
    """cFunctionals' shared arithmetic mean: accumulated in double, handed to the functionals as float32."""
    return F32(_seq_sum(x) / x.size)


def _moments(x: np.ndarray, mean: F32) -> tuple[float, float, float]:
    """Central moment sums about the float32 mean, in double: (variance, sum of cubes, sum of fourth powers)."""
    s2 = s3 = s4 = 0.0
    for i in _pieces(x.size):
        d = x[i : i + CHUNK].astype(np.float64) - float(mean)
        d2 = d * d
        d3 = d2 * d
        s2, s3, s4 = _seq_add(s2, d2), _seq_add(s3, d3), _seq_add(s4, d3 * d)
    return s2 / x.size, s3, s4


def _stddev_norm(variance: float, mean: F32) -> F32:
    """Moments' stddevNorm in compatibility mode 2 (doRatioLimit=0): stddev / signed mean, mean 0 counted as 1."""
    if variance <= 0.0:
        return F32(0.0)
    denominator = float(mean) if mean != 0.0 else 1.0
    return F32(math.sqrt(variance) / denominator)


def _percentile(sorted_x: np.ndarray, p: float) -> F32:
    """Linearly interpolated percentile (Percentiles.interp=1): float32 weights of the two ranks around p*(N-1)."""
    n = sorted_x.size
    position = p * (n - 1)
    lo = min(max(math.floor(position), 0), n - 1)
    hi = min(max(math.ceil(position), 0), n - 1)
    if lo == hi:
        return sorted_x[lo]
    return sorted_x[lo] * F32(hi - position) + sorted_x[hi] * F32(position - lo)


def _nonzero(x: np.ndarray, nonzero: bool) -> np.ndarray:
    return x[x != 0.0] if nonzero else x


# ------------------------------------------------------------------------------------------------ Peaks2


Extrema = tuple[np.ndarray, np.ndarray, np.ndarray]  # kinds (int8), frames (int64), values (float32), frame order


def _extrema(x: np.ndarray, lo: F32, hi: F32, rel_thresh: float) -> Extrema:
    """Peaks2's local maxima and minima after its pruning, as (kind, frame, value) in frame order.

    Candidates are strict local extrema at frames 2..N-3. Three passes then drop extrema that rise or fall less
    than rel_thresh * range from their neighbours (a later maximum over 1.05x the kept one replaces it), minima
    less than the threshold below the preceding maximum, and the lower (higher) of two maxima (minima) in a row.
    """
    n = x.size
    none = (np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=F32))
    if n < 5:
        return none
    mid, left, right = x[2 : n - 2], x[1 : n - 3], x[3 : n - 1]
    is_max = (mid > left) & (mid > right)
    is_min = (mid < left) & (mid < right)
    frames = np.flatnonzero(is_max | is_min) + 2
    if frames.size == 0:
        return none
    # numpy arrays, not lists of scalars: an hour's loudness has ~100,000 candidates
    kinds = np.where(is_max[frames - 2], _MAX, _MIN).astype(np.int8)
    values = x[frames]
    alive = np.ones(frames.size, dtype=bool)
    thresh = F32(rel_thresh) * (hi - lo)
    first = x[0]

    # pass 1: small rises/falls relative to the previous extremum (kept or not)
    previous, last_min, last_max = first, first, first
    last_max_at: int | None = None
    after_min = False
    for j, (kind, y) in enumerate(zip(kinds, values)):
        small = abs(y - previous) < thresh
        if kind == _MAX:
            if not small:
                after_min, last_max, last_max_at = False, y, j
            elif y - last_min < thresh:
                alive[j] = False
            else:
                if float(y) > float(last_max) * 1.05:
                    if last_max_at is not None:
                        alive[last_max_at] = False
                    last_max, last_max_at = y, j
                elif after_min:
                    last_max, last_max_at = y, j
                else:
                    alive[j] = False
                after_min = False
        elif not small:
            after_min, last_min = True, y
        previous = y

    # pass 2: minima too shallow below the preceding maximum
    last_max = first
    for j, (kind, y) in enumerate(zip(kinds, values)):
        if not alive[j]:
            continue
        if kind == _MIN:
            if last_max - y < thresh:
                alive[j] = False
        else:
            last_max = y

    # pass 3: of consecutive extrema of one kind keep the most extreme (the first of equals)
    kept_kind: int | None = None
    kept_at = -1
    for j, (kind, y) in enumerate(zip(kinds, values)):
        if not alive[j]:
            continue
        if kind != kept_kind:
            kept_kind, kept_at = kind, j
        elif (y < values[kept_at]) if kind == _MIN else (y > values[kept_at]):
            alive[kept_at] = False
            kept_at = j
        else:
            alive[j] = False
    return kinds[alive], frames[alive], values[alive]


def _slope_stats(x: np.ndarray, extrema: Extrema, period: float) -> np.ndarray:
    """Peaks2's [meanRisingSlope, stddevRisingSlope, meanFallingSlope, stddevFallingSlope] (value per second).

    Slopes run from each extremum to the next (the contour's first frame standing in for both a maximum and a
    minimum before the first one); the slope from the last extremum to the last frame counts in the mean only.
    Without extrema the only slope is (last - first) / N, to rising if positive, falling if negative, without the
    period. All float32 as in openSMILE; kept in float32 arrays (an hour's contour has tens of thousands).
    """
    t = F32(period)
    kinds, frames, values = extrema
    rising = np.zeros(kinds.size + 1, dtype=F32)
    falling = np.zeros(kinds.size + 1, dtype=F32)
    n_rise = n_fall = 0
    last_max, last_max_at, last_min, last_min_at = x[0], 0, x[0], 0
    last_kind: int | None = None
    for kind, frame, y in zip(kinds.tolist(), frames.tolist(), values):
        if kind == _MIN:
            last_min, last_min_at = y, frame
            if frame - last_max_at > 0:
                falling[n_fall] = (last_max - last_min) / (F32(frame - last_max_at) * t)
                n_fall += 1
                last_kind = _MIN
        else:
            last_max, last_max_at = y, frame
            if frame - last_min_at > 0:
                rising[n_rise] = (last_max - last_min) / (F32(frame - last_min_at) * t)
                n_rise += 1
                last_kind = _MAX
    n_rise_all, n_fall_all = n_rise, n_fall
    end = x.size - 1
    if last_kind == _MAX:
        if end - last_max_at > 0:
            falling[n_fall_all] = (x[end] - last_max) / (F32(end - last_max_at) * t)
            n_fall_all += 1
    elif last_kind == _MIN:
        if end - last_min_at > 0:
            rising[n_rise_all] = (x[end] - last_min) / (F32(end - last_min_at) * t)
            n_rise_all += 1
    else:
        slope = (x[end] - x[0]) / F32(x.size)
        if slope > 0:
            rising[n_rise_all] = slope
            n_rise_all += 1
        elif slope < 0:
            falling[n_fall_all] = slope
            n_fall_all += 1
    rising_all, falling_all = rising[:n_rise_all], falling[:n_fall_all]
    rising, falling = rising[:n_rise], falling[:n_fall]

    def mean_std(loop: np.ndarray, everything: np.ndarray) -> tuple[F32, F32]:
        n = everything.size
        mean = F32(np.cumsum(everything)[-1]) if n else F32(0.0)
        if n > 1:
            mean = mean / F32(n)
        dev = loop - mean
        var = F32(np.cumsum(dev * dev)[-1]) if dev.size else F32(0.0)
        if n > 1:
            var = var / F32(n)
        return mean, (F32(math.sqrt(var)) if var > 0 else F32(0.0))

    rise_mean, rise_std = mean_std(rising, rising_all)
    fall_mean, fall_std = mean_std(falling, falling_all)
    return np.array([rise_mean, rise_std, fall_mean, fall_std], dtype=F32)


# ------------------------------------------------------------------------------------------------ Segments


def _segment_lengths(target: np.ndarray) -> np.ndarray:
    """Lengths of openSMILE's nonX/eqX segments over a boolean 'in a segment' mask (new, non-buggy algorithm).

    Runs of target frames separated by a single off-target frame form one candidate; a gap of 2 (pauseMinLng)
    ends it. A candidate with at least 3 (segMinLng) target frames is a segment of length last - first target frame.
    Only the first MAX_SEGMENTS count.
    """
    idx = np.flatnonzero(target)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(idx) > PAUSE_MIN_FRAMES) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [idx.size]])
    counts = ends - starts
    lengths = idx[ends - 1] - idx[starts]
    return lengths[counts >= SEGMENT_MIN_FRAMES][:MAX_SEGMENTS]


def _segment_stats(lengths: np.ndarray, n_frames: int, period: float) -> tuple[F32, F32, F32]:
    """(segments per second, mean length in s, length stddev in s) as Segments with norm=second computes them."""
    t = F32(period) if period != 0 else F32(1.0)
    n = lengths.size
    mean = F32(int(lengths.sum())) / F32(n) if n > 1 else F32(int(lengths.sum()))
    if n > 1:
        dev = lengths.astype(F32) - mean
        std = F32(math.sqrt(F32(np.cumsum(dev * dev)[-1]) / F32(n)))
    else:
        std = F32(0.0)
    return F32(n) / (t * F32(n_frames)), mean * t, std * t


# ------------------------------------------------------------------------------------------------ public


def gemaps_contour(x: npt.ArrayLike, nonzero: bool, period: float = 0.01) -> np.ndarray:
    """GeMAPS/eGeMAPS F0 (nonzero=True) or loudness (nonzero=False) functionals of one contour.

    [amean, stddevNorm, percentile20.0, percentile50.0, percentile80.0, pctlrange0-2, meanRisingSlope,
    stddevRisingSlope, meanFallingSlope, stddevFallingSlope], as ``gemapsv01b_functionalsF0`` /
    ``gemapsv01b_functionalsLoudness`` (shared by eGeMAPSv02). Slopes are per second of `period`-spaced frames.
    """
    v = _nonzero(_contour(x), nonzero)
    if v.size == 0:
        return np.zeros(10, dtype=F32)
    lo, hi, mean = v.min(), v.max(), _mean32(v)
    variance, _, _ = _moments(v, mean)
    s = np.sort(v)
    p20, p50, p80 = (_percentile(s, p) for p in (0.2, 0.5, 0.8))
    head = np.array([mean, _stddev_norm(variance, mean), p20, p50, p80, abs(p80 - p20)], dtype=F32)
    slopes = _slope_stats(v, _extrema(v, lo, hi, PEAK_REL_THRESHOLD), period)
    return np.concatenate([head, slopes])


def mean_stddevnorm(x: npt.ArrayLike, nonzero: bool) -> np.ndarray:
    """[amean, stddevNorm] as eGeMAPSv02's ``functionalsMVR`` (nonzero=False) / ``functionalsMVRVoiced`` (True).

    Those blocks leave Moments.doRatioLimit at its default, 0: no soft limit of the ratio.
    """
    v = _nonzero(_contour(x), nonzero)
    if v.size == 0:
        return np.zeros(2, dtype=F32)
    mean = _mean32(v)
    variance, _, _ = _moments(v, mean)
    return np.array([mean, _stddev_norm(variance, mean)], dtype=F32)


def amean(x: npt.ArrayLike, nonzero: bool) -> np.ndarray:
    """[amean] as eGeMAPSv02's ``functionalsMeanUV`` (nonzero=True); 0 if no frame is left."""
    v = _nonzero(_contour(x), nonzero)
    return np.array([_mean32(v) if v.size else 0.0], dtype=F32)


def loudness_peaks_per_sec(x: npt.ArrayLike, period: float = 0.01) -> np.ndarray:
    """[numPeaks] of ``gemapsv01b_temporalLoudness``: Peaks2's maxima per second (the loudnessPeaksPerSec feature)."""
    v = _contour(x)
    peaks = int(np.count_nonzero(_extrema(v, v.min(), v.max(), PEAK_REL_THRESHOLD)[0] == _MAX))
    return np.array([F32(peaks) / (F32(v.size) * F32(period))], dtype=F32)


def voiced_segments(f0: npt.ArrayLike, period: float = 0.01) -> np.ndarray:
    """[numSegments, meanSegLen, segLenStddev] of ``gemapsv01b_temporalF0`` (voiced = F0 != 0; per second, seconds)."""
    v = _contour(f0)
    return np.array(_segment_stats(_segment_lengths(v != 0.0), v.size, period), dtype=F32)


def unvoiced_segments(f0: npt.ArrayLike, period: float = 0.01) -> np.ndarray:
    """[meanSegLen, segLenStddev] of ``gemapsv01b_temporalF0p`` (unvoiced = F0 == 0; seconds)."""
    v = _contour(f0)
    return np.array(_segment_stats(_segment_lengths(v == 0.0), v.size, period)[1:], dtype=F32)


def equivalent_sound_level(energy_rms: npt.ArrayLike) -> np.ndarray:
    """[equivalentSoundLevel_dBp]: eGeMAPSv02's ``leqLin`` (Means amean) then ``leq`` (cVectorOperation dBp).

    10*log10 of the mean in float32, with the mean floored at 1e-12 (so an all-zero contour gives -120 dB).
    """
    mean = _mean32(_contour(energy_rms))
    floor = F32(DB_LOG_FLOOR)
    level = mean if mean > floor else floor
    return np.array([F32(10.0 / math.log(10.0)) * F32(math.log(float(level)))], dtype=F32)


#: output names of `emobase_contour`, in openSMILE's order (the sink names are ``<lld>_<name>``)
EMOBASE_FUNCTIONALS = ("max", "min", "range", "maxPos", "minPos", "amean", "linregc1", "linregc2", "linregerrA",
                       "linregerrQ", "stddev", "skewness", "kurtosis", "quartile1", "quartile2", "quartile3",
                       "iqr1-2", "iqr2-3", "iqr1-3")


def _linear_regression(x: np.ndarray, mean: F32) -> tuple[float, float, float, float]:
    """Regression's (slope, offset, mean abs error, mean squared error) over frame indices, in double.

    The offset comes from the float32 mean times N, not from the exact sum, as in openSMILE; that rounding
    matters for the offset and slope of long contours with a large mean.
    """
    n = x.size

    def piece(i: int) -> tuple[np.ndarray, np.ndarray]:
        return x[i : i + CHUNK].astype(np.float64), np.arange(i, min(n, i + CHUNK), dtype=np.float64)

    if n > 1:
        nf = float(n)
        s1 = nf * (nf - 1.0) / 2.0
        s2 = nf * (nf - 1.0) * (2.0 * nf - 1.0) / 6.0
        ratio = s1 / s2
        num = 0.0
        for i in _pieces(n):
            xd, ii = piece(i)
            num = _seq_add(num, xd * ii)
        denominator = nf - s1 * ratio
        offset = 0.0 if denominator == 0.0 else (float(mean) * nf - num * ratio) / denominator
        slope = (num - offset * s1) / s2
    else:
        slope, offset = 0.0, float(x[0])
    err_a = err_q = 0.0
    for i in _pieces(n):
        xd, ii = piece(i)
        err = xd - (slope * ii + offset)
        err_a, err_q = _seq_add(err_a, np.abs(err)), _seq_add(err_q, err * err)
    err_a, err_q = err_a / n, err_q / n
    finite = [v if math.isfinite(v) else 0.0 for v in (slope, offset, err_a, err_q)]  # openSMILE zeroes inf/nan
    return finite[0], finite[1], finite[2], finite[3]


def emobase_contour(x: npt.ArrayLike, period: float = 0.01) -> np.ndarray:
    """The 19 functionals of emobase's ``functL1`` for one contour, in openSMILE's order (`EMOBASE_FUNCTIONALS`).

    Extremes (positions in frames, first occurrence), Regression (linreg over the frame index, default options),
    Moments (population stddev, skewness, kurtosis; 0 for a constant contour), Percentiles (interpolated
    quartiles and their differences). `period` is unused (all of functL1's times are in frames); kept for a
    uniform signature.
    """
    v = _contour(x)
    lo, hi, mean = v.min(), v.max(), _mean32(v)
    max_at, min_at = int(np.argmax(v == hi)), int(np.argmax(v == lo))
    slope, offset, err_a, err_q = _linear_regression(v, mean)
    variance, m3, m4 = _moments(v, mean)
    if variance > 0.0:
        std = math.sqrt(variance)
        moments = (std, m3 / (v.size * variance * std), m4 / (v.size * variance * variance))
    else:
        moments = (0.0, 0.0, 0.0)
    s = np.sort(v)
    q1, q2, q3 = (_percentile(s, p) for p in (0.25, 0.5, 0.75))
    return np.array([hi, lo, hi - lo, max_at, min_at, mean, slope, offset, err_a, err_q, *moments,
                     q1, q2, q3, q2 - q1, q3 - q2, q3 - q1], dtype=F32)


__all__ = ["EMOBASE_FUNCTIONALS", "amean", "emobase_contour", "equivalent_sound_level", "gemaps_contour",
           "loudness_peaks_per_sec", "mean_stddevnorm", "unvoiced_segments", "voiced_segments"]
