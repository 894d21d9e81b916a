"""One label space across corpora: label maps that rename each corpus's own labels into shared nouns.

Every corpus names its emotions its own way (EmoDB ``anger``, RAVDESS ``angry``, EMOVO ``joy``, TESS
``surprised`` for "pleasant surprise"). A model trained on one corpus and tested on another, or on several
at once (``ser combine``), needs one vocabulary. This module holds that vocabulary, SHARED_CLASSES, and the
label maps into it.

A label map is a YAML mapping ``corpus label: shared label`` (``null`` drops that label's utterances)::

    happy: happiness
    calm: neutral      # a choice, said in the file
    frustrated: null   # no shared class: drop

Maps for the corpora ``ser prepare`` knows ship with the package as ``ser/labelmaps/<corpus>.yaml``;
``load_label_map`` takes such a name or the path of a file of one's own. Keys and values are
normalised like the preparers' labels (lower case, inner whitespace turned into "_"). YAML reads bare
``yes``/``no``/``on``/``off``/``true``/``false`` and numbers as other types; such keys are an error that
says to quote them, never silently a different label.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ser.errors import SerError
from ser.limits import load_yaml_file

#: The shared vocabulary (nouns, as EmoDB names its classes).
SHARED_CLASSES = ("anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")

#: Where the shipped label maps live (package data).
LABELMAP_DIR = Path(__file__).resolve().parent / "labelmaps"

_NAME = re.compile(r"^[a-z0-9_]+$")

#: A label map: corpus label -> shared label, or None to drop.
LabelMap = dict[str, str | None]


def normalize_label(label: str) -> str:
    """Lower case, inner whitespace turned into "_" (``Pleasant surprise`` -> ``pleasant_surprise``)."""
    return "_".join(label.lower().split())


def shipped_label_maps() -> list[str]:
    """Names of the label maps that ship with the package (``emodb``, ``ravdess``, ...)."""
    return sorted(p.stem for p in LABELMAP_DIR.glob("*.yaml"))


def label_map_path(name_or_path: str | Path) -> Path:
    """The file for an existing path, else for a shipped map's name; a SerError naming both tries."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    name = str(name_or_path)
    if _NAME.match(name) and (LABELMAP_DIR / f"{name}.yaml").is_file():
        return LABELMAP_DIR / f"{name}.yaml"
    raise SerError(
        f"label map '{name_or_path}' is neither a file nor a shipped map name "
        f"(shipped: {', '.join(shipped_label_maps())})"
    )


def has_shipped_map(name: str) -> bool:
    return bool(_NAME.match(name)) and (LABELMAP_DIR / f"{name}.yaml").is_file()


def _text(value: object, path: Path, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SerError(
            f"label map {path}: {what} {value!r} is not a label (YAML reads bare yes/no/on/off/true/false, "
            f"numbers and empty values as other types: quote such labels in the file)"
        )
    return normalize_label(value)


def load_label_map(name_or_path: str | Path, classes: Iterable[str] | None = SHARED_CLASSES) -> LabelMap:
    """Read a label map (a shipped name or a YAML file) and validate it.

    With `classes` (default: the shared vocabulary) every target must be one of them; pass None for a map
    whose targets are free label names (``ser prepare wavdir --label-map``)."""
    path = label_map_path(name_or_path)
    raw = load_yaml_file(path, "label map")
    if not isinstance(raw, dict) or not raw:
        raise SerError(f"label map {path}: needs a non-empty mapping 'corpus label: shared label' (null drops)")
    mapping: LabelMap = {}
    for key, value in raw.items():
        source = _text(key, path, "key")
        target = None if value is None else _text(value, path, f"value of '{key}'")
        if source in mapping:
            raise SerError(f"label map {path}: '{key}' is listed twice (after lower-casing)")
        mapping[source] = target
    if classes is not None:
        validate_label_map(mapping, path, classes)
    return mapping


def validate_label_map(
    mapping: Mapping[str, str | None], source: str | Path, classes: Iterable[str] = SHARED_CLASSES
) -> None:
    """A SerError naming every target outside `classes` (null targets are fine: they drop)."""
    known = list(classes)
    unknown = sorted({t for t in mapping.values() if t is not None and t not in known})
    if unknown:
        raise SerError(
            f"label map {source}: unknown target label(s) {', '.join(unknown)}; "
            f"the shared labels are {', '.join(known)} (or null to drop)"
        )


@dataclass
class MappedLabels:
    """What ``apply_label_map`` did: the new utt2emo, and counts per label."""

    utt2emo: dict[str, str] = field(default_factory=dict)
    kept: Counter[str] = field(default_factory=Counter)  # per target label
    dropped: Counter[str] = field(default_factory=Counter)  # per source label mapped to null
    unmapped: Counter[str] = field(default_factory=Counter)  # per source label the map does not list

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values()) + sum(self.unmapped.values())


def apply_label_map(utt2emo: Mapping[str, str], mapping: Mapping[str, str | None]) -> MappedLabels:
    """Map every utterance's label; utterances whose label maps to null, or is not in the map, are left out
    (counted in ``dropped`` and ``unmapped``: the caller decides whether unmapped labels are an error)."""
    out = MappedLabels()
    for utt, label in utt2emo.items():
        key = normalize_label(label)
        if key not in mapping:
            out.unmapped[label] += 1
        elif mapping[key] is None:
            out.dropped[label] += 1
        else:
            out.utt2emo[utt] = mapping[key]  # type: ignore[assignment]
            out.kept[mapping[key]] += 1  # type: ignore[index]
    return out


__all__ = [
    "SHARED_CLASSES",
    "LabelMap",
    "MappedLabels",
    "apply_label_map",
    "has_shipped_map",
    "label_map_path",
    "load_label_map",
    "normalize_label",
    "shipped_label_maps",
    "validate_label_map",
]
