"""Any folder of audio files as a data dir, with or without emotion labels.

Audio files are found recursively (extensions matched case-insensitively; hidden files and folders
are left out). Each file is one utterance.

Speaker: by default the name of the file's parent folder (files directly in the corpus folder get the
corpus folder's own name); or the named group ``spk`` of `speaker_regex`.

Labels (optional; without them no utt2emo is written):
  * `labels`: a CSV file with a header row, a file column (``file``, ``path``, ``filename``, ``wav``
    or ``audio``) and a label column (``label``, ``emotion`` or ``emo``). A file is named by its path
    relative to the corpus folder (with or without extension) or, when that is unambiguous, by its
    base name (with or without extension). Audio files the CSV does not label are skipped (counted).
  * `label_regex`: a regular expression with a named group ``emo``.
Labels are lower-cased, with inner whitespace turned into "_".
  * `label_map` (with either of the above): a YAML file, or the name of a shipped map (``ser/labelmaps``),
    mapping raw label codes to label names, e.g. ``{a: anger, sa: sadness, ps: surprise}``, so that codes
    in file names need no CSV to be renamed. A code mapped to ``null`` is dropped (counted). A code the map
    does not list is reported, naming the file and the code, and the file skipped: a typo or a forgotten
    code never turns silently into a class of its own. To keep a code as it is, map it to itself
    (``neutral: neutral``).

A regex is searched in the file name, or, when it contains a "/", in the path relative to the corpus
folder (with "/" separators). A file it does not match is reported and skipped.

Ids: speaker ids keep only [A-Za-z0-9_.] (anything else becomes "_"); utterance id = speaker + "-" +
the relative path without extension, "/" turned into "-", characters outside [A-Za-z0-9_.-] turned
into "_" (``spk01/happy/a 1.wav`` -> ``spk01-spk01-happy-a_1``). Because "-" never occurs in a speaker
id and sorts below every allowed character, sorted utterance ids keep their speakers sorted too.
Maps written: wav.scp, utt2spk, and utt2emo when labelled.

When every clip ends up with ONE speaker (typically a flat folder in the default folder mode), a warning
says so: speaker-independent folds (``ser make-folds``) and per-speaker normalisation (``ser
compute-cmvn``) then cannot work, and the speaker must come from the file names (`speaker_regex`).
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

from ser.corpora import SkipReport, check_corpus_dir, finish, iter_files, log, sanitize_id
from ser.datadir import DataDir
from ser.errors import InputFileError, SerError
from ser.labels import LabelMap, label_map_path, load_label_map, normalize_label

SOURCE = ""  # any folder of audio files: nothing to download

#: Extensions searched for by default (all read by libsndfile >= 1.1, which soundfile ships).
AUDIO_EXTENSIONS = (
    ".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".opus", ".mp3", ".au", ".caf", ".w64",
)

FILE_COLUMNS = ("file", "path", "filename", "wav", "audio")
LABEL_COLUMNS = ("label", "emotion", "emo")


def _compile(pattern: str | None, group: str, option: str) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SerError(f"wavdir: {option} '{pattern}' is not a valid regular expression ({exc})") from None
    if group not in compiled.groupindex:
        raise SerError(f"wavdir: {option} '{pattern}' needs a named group (?P<{group}>...)")
    return compiled


def _search(pattern: re.Pattern, group: str, rel: str) -> str | None:
    """The named group's text, from the relative path when the pattern has a '/', else the file name."""
    subject = rel if "/" in pattern.pattern else rel.rsplit("/", 1)[-1]
    match = pattern.search(subject)
    if match is None:
        return None
    return match[group] or None


def _normalize_key(key: str, root: Path) -> str:
    key = key.strip().replace("\\", "/")
    if Path(key).is_absolute():
        try:
            key = Path(key).resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    while key.startswith("./"):
        key = key[2:]
    return key


def unusable_name(path: Path) -> str | None:
    """Why a file's path cannot be an entry of wav.scp (one `id path` per line), or None."""
    if any(c in str(path) for c in "\n\r"):
        return "its name holds a line break, which a one-line-per-entry wav.scp cannot hold; rename the file"
    if str(path) != str(path).strip():
        return "its path starts or ends with white space, which a wav.scp line loses; rename the file"
    return None


def shown_path(path: Path) -> str:
    """The path with control characters escaped, so a report line stays one line."""
    return str(path).encode("unicode_escape", "backslashreplace").decode("ascii") if not str(path).isprintable() else str(path)


