"""Experiment configuration: dataclasses give fields and defaults, YAML gives values, `key=value` overrides.

A config names the encoder from the registry and its `encoder_conf`, the heads, the feature set,
the normalisation, the class list and the training settings. Nothing in a YAML builds objects
(yaml.safe_load only). `ser train --print-config` shows the merged result.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ser.augment_config import AugmentConfig, make_augment_config
from ser.errors import SerError

BALANCING = ("class_weight", "upsample", "none")


@dataclass
class TrainConfig:
    """Optimisation and model-selection settings shared by every torch encoder."""

    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 60
    min_epochs: int = 1
    patience: int = 10  # epochs without a new best validation UAR before stopping
    grad_clip: float = 5.0  # max global gradient norm (0 disables)
    weight_decay: float = 0.0
    balance: str = "class_weight"  # class_weight: CE weights N/(C n_c); upsample: duplicate minority utts
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    max_frames: int = 0  # random crop of longer training utterances (0: use whole utterances)
    threads: int = 0  # torch intra-op threads (0: torch's default)
    # refit: after early stopping picks an epoch on the validation speaker(s), train again from scratch on
    # train + valid for that many epochs and test that model (no test data involved; one more speaker to learn from)
    refit: bool = False
    # average: end with the mean weights of the `average` epochs with the best validation UAR (a refit without
    # validation data: its last `average` epochs); 1 keeps the single best epoch
    average: int = 1
    # select_metric: the validation metric that picks the epoch, uar (balanced) or wa (accuracy, as paper 004)
    select_metric: str = "uar"
    # valid_split: 0 < f < 1 validates on a random f of the fold's training utterances (the validation speakers join
    # training): paper 004's protocol. Not speaker-independent selection; the test speakers are still never seen.
    valid_split: float = 0.0

    def __post_init__(self) -> None:
        if self.balance not in BALANCING:
            raise SerError(f"train.balance must be one of {BALANCING}, not '{self.balance}'")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise SerError(f"train.device must be auto, cpu or cuda, not '{self.device}'")
        if self.select_metric not in ("uar", "wa"):
            raise SerError(f"train.select_metric must be uar or wa, not '{self.select_metric}'")
        if not 0.0 <= float(self.valid_split) < 1.0:
            raise SerError(f"train.valid_split must be a fraction in [0, 1) (0: the fold's validation speakers), not {self.valid_split!r}")
        if not isinstance(self.average, int) or self.average < 1:
            raise SerError(f"train.average must be a whole number >= 1 (epochs whose weights are averaged), not {self.average!r}")


@dataclass
class ExperimentConfig:
    """One model configuration, as a recipe's conf/*.yaml states it."""

    encoder: str = "blstm"
    encoder_conf: dict[str, Any] = field(default_factory=dict)
    heads_conf: dict[str, Any] = field(default_factory=dict)
    features: str = ""  # the feature set this config is for; "" = whatever the feature dir holds (checked by evaluate)
    normalization: str = "speaker"  # a mode of ser.normalization
    normalization_clip: float = 0.0  # clip normalised features to [-c, c] (0: off): outliers of ratio functionals
    classes: list[str] = field(default_factory=list)  # empty: the sorted labels of the data dir
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # training-time augmentation (ser.augment)
    description: str = ""

    def __post_init__(self) -> None:
        from ser.normalization import normalization_class

        normalization_class(self.normalization)  # an unknown mode is an error naming the known ones
        self.normalization_clip = float(self.normalization_clip)
        if self.normalization_clip < 0:
            raise SerError(f"normalization_clip must be 0 (off) or positive, not {self.normalization_clip}")
        if isinstance(self.train, dict):
            self.train = make_dataclass(TrainConfig, self.train, "train")
        self.augment = make_augment_config(self.augment)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise SerError(f"{where}: unknown keys {unknown} (valid: {', '.join(sorted(names))})")
    defaults = cls()
    coerced = {}
    for key, value in values.items():
        default = getattr(defaults, key)
        if isinstance(default, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
            value = float(value)  # YAML reads 2e-4 as a string
        elif isinstance(default, int) and not isinstance(default, bool) and isinstance(value, str):
            value = int(value)
        coerced[key] = value
    return cls(**coerced)


def set_by_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """`train.lr=1e-3` style override into nested dicts."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise SerError(f"override '{dotted}': '{key}' is not a section")
    node[keys[-1]] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SerError(f"override '{item}' is not KEY=VALUE (e.g. train.lr=1e-3)")
        out.append((key.strip(), yaml.safe_load(value)))
    return out


def read_config_dict(path: str | Path | None, overrides: list[str] | None = None) -> dict[str, Any]:
    """A YAML config (None: empty) as a plain dict with `key=value` overrides applied (audio and text configs)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise SerError(f"{path}: config file not found")
        from ser.limits import load_yaml_file

        data = load_yaml_file(path, "config file") or {}
        if not isinstance(data, dict):
            raise SerError(f"{path}: a config must be a YAML mapping")
    data = copy.deepcopy(data)
    for key, value in parse_overrides(overrides or []):
        set_by_path(data, key, value)
    return data


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read an audio experiment's YAML config (None: all defaults) and apply `key=value` overrides."""
    data = read_config_dict(path, overrides)
    train = data.pop("train", {}) or {}
    cfg = make_dataclass(ExperimentConfig, data, str(path or "config"))
    cfg.train = make_dataclass(TrainConfig, train, f"{path or 'config'}: train")
    return cfg


def config_tag(config_path: str | Path | None, features: str) -> str:
    """Experiment tag from the config name plus the feature name: `gagru_emobase78_avg5`."""
    stem = Path(config_path).stem if config_path else "default"
    return f"{stem}_{Path(features).stem}"


__all__ = [
    "BALANCING",
    "ExperimentConfig",
    "TrainConfig",
    "config_tag",
    "load_config",
    "make_dataclass",
    "parse_overrides",
    "read_config_dict",
    "set_by_path",
]
