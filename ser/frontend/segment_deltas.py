"""openSMILE's cDeltaRegression with ``onlyInSegments = 1``, in numpy, from its input contours.

Why: in this mode openSMILE adds each used pair's weight i^2 to the component's shared normaliser and never resets it
within a run, so each delta is divided by a normaliser that has grown over every frame and column before it (frame by
frame, each frame's columns in order). A delta of a long utterance therefore depends on the whole utterance up to
that frame, and cannot be computed block by block with context the way other contours are. It can be computed from the
whole input contour instead, which ``ser.frontend.column_functionals`` holds as spilled columns: two passes over the
columns, memory a few arrays of the length of one column.

Emulated exactly (tested equal to openSMILE's level): float32 arithmetic as the C loop, a value of 0 or NaN marks no
value (``zeroSegBound = 1``), the contour edge-padded by `deltawin` frames each side, `deltawin` extra frames at the end
as openSMILE writes them, the last input frame or two unseen at the end of input (`deltas`' `hidden`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

F32 = np.float32
#: the largest integer float32 holds exactly: the normaliser's running sum is exact below it
EXACT_FLOAT32 = 2**24
#: frames per chunk of temporaries
CHUNK = 1 << 16
#: past this many frames the normaliser's running sum may not fit int32 (frames x columns x weight)
MAX_INT32_FRAMES = 2**31 // 1024


def _padded(x: np.ndarray, win: int, hidden: int) -> np.ndarray:
    """`x` as the delta component reads it at the end of input: without its last `hidden` frames, edge-padded by
    `win` frames before and by 2 * `win` + `hidden` after (so the output keeps openSMILE's length)."""
    x = np.asarray(x, dtype=F32)
    seen = x[: max(0, x.size - hidden)]
    if seen.size == 0:
        return np.zeros(x.size + 3 * win, dtype=F32)
    return np.concatenate([np.full(win, seen[0], dtype=F32), seen, np.full(2 * win + hidden, seen[-1], dtype=F32)])


def _pairs(xp: np.ndarray, win: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """For output frames lo..hi-1 of the padded contour `xp`: the summed weight i^2 of the pairs (n-i, n+i) that
    both hold a value, and the numerator sum_i i * (x[n+i] - x[n-i]) over them, accumulated in float32 in order of i."""
    centre = xp[lo : hi + 2 * win]
    novalue = (centre == 0) | np.isnan(centre)
    frames = hi - lo
    weights = np.zeros(frames, dtype=np.int32)
    numerator = np.zeros(frames, dtype=F32)
    for i in range(1, win + 1):
        ahead, behind = slice(win + i, win + i + frames), slice(win - i, win - i + frames)
        used = ~(novalue[ahead] | novalue[behind])
        weights += used * (i * i)
        term = F32(i) * (centre[ahead] - centre[behind])
        numerator = np.where(used, (numerator + term).astype(F32), numerator)
    return weights, numerator


def _chunks(frames: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, frames, CHUNK):
        yield lo, min(frames, lo + CHUNK)


def deltas(column: Callable[[int], np.ndarray], width: int, win: int = 2, hidden: int = 1) -> Iterator[np.ndarray]:
    """The delta contours (each `deltawin` frames longer than its input) of the `width` input contours
    `column(j)`, in column order. At the end of input the component has not seen the last `hidden` input frames
    (1 on 38 of 40 EmoDB clips, 2 on the others: `ser.frontend.column_functionals` finds it per utterance from its
    last window). Each input column is read twice; besides it, memory is three int32/float32 arrays of its length
    (the temporaries go by chunks of `CHUNK` frames)."""
    if win < 1:
        raise ValueError("onlyInSegments deltas are emulated for deltawin >= 1")
    if width == 0:
        return
    start = 2 * sum(i * i for i in range(1, win + 1))  # the normaliser fetchConfig sets
    before: np.ndarray | None = None
    for j in range(width):  # pass 1: every frame's added weight over all columns
        xp = _padded(column(j), win, hidden)
        if before is None:
            before = np.zeros(xp.size - 2 * win, dtype=np.int64 if xp.size > MAX_INT32_FRAMES else np.int32)
        for lo, hi in _chunks(before.size):
            before[lo:hi] += _pairs(xp, win, lo, hi)[0]
    total = start
    for lo, hi in _chunks(before.size):  # -> the normaliser when each frame begins (an exclusive running sum)
        added = before[lo:hi].copy()
        np.cumsum(added, out=before[lo:hi])
        before[lo:hi] += total - added
        total += int(added.sum())
    rounded = None if total < EXACT_FLOAT32 else _rounded_norms(column, width, win, start, hidden)
    within = np.zeros_like(before)
    for j in range(width):  # pass 2: each column's deltas over the normaliser after its own pairs
        xp = _padded(column(j), win, hidden)
        out = np.empty(before.size, dtype=F32)
        for lo, hi in _chunks(before.size):
            weights, numerator = _pairs(xp, win, lo, hi)
            within[lo:hi] += weights
            norm = (before[lo:hi] + within[lo:hi]).astype(F32) if rounded is None else rounded[lo:hi, j]
            out[lo:hi] = numerator / norm
        yield out


def _rounded_norms(column: Callable[[int], np.ndarray], width: int, win: int, start: int, hidden: int) -> np.ndarray:
    """The normaliser (frames x columns) when its running sum passes 2^24 (past ~90 min of six contours) and float32
    rounds it: the additions replayed one by one in openSMILE's order (slow, exact)."""
    flags = []
    for j in range(width):
        xp = _padded(column(j), win, hidden)
        frames = xp.size - 2 * win
        novalue = (xp == 0) | np.isnan(xp)
        flags.append(np.stack([~(novalue[win + i : win + i + frames] | novalue[win - i : win - i + frames])
                               for i in range(1, win + 1)], axis=1))
    out = np.empty((flags[0].shape[0], width), dtype=F32)
    norm = F32(start)
    steps = [F32(i * i) for i in range(1, win + 1)]
    for n in range(out.shape[0]):
        for j in range(width):
            for k, step in enumerate(steps):
                if flags[j][n, k]:
                    norm = F32(norm + step)
            out[n, j] = norm
    return out


__all__ = ["deltas"]
