"""openSMILE's ``cFunctionals`` (frameMode = full) in numpy, driven by the component's own config options.

Why: openSMILE keeps ~145 bytes of metadata per input frame for a whole-utterance functionals component, so an hour
of contours costs far more than the float32 contours themselves. `values` computes the row openSMILE would write for
one input column, from the section's options (``smile_config.Section.options()``), with memory ~ the contour plus
O(N) temporaries. `check` tells a caller beforehand whether a section is covered; anything else raises `Unsupported`
so the caller can fall back to openSMILE.

The arithmetic follows openSMILE's types where it changes results: values are float32 (FLOAT_DMEM), the shared mean
is accumulated in double and handed to every functional as float32, double sums are sequential (a C loop's order),
float32 sums are sequential float32 (``np.cumsum`` on float32 is a left-to-right loop). Options not given take the
defaults openSMILE registers for them; ``norm`` of a sub-functional falls back to ``masterTimeNorm`` when that is set.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from ser.frontend.smile_functionals import CHUNK, _extrema, _moments, _seq_add, _seq_sum, _slope_stats

F32 = np.float32
_SEGMENT, _SECOND, _FRAME = 0, 1, 2


class Unsupported(ValueError):
    """an option or functional this module does not implement"""


# ------------------------------------------------------------------------------------------------ options


#: cFunctionals-level keys that do not change the values of a frameMode=full row (or that we handle)
_TOP_KEYS = {"frameMode", "frameSize", "frameStep", "frameCenterSpecial", "functionalsEnabled", "nonZeroFuncts",
             "masterTimeNorm", "copyInputName", "functNameAppend", "preserveFields", "blocksize", "blocksizeR",
             "blocksizeW", "allowLastFrameIncomplete", "noPostEOIprocessing", "inputPeriod", "frameListFile",
             "frameList", "dtype"}


def _parse_norm(text: str) -> int | None:
    """openSMILE's time-norm names by prefix (turn/segment, second(s), frame(s)); None if none matches."""
    for prefix, norm in (("tur", _SEGMENT), ("seg", _SEGMENT), ("sec", _SECOND), ("fra", _FRAME)):
        if text.startswith(prefix):
            return norm
    return None


def _array(options: Mapping[str, str], key: str) -> list[str] | None:
    """An array option given as ``key = a;b`` or as ``key[i] = a``; None if not given at all."""
    if key in options:
        return [item.strip() for item in options[key].split(";") if item.strip()]
    indexed = {}
    for name, value in options.items():
        match = re.fullmatch(re.escape(key) + r"\[(\d+)\]", name)
        if match:
            indexed[int(match.group(1))] = value.strip()
    if not indexed:
        return None
    if sorted(indexed) != list(range(len(indexed))):
        raise Unsupported(f"array option {key} has gaps in its indices")
    return [indexed[i] for i in range(len(indexed))]


@dataclass
class _Sub:
    """One functional's options (``Name.key``), with openSMILE's defaults and the parent's masterTimeNorm."""

    name: str
    options: dict[str, str]
    master_norm: int | None
    known: set[str] = field(default_factory=set)

    def is_set(self, key: str) -> bool:
        self.known.add(key)
        return key in self.options

    def text(self, key: str, default: str) -> str:
        self.known.add(key)
        return self.options.get(key, default).strip()

    def int(self, key: str, default: int) -> int:
        value = self.text(key, str(default))
        try:
            return int(value)
        except ValueError:
            try:
                return int(float(value))
            except ValueError:
                raise Unsupported(f"{self.name}.{key} = {value!r} is not a number") from None

    def float(self, key: str, default: float) -> float:
        value = self.text(key, repr(default))
        try:
            return float(value)
        except ValueError:
            raise Unsupported(f"{self.name}.{key} = {value!r} is not a number") from None

    def array(self, key: str, default: list[str]) -> list[str]:
        """An array option; openSMILE gives an array that is not set no elements (its registered default unused)."""
        self.known.add(key)
        found = _array(self.options, key)
        return default if found is None else found

    def time_norm(self, default: str) -> int:
        """The functional's norm: its own option if set, else masterTimeNorm if set, else its default."""
        if self.is_set("norm"):
            norm = _parse_norm(self.options["norm"].strip())
            if norm is None:
                raise Unsupported(f"{self.name}.norm = {self.options['norm']!r}")
            return norm
        if self.master_norm is not None:
            return self.master_norm
        norm = _parse_norm(default)
        assert norm is not None
        return norm

    def forbid(self, key: str, default: int) -> None:
        """An option only its default value of which is implemented."""
        if self.int(key, default) != default:
            raise Unsupported(f"{self.name}.{key} = {self.options[key]!r} is not implemented")

    def finish(self) -> None:
        """Every option given for this functional must have been read (an unknown one may change the values)."""
        unknown = sorted(set(self.options) - self.known - {k for k in self.options if _base(k) in self.known})
        if unknown:
            raise Unsupported(f"{self.name}: option(s) not implemented: {', '.join(unknown)}")


def _base(key: str) -> str:
    return key.split("[", 1)[0]


# ------------------------------------------------------------------------------------------------ the data


