"""A hyper-parameter search space read from YAML, as `ser tune --space` takes it.

Why its own module: the space is data (which config settings vary, over which ranges), apart from how a
search walks it (``ser.tune``). Each top-level key names a config setting, each value one distribution:

    C: {log_uniform: [1e-3, 10]}          # float, sampled on a log scale
    train.lr: {log_uniform: [1e-4, 1e-2]}
    dropout: {uniform: [0.0, 0.5]}
    hidden_size: {choice: [64, 128]}      # one of a list (numbers, strings, booleans)
    num_layers: {int: [1, 3]}             # integer, both ends included ({log_int: [lo, hi]} on a log scale)

A key is a dotted config path (`train.lr`, `encoder_conf.C`, `normalization`) or a bare name: a top-level
config field (`normalization`), else a `train:` field (`lr`, `batch_size`), else an `encoder_conf` key (`C`).
Settings are applied like `KEY=VALUE` overrides, so the model refuses a key it does not know.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ser.config import ExperimentConfig, TrainConfig, make_dataclass, set_by_path
from ser.errors import SerError
from ser.limits import load_yaml_file

KINDS = ("log_uniform", "uniform", "int", "log_int", "choice")
#: top-level config fields a bare name may mean (the sections are reached through their dotted paths)
_TOP_LEVEL = {f.name for f in dataclasses.fields(ExperimentConfig)} - {"encoder_conf", "heads_conf", "train"}
_TRAIN = {f.name for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class Param:
    """One searched setting: its config path, the distribution kind and its arguments."""

    path: str
    kind: str
    args: tuple[Any, ...]

    def distribution(self) -> Any:
        """The Optuna distribution of this setting."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.args))
        low, high = self.args
        if self.kind in ("int", "log_int"):
            return IntDistribution(int(low), int(high), log=self.kind == "log_int")
        return FloatDistribution(float(low), float(high), log=self.kind == "log_uniform")

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.path}: one of {list(self.args)}"
        scale = "log scale" if self.kind.startswith("log") else "linear scale"
        what = "integer" if self.kind.endswith("int") else "float"
        return f"{self.path}: {what} in [{self.args[0]:g}, {self.args[1]:g}], {scale}"


def resolve_path(key: str) -> str:
    """The dotted config path a space key names (see the module docstring)."""
    if "." in key:
        return key
    if key in _TOP_LEVEL:
        return key
    if key in _TRAIN:
        return f"train.{key}"
    return f"encoder_conf.{key}"


def _param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SerError(f"{where}: '{key}' must be one distribution, e.g. {{log_uniform: [1e-3, 10]}} or {{choice: [64, 128]}}")
    kind, args = next(iter(spec.items()))
    if kind not in KINDS:
        raise SerError(f"{where}: '{key}': unknown distribution '{kind}' (known: {', '.join(KINDS)})")
    if not isinstance(args, list) or not args:
        raise SerError(f"{where}: '{key}': {kind} takes a list")
    if kind == "choice":
        if any(not isinstance(a, (str, int, float, bool)) and a is not None for a in args):
            raise SerError(f"{where}: '{key}': choices must be numbers, strings or booleans")
        if len(set(map(repr, args))) != len(args):
            raise SerError(f"{where}: '{key}': a choice is listed twice")
        return Param(resolve_path(key), kind, tuple(args))
    if len(args) != 2:
        raise SerError(f"{where}: '{key}': {kind} takes [low, high]")
    try:
        low, high = (float(a) for a in args)  # YAML reads 1e-3 as a string
    except (TypeError, ValueError):
        raise SerError(f"{where}: '{key}': {kind} bounds must be numbers, not {args}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise SerError(f"{where}: '{key}': need low < high, got {args}")
    if kind.startswith("log") and low <= 0:
        raise SerError(f"{where}: '{key}': a log scale needs low > 0, got {args}")
    if kind.endswith("int"):
        if low != int(low) or high != int(high):
            raise SerError(f"{where}: '{key}': {kind} bounds must be integers, got {args}")
        return Param(resolve_path(key), kind, (int(low), int(high)))
    return Param(resolve_path(key), kind, (low, high))


@dataclass(frozen=True)
class SearchSpace:
    """The searched settings, in file order; `source` is the file's text (kept in the report)."""

    params: tuple[Param, ...]
    source: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "search space", source: str = "") -> "SearchSpace":
        if not isinstance(data, Mapping) or not data:
            raise SerError(f"{where}: a search space is a non-empty mapping of setting -> distribution")
        params = tuple(_param(str(k), v, where) for k, v in data.items())
        paths = [p.path for p in params]
        dup = sorted({p for p in paths if paths.count(p) > 1})
        if dup:
            raise SerError(f"{where}: setting {dup[0]} is given twice")
        return cls(params, source)

    @classmethod
    def read(cls, path: str | Path) -> "SearchSpace":
        path = Path(path)
        if not path.is_file():
            raise SerError(f"{path}: search space file not found")
        data = load_yaml_file(path, "search space file")
        text = path.read_text(encoding="utf-8")
        return cls.from_dict(data, str(path), text)

    def distributions(self) -> dict[str, Any]:
        """Config path -> Optuna distribution (what `Study.ask(fixed_distributions=...)` takes)."""
        return {p.path: p.distribution() for p in self.params}

    def probe(self) -> dict[str, Any]:
        """One value per setting (the low end, or the first choice): to check a space against a config early."""
        return {p.path: p.args[0] for p in self.params}

    def describe(self) -> list[str]:
        return [p.describe() for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {p.path: {p.kind: list(p.args)} for p in self.params}


def apply_settings(cfg: ExperimentConfig, settings: Mapping[str, Any]) -> ExperimentConfig:
    """`cfg` with each config path set to its value (as `KEY=VALUE` overrides would set it)."""
    tree = copy.deepcopy(cfg.to_dict())
    for path, value in settings.items():
        set_by_path(tree, path, value)
    train = tree.pop("train")
    out = make_dataclass(ExperimentConfig, tree, "tuned config")
    out.train = make_dataclass(TrainConfig, train, "tuned config: train")
    return out


__all__ = ["KINDS", "Param", "SearchSpace", "apply_settings", "resolve_path"]
