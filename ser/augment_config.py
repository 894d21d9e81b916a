"""Training-time augmentation settings: the `augment:` section of an experiment config, validated.

Kept apart from the batch operations (``ser.augment``) so reading a config never imports torch.
Feature-level settings (``spec_augment``, ``mixup``) act on torch training batches only; ``copies`` names the
kinds of audio-level copies (``ser.frontend.perturb``) a fold trains on, which ``ser.copies`` selects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from ser.errors import SerError


def _check_keys(cls: type, values: Any, where: str, what: str = "a mapping of settings") -> None:
    """`values` must be a mapping whose keys are fields of the dataclass `cls`; the error names the keys."""
    if not isinstance(values, Mapping):
        raise SerError(f"{where} must be {what}, not {values!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise SerError(f"{where}: unknown keys {unknown} (valid: {', '.join(names)})")


def _fields_from(cls: type, values: Any, where: str) -> Any:
    """A dataclass from a mapping, refusing unknown keys and non-numbers with a message naming the key."""
    if isinstance(values, cls):
        return values
    _check_keys(cls, values, where)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value, whole = values[f.name], isinstance(getattr(cls(), f.name), int)
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            number = float(value)
            if whole and not number.is_integer():
                raise ValueError
        except ValueError:
            raise SerError(f"{where}.{f.name} must be a {'whole number' if whole else 'number'}, not {value!r}") from None
        out[f.name] = int(number) if whole else number
    return cls(**out)


@dataclass
class SpecAugmentConfig:
    """Zero (= the normalised mean) `time_masks` runs of up to `time_width` frames and `feature_masks` runs of
    up to `feature_width` feature dimensions in every training utterance (Park et al.'s masking, no warping)."""

    time_masks: int = 2
    time_width: int = 20
    feature_masks: int = 2
    feature_width: int = 8

    def __post_init__(self) -> None:
        for name in ("time_masks", "time_width", "feature_masks", "feature_width"):
            if getattr(self, name) < 0:
                raise SerError(f"augment.spec_augment.{name} must be >= 0, not {getattr(self, name)}")


@dataclass
class MixupConfig:
    """Mix each training batch's pooled embeddings with a shuffled copy of itself, weight lam ~ Beta(alpha, alpha),
    and the targets with the same weight (Zhang et al.'s mixup, applied after pooling so lengths never clash)."""

    alpha: float = 0.2

    def __post_init__(self) -> None:
        if not self.alpha > 0:
            raise SerError(f"augment.mixup.alpha must be > 0, not {self.alpha}")


@dataclass
class AugmentConfig:
    """`augment:` of an experiment config; everything off by default."""

    spec_augment: SpecAugmentConfig | None = None
    mixup: MixupConfig | None = None
    #: kinds of audio-level copies in the feature dir's augment/ to train on, e.g. [sp0.9, snr10, rev0.3, tel]; [all]: every kind
    copies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.spec_augment is not None:
            self.spec_augment = _fields_from(SpecAugmentConfig, self.spec_augment, "augment.spec_augment")
        if self.mixup is not None:
            self.mixup = _fields_from(MixupConfig, self.mixup, "augment.mixup")
        if isinstance(self.copies, str):
            self.copies = [c for c in self.copies.split(",") if c]
        if not isinstance(self.copies, list) or not all(isinstance(c, str) and c for c in self.copies):
            raise SerError(f"augment.copies must be a list of copy kinds (e.g. [sp0.9, sp1.1] or [all]), not {self.copies!r}")

    @property
    def feature_level(self) -> bool:
        return self.spec_augment is not None or self.mixup is not None

    def describe(self) -> str:
        """The sentence a report prints about augmentation."""
        parts = []
        sa = self.spec_augment
        if sa is not None:
            parts.append(f"SpecAugment masking on training batches ({sa.time_masks} time masks of <= {sa.time_width} "
                         f"frames, {sa.feature_masks} feature masks of <= {sa.feature_width} dims)")
        if self.mixup is not None:
            parts.append(f"mixup of pooled embeddings and targets on training batches (alpha {self.mixup.alpha:g})")
        if self.copies:
            parts.append(f"audio copies {', '.join(self.copies)} of training utterances only (never of validation "
                         "or test utterances; never validated or tested on)")
        return "; ".join(parts) if parts else "none"


def make_augment_config(values: Any) -> AugmentConfig:
    """`augment:` as written in YAML (None or a mapping) -> AugmentConfig, with clear errors."""
    if values is None:
        return AugmentConfig()
    if isinstance(values, AugmentConfig):
        return values
    _check_keys(AugmentConfig, values, "augment", "a mapping (spec_augment, mixup, copies)")
    return AugmentConfig(**dict(values))


def check_applicable(aug: AugmentConfig, encoder: str, torch_model: bool, frame_level: bool) -> None:
    """Refuse settings the model cannot use, before any fold trains."""
    if not torch_model and aug.feature_level:
        raise SerError(f"augment.spec_augment and augment.mixup act on torch training batches; '{encoder}' is not "
                       "trained in batches (only augment.copies applies to it)")
    if aug.spec_augment is not None and not frame_level:
        raise SerError(f"augment.spec_augment masks frames; '{encoder}' reads one vector per utterance "
                       "(use it with a frame-level encoder, or mixup)")


__all__ = ["AugmentConfig", "MixupConfig", "SpecAugmentConfig", "check_applicable", "make_augment_config"]
