"""Read the small YAML files ser takes from users (configs, feature sets, label maps, search spaces, model cards,
a feature dir's feats.yaml) with bounds checked while parsing: yaml.safe_load builds no objects, but it still
follows aliases ("billion laughs": a few lines that expand to billions of nodes once anything walks them) and
recurses once per nesting level. Here aliases are refused outright (no shipped file uses one), and node count
and depth are capped, each with one line naming the file and the limit (issue 14, item 5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ser.errors import InputFileError

#: a YAML file ser reads (the largest shipped one is a few KiB)
MAX_YAML_BYTES = 1024**2
#: nodes (scalars, lists, mappings) in one YAML file: a feature header naming 6373 features (ComParE) fits;
#: the pure-Python parser takes about 2 s for this many
MAX_YAML_NODES = 20_000
#: nesting levels in one YAML file (shipped configs use 3)
MAX_YAML_DEPTH = 64


class _Refused(Exception):
    """Raised inside the composer; turned into an InputFileError naming the file."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses aliases and counts nodes and depth as it builds them."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise _Refused(f"line {line}: YAML aliases (*{event.anchor}) are not allowed in ser's YAML files "
                           "(they can expand to billions of nodes); write the value out")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise _Refused(f"more than {MAX_YAML_NODES} YAML nodes (the limit); not read")
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _Refused(f"YAML nested too deeply (more than {MAX_YAML_DEPTH} levels, the limit); not read")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_bounded_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """A small YAML file as plain data; refused naming the file when too large, not UTF-8, malformed, holding an
    alias, or beyond the node or depth limit."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputFileError(path, f"no such {what}") from None
    if size > MAX_YAML_BYTES:
        raise InputFileError(path, f"{size} bytes is more than a {what} may hold ({MAX_YAML_BYTES}); not read")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a folder, not a {what}") from None
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise InputFileError(path, f"{what}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"not valid YAML ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise InputFileError(path, "YAML nested too deeply to read (a hostile or broken file)") from None
    finally:
        loader.dispose()


__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "load_bounded_yaml"]
