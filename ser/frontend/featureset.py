"""Named feature sets: `features/NAME.yaml` files that say which extractor runs with which options.

A feature set is data, not code: the YAML names an extractor `kind`, its `options`, the sample
rate, an optional post-step (`average_frames`) and optional `drop:` patterns (fnmatch, e.g. `"*_stddevNorm"`)
naming output columns to leave out, so a subset of a set is a set of its own (stored in bundles like any other). `ser extract --features NAME` resolves NAME
against the search path below; a path to any YAML file works too.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ser.errors import SerError
from ser.frontend.base import Blocks, Extractor, make_extractor
from ser.limits import load_yaml_file


def feature_search_path() -> list[Path]:
    """Where named feature sets are looked up: $SER_FEATURES_DIR, the source tree, the install prefix."""
    paths = []
    if os.environ.get("SER_FEATURES_DIR"):
        paths.append(Path(os.environ["SER_FEATURES_DIR"]))
    paths.append(Path(__file__).resolve().parents[2] / "features")
    paths.append(Path(sys.prefix) / "share" / "ser" / "features")
    return paths


def find_feature_file(name_or_path: str | Path) -> Path:
    """Resolve a feature-set name (`emobase78`) or a YAML path to the YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    for folder in feature_search_path():
        path = folder / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    if candidate.suffix in (".yaml", ".yml") or len(candidate.parts) > 1:  # a path, not a name
        raise SerError(f"{candidate}: no such feature set file")
    known = ", ".join(name for name, _ in list_feature_sets()) or "none found"
    raise SerError(f"unknown feature set '{name_or_path}' (known: {known}; or give a path to a .yaml file)")