@dataclass
class _Input:
    """What cFunctionals hands every functional: the (non-zero) values, their min, max and float32 mean."""

    x: np.ndarray
    period: float
    lo: F32 = F32(0.0)
    hi: F32 = F32(0.0)
    mean: F32 = F32(0.0)
    _sorted: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.size:
            self.lo, self.hi = self.x.min(), self.x.max()
            self.mean = F32(_seq_sum(self.x) / self.x.size)

    @property
    def n(self) -> int:
        return int(self.x.size)

    @property
    def sorted(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = np.sort(self.x)
        return self._sorted


Functional = Callable[[_Input], list]
#: a term summed over the contour: (values as float64, their frame indices as float64) -> what is added
Term = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sums(x: np.ndarray, *terms: Term) -> list[float]:
    """Left-to-right float64 sums of each term over `x`, a `CHUNK` of frames at a time: the same sums as `_seq_sum`
    of each whole term (a sum chains exactly across chunks), with temporaries of one chunk instead of float64 copies
    of the whole contour (the memory of a long utterance stays flat)."""
    totals = [0.0] * len(terms)
    for lo in range(0, x.size, CHUNK):
        chunk = np.asarray(x[lo : lo + CHUNK], dtype=np.float64)
        index = np.arange(lo, lo + chunk.size, dtype=np.float64)
        for k, term in enumerate(terms):
            totals[k] = _seq_add(totals[k], term(chunk, index))
    return totals


def _count_where(x: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> int:
    return sum(int(np.count_nonzero(test(x[lo : lo + CHUNK]))) for lo in range(0, x.size, CHUNK))


def _f32_sum(values: np.ndarray) -> F32:
    """Sequential float32 sum (a C loop over FLOAT_DMEM)."""
    return F32(np.cumsum(np.asarray(values, dtype=F32))[-1]) if values.size else F32(0.0)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _logistic(x: F32) -> F32:
    limit = math.log(float(np.finfo(F32).max))
    if x > limit:
        return F32(1.0)
    if x < -limit:
        return F32(0.0)
    return F32(1.0 / (1.0 + math.exp(-float(x))))


def _ratio_limit(x: F32, limit1: F32, excess: F32) -> F32:
    """smileMath_ratioLimit: linear within +-limit1, a tanh-shaped soft limit towards +-(limit1 + excess)."""
    x, limit1, excess = F32(x), F32(limit1), F32(excess)
    if x > limit1:
        arg = F32((math.sqrt(float(F32(x - limit1)) + 1.0) - 1.0) / (float(excess) * 0.5))
        return F32(F32(F32(2.0) * _logistic(F32(2.0) * arg) - F32(1.0)) * excess + limit1)
    if x < -limit1:
        arg = F32(-(math.sqrt(-1.0 * float(F32(x + limit1)) + 1.0) - 1.0) / (float(excess) * 0.5))
        return F32(F32(F32(2.0) * _logistic(F32(2.0) * arg) - F32(1.0)) * excess - limit1)
    return x


# ------------------------------------------------------------------------------------------------ Extremes


def _extremes(o: _Sub) -> Functional:
    flags = [o.int(k, d) for k, d in (("max", 1), ("min", 1), ("range", 1), ("maxpos", 1), ("minpos", 1),
                                      ("amean", 0), ("maxameandist", 1), ("minameandist", 1))]
    norm = o.time_norm("frames")

    def run(d: _Input) -> list:
        max_at, min_at = F32(int(np.argmax(d.x == d.hi))), F32(int(np.argmax(d.x == d.lo)))
        if norm == _SEGMENT:
            max_at, min_at = max_at / F32(d.n), min_at / F32(d.n)
        elif norm == _SECOND and F32(d.period) != 0:
            max_at, min_at = max_at * F32(d.period), min_at * F32(d.period)
        out = [d.hi, d.lo, d.hi - d.lo, max_at, min_at, d.mean, d.hi - d.mean, d.mean - d.lo]
        return [v for v, on in zip(out, flags) if on]

    return run


# ------------------------------------------------------------------------------------------------ Moments


def _moments_functional(o: _Sub) -> Functional:
    flags = [o.int(k, d) for k, d in (("variance", 1), ("stddev", 1), ("skewness", 1), ("kurtosis", 1),
                                      ("amean", 0))]
    norm_mode = o.int("stddevNorm", 0)
    ratio_limit = o.int("doRatioLimit", 0)

    def run(d: _Input) -> list:
        m2, m3, m4 = _moments(d.x, d.mean)
        sq = math.sqrt(m2)
        n = float(d.n)
        positive = m2 > 0.0
        out = [F32(m2), F32(sq) if positive else F32(0.0), F32(m3 / (n * m2 * sq)) if positive else F32(0.0),
               F32(m4 / (n * m2 * m2)) if positive else F32(0.0), d.mean]
        out = [v for v, on in zip(out, flags) if on]
        if norm_mode in (1, 2):
            mean = d.mean if norm_mode == 2 else F32(abs(d.mean))
            if not positive:
                out.append(F32(0.0))
            elif ratio_limit:
                out.append(_ratio_limit(F32(sq / float(mean)), F32(10.0), F32(20.0)) if mean != 0 else F32(20.0))
            else:
                out.append(F32(sq / (float(mean) if mean != 0 else 1.0)))
        return out

    return run


# ------------------------------------------------------------------------------------------------ Percentiles


def _pctl_index(p: float, n: int) -> int:
    """Nearest rank as C's round() (halves away from zero), clipped to the array."""
    return min(max(int(math.floor(p * (n - 1) + 0.5)), 0), n - 1)


def _interp_pctl(s: np.ndarray, p: float) -> F32:
    """Percentiles' linear interpolation: double weights cast to float32, float32 arithmetic."""
    n = s.size
    idx = p * float(n - 1)
    i1 = min(max(math.floor(idx), 0), n - 1)
    i2 = min(max(math.ceil(idx), 0), n - 1)
    if i1 == i2:
        return s[i1]
    return F32(s[i1] * F32(float(i2) - idx) + s[i2] * F32(idx - float(i1)))


def _pairs(items: list[str], n_pctl: int, what: str) -> list[tuple[int, int]]:
    out = []
    for item in items:
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", item)
        if not match:
            raise Unsupported(f"Percentiles.{what} {item!r}")
        a, b = int(match.group(1)), int(match.group(2))
        if a >= n_pctl or b >= n_pctl or a == b:
            raise Unsupported(f"Percentiles.{what} {item!r} refers to a percentile that does not exist")
        out.append((a, b))
    return out


def _percentiles(o: _Sub) -> Functional:
    interp = o.int("interp", 1)
    quart = [o.int(f"quartile{i}", 0) for i in (1, 2, 3)]
    if o.is_set("quartiles"):
        quart = [o.int("quartiles", 0)] * 3
    iqr = [o.int(k, 0) for k in ("iqr12", "iqr23", "iqr13")]
    if o.is_set("iqr"):
        iqr = [o.int("iqr", 0)] * 3
    for key in ("iqq", "iqq12", "iqq23", "iqq13"):  # registered, never read by openSMILE
        o.is_set(key)
    pctl = [min(max(float(p), 0.0), 1.0) for p in o.array("percentile", [])]
    ranges = quotients = []
    if pctl:
        ranges = _pairs(o.array("pctlrange", []), len(pctl), "pctlrange")
        quotients = _pairs(o.array("pctlquotient", []), len(pctl), "pctlquotient")
    if quotients:
        raise Unsupported("Percentiles.pctlquotient")

    def run(d: _Input) -> list:
        s = d.sorted
        get = (lambda p: _interp_pctl(s, p)) if interp else (lambda p: s[_pctl_index(p, s.size)])
        q1, q2, q3 = get(0.25), get(0.5), get(0.75)
        out = [v for v, on in zip((q1, q2, q3), quart) if on]
        out += [v for v, on in zip((q2 - q1, q3 - q2, q3 - q1), iqr) if on]
        values = [get(p) for p in pctl]
        out += values
        out += [F32(abs(values[b] - values[a])) for a, b in ranges]
        return out

    return run


# ------------------------------------------------------------------------------------------------ Means


_MEANS = ("amean", "absmean", "qmean", "nzamean", "nzabsmean", "nzqmean", "nzgmean", "nnz", "flatness", "posamean",
          "negamean", "posqmean", "posrqmean", "negqmean", "negrqmean", "rqmean", "nzrqmean")
_MEANS_ON = {"amean", "absmean", "qmean", "nzamean", "nzabsmean", "nzqmean", "nzgmean", "nnz"}


def _nonzero(x: np.ndarray) -> np.ndarray:
    return x[x != 0.0]


def _means(o: _Sub) -> Functional:
    on = {name for name in _MEANS if o.int(name, 1 if name in _MEANS_ON else 0)}
    norm = o.time_norm("frames")

    def run(d: _Input) -> list:
        n = float(d.n)
        (abs_sum, sq_sum, nz_sum, nz_abs_sum, log_sum, pos_sum, pos_sq, neg_sum, neg_sq) = _sums(
            d.x, lambda x, i: np.abs(x), lambda x, i: _nonzero(x) ** 2, lambda x, i: _nonzero(x),
            lambda x, i: np.abs(_nonzero(x)), lambda x, i: np.log(np.abs(_nonzero(x))),
            lambda x, i: x[x > 0.0], lambda x, i: x[x > 0.0] ** 2, lambda x, i: x[x < 0.0], lambda x, i: x[x < 0.0] ** 2)
        nnz = _count_where(d.x, lambda x: x != 0.0)
        n_pos, n_neg = _count_where(d.x, lambda x: x > 0.0), _count_where(d.x, lambda x: x < 0.0)
        absmean = abs_sum / n
        qmean = sq_sum / n
        if nnz:
            nzamean, nzabsmean, nzqmean = nz_sum / nnz, nz_abs_sum / nnz, sq_sum / nnz
            nzgmean = math.exp(log_sum / nnz)
        else:
            nzamean = nzabsmean = nzqmean = nzgmean = 0.0
        posamean = pos_sum / n_pos if n_pos else 0.0
        posqmean = pos_sq / n_pos if n_pos else 0.0
        negamean = neg_sum / n_neg if n_neg else 0.0
        negqmean = neg_sq / n_neg if n_neg else 0.0
        if norm == _FRAME:
            nnz_out = F32(nnz)
        elif norm == _SEGMENT:
            nnz_out = F32(nnz) / F32(d.n)
        else:
            nnz_out = F32(nnz) / F32(d.period)
        values = {"amean": d.mean, "absmean": absmean, "qmean": qmean, "nzamean": nzamean, "nzabsmean": nzabsmean,
                  "nzqmean": nzqmean, "nzgmean": nzgmean, "nnz": nnz_out,
                  "flatness": nzgmean / absmean if absmean != 0.0 else 1.0, "posamean": posamean,
                  "negamean": negamean, "posqmean": posqmean, "posrqmean": math.sqrt(posqmean),
                  "negqmean": negqmean, "negrqmean": math.sqrt(negqmean), "rqmean": math.sqrt(qmean),
                  "nzrqmean": math.sqrt(nzqmean)}
        return [F32(values[name]) for name in _MEANS if name in on]

    return run


# ------------------------------------------------------------------------------------------------ Regression


_REGRESSION = ("linregc1", "linregc2", "linregerrA", "linregerrQ", "qregc1", "qregc2", "qregc3", "qregerrA",
               "qregerrQ", "centroid", "qregls", "qregrs", "qregx0", "qregy0", "qregyr", "qregy0nn", "qregc3nn",
               "qregyrnn")


def _regression(o: _Sub) -> Functional:
    on = [bool(o.int(name, 1 if i < 10 else 0)) for i, name in enumerate(_REGRESSION)]
    quadratic = any(on[4:])
    centroid_norm = _parse_norm(o.text("centroidNorm", "segment"))
    if centroid_norm is None:
        raise Unsupported(f"Regression.centroidNorm = {o.options['centroidNorm']!r}")
    norm_coeff = o.int("normRegCoeff", 0)
    if norm_coeff not in (0, 1, 2):
        raise Unsupported(f"Regression.normRegCoeff = {norm_coeff}")
    norm_inputs = o.int("normInputs", 0)
    centroid_abs = o.int("centroidUseAbsValues", 1)
    centroid_limit = o.int("centroidRatioLimit", 1)
    ratio_limit = o.int("doRatioLimit", 0)
    old_qerr = o.int("oldBuggyQerr", 1)

    def run(d: _Input) -> list:
        n = d.n
        nf = float(n)
        rng = float(d.hi - d.lo)
        if rng <= 0.0:
            rng, range_inv = 1.0, 0.0
        else:
            range_inv = 1.0 / rng
        asum = float(d.mean) * nf
        num, num2, asum_abs, num_abs = _sums(d.x, lambda x, i: x * i, lambda x, i: x * i * i,
                                             lambda x, i: np.abs(x), lambda x, i: np.abs(x) * i)
        if centroid_abs:
            centroid = num_abs / asum_abs if asum_abs != 0.0 else 0.0
        else:
            centroid = num / asum if asum != 0.0 else 0.0
        if centroid_limit:
            centroid = float(_ratio_limit(F32(centroid), F32(nf), F32(nf)))
        if centroid_norm == _SECOND:
            centroid *= d.period
        elif centroid_norm == _SEGMENT:
            centroid /= nf
        a = b = c = 0.0
        if n > 1:
            nnm1 = nf * (nf - 1.0)
            s1 = nnm1 / 2.0
            s2 = nnm1 * (2.0 * nf - 1.0) / 6.0
            s1ds2 = s1 / s2
            den = nf - s1 * s1ds2
            t = 0.0 if den == 0.0 else (asum - num * s1ds2) / den
            m = (num - t * s1) / s2
            s3 = s1 * s1
            n1 = nf - 1.0
            s4 = s2 * (3.0 * (n1 * n1 + n1) - 1.0) / 5.0
            if quadratic:
                s3s3, s2s2, s1s2 = s3 * s3, s2 * s2, s1 * s2
                det = s4 * s2 * nf + 2.0 * s3 * s1s2 - s2s2 * s2 - s3s3 * nf - s3 * s4
                if det != 0.0:
                    a = ((s2 * nf - s3) * num2 + (s1s2 - s3 * nf) * num + (s3 * s1 - s2s2) * asum) / det
                    b = ((s1s2 - s3 * nf) * num2 + (s4 * nf - s2s2) * num + (s3 * s2 - s4 * s1) * asum) / det
                    c = ((s3 * s1 - s2s2) * num2 + (s3 * s2 - s4 * s1) * num + (s4 * s2 - s3s3) * asum) / det
        else:
            m, t, c = 0.0, float(d.x[0]), float(d.x[0])
        def linear_error(x: np.ndarray, i: np.ndarray) -> np.ndarray:
            e = x - (m * i + t)
            return e * range_inv if norm_inputs else e

        lea, leq = _sums(d.x, lambda x, i: np.abs(linear_error(x, i)), lambda x, i: linear_error(x, i) ** 2)
        qea = qeq = 0.0
        ls = rs = x0 = y0 = yr = yrnn = c3nn = y0nn = 0.0
        if quadratic:
            def quadratic_error(x: np.ndarray, i: np.ndarray) -> np.ndarray:
                e = x - (a * i * i + b * i + c)
                return e * range_inv if norm_inputs else e

            qea, qeq = _sums(d.x, lambda x, i: np.abs(quadratic_error(x, i)), lambda x, i: quadratic_error(x, i) ** 2)
            with np.errstate(all="ignore"):
                x0 = float(np.float64(b) / (-2.0 * np.float64(a)))
                y0 = float(np.float64(c) - np.float64(b) * b / (4.0 * np.float64(a)))
            x0 = max(min(x0, nf), -nf) if math.isfinite(x0) else nf
            y0 = y0 if math.isfinite(y0) else 0.0
            y0nn = y0
            yr = a * (nf - 1.0) * (nf - 1.0) + b * (nf - 1.0) + c
            if not math.isfinite(yr):
                yr = 0.0
            yrnn, c3nn = yr, c
        one_sec = 1.0 / d.period if norm_coeff == 2 else 1.0
        if ratio_limit:
            m = float(_ratio_limit(F32(m), F32(rng / 10.0), F32(rng / 10.0 + 0.01)))
            a = float(_ratio_limit(F32(a), F32(math.sqrt(rng / 10.0)), F32(math.sqrt(rng / 10.0) + 0.01)))
            b = float(_ratio_limit(F32(b), F32(rng / 10.0), F32(rng / 10.0 + 0.01)))
        if norm_coeff == 1:
            m *= nf - 1.0
            a *= (nf - 1.0) * (nf - 1.0)
            b *= nf - 1.0
            x0 = x0 / (nf - 1.0) if nf != 1.0 else 0.0
        elif norm_coeff == 2:
            m *= one_sec
            a *= one_sec * one_sec
            b *= one_sec
            x0 = x0 / one_sec if one_sec != 1.0 else 0.0
        if norm_inputs:
            lo = float(d.lo)
            m *= range_inv
            t = (t - lo) * range_inv
            a *= range_inv
            b *= range_inv
            c = (c - lo) * range_inv
            y0 = (y0 - lo) * range_inv
            yr = (yr - lo) * range_inv
        if quadratic:
            with np.errstate(all="ignore"):
                if x0 > 0:
                    ls = float(np.float64(y0 - c) / x0)
                end = 1.0 if norm_coeff == 1 else ((nf - 1.0) / one_sec if norm_coeff == 2 else nf - 1.0)
                if x0 < end:
                    rs = float(np.float64(yr - y0) / (end - x0))
        if not math.isfinite(c):
            c, c3nn = 0.0, 0.0
        lin_a = lea / nf if math.isfinite(lea / nf) else 0.0
        lin_q = leq / nf if math.isfinite(leq / nf) else 0.0
        qa = qea if math.isfinite(qea / nf) else 0.0
        qq = qeq if math.isfinite(qeq / nf) else 0.0
        if not old_qerr:
            qa, qq = qa / nf, qq / nf
        values = [_finite(m), _finite(t), lin_a, lin_q, _finite(a), _finite(b), c, qa, qq, _finite(centroid),
                  _finite(ls), _finite(rs), x0, y0, yr, y0nn, c3nn, yrnn]
        return [F32(v) for v, flag in zip(values, on) if flag]

    return run


# ------------------------------------------------------------------------------------------------ Segments


_SEG_ALGOS = (("delta", "delta"), ("delt2", "delt2"), ("relTh", "relTh"), ("mrelTh", "mrelTh"), ("absTh", "absTh"),
              ("NArelTh", "NArelTh"), ("mNArelTh", "NAmrelTh"), ("NAmrelTh", "NAmrelTh"), ("NAabsTh", "NAabsTh"),
              ("chX", "chX"), ("nonX", "nonX"), ("eqX", "eqX"))
_SEG_DONE = {"relTh", "mrelTh", "NArelTh", "NAmrelTh", "NAabsTh", "nonX", "eqX"}


def _running_average3(x: np.ndarray) -> Iterator[np.ndarray]:
    """openSMILE's 3-frame running average, chunk by chunk: a float32 running sum that adds x[i] and then subtracts
    x[i-3] (interleaving the steps and one float32 cumsum per chunk, chained by its last sum, reproduces it)."""
    carry = F32(0.0)
    for lo in range(0, x.size, CHUNK):
        hi = min(x.size, lo + CHUNK)
        frames = np.arange(lo, hi)
        two = frames >= 3  # frames that add one value and subtract another
        ends = np.cumsum(1 + two)  # position of each frame's last step
        steps = np.empty(int(ends[-1]), dtype=F32)
        steps[ends - 1 - two] = x[lo:hi]
        steps[(ends - 1)[two]] = -x[frames[two] - 3]
        running = np.cumsum(np.concatenate([[carry], steps]).astype(F32), dtype=F32)
        sums = running[ends]
        carry = sums[-1]
        yield (sums / np.minimum(frames + 1, 3).astype(F32)).astype(F32)


def _crossings(x: np.ndarray, thresholds: np.ndarray, average: bool) -> Iterator[int]:
    """Frames where the signal (or its running average) crosses one of `thresholds`, in order, chunk by chunk."""
    if average:
        chunks, start, last = _running_average3(x), 0, F32(0.0)
    else:
        chunks = (x[lo + 1 : lo + 1 + CHUNK] for lo in range(0, max(x.size - 1, 0), CHUNK))
        start, last = 1, x[0] if x.size else F32(0.0)
    offset = start
    for ra in chunks:
        previous = np.concatenate([[last], ra[:-1]]).astype(F32)
        cross = np.zeros(ra.size, dtype=bool)
        for th in thresholds:
            cross |= ((ra > th) & (previous <= th)) | ((ra < th) & (previous >= th))
        yield from (np.flatnonzero(cross) + offset).tolist()
        offset += ra.size
        last = ra[-1]


def _threshold_segments(x: np.ndarray, thresholds: np.ndarray, min_lng: int, max_seg: int,
                        average: bool) -> list[int]:
    """Segment lengths of the (NA)(m)relTh/NAabsTh segmenters: a boundary where the signal (or its 3-frame running
    average) crosses a threshold at least min_lng frames after the last."""
    lengths: list[int] = []
    last_seg = -(min_lng // 2)
    for i in _crossings(x, thresholds, average):
        if i - last_seg > min_lng:
            lengths.append(i - last_seg)
            last_seg = i
            if len(lengths) >= max_seg:
                break
    return lengths


def _run_segments(target: np.ndarray, min_lng: int, pause_lng: int, max_seg: int) -> list[int]:
    """Segment lengths of the (new) nonX/eqX segmenters over a boolean 'segment frame' mask: target frames whose
    gaps are shorter than pause_lng group together; a group of >= max(min_lng, 2) target frames is a segment of
    length last - first frame."""
    idx = np.flatnonzero(target)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > pause_lng) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [idx.size]])
    keep = (ends - starts) >= max(min_lng, 2)
    return (idx[ends - 1] - idx[starts])[keep][:max_seg].tolist()


