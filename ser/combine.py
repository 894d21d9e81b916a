"""Combine several corpora's data dirs into one, with corpus tags and one label space (Kaldi's combine_data.sh).

Why: cross-corpus training and leave-one-corpus-out testing need the corpora side by side in ONE data dir,
with ids that cannot clash, a record of which corpus each utterance came from, and labels that mean the
same thing everywhere (EmoDB's ``anger`` and RAVDESS's ``angry`` are one class).

Inputs are ``NAME=DIR`` or a ``DIR`` whose folder name is the corpus name (``data/emodb`` -> ``emodb``).
Names use [A-Za-z0-9_] only.

Ids: speaker and utterance ids get the prefix ``NAME.`` (``emodb.03``, ``emodb.03a01Fa``;
``ravdess.Actor_01``, ``ravdess.Actor_01-03-01-01-01-01-01-01``). Why ".": speaker ids must not contain
"-" (wavdir and the RAVDESS/MSP-IMPROV preparers put "-" between speaker and the rest of an utterance id,
and it must sort below everything in a speaker id), and "_" occurs in corpus names (msp_improv, crema_d)
and speaker ids (Actor_01), so ``a_b`` + ``_`` + ``c`` and ``a`` + ``_`` + ``b_c`` would be one id. As "."
never occurs in a corpus name, the prefix ends at the first "." and ids of different corpora cannot clash;
each new utterance id still starts with its new speaker id; and sorting the ids sorts by corpus first and,
within a corpus, exactly as before, so Kaldi's sort orders stay consistent (checked on the result).

Labels: each corpus's utt2emo is mapped into the shared vocabulary (ser.labels.SHARED_CLASSES) with its
label map: ``label_maps[NAME]`` (a file, or a shipped map's name) when given, else the shipped map named
NAME (``ser/labelmaps/NAME.yaml``), else none, which is allowed only when the corpus's labels are already
shared labels. A label the map does not list is an error (naming the corpus, the labels and the map);
a label mapped to null is dropped and counted. `classes` keeps only those shared classes (others are
dropped and counted). Every input needs utt2emo.

Other maps: wav.scp, utt2spk and utt2corpus (NAME) are always written. Any other per-utterance map of the
inputs (utt2gender, text, utt2sentence, ...) is written only when EVERY input has it (a map must cover
every utterance), and the log says which maps were left out and which inputs lacked them. Outputs of later
stages (feats.scp, utt2num_frames, cmvn.scp) are not carried: extract the combined dir again. Inputs with
``segments`` and inputs that are already combined (utt2corpus) are refused.

Written to the output dir: the data dir (validated like every prepared one) and ``labels.yaml``: the class
set and, per corpus, its data dir, the label map used (path and content) and the counts kept and dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import yaml

from ser.corpora import finish, log
from ser.datadir import LABELS_FILE, DataDir, read_map
from ser.errors import SerError
from ser.fileio import write_text_atomic
from ser.labels import SHARED_CLASSES, LabelMap, apply_label_map, has_shipped_map, label_map_path, load_label_map

#: Between the corpus name and the original id.
SEPARATOR = "."
#: Files a combined dir always gets; the rest of the per-utterance maps are carried when all inputs have them.
FIXED_MAPS = ("wav.scp", "utt2spk", "utt2emo", "utt2corpus")
#: Per-utterance files that belong to later stages (features): not carried.
STAGE_FILES = ("utt2num_frames",)

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class CorpusInput:
    """One input data dir, read and checked."""

    name: str
    path: Path
    maps: dict[str, dict[str, str]]


@dataclass
class CorpusResult:
    """What happened to one corpus: the map used, and counts kept (per class) and dropped (per reason)."""

    name: str
    path: Path
    label_map: str  # the map's file, or a note that the labels were taken as they are
    mapping: LabelMap
    kept: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)


@dataclass
class CombineResult:
    data: DataDir
    classes: list[str]
    corpora: list[CorpusResult]
    left_out: dict[str, list[str]]  # map name -> inputs that lack it

    def summary(self) -> str:
        """Utterances per corpus and class (a table), then what was dropped per corpus."""
        header = ["corpus", *self.classes, "total", "dropped"]
        rows = [
            [c.name, *(str(c.kept[k]) for k in self.classes), str(sum(c.kept.values())), str(sum(c.dropped.values()))]
            for c in self.corpora
        ]
        totals = [sum(c.kept[k] for c in self.corpora) for k in self.classes]
        dropped = sum(sum(c.dropped.values()) for c in self.corpora)
        rows.append(["total", *(str(t) for t in totals), str(sum(totals)), str(dropped)])
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in [header, *rows]
        ]
        for c in self.corpora:
            if c.dropped:
                lines.append(f"{c.name} dropped: " + ", ".join(f"{k} {n}" for k, n in sorted(c.dropped.items())))
        return "\n".join(lines)


def parse_input(spec: str | tuple[str, str | Path]) -> tuple[str, Path]:
    """``NAME=DIR`` or ``DIR`` (name = the folder's name) or a (name, dir) pair -> (name, Path)."""
    if isinstance(spec, tuple):
        name, path = spec[0], Path(spec[1])
    else:
        head, sep, tail = spec.partition("=")
        if sep and tail and _NAME.match(head):
            name, path = head, Path(tail)
        else:
            path = Path(spec)
            name = path.expanduser().resolve().name
    if not _NAME.match(name):
        raise SerError(
            f"combine: corpus name '{name}' (of {path}) may use only letters, digits and '_'; "
            f"give the input as NAME=DIR, e.g. {re.sub(r'[^A-Za-z0-9_]', '_', name) or 'corpus'}={path}"
        )
    return name, path.expanduser()


def _is_utterance_map(file: Path) -> bool:
    """wav.scp, utt2spk, text and any other utt2* file, except outputs of later stages."""
    name = file.name
    return file.is_file() and name not in STAGE_FILES and (name in ("wav.scp", "text") or name.startswith("utt2"))


def read_input(name: str, path: Path) -> CorpusInput:
    """Every per-utterance map of a data dir (wav.scp, utt2spk, utt2*, text), checked like validate-data-dir."""
    if not path.is_dir():
        raise SerError(f"combine: input {name}: {path} is not a directory (a data dir from ser prepare)")
    for refused, why in (
        ("segments", "inputs with segments are not supported"),
        ("utt2corpus", "it is already a combined dir; combine its sources instead"),
    ):
        if (path / refused).is_file():
            raise SerError(f"combine: input {name} ({path}) has {refused}: {why}")
    maps = {file.name: read_map(file) for file in sorted(path.iterdir()) if _is_utterance_map(file)}
    for required in ("wav.scp", "utt2spk", "utt2emo"):
        if required not in maps:
            raise SerError(f"combine: input {name} ({path}) has no {required}; combine needs labelled data dirs")
    problems = DataDir(maps=maps, path=path).problems(check_files=False)
    if problems:
        raise SerError(f"combine: input {name} ({path}) is not a valid data dir:\n  " + "\n  ".join(problems))
    return CorpusInput(name=name, path=path.resolve(), maps=maps)


def _label_map_for(corpus: CorpusInput, override: str | Path | None) -> tuple[LabelMap, str]:
    """(map, where it came from) for one corpus; identity when no map exists and its labels are shared ones."""
    if override is not None:
        return load_label_map(override), str(label_map_path(override))
    if has_shipped_map(corpus.name):
        return load_label_map(corpus.name), str(label_map_path(corpus.name))
    labels = sorted(set(corpus.maps["utt2emo"].values()))
    foreign = [label for label in labels if label not in SHARED_CLASSES]
    if foreign:
        raise SerError(
            f"combine: no label map for corpus '{corpus.name}' (no shipped map of that name) and its labels "
            f"{', '.join(foreign)} are not shared labels ({', '.join(SHARED_CLASSES)}); pass --label-map "
            f"{corpus.name}=FILE (label_maps={{'{corpus.name}': FILE}}) with a YAML 'label: shared label' map"
        )
    return {label: label for label in labels}, "none: its labels are already shared labels, kept as they are"


def _parse_classes(classes: Sequence[str] | str | None) -> list[str] | None:
    if classes is None:
        return None
    wanted = [c.strip() for c in (classes.split(",") if isinstance(classes, str) else classes) if c.strip()]
    unknown = [c for c in wanted if c not in SHARED_CLASSES]
    if unknown or not wanted:
        raise SerError(
            f"combine: --classes {','.join(wanted) or '(empty)'}: "
            f"{'unknown class(es) ' + ', '.join(unknown) if unknown else 'no class given'}; "
            f"the shared classes are {', '.join(SHARED_CLASSES)}"
        )
    return sorted(set(wanted), key=SHARED_CLASSES.index)


def sort_order_problem(utt2spk: Mapping[str, str]) -> str | None:
    """Kaldi's rule that sorting by utterance also sorts by speaker: the first utterance that breaks it, or None."""
    previous: str | None = None
    for utt in sorted(utt2spk):
        spk = utt2spk[utt]
        if previous is not None and spk < previous:
            return f"utterance {utt} (speaker {spk}) sorts after an utterance of speaker {previous}"
        previous = spk
    return None


def combine(
    out_dir: str | Path,
    inputs: Sequence[str | tuple[str, str | Path]],
    label_maps: Mapping[str, str | Path] | None = None,
    classes: Sequence[str] | str | None = None,
) -> CombineResult:
    """Write the combined data dir and labels.yaml to `out_dir`; return what was kept and dropped (see module doc)."""
    if not inputs:
        raise SerError("combine: give at least one input data dir")
    wanted = _parse_classes(classes)
    out_path = Path(out_dir).expanduser().resolve()
    corpora: list[CorpusInput] = []
    for spec in inputs:
        name, path = parse_input(spec)
        if any(c.name == name for c in corpora):
            raise SerError(f"combine: corpus name '{name}' is given twice; name the inputs apart with NAME=DIR")
        corpus = read_input(name, path)
        if corpus.path == out_path:
            raise SerError(f"combine: the output dir {out_path} is also input {name}; write elsewhere")
        twin = next((c for c in corpora if c.path == corpus.path), None)
        if twin is not None:
            raise SerError(f"combine: {corpus.path} is given twice (as {twin.name} and {name})")
        corpora.append(corpus)
    overrides = dict(label_maps or {})
    unknown = sorted(set(overrides) - {c.name for c in corpora})
    if unknown:
        names = ", ".join(c.name for c in corpora)
        raise SerError(f"combine: --label-map for {', '.join(unknown)}, which is not an input ({names})")

    carried, left_out = _shared_maps(corpora)
    maps: dict[str, dict[str, str]] = {name: {} for name in [*FIXED_MAPS, *carried]}
    results = []
    for corpus in corpora:
        results.append(_add_corpus(corpus, overrides.get(corpus.name), wanted, carried, maps))
    problem = sort_order_problem(maps["utt2spk"])
    if problem:
        raise SerError(f"combine: sort orders of utterances and speakers disagree: {problem}")
    class_set = wanted or sorted({label for label in maps["utt2emo"].values()}, key=SHARED_CLASSES.index)
    for name, lacking in left_out.items():
        log("combine", f"{name} not written: {', '.join(lacking)} lack(s) it (a map must cover every utterance)")
    if wanted:
        for cls in wanted:
            if not any(r.kept[cls] for r in results):
                log("combine", f"note: no input has an utterance of class {cls}")
    data = finish("combine", maps, out_path)
    _remove_stale_maps(out_path, maps)
    _write_labels_yaml(out_path / LABELS_FILE, class_set, results)
    return CombineResult(data=data, classes=class_set, corpora=results, left_out=left_out)


def _shared_maps(corpora: list[CorpusInput]) -> tuple[list[str], dict[str, list[str]]]:
    """(optional maps every input has, {optional map some lack: the inputs that lack it})."""
    optional = sorted({name for c in corpora for name in c.maps} - set(FIXED_MAPS))
    carried, left_out = [], {}
    for name in optional:
        lacking = [c.name for c in corpora if name not in c.maps]
        if lacking:
            left_out[name] = lacking
        else:
            carried.append(name)
    return carried, left_out


def _add_corpus(
    corpus: CorpusInput,
    override: str | Path | None,
    wanted: list[str] | None,
    carried: list[str],
    maps: dict[str, dict[str, str]],
) -> CorpusResult:
    """Map one corpus's labels, prefix its ids and add its kept utterances to `maps`."""
    mapping, source = _label_map_for(corpus, override)
    mapped = apply_label_map(corpus.maps["utt2emo"], mapping)
    if mapped.unmapped:
        listed = ", ".join(f"{label} ({n})" for label, n in sorted(mapped.unmapped.items()))
        raise SerError(
            f"combine: corpus {corpus.name}: label(s) {listed} are not in its label map {source}; "
            "add them (null drops a label) and pass the file with --label-map"
        )
    result = CorpusResult(name=corpus.name, path=corpus.path, label_map=source, mapping=mapping)
    for label, n in mapped.dropped.items():
        result.dropped[f"{label} (null in the label map)"] += n
    prefix = corpus.name + SEPARATOR
    for utt, label in mapped.utt2emo.items():
        if wanted is not None and label not in wanted:
            result.dropped[f"{label} (not in --classes)"] += 1
            continue
        new = prefix + utt
        if new in maps["wav.scp"]:  # cannot happen with distinct names; kept as a guard against a changed rule
            raise SerError(f"combine: utterance id {new} clashes (corpus {corpus.name})")
        maps["wav.scp"][new] = corpus.maps["wav.scp"][utt]
        maps["utt2spk"][new] = prefix + corpus.maps["utt2spk"][utt]
        maps["utt2emo"][new] = label
        maps["utt2corpus"][new] = corpus.name
        for name in carried:
            maps[name][new] = corpus.maps[name][utt]
        result.kept[label] += 1
    return result


def _remove_stale_maps(out_path: Path, maps: Mapping[str, object]) -> None:
    """utt2* maps an earlier combine left in the output dir that this one did not write (they would disagree)."""
    stale = sorted(f.name for f in out_path.iterdir() if _is_utterance_map(f) and f.name not in maps)
    for name in stale:
        (out_path / name).unlink()
    if stale:
        log("combine", f"removed stale files from an earlier run in {out_path}: {' '.join(stale)}")


def _write_labels_yaml(path: Path, classes: list[str], results: list[CorpusResult]) -> None:
    record = {
        "classes": classes,
        "id_prefix": f"<corpus>{SEPARATOR}",
        "corpora": {
            r.name: {
                "data_dir": str(r.path),
                "label_map": r.label_map,
                "mapping": dict(r.mapping),
                "kept": dict(sorted(r.kept.items())),
                "dropped": dict(sorted(r.dropped.items())),
            }
            for r in results
        },
    }
    header = "# Written by `ser combine`: the class set of this data dir and how each corpus's labels were mapped.\n"
    write_text_atomic(path, header + yaml.safe_dump(record, sort_keys=False, allow_unicode=True))


__all__ = ["combine", "CombineResult", "CorpusResult", "parse_input", "sort_order_problem", "SEPARATOR"]