def unusable_files(corpus_dir: str | Path, extensions: tuple[str, ...] | None = None) -> list[str]:
    """'path: reason' for each audio file under `corpus_dir` that prepare() leaves out for its name alone."""
    return [f"{shown_path(p)}: {reason}" for p in iter_files(Path(corpus_dir).resolve(), extensions or AUDIO_EXTENSIONS)
            if (reason := unusable_name(p))]


def _unreadable(row: list[str]) -> str | None:
    """Why a CSV row cannot be trusted as text (a byte that is not UTF-8, a NUL), or None."""
    text = "\x1f".join(row)
    bad = next((c for c in text if "\udc80" <= c <= "\udcff"), None)
    if bad is not None:
        return f"not UTF-8 text (byte {ord(bad) - 0xDC00:#04x}); save the file as UTF-8"
    if "\0" in text:
        return "NUL byte in the row (a binary or damaged file)"
    return None


def read_label_csv(path: str | Path, root: Path, skips: SkipReport) -> dict[str, tuple[str, int]]:
    """{file key as written (normalised): (label, CSV line number)}; bad rows are reported and skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "labels CSV does not exist")
    # bad bytes become surrogates, so one bad row is reported and skipped instead of failing the whole file
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFileError(path, "labels CSV is empty (it needs a header row)")
        lower = [h.strip().lower() for h in header]
        file_col = next((lower.index(c) for c in FILE_COLUMNS if c in lower), None)
        label_col = next((lower.index(c) for c in LABEL_COLUMNS if c in lower), None)
        if file_col is None or label_col is None:
            raise InputFileError(
                path,
                f"header {header} needs a file column ({'/'.join(FILE_COLUMNS)}) "
                f"and a label column ({'/'.join(LABEL_COLUMNS)})",
            )
        labels: dict[str, tuple[str, int]] = {}
        for row in reader:
            lineno = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            unreadable = _unreadable(row)
            if unreadable:
                skips.skip(f"{path}:{lineno}", unreadable)
                continue
            if len(row) <= max(file_col, label_col):
                skips.skip(f"{path}:{lineno}", "row has too few columns")
                continue
            key = _normalize_key(row[file_col], root)
            label = normalize_label(row[label_col])
            if not key or not label:
                skips.skip(f"{path}:{lineno}", "empty file name or label")
                continue
            if key in labels:
                skips.skip(f"{path}:{lineno}", f"'{key}' listed again (kept line {labels[key][1]})")
                continue
            labels[key] = (label, lineno)
    return labels


def prepare(
    corpus_dir: str | Path,
    data_dir: str | Path,
    labels: str | Path | None = None,
    label_regex: str | None = None,
    speaker_regex: str | None = None,
    extensions: tuple[str, ...] | list[str] | None = None,
    label_map: str | Path | None = None,
) -> DataDir:
    """Write a data dir for the audio files under `corpus_dir` to `data_dir`; return it (see module doc)."""
    if labels is not None and label_regex is not None:
        raise SerError("wavdir: give labels (a CSV) or label_regex, not both")
    if label_map is not None and labels is None and label_regex is None:
        raise SerError("wavdir: a label map renames labels; give it with labels (a CSV) or label_regex")
    codes: LabelMap | None = None
    if label_map is not None:
        codes = load_label_map(label_map, classes=None)
        label_map = label_map_path(label_map)
    label_re = _compile(label_regex, "emo", "label regex")
    speaker_re = _compile(speaker_regex, "spk", "speaker regex")
    root = check_corpus_dir(
        corpus_dir, "wavdir", "a folder of audio files that soundfile reads (wav, flac, aiff, ogg, mp3, ...)", SOURCE
    )
    skips = SkipReport("wavdir")
    files = iter_files(root, extensions or AUDIO_EXTENSIONS)

    csv_labels: dict[str, tuple[str, int]] | None = None
    file_label: dict[Path, str] = {}
    if labels is not None:
        csv_labels = read_label_csv(labels, root, skips)
        file_label = _match_csv(csv_labels, files, root, labels, skips)

    maps: dict[str, dict[str, str]] = {"wav.scp": {}, "utt2spk": {}}
    if labels is not None or label_re is not None:
        maps["utt2emo"] = {}
    unlabelled = 0
    dropped: Counter[str] = Counter()
    for path in files:
        rel = path.relative_to(root).as_posix()
        unusable = unusable_name(path)
        if unusable:
            skips.skip(shown_path(path), unusable)
            continue
        if speaker_re is not None:
            raw_spk = _search(speaker_re, "spk", rel)
            if raw_spk is None:
                skips.skip(path, f"speaker regex '{speaker_re.pattern}' does not match")
                continue
        else:
            raw_spk = path.parent.name if path.parent != root else root.name
        spk = sanitize_id(raw_spk, speaker=True)
        label = None
        if label_re is not None:
            label = _search(label_re, "emo", rel)
            if label is None:
                skips.skip(path, f"label regex '{label_re.pattern}' does not match")
                continue
            label = normalize_label(label)
        elif csv_labels is not None:
            label = file_label.get(path)
            if label is None:
                unlabelled += 1
                continue
        if codes is not None and label is not None:
            if label not in codes:
                skips.skip(path, f"label '{label}' is not in the label map {label_map}")
                continue
            if codes[label] is None:
                dropped[label] += 1
                continue
            label = codes[label]
        utt = f"{spk}-{sanitize_id(rel.rsplit('.', 1)[0].replace('/', '-'))}"
        if utt in maps["wav.scp"]:
            skips.skip(path, f"utterance id {utt} already taken by {maps['wav.scp'][utt]}")
            continue
        maps["wav.scp"][utt] = str(path)
        maps["utt2spk"][utt] = spk
        if label is not None:
            maps["utt2emo"][utt] = label
    if unlabelled:
        skips.counts[f"not labelled in {labels}"] += unlabelled
    skips.summary()
    if dropped:
        counts = ", ".join(f"{code} {n}" for code, n in sorted(dropped.items()))
        log("wavdir", f"dropped (null in the label map {label_map}): {counts}")
    data = finish("wavdir", maps, data_dir)
    if len(data.speakers) == 1:
        warn_one_speaker(data, by_folder=speaker_re is None)
    return data


def warn_one_speaker(data: DataDir, by_folder: bool) -> None:
    """Say that a data dir with a single speaker defeats speaker-independent folds and per-speaker norms."""
    spk = data.speakers[0]
    cause = (
        "the speaker is taken from each file's folder, and all the files are in one folder"
        if by_folder
        else "the speaker regex gives the same speaker for every file"
    )
    log(
        "wavdir",
        f"warning: all {len(data.utts)} clips have ONE speaker, '{spk}' ({cause}). Speaker-independent folds "
        "(ser make-folds) and per-speaker normalisation (ser compute-cmvn) cannot work with one speaker. "
        "If the file names hold the speaker, pass --speaker-regex with a group (?P<spk>...), "
        "e.g. --speaker-regex '^(?P<spk>[^_]+)_' for spk01_happy_003.wav (speaker_regex= in Python).",
    )


def _match_csv(
    csv_labels: dict[str, tuple[str, int]], files: list[Path], root: Path, csv_path, skips: SkipReport
) -> dict[Path, str]:
    """Label of each audio file the CSV names: by relative path (with or without extension), else by
    a base name (with or without extension) that only one audio file has."""
    by_rel: dict[str, Path] = {}
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        rel = path.relative_to(root).as_posix()
        by_rel[rel] = path
        by_rel.setdefault(rel.rsplit(".", 1)[0], path)
        by_name[path.name].append(path)
        if path.stem != path.name:
            by_name[path.stem].append(path)
    out: dict[Path, str] = {}
    for key, (label, lineno) in csv_labels.items():
        where = f"{csv_path}:{lineno}"
        if key in by_rel:
            target = by_rel[key]
        elif "/" not in key and len(by_name.get(key, [])) == 1:
            target = by_name[key][0]
        elif "/" not in key and len(by_name.get(key, [])) > 1:
            skips.skip(where, f"'{key}' names {len(by_name[key])} audio files; give the path relative to {root}")
            continue
        else:
            skips.skip(where, f"'{key}' names no audio file under {root}")
            continue
        if target in out:
            skips.skip(where, f"{target} is labelled twice (kept the first)")
            continue
        out[target] = label
    return out


__all__ = [
    "AUDIO_EXTENSIONS",
    "FILE_COLUMNS",
    "LABEL_COLUMNS",
    "SOURCE",
    "prepare",
    "read_label_csv",
    "shown_path",
    "unusable_files",
    "unusable_name",
    "warn_one_speaker",
]
