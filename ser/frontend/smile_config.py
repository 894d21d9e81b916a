"""Reading openSMILE's own config files: which components compute a set's utterance functionals, what they read, in
which order their outputs make the set's row, and each component's section as text that can run on its own.

Why: ``ser.frontend.column_functionals`` computes the functionals of a long utterance from contours computed block
by block, with openSMILE's own functionals components (copied from the wheel's config files, never rewritten), so it
must know them for any set without a hand-written table per set.

Syntax handled (openSMILE's config reader): sections ``[name:type]``, ``key = value`` lines, full-line comments
(``;``, ``//``, ``%``, ``#``), includes ``\\{file}`` (relative to the including file) and
``\\{\\cm[option{default}:description]}`` (an option given by the caller, else its default; ``{?}`` without a
value: left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_INCLUDE = re.compile(r"^\s*\\\{(.*)\}\s*$")
_OPTION = re.compile(r"^\\cm\[(\w+)(?:\{([^}]*)\})?(?::.*)?\]$")
_SECTION = re.compile(r"^\s*\[(\w+):(\w+)\]\s*$")
_INSTANCE = re.compile(r"^\s*instance\[(\w+)\]\.type\s*=\s*(\w+)")
_COMMENT = (";", "//", "%", "#")


@dataclass
class Section:
    """One component: its name, type and the lines of its section (includes inlined)."""

    name: str
    kind: str
    lines: list[str] = field(default_factory=list)

    def value(self, key: str) -> str | None:
        """The last value given to `key` (openSMILE keeps the last), without a trailing comment."""
        found = None
        for line in self.lines:
            key_part, sep, rest = line.partition("=")
            if sep and key_part.strip() == key:
                found = rest.split("//", 1)[0].strip()  # ';' separates list items in values, so it is kept
        return found

    def options(self) -> dict[str, str]:
        """Every key of the section with its last value (e.g. ``functionalsEnabled``, ``Times.norm``)."""
        keys = [line.partition("=")[0].strip() for line in self.lines if "=" in line]
        return {key: self.value(key) or "" for key in dict.fromkeys(keys)}

    def readers(self) -> list[str]:
        return [level.strip() for level in (self.value("reader.dmLevel") or "").split(";") if level.strip()]

    def inputs(self) -> list[str]:
        """Every level the component reads: its reader's, and those of other readers (``F0reader``, ``reader2``)."""
        levels = []
        for line in self.lines:
            key, sep, value = line.partition("=")
            key = key.strip()
            if sep and key.endswith(".dmLevel") and not key.startswith("writer"):
                levels += [level.strip() for level in value.split("//", 1)[0].split(";") if level.strip()]
        return levels

    def text(self, reader: str | None = None, writer: str | None = None) -> str:
        """The section as config text (with its instance line), its input and output levels renamed if given."""
        body = ["[componentInstances:cComponentManager]", f"instance[{self.name}].type={self.kind}",
                f"[{self.name}:{self.kind}]"]
        for line in self.lines:
            key = line.partition("=")[0].strip()
            if reader is not None and key == "reader.dmLevel":
                line = f"reader.dmLevel = {reader}"
            elif writer is not None and key == "writer.dmLevel":
                line = f"writer.dmLevel = {writer}"
            body.append(line)
        return "\n".join(body) + "\n"


def flatten(path: Path, options: dict[str, str], declared: dict[str, str] | None = None,
            keep: frozenset[str] = frozenset()) -> list[str]:
    """The lines of config `path` with its includes inlined, comment lines dropped. `options` maps ``\\cm`` option
    names to files; an option not given takes the default of its first declaration (relative to that file); the
    include lines of the options in `keep` stay as they are (for the caller to give when it runs the config)."""
    declared = {} if declared is None else declared
    out: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith(_COMMENT):
            continue
        include = _INCLUDE.match(line)
        if not include:
            out.append(line)
            continue
        target = include.group(1).strip()
        option = _OPTION.match(target)
        if option and option.group(1) in keep:
            out.append(line)
            continue
        if option:
            name, default = option.group(1), option.group(2)
            if default is not None and default != "?" and name not in declared:
                declared[name] = str((path.parent / default).resolve())
            target = options.get(name) or declared.get(name)
            if not target:
                continue  # an optional include (source, sink) nobody asked for
            child = Path(target)
        else:
            child = (path.parent / target).resolve()
        out += flatten(child, options, declared, keep)
    return out