@dataclass
class FeatureSet:
    """A parsed feature YAML; `build()` makes the extractor, `postprocess()` applies frame averaging."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    level: str = "frame"
    sample_rate: int = 16000
    average_frames: int = 1
    description: str = ""
    drop: list[str] = field(default_factory=list)
    #: utterance-level only: the row is the mean of the functionals of the utterance and of its copies starting these
    #: many ms later, so it does not hang on where the 10 ms analysis frames happen to fall (``OffsetAveraged``)
    average_offsets_ms: list[float] = field(default_factory=list)
    #: utterance-level only: each utterance is scaled to this RMS level (dBFS) before the front end, so its row does
    #: not depend on the recording's gain (``LevelNormalised``); None: the samples as read
    level_dbfs: float | None = None

    def __post_init__(self) -> None:
        if self.level not in ("frame", "utterance"):
            raise SerError(f"feature set '{self.name}': level must be 'frame' or 'utterance', not '{self.level}'")
        if int(self.average_frames) < 1:
            raise SerError(f"feature set '{self.name}': average_frames must be >= 1")
        if self.level == "utterance" and self.average_frames != 1:
            raise SerError(f"feature set '{self.name}': average_frames applies to frame-level features only")
        if self.average_offsets_ms:
            if self.level != "utterance":
                raise SerError(f"feature set '{self.name}': average_offsets_ms applies to utterance-level sets only")
            if not all(isinstance(v, (int, float)) and 0 < v < 1000 for v in self.average_offsets_ms):
                raise SerError(f"feature set '{self.name}': average_offsets_ms must be milliseconds in (0, 1000), "
                               f"not {self.average_offsets_ms!r}")
        if self.level_dbfs is not None:
            if self.level != "utterance":
                raise SerError(f"feature set '{self.name}': level_dbfs applies to utterance-level sets only")
            if not isinstance(self.level_dbfs, (int, float)) or not -60 <= self.level_dbfs <= -3:
                raise SerError(f"feature set '{self.name}': level_dbfs must be a level in dBFS from -60 to -3, "
                               f"not {self.level_dbfs!r}")

    def build(self) -> Extractor:
        extractor = make_extractor(self.kind, dict(self.options))
        if self.drop:
            extractor = ColumnSubset(extractor, self.kept_columns(extractor.names))
        if self.level_dbfs is not None:
            extractor = LevelNormalised(extractor, float(self.level_dbfs))
        return OffsetAveraged(extractor, self.average_offsets_ms) if self.average_offsets_ms else extractor

    def kept_columns(self, names: list[str]) -> list[int]:
        """Indices of the columns `drop` keeps; a pattern that matches nothing is an error (a typo drops nothing)."""
        for pattern in self.drop:
            if not fnmatch.filter(names, pattern):
                raise SerError(f"feature set '{self.name}': drop pattern '{pattern}' matches none of its {len(names)} features")
        kept = [i for i, n in enumerate(names) if not any(fnmatch.fnmatchcase(n, p) for p in self.drop)]
        if not kept:
            raise SerError(f"feature set '{self.name}': drop leaves no feature")
        return kept

    def postprocess(self, feats: np.ndarray) -> np.ndarray:
        from ser.frontend.averaging import average_frames

        return average_frames(feats, int(self.average_frames))

    def to_dict(self) -> dict[str, Any]:
        """The set as data; without `drop` / `average_offsets_ms` / `level_dbfs` when unused, so feature dirs and
        bundles made before they existed still match their set."""
        data = asdict(self)
        for optional in ("drop", "average_offsets_ms", "level_dbfs"):
            if data[optional] is None or data[optional] == []:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> FeatureSet:
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise SerError(f"{source}: unknown keys {sorted(unknown)} in feature set")
        if "name" not in data or "kind" not in data:
            raise SerError(f"{source}: a feature set needs 'name' and 'kind'")
        return cls(**data)


class _Wrapped:
    """What every wrapper of an extractor shares: the base, its frame shift, column names and dimension. A wrapper
    that needs the whole utterance (a level, several framings) is not blockwise; it streams (and is bounded) when
    its base does, making one pass over the audio per framing plus one for the level."""

    blockwise = False

    @property
    def streams(self) -> bool:
        return bool(getattr(self.base, "streams", False))

    @property
    def bounded(self) -> bool:
        return bool(getattr(self.base, "bounded", False))

    def __init__(self, base: Extractor, names: list[str] | None = None) -> None:
        self.base = base
        self.names = list(base.names) if names is None else names
        self.frame_shift = base.frame_shift

    @property
    def dim(self) -> int:
        return len(self.names)


class ColumnSubset(_Wrapped):
    """An extractor's output with some columns left out (a feature set's `drop:`); blockwise if the base is."""

    def __init__(self, base: Extractor, columns: list[int]) -> None:
        super().__init__(base, [base.names[i] for i in columns])
        self.columns = np.asarray(columns, dtype=np.intp)
        self.blockwise = bool(getattr(base, "blockwise", False))

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        return np.ascontiguousarray(self.base(samples, rate)[:, self.columns])

    def stream(self, blocks: Blocks, rate: int) -> np.ndarray:
        return np.ascontiguousarray(self.base.stream(blocks, rate)[:, self.columns])


class LevelNormalised(_Wrapped):
    """The base front end on the utterance scaled to `dbfs` RMS (or lower, where its peak would pass 0.99): the gain
    of a recording chain (a quieter microphone, MP3's -0.45 dB) then changes nothing, since both the RMS and the peak
    scale with it. The base's level features describe the clip's dynamics, no longer its absolute loudness."""

    def __init__(self, base: Extractor, dbfs: float) -> None:  # needs the whole utterance (bounded: ser.limits)
        super().__init__(base)
        self.target = 10.0 ** (dbfs / 20.0)

    def _gain(self, rms: float, peak: float) -> float | None:
        """The factor to `dbfs` RMS, lowered where the peak would pass 0.99; None for digital silence (unscaled)."""
        return None if rms == 0.0 else min(self.target / rms, 0.99 / peak)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        x = np.asarray(samples, dtype=np.float64)
        rms, peak = float(np.sqrt(np.mean(x * x))) if x.size else 0.0, float(np.max(np.abs(x))) if x.size else 0.0
        gain = self._gain(rms, peak)
        if gain is None:  # digital silence is refused before this; an empty clip gives the base's own answer
            return self.base(samples, rate)
        return self.base((x * gain).astype(np.float32), rate)

    def stream(self, blocks: Blocks, rate: int) -> np.ndarray:
        """`self(concatenated)` in two passes over `blocks` (a callable): the RMS and peak, then the scaled audio."""
        if not callable(blocks):
            raise TypeError("a level-normalised stream reads the audio twice: pass a callable that opens the blocks")
        squares, count, peak = 0.0, 0, 0.0
        for block in blocks():
            x = np.asarray(block, dtype=np.float64)
            squares, count = squares + float(np.dot(x, x)), count + x.size
            peak = max(peak, float(np.max(np.abs(x)))) if x.size else peak
        gain = self._gain(float(np.sqrt(squares / count)) if count else 0.0, peak)

        def scaled() -> Iterator[np.ndarray]:
            for block in blocks():
                yield block if gain is None else (np.asarray(block, dtype=np.float64) * gain).astype(np.float32)

        return self.base.stream(scaled, rate)


class OffsetAveraged(_Wrapped):
    """Functionals averaged over the clip and its copies starting `offsets_ms` later: an utterance's row moves
    when its start moves by a few ms (a recorder's start, a codec's delay), because the 10 ms analysis frames then
    fall elsewhere; the mean over several framings moves less. Costs one pass per framing."""

    def __init__(self, base: Extractor, offsets_ms: list[float]) -> None:  # one pass per framing: read whole
        super().__init__(base)
        self.offsets_ms = [float(v) for v in offsets_ms]

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        return self._averaged(self.base(samples, rate), rate,
                              lambda cut: self.base(samples[cut:], rate) if cut < samples.size else None)

    def stream(self, blocks: Blocks, rate: int) -> np.ndarray:
        """`self(concatenated)` with one pass over `blocks` (a callable) per framing."""
        if not callable(blocks):
            raise TypeError("an offset-averaged stream reads the audio once per framing: pass a callable that opens the blocks")
        return self._averaged(self.base.stream(blocks, rate), rate,
                              lambda cut: self.base.stream(functools.partial(_without_first, blocks, cut), rate))

    def _averaged(self, rows: np.ndarray, rate: int, without_first: Callable[[int], np.ndarray | None]) -> np.ndarray:
        """The mean of `rows` and the rows of the audio less its first samples at each offset (`without_first`)."""
        if rows.shape[0] == 0:
            return rows
        total = rows.astype(np.float64)
        for ms in self.offsets_ms:
            shifted = without_first(round(ms * rate / 1000))
            if shifted is None or shifted.shape != rows.shape:  # too short to be featurised again: the row stands in
                shifted = rows
            total += shifted
        return (total / (1 + len(self.offsets_ms))).astype(np.float32)


def _without_first(blocks: Callable[[], Iterable[np.ndarray]], count: int) -> Iterator[np.ndarray]:
    """The samples of a fresh pass over `blocks` less the first `count`."""
    for block in blocks():
        if count >= block.size:
            count -= block.size
            continue
        yield block[count:]
        count = 0


def load_feature_set(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> FeatureSet:
    """Load a feature set by name or path; `overrides` (e.g. {'average_frames': 5}) win over the file."""
    path = find_feature_file(name_or_path)
    data = load_yaml_file(path, "feature set file") or {}
    if not isinstance(data, dict):
        raise SerError(f"{path}: a feature set must be a YAML mapping")
    data.update(overrides or {})
    return FeatureSet.from_dict(data, source=str(path))


def list_feature_sets() -> list[tuple[str, str]]:
    """(name, description) of every named feature set on the search path (first one wins)."""
    seen: dict[str, str] = {}
    for folder in feature_search_path():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in seen:
                try:
                    data = load_yaml_file(path, "feature set file") or {}
                    seen[path.stem] = data.get("description", "") if isinstance(data, dict) else "(not a mapping)"
                except SerError:
                    seen[path.stem] = "(unreadable YAML)"
    return sorted(seen.items())


__all__ = ["ColumnSubset", "FeatureSet", "feature_search_path", "find_feature_file", "list_feature_sets", "load_feature_set"]
