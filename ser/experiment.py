"""Where an experiment dir keeps its parts, for the verbs that read one (report, export, fuse).

`ser evaluate` writes ``config.yaml`` and ``protocol.yaml`` (which records the feature dir and the fold
plan it ran on) beside ``fold_<name>/`` dirs. Files written by ser 0.1 spell the protocol key
``normalisation``; readers get it as ``normalization`` (``modern_keys``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

PROTOCOL_FILE = "protocol.yaml"
#: keys renamed since ser 0.1 (old name -> name now)
RENAMED_KEYS = {"normalisation": "normalization"}


def modern_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A protocol/results mapping with keys of older files renamed to today's spelling."""
    out = dict(mapping)
    for old, new in RENAMED_KEYS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    return out


def read_protocol(exp_dir: Path) -> dict[str, Any]:
    import yaml

    path = Path(exp_dir) / PROTOCOL_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return modern_keys(data) if isinstance(data, dict) else {}


def find_feat_dir(exp_dir: Path, given: str | Path | None, protocol: Mapping[str, Any]) -> Path:
    """--feat-dir, else protocol.yaml's feat_dir (a relative one is tried from the cwd, then from the exp dir's parents)."""
    if given:
        return Path(given)
    recorded = Path(protocol.get("feat_dir") or "")
    if recorded.is_absolute() or (recorded / "feats.scp").is_file():
        return recorded
    for base in Path(exp_dir).resolve().parents:
        if (base / recorded / "feats.scp").is_file():
            return base / recorded
    return recorded


__all__ = ["PROTOCOL_FILE", "RENAMED_KEYS", "find_feat_dir", "modern_keys", "read_protocol"]