def _segments(o: _Sub) -> Functional:
    norm = o.time_norm("segment")
    flags = [o.int(k, 0) for k in ("numSegments", "meanSegLen", "maxSegLen", "minSegLen", "segLenStddev")]
    max_seg = o.int("maxNumSeg", 20)
    algo_text = o.text("segmentationAlgorithm", "delta")
    algo = next((name for prefix, name in _SEG_ALGOS if algo_text.startswith(prefix)), None)
    if algo not in _SEG_DONE:
        raise Unsupported(f"Segments.segmentationAlgorithm = {algo_text!r}")
    o.forbid("useOldBuggyChX", 0)
    o.forbid("growDynSegBuffer", 0)
    o.int("dbgPrint", 0)
    o.int("ravgLng", 0)
    o.float("rangeRelThreshold", 0.2)
    seg_min = max(o.int("segMinLng", 3), 1)
    auto_min = not o.is_set("segMinLng")
    pause_min = max(o.int("pauseMinLng", 2), 1)
    x_value = F32(o.float("X", 0.0))
    x_rel = o.int("XisRel", 0)
    thresholds = np.array([float(t) for t in o.array("thresholds", [])], dtype=F32)
    if algo in ("relTh", "NArelTh"):
        thresholds = np.clip(thresholds, F32(0.0), F32(1.0))
    if max_seg <= 0:
        raise Unsupported(f"Segments.maxNumSeg = {max_seg}")

    def lengths_of(d: _Input) -> list[int]:
        rng = d.hi - d.lo
        if algo in ("nonX", "eqX"):
            xv = F32(d.lo + rng * x_value) if x_rel else x_value
            target = d.x != xv if algo == "nonX" else d.x == xv
            return _run_segments(target, seg_min, pause_min, max_seg)
        if algo in ("relTh", "NArelTh"):
            th = (d.lo + rng * thresholds).astype(F32)
        elif algo in ("mrelTh", "NAmrelTh"):
            th = (d.mean * thresholds).astype(F32)
        else:
            th = thresholds
        min_lng = max(d.n // max_seg - 1, 2) if auto_min else seg_min
        return _threshold_segments(d.x, th, min_lng, max_seg, average=not algo.startswith("NA"))

    def run(d: _Input) -> list:
        lengths = lengths_of(d)
        count = len(lengths)
        total = sum(lengths)
        mean = F32(total) / F32(count) if count > 1 else F32(total)
        if count > 1:
            dev = np.asarray(lengths, dtype=F32) - mean
            std = F32(math.sqrt(_f32_sum(dev * dev) / F32(count)))
        else:
            std = F32(0.0)
        longest = F32(max(lengths, default=0))
        shortest = F32(min(lengths, default=0))
        t = F32(d.period) if F32(d.period) != 0 else F32(1.0)
        if norm == _SECOND:
            num = F32(count) / (t * F32(d.n))
        elif norm == _SEGMENT:
            num = F32(count) / F32(max_seg)
        else:
            num = F32(count)
        if norm == _SEGMENT:
            lens = [mean / F32(d.n), longest / F32(d.n), shortest / F32(d.n), std / F32(d.n)]
        elif norm == _FRAME:
            lens = [mean, longest, shortest, std]
        else:
            lens = [mean * t, longest * t, shortest * t, std * t]
        return [v for v, on in zip([num, *lens], flags) if on]

    return run


# ------------------------------------------------------------------------------------------------ Times


_TIMES = ("upleveltime25", "downleveltime25", "upleveltime50", "downleveltime50", "upleveltime75",
          "downleveltime75", "upleveltime90", "downleveltime90", "risetime", "falltime", "leftctime", "rightctime",
          "duration")


def _times(o: _Sub) -> Functional:
    norm = o.time_norm("segment")
    buggy = o.int("buggySecNorm", 1)
    flags = [o.int(name, 1) for name in _TIMES]
    robust = o.int("useRobustPercentileRange", 0)
    margin = F32(o.float("pctlRangeMargin", 0.05))
    margin = F32(0.01) if margin < 0 else min(margin, F32(0.45))
    up = [min(max(float(v), 0.0), 1.0) for v in o.array("upleveltime", [])]
    down = [min(max(float(v), 0.0), 1.0) for v in o.array("downleveltime", [])]

    def run(d: _Input) -> list:
        x, n = d.x, d.n
        nind = F32(n)
        norm0, norm1, norm2 = nind, nind - F32(1.0), nind - F32(2.0)
        t = F32(1.0)
        if norm == _SECOND:
            t = F32(d.period)
            if t != 0:
                if buggy:
                    norm0, norm1, norm2 = norm0 / t, norm1 / t, norm2 / t
                else:
                    norm0, norm1, norm2 = F32(1.0) / t, norm1 / (nind * t), norm2 / (nind * t)
        if norm == _FRAME:
            norm0, norm1, norm2 = F32(1.0), norm1 / nind, norm2 / nind
        if robust:
            s = d.sorted
            hi = s[min(max(int(math.floor(float(F32(F32(1.0) - margin) * F32(n - 1)) + 0.5)), 0), n - 1)]
            lo = s[min(max(int(math.floor(float(margin * F32(n - 1)) + 0.5)), 0), n - 1)]
            rng = F32(hi - lo)
        else:
            rng = F32(d.hi - d.lo)
        below = [int(np.count_nonzero(x <= F32(F32(f) * rng + d.lo))) for f in (0.25, 0.5, 0.75, 0.9)]
        diff = np.diff(x)
        rises, falls = int(np.count_nonzero(diff > 0)), int(np.count_nonzero(diff < 0))
        a1, a2 = diff[:-1], diff[1:]
        right, left = int(np.count_nonzero(a2 < a1)), int(np.count_nonzero(a1 < a2))
        out = []
        for count in below:
            out += [F32(n - count) / norm0, F32(count) / norm0]
        out += [F32(rises) / norm1, F32(falls) / norm1] if norm1 != 0 else [F32(0.0), F32(0.0)]
        out += [F32(left) / norm2, F32(right) / norm2] if norm2 != 0 else [F32(0.0), F32(0.0)]
        out.append(F32(nind * t) if norm == _SECOND else nind)
        out = [v for v, on in zip(out, flags) if on]
        for level in up:
            lx = F32(level * float(rng) + float(d.lo))
            out.append(F32(int(np.count_nonzero(x > lx))) / norm0)
        for level in down:
            lx = F32(level * float(rng) + float(d.lo))
            out.append(F32(int(np.count_nonzero(x <= lx))) / norm0)
        return out

    return run


# ------------------------------------------------------------------------------------------------ Lpc


def _autocorr(x: np.ndarray, lags: int) -> np.ndarray:
    """smileDsp_autoCorr: each lag's sum of float32 products, accumulated in float32 left to right."""
    acf = np.zeros(lags, dtype=F32)
    for lag in range(min(lags, x.size)):
        acf[lag] = _f32_sum(x[lag:] * x[: x.size - lag])
    return acf


def _durbin(r: np.ndarray, order: int) -> tuple[np.ndarray, F32]:
    """smileDsp_calcLpcAcf (Levinson-Durbin) in float32: (coefficients, prediction error = gain)."""
    a = np.zeros(order + 1, dtype=F32)
    if r[0] == 0.0:
        return a[:order], F32(0.0)
    e = r[0]
    for m in range(1, order + 1):
        acc = F32(F32(1.0) * r[m])
        for i in range(1, m):
            acc = F32(acc + a[i - 1] * r[m - i])
        k = F32(F32(F32(-1.0) / e) * acc)
        a[m - 1] = k
        for i in range(1, m // 2 + 1):
            keep = a[i - 1]
            a[i - 1] = F32(a[i - 1] + k * a[m - i - 1])
            if i < m // 2 or (m & 1) == 1:
                a[m - i - 1] = F32(a[m - i - 1] + k * keep)
        e = F32(e * F32(F32(1.0) - k * k))
        if e == 0.0:
            a[m:] = 0.0
            break
    return a[:order], e


def _lpc(o: _Sub) -> Functional:
    first = max(o.int("firstCoeff", 0), 0)
    order = o.int("order", 5)
    gain_on, lpc_on = o.int("lpGain", 0), o.int("lpc", 1)
    if order <= first:
        raise Unsupported(f"Lpc.order = {order} <= firstCoeff = {first}")

    def run(d: _Input) -> list:
        coeffs, gain = _durbin(_autocorr(d.x, order + 1), order)
        out = [F32(gain / F32(d.n))] if gain_on else []
        if lpc_on:
            out += list(coeffs[first:order])
        return out

    return run


# ------------------------------------------------------------------------------------------------ Peaks2


_PEAKS2 = ("numPeaks", "meanPeakDist", "meanPeakDistDelta", "peakDistStddev", "peakRangeAbs", "peakRangeRel",
           "peakMeanAbs", "peakMeanMeanDist", "peakMeanRel", "ptpAmpMeanAbs", "ptpAmpMeanRel", "ptpAmpStddevAbs",
           "ptpAmpStddevRel", "minRangeAbs", "minRangeRel", "minMeanAbs", "minMeanMeanDist", "minMeanRel",
           "mtmAmpMeanAbs", "mtmAmpMeanRel", "mtmAmpStddevAbs", "mtmAmpStddevRel", "meanRisingSlope",
           "maxRisingSlope", "minRisingSlope", "stddevRisingSlope", "meanFallingSlope", "maxFallingSlope",
           "minFallingSlope", "stddevFallingSlope", "covFallingSlope", "covRisingSlope")
_PEAKS2_TODO = {"maxRisingSlope", "minRisingSlope", "maxFallingSlope", "minFallingSlope", "covFallingSlope",
                "covRisingSlope"}


@dataclass
class _Run:
    """Statistics of one kind of Peaks2's extrema (maxima or minima)."""

    count: int
    mean: F32
    dist: F32
    diff: F32
    lo: F32
    hi: F32


def _run_stats(frames: np.ndarray, values: np.ndarray) -> _Run:
    if values.size == 0:
        return _Run(0, F32(0.0), F32(0.0), F32(0.0), F32(0.0), F32(0.0))
    total = _f32_sum(values)
    mean = total / F32(values.size) if values.size > 1 else total
    dist = _f32_sum(np.diff(frames).astype(F32))
    diff = _f32_sum(np.abs(np.diff(values)).astype(F32))
    if values.size - 1 > 1:
        dist, diff = dist / F32(values.size - 1), diff / F32(values.size - 1)
    return _Run(int(values.size), F32(mean), F32(dist), F32(diff), values.min(), values.max())


def _stddev(deviations: np.ndarray, count: int) -> F32:
    total = _f32_sum(deviations * deviations)
    if count > 1:
        total = total / F32(count)
    return F32(math.sqrt(total)) if total > 0 else F32(0.0)


def _peaks2(o: _Sub) -> Functional:
    norm = o.time_norm("frames")
    on = {name for name in _PEAKS2 if o.int(name, 0)}
    if on & _PEAKS2_TODO:
        raise Unsupported(f"Peaks2.{sorted(on & _PEAKS2_TODO)[0]}")
    o.forbid("noClearPeakList", 0)
    rel = min(max(o.float("relThresh", 0.1), 0.0), 1.0)
    o.forbid("dynRelThresh", 0)
    absolute = o.float("absThresh", 0.0) if o.is_set("absThresh") else None
    limit = o.int("doRatioLimit", 1)
    for key in ("posDbgOutp", "posDbgAppend", "consoleDbg"):
        o.is_set(key)

    def unity(v: F32) -> F32:
        return F32(min(max(v, F32(-1.0)), F32(1.0))) if limit else F32(v)

    def run(d: _Input) -> list:
        x, n = d.x, d.n
        rng = F32(d.hi - d.lo)
        if absolute is None:
            kinds, frames, vals = _extrema(x, d.lo, d.hi, rel)
        else:
            kinds, frames, vals = _extrema(x, F32(0.0), F32(1.0), absolute)
        is_max = kinds == 1
        peaks = _run_stats(frames[is_max], vals[is_max])
        mins = _run_stats(frames[~is_max], vals[~is_max])
        # openSMILE's peak stddevs measure each maximum (after the first) against the minimum before it
        after_first = np.flatnonzero(is_max)[1:]
        before = after_first - 1
        peak_sd_dist = _stddev((frames[after_first] - frames[before]).astype(F32) - peaks.dist,
                               peaks.count - 1)
        peak_sd_diff = _stddev(np.abs(vals[after_first] - vals[before]).astype(F32) - peaks.diff, peaks.count - 1)
        min_frames, min_vals = frames[~is_max], vals[~is_max]
        min_sd_dist = _stddev(np.diff(min_frames).astype(F32) - mins.dist, mins.count - 1)
        min_sd_diff = _stddev(np.abs(np.diff(min_vals)).astype(F32) - mins.diff, mins.count - 1)
        peak_dist, min_dist = peaks.dist, mins.dist
        if norm == _SECOND:
            t = F32(d.period)
            peak_dist, peak_sd_dist, min_dist, min_sd_dist = (v * t for v in (peak_dist, peak_sd_dist, min_dist,
                                                                                min_sd_dist))
        elif norm == _SEGMENT:
            nf = F32(n)
            peak_dist, peak_sd_dist, min_dist, min_sd_dist = (v / nf for v in (peak_dist, peak_sd_dist, min_dist,
                                                                                 min_sd_dist))
        slopes = _slope_stats(x, (kinds, frames, vals), d.period)

        def rel_to_range(v: F32) -> F32:
            return unity(v / rng) if rng != 0 else v

        def rel_to_mean(v: F32) -> F32:
            if d.mean != 0:
                return _ratio_limit(F32(v / d.mean), F32(10.0), F32(10.0)) if limit else F32(v / d.mean)
            return F32(20.0) if limit else v

        num_peaks = F32(peaks.count) / (F32(n) * F32(d.period)) if norm == _SECOND else F32(peaks.count)
        values = {
            "numPeaks": num_peaks, "meanPeakDist": peak_dist, "meanPeakDistDelta": F32(0.0),
            "peakDistStddev": peak_sd_dist, "peakRangeAbs": peaks.hi - peaks.lo,
            "peakRangeRel": unity(F32(abs((peaks.hi - peaks.lo) / rng))) if rng != 0 else peaks.hi - peaks.lo,
            "peakMeanAbs": peaks.mean, "peakMeanMeanDist": peaks.mean - d.mean, "peakMeanRel": rel_to_mean(peaks.mean),
            "ptpAmpMeanAbs": peaks.diff, "ptpAmpMeanRel": rel_to_range(peaks.diff), "ptpAmpStddevAbs": peak_sd_diff,
            "ptpAmpStddevRel": rel_to_range(peak_sd_diff), "minRangeAbs": mins.hi - mins.lo,
            "minRangeRel": unity(F32(abs((mins.hi - mins.lo) / rng))) if rng != 0 else mins.hi - mins.lo,
            "minMeanAbs": mins.mean, "minMeanMeanDist": d.mean - mins.mean, "minMeanRel": rel_to_mean(mins.mean),
            "mtmAmpMeanAbs": mins.diff, "mtmAmpMeanRel": rel_to_range(mins.diff), "mtmAmpStddevAbs": min_sd_diff,
            "mtmAmpStddevRel": rel_to_range(min_sd_diff), "meanRisingSlope": slopes[0],
            "stddevRisingSlope": slopes[1], "meanFallingSlope": slopes[2], "stddevFallingSlope": slopes[3],
        }
        return [F32(values[name]) for name in _PEAKS2 if name in on]

    return run


# ------------------------------------------------------------------------------------------------ Onset


_ONSET = (("onsetPos", 0), ("offsetPos", 0), ("numOnsets", 1), ("numOffsets", 0), ("onsetRate", 0))


def _onset(o: _Sub) -> Functional:
    flags = [o.int(name, default) for name, default in _ONSET]
    norm = o.time_norm("segment")
    threshold = F32(o.float("threshold", 0.0))
    for key in ("thresholdOnset", "thresholdOffset"):  # hysteresis (separate thresholds) is not implemented
        if o.is_set(key):
            raise Unsupported(f"Onset.{key}")
    use_abs = o.int("useAbsVal", 0)

    def run(d: _Input) -> list:
        x, n = d.x, d.n
        # a frame is 'above' when its value (its magnitude with useAbsVal, except frame 0) exceeds the threshold;
        # frame i >= 1 is an onset when it is above and frame i-1 was not, an offset in the opposite case
        onsets = offsets = 0
        first_onset, last_offset = -1, -1
        before = bool(x[0] > threshold)
        for lo in range(1, n, CHUNK):
            cur = x[lo : lo + CHUNK]
            above = (np.abs(cur) if use_abs else cur) > threshold
            previous = np.concatenate([[before], above[:-1]])
            on = np.flatnonzero(above & ~previous)
            off = np.flatnonzero(previous & ~above)
            onsets += on.size
            offsets += off.size
            if first_onset < 0 and on.size:
                first_onset = lo + int(on[0])
            if off.size:
                last_offset = lo + int(off[-1])
            before = bool(above[-1])
        onset_at = F32(first_onset if first_onset >= 0 else 0)
        offset_at = F32(last_offset if last_offset >= 0 else n - 1)
        t = F32(d.period)
        if norm == _SEGMENT:
            onset_at, offset_at = onset_at / F32(n), offset_at / F32(n)
        elif norm == _SECOND:
            onset_at, offset_at = onset_at * t, offset_at * t
        out = [onset_at, offset_at, F32(onsets), F32(offsets), F32(onsets) / (F32(n) * t)]
        return [F32(v) for v, on in zip(out, flags) if on]

    return run


# ------------------------------------------------------------------------------------------------ Peaks


_PEAKS = (("numPeaks", 1), ("meanPeakDist", 1), ("peakMean", 1), ("peakMeanMeanDist", 1), ("peakDistStddev", 0))
#: events handed to the Python loop at a time (each a few Python objects)
_EVENT_BLOCK = 4096


def _f32_seq_sum(x: np.ndarray) -> F32:
    """Sequential float32 sum (a C loop over FLOAT_DMEM), a CHUNK at a time."""
    total = F32(0.0)
    for lo in range(0, x.size, CHUNK):
        total = np.cumsum(np.concatenate([[total], x[lo : lo + CHUNK]]).astype(F32), dtype=F32)[-1]
    return F32(total)


def _turns(x: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames i >= 2 whose previous frame is a strict local maximum (kind True) or minimum (kind False) of `x`, as
    (int32 frames, bool kinds), a CHUNK of frames at a time (chunks without a turn left out)."""
    for lo in range(2, x.size, CHUNK):
        hi = min(x.size, lo + CHUNK)
        a, b, c = x[lo - 2 : hi - 2], x[lo - 1 : hi - 1], x[lo:hi]
        is_max = (a < b) & (b > c)
        at = np.flatnonzero(is_max | ((a > b) & (b < c)))
        if at.size:
            yield (at + lo).astype(np.int32), is_max[at]


def _peak_walk(x: np.ndarray, rng: float) -> tuple[F32, int, np.ndarray]:
    """openSMILE's old Peaks detection (overlapFlag = 1): (float32 sum of the peaks' values, their number, the frame
    distances between consecutive peaks as int32).

    Frame by frame from frame 2: after a local maximum at i-1 the candidate becomes x[i] (openSMILE takes the frame
    after the maximum), or the larger of it and x[i] while a peak is open; a peak opens (and its position moves to i)
    while candidate - x[frame after the last minimum] > 0.11 range (float32 difference, double threshold); an open
    peak is counted at the first frame below candidate - 0.09 range (in double), or at the last frame. Only frames
    after a turn change the candidate, so this walks the turns (in blocks, with the minimum of the frames up to the
    next turn) instead of the frames.
    """
    n = x.size
    up, down = 0.11 * rng, 0.09 * rng
    total, count = F32(0.0), 0
    dist_blocks: list[np.ndarray] = [np.zeros(0, dtype=np.int32)]
    is_open = False
    last_min = top = 0.0
    at = last_at = -1
    turns = _turns(x)
    current = next(turns, None)
    while current is not None:
        following = next(turns, None)
        frames, kinds = current
        ends = np.append(frames[1:], np.int32(following[0][0] if following is not None else n))
        for lo in range(0, frames.size, _EVENT_BLOCK):
            block_frames, block_ends = frames[lo : lo + _EVENT_BLOCK], ends[lo : lo + _EVENT_BLOCK]
            start = int(block_frames[0])
            # the lowest value of each turn's frames up to the next turn
            lowest = np.minimum.reduceat(x[start : int(block_ends[-1])], block_frames - start).tolist()
            peaks: list[float] = []
            dists: list[int] = []
            for i, end, is_max, v, low in zip(block_frames.tolist(), block_ends.tolist(),
                                              kinds[lo : lo + _EVENT_BLOCK].tolist(), x[block_frames].tolist(),
                                              lowest):
                if is_max:
                    if not is_open:
                        top = v
                    elif v > top:
                        top, at = v, i
                    if float(F32(top) - F32(last_min)) > up:
                        is_open, at = True, i
                else:
                    last_min = v
                if is_open and (low < top - down or end == n):
                    # it closes at a frame of [i, end) below the limit, else (end == n) at the last frame; which
                    # frame changes no output, as no turn lies before `end`
                    peaks.append(top)
                    if last_at >= 0:
                        dists.append(at - last_at)
                    last_at = at
                    is_open = False
            if peaks:
                total = np.cumsum(np.asarray([total, *peaks], dtype=F32), dtype=F32)[-1]
                count += len(peaks)
            dist_blocks.append(np.asarray(dists, dtype=np.int32))
        current = following
    return F32(total), count, np.concatenate(dist_blocks)


def _peaks(o: _Sub) -> Functional:
    flags = [o.int(name, default) for name, default in _PEAKS]
    norm = o.time_norm("frames")
    o.forbid("overlapFlag", 1)  # 0 carries state from one call (column) to the next

    def run(d: _Input) -> list:
        x, n = d.x, d.n
        mean = _f32_seq_sum(x) / F32(n)
        total, count, dists = _peak_walk(x, float(F32(d.hi - d.lo)))
        if dists.size:
            dist = _f32_sum(dists.astype(F32)) / F32(dists.size)
            dev = dists.astype(F32) - dist
            stddev = F32(math.sqrt(_f32_sum(dev * dev) / F32(dists.size)))
        else:
            dist, stddev = F32(n + 1), F32(0.0)
        if norm == _SECOND:
            dist, stddev = dist * F32(d.period), stddev * F32(d.period)
        elif norm == _SEGMENT:
            dist, stddev = dist / F32(n), stddev / F32(n)
        peak_mean = total / F32(count) if count else F32(0.0)
        out = [F32(count), dist, peak_mean, F32(peak_mean - mean), stddev]
        return [F32(v) for v, on in zip(out, flags) if on]

    return run


# ------------------------------------------------------------------------------------------------ public


_FUNCTIONALS: dict[str, Callable[[_Sub], Functional]] = {
    "Extremes": _extremes, "Moments": _moments_functional, "Percentiles": _percentiles, "Means": _means,
    "Regression": _regression, "Segments": _segments, "Times": _times, "Lpc": _lpc, "Peaks2": _peaks2,
    "Onset": _onset, "Peaks": _peaks,
}


@dataclass
class _Plan:
    nonzero: int
    functionals: list[Functional]


def _plan(options: Mapping[str, str]) -> _Plan:
    """Parse a cFunctionals section into the functionals to run, raising Unsupported for what is not covered."""
    frame_mode = options.get("frameMode", "fixed").strip()
    if frame_mode != "full":
        raise Unsupported(f"frameMode = {frame_mode!r} (only 'full' is implemented)")
    if options.get("preserveFields", "0").strip() not in ("0", ""):
        raise Unsupported("preserveFields = 1")
    try:
        nonzero = int(options.get("nonZeroFuncts", "0").strip() or "0")
    except ValueError:
        raise Unsupported(f"nonZeroFuncts = {options['nonZeroFuncts']!r}") from None
    master = None
    if "masterTimeNorm" in options:
        master = _parse_norm(options["masterTimeNorm"].strip())
    names = _array(options, "functionalsEnabled") or []
    subs: dict[str, dict[str, str]] = {}
    for key, value in options.items():
        head, dot, rest = key.partition(".")
        if dot and head not in ("reader", "writer"):
            subs.setdefault(head, {})[rest] = value
        elif not dot and _base(key) not in _TOP_KEYS:
            raise Unsupported(f"option {key} is not implemented")
    functionals = []  # sub-configs of functionals that are not enabled are never read by openSMILE either
    for name in names:
        if name not in _FUNCTIONALS:
            raise Unsupported(f"functional {name!r} is not implemented")
        sub = _Sub(name, subs.get(name, {}), master)
        functionals.append(_FUNCTIONALS[name](sub))
        sub.finish()
    return _Plan(nonzero, functionals)


@functools.lru_cache(maxsize=64)
def _plan_of(items: tuple[tuple[str, str], ...]) -> _Plan:
    """`_plan` once per component (a long utterance summarises hundreds of columns with the same options)."""
    return _plan(dict(items))


def _planned(options: Mapping[str, str]) -> _Plan:
    return _plan_of(tuple(sorted(options.items())))


def check(options: Mapping[str, str]) -> None:
    """raise Unsupported naming the first option/functional not implemented"""
    _planned(options)


def values(options: Mapping[str, str], contour: np.ndarray, period: float = 0.01) -> np.ndarray:
    """float32 output values of the component for ONE input column (1-D float32 contour), in openSMILE's output order

    A contour with no frames raises ValueError (openSMILE writes no row for it); one with no frames left after
    nonZeroFuncts gives zeros, as openSMILE's functionals return nothing for it.
    """
    plan = _planned(options)
    x = np.asarray(contour, dtype=F32).reshape(-1)
    if x.size == 0:
        raise ValueError("a contour with no frames has no functionals (openSMILE writes no output row)")
    if plan.nonzero == 2:
        x = x[x > 0.0]
    elif plan.nonzero:
        x = x[x != 0.0]
    if x.size == 0:
        return np.zeros(_count(options), dtype=F32)
    data = _Input(x, float(period))
    out: list = []
    for functional in plan.functionals:
        out += functional(data)
    return np.asarray(out, dtype=F32)


def _count(options: Mapping[str, str]) -> int:
    """Number of outputs of the component (for the all-zero row of an empty non-zero contour)."""
    probe = np.arange(1, 12, dtype=F32)
    options = {**options, "nonZeroFuncts": "0"}
    return int(values(options, probe).size)


__all__ = ["Unsupported", "check", "values"]