def sections(lines: list[str]) -> dict[str, Section]:
    """Every component declared in `lines` with its section (the component manager's own sections left out)."""
    kinds: dict[str, str] = {}
    bodies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        head = _SECTION.match(line)
        if head:
            current = None if head.group(2) == "cComponentManager" else bodies.setdefault(head.group(1), [])
            continue
        instance = _INSTANCE.match(line)
        if instance and current is None:
            kinds[instance.group(1)] = instance.group(2)
        elif current is not None:
            current.append(line)
    return {name: Section(name, kind, bodies.get(name, [])) for name, kind in kinds.items()}


@dataclass
class FunctionalsLayout:
    """A set's utterance functionals: the components in the order their outputs make the row, the levels each reads."""

    components: list[Section]
    levels: list[str]  # every level a component reads, each once, in order of first use


def functionals_layout(config: Path, output_level: str = "func") -> FunctionalsLayout | None:
    """The functionals components behind `output_level` of `config` (openSMILE's order), or None when the row is not
    a plain concatenation of whole-utterance cFunctionals outputs (then this reading does not apply)."""
    components = sections(flatten(config, {}))
    writers: dict[str, Section] = {}
    for section in components.values():
        writer = section.value("writer.dmLevel")
        if writer:
            writers[writer] = section

    def leaves(level: str, depth: int = 0) -> list[Section] | None:
        section = writers.get(level)
        if section is None or depth > 20:
            return None
        if section.kind == "cFunctionals":
            return [section] if section.value("frameMode") == "full" else None
        if section.kind != "cVectorConcat":
            return None
        found: list[Section] = []
        for reader in section.readers():
            below = leaves(reader, depth + 1)
            if below is None:
                return None
            found += below
        return found

    order = leaves(output_level)
    if not order:
        return None
    levels: list[str] = []
    for section in order:
        levels += [level for level in section.readers() if level not in levels]
    return FunctionalsLayout(order, levels)


def without_functionals(config: Path, layout: FunctionalsLayout, sinks: dict[str, str], ring_frames: int) -> str:
    """`config` as one text (includes inlined, the ``source`` include kept) without the functionals of `layout` and
    whatever only they fed (their concatenation, the set's sink, levels nobody reads any more), with an external sink
    on each level of `sinks` {level: sink name}, and each level the set lets grow (or inherit a growing buffer) a ring
    buffer of `ring_frames` frames instead.

    Why: in the set's own config the levels its functionals read keep every frame (openSMILE's linear, growing
    buffers), so memory grows with the audio given at once; with only sinks reading them a ring suffices."""
    lines = flatten(config, {}, keep=frozenset({"source"}))
    components = sections(lines)
    removed = {section.name for section in layout.components}
    while True:  # what reads a removed component's output, and what nobody reads (but our sinks' levels)
        written_by_removed = {components[name].value("writer.dmLevel") for name in removed}
        read = {level for name, section in components.items() if name not in removed for level in section.inputs()}
        more = {name for name, section in components.items() if name not in removed and (
            set(section.inputs()) & written_by_removed
            or (section.value("writer.dmLevel") and section.value("writer.dmLevel") not in read
                and section.value("writer.dmLevel") not in sinks))}
        if not more:
            break
        removed |= more
    # levels not set to a ring explicitly: those set to grow, and those that inherit their input's buffer (older
    # configs leave every level to inherit the source's linear, growing wave level: all frames of all levels kept)
    growing = {name for name, section in components.items() if section.value("writer.dmLevel") and (
        section.value("writer.levelconf.isRb") != "1" or section.value("writer.levelconf.growDyn") == "1")}
    out: list[str] = []
    skipping, ring = False, False
    for line in lines:
        head = _SECTION.match(line)
        if head:
            skipping = head.group(1) in removed
            ring = head.group(1) in growing and not skipping
            if ring:
                out += [line, "writer.levelconf.isRb = 1", "writer.levelconf.growDyn = 0",
                        f"writer.levelconf.nT = {ring_frames}"]
                continue
        instance = _INSTANCE.match(line)
        if skipping or (instance and instance.group(1) in removed):
            continue
        if ring and re.match(r"\s*writer\.levelconf\.(isRb|growDyn|nT)\s*=", line):
            continue  # the ring set above replaces the linear, growing buffer
        out.append(line)
    out += ["[componentInstances:cComponentManager]"]
    out += [f"instance[{sink}].type=cExternalSink" for sink in sinks.values()]
    for level, sink in sinks.items():
        out += [f"[{sink}:cExternalSink]", f"reader.dmLevel = {level}"]
    return "\n".join(out) + "\n"


__all__ = ["FunctionalsLayout", "Section", "flatten", "functionals_layout", "sections", "without_functionals"]
