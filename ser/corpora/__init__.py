"""Corpus preparation: one module per corpus, each turning a corpus on disk into a Kaldi-style data dir.

Every corpus module exposes ``prepare(corpus_dir, data_dir, ...) -> DataDir``, which writes the data dir
(absolute audio paths in ``wav.scp``; utterance ids that start with the speaker id), validates it,
returns it and prints a one-line summary (counts per emotion and per speaker) to stderr.
Files that cannot be used (a name that does not parse, an unknown label, a missing wav) are reported
on stderr, naming the file and the reason, and skipped; they never stop the run.

``PREPARERS`` maps a corpus name to its prepare function; ``prepare(corpus, ...)`` dispatches by name.

The helpers below are shared by the corpus modules. They are defined before the corpus modules are
imported (at the bottom of this file), so ``import ser.corpora.emodb`` works on its own as well.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ser.datadir import DataDir
from ser.errors import SerError

#: Map files a previous ``prepare`` may have left in a data dir. When a data dir is prepared again, those
#: the new preparation does not write are removed, so a stale map can never disagree with the new
#: utterance list. Outputs of later stages (feats.scp, utt2num_frames, ...) are left alone: they
#: belong to those stages, whose own checks must notice that the data dir changed.
_MANAGED_FILES = (
    "wav.scp",
    "utt2spk",
    "spk2utt",
    "segments",
    "utt2emo",
    "utt2emo_full",
    "utt2gender",
    "utt2session",
    "utt2dialog",
    "utt2turn",
    "utt2time",
    "utt2vad",
    "utt2intensity",
    "utt2channel",
    "utt2sentence",
    "utt2corpus",
    "text",
)

#: Characters allowed in ids we make up (wavdir). Speaker ids additionally exclude "-", the separator
#: between speaker and the rest of an utterance id: "-" sorts below every other allowed character, so
#: sorting utterance ids then also sorts their speakers, as Kaldi requires.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_SPK_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")

#: How many individual skip messages to print per reason before summarising the rest.
MAX_REPORTED = 20


def log(corpus: str, message: str) -> None:
    """One line to stderr, prefixed with the corpus name."""
    print(f"{corpus}: {message}", file=sys.stderr)


def sanitize_id(text: str, speaker: bool = False) -> str:
    """Replace characters outside [A-Za-z0-9_.-] (speaker ids: also '-') with '_'."""
    return (_SPK_UNSAFE if speaker else _ID_UNSAFE).sub("_", text)


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines, tabs) into single spaces: map values must be one line."""
    return " ".join(text.split())


class SkipReport:
    """Collects skipped inputs and reports them on stderr: each one (up to MAX_REPORTED per reason),
    then a count per reason. ``total`` is the number of skipped inputs."""

    def __init__(self, corpus: str) -> None:
        self.corpus = corpus
        self.counts: Counter[str] = Counter()

    def skip(self, item: str | Path, reason: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= MAX_REPORTED:
            log(self.corpus, f"skipping {item}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self, noun: str = "files") -> None:
        """Log the overflow beyond MAX_REPORTED per reason, then one line with the total per reason."""
        for reason, count in sorted(self.counts.items()):
            if count > MAX_REPORTED:
                log(self.corpus, f"... and {count - MAX_REPORTED} more: {reason}")
        if self.total:
            per_reason = "; ".join(f"{count} x {reason}" for reason, count in sorted(self.counts.items()))
            log(self.corpus, f"skipped {self.total} {noun}: {per_reason}")


def check_corpus_dir(corpus_dir: str | Path, corpus: str, expected: str, source: str) -> Path:
    """The corpus dir as an absolute Path, or a SerError that says what to pass and where it comes from.

    `source` says how to get the corpus (a download address or licence note); "" when there is nothing to get.
    """
    path = Path(corpus_dir).expanduser()
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        where = f" ({source})" if source else ""
        raise SerError(f"{corpus} corpus dir {path} {what}; pass {expected}{where}")
    return path.resolve()


def _format_counts(counter: Mapping[str, int], limit: int = 30) -> str:
    items = sorted(counter.items())
    if len(items) <= limit:
        return ", ".join(f"{key} {value}" for key, value in items)
    values = sorted(counter.values())
    return f"{len(items)} (utterances per speaker: min {values[0]}, max {values[-1]})"


def summary_line(data: DataDir) -> str:
    """`535 utterances, 10 speakers -> DIR; emotions: anger 127, ...; speakers: 03 49, ...`"""
    utt2emo = data.get("utt2emo")
    parts = [f"{len(data.utts)} utterances, {len(data.speakers)} speakers -> {data.path}"]
    if utt2emo is not None:
        parts.append("emotions: " + _format_counts(Counter(utt2emo.values())))
    else:
        parts.append("no emotion labels")
    parts.append("speakers: " + _format_counts(Counter(data.utt2spk.values())))
    return "; ".join(parts)


def finish(corpus: str, maps: dict[str, dict[str, str]], data_dir: str | Path) -> DataDir:
    """Write the maps as a data dir (removing stale managed files), validate it, log the summary."""
    if not maps["wav.scp"]:
        raise SerError(f"{corpus}: no usable utterances found, so no data dir was written to {data_dir}")
    data_dir = Path(data_dir)
    data = DataDir(maps=maps)
    problems = data.problems(check_files=True)
    if problems:  # a bug in a preparer, not bad input: fail before touching the data dir
        raise SerError(f"{corpus}: prepared data would be invalid:\n  " + "\n  ".join(problems))
    if data_dir.is_dir():
        stale = [n for n in _MANAGED_FILES if n not in maps and n != "spk2utt" and (data_dir / n).is_file()]
        for name in stale:
            (data_dir / name).unlink()
        if stale:
            log(corpus, f"removed stale files from an earlier preparation of {data_dir}: {' '.join(stale)}")
    data.write(data_dir)
    data.validate(check_files=True)
    log(corpus, summary_line(data))
    return data


def add_utterance(maps: dict[str, dict[str, str]], skips: SkipReport, path: Path, utt: str,
                  values: Mapping[str, str], duplicate: str = "same name as") -> bool:
    """Record one utterance's audio path and map values; a second file with the same id is skipped and reported
    (the first in sorted path order is kept). False when skipped."""
    if utt in maps["wav.scp"]:
        skips.skip(path, f"{duplicate} {maps['wav.scp'][utt]} (kept the first in sorted path order)")
        return False
    maps["wav.scp"][utt] = str(path)
    for name, value in values.items():
        maps[name][utt] = value
    return True


def count_line(counter: Mapping[str, int]) -> str:
    """`a 3, b 1` sorted by key (for stderr summaries)."""
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items()))


def iter_files(root: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files under root (recursive) whose lower-cased suffix is in `suffixes`, sorted; hidden files and
    folders (names starting with '.', e.g. macOS '._x.wav' resource forks) are left out."""
    wanted = {s.lower() if s.startswith(".") else "." + s.lower() for s in suffixes}
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in wanted and path.is_file():
            found.append(path)
    return sorted(found)


# --- the registry (imported after the helpers above, which the corpus modules use) ----------------
from ser.corpora import crema_d, emodb, emovo, iemocap, msp_improv, ravdess, savee, tess, wavdir  # noqa: E402

PREPARERS: dict[str, Callable[..., DataDir]] = {
    "emodb": emodb.prepare,
    "ravdess": ravdess.prepare,
    "iemocap": iemocap.prepare,
    "msp_improv": msp_improv.prepare,
    "tess": tess.prepare,
    "savee": savee.prepare,
    "crema_d": crema_d.prepare,
    "emovo": emovo.prepare,
    "wavdir": wavdir.prepare,
}

#: Where each corpus comes from (for error messages and `ser prepare --help`).
SOURCES: dict[str, str] = {
    "emodb": emodb.SOURCE,
    "ravdess": ravdess.SOURCE,
    "iemocap": iemocap.SOURCE,
    "msp_improv": msp_improv.SOURCE,
    "tess": tess.SOURCE,
    "savee": savee.SOURCE,
    "crema_d": crema_d.SOURCE,
    "emovo": emovo.SOURCE,
    "wavdir": wavdir.SOURCE,
}


def options_of(corpus: str) -> list[str]:
    """Names of the keyword options a corpus's prepare function accepts (beyond the two dirs)."""
    params = list(inspect.signature(PREPARERS[corpus]).parameters.values())[2:]
    return [p.name for p in params]


def prepare(corpus: str, corpus_dir: str | Path, data_dir: str | Path, **options) -> DataDir:
    """Prepare `corpus` (a PREPARERS name) from `corpus_dir` into `data_dir`; options go to its preparer.

    Options that are None are dropped (so a CLI can pass every flag); an option the corpus does not
    take is a SerError naming the options it does take.
    """
    if corpus not in PREPARERS:
        raise SerError(f"unknown corpus '{corpus}'; known: {', '.join(sorted(PREPARERS))}")
    options = {key: value for key, value in options.items() if value is not None}
    accepted = options_of(corpus)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        named = ", ".join(f"{name} (--{name.replace('_', '-')})" for name in unknown)
        raise SerError(f"{corpus}: option {named} does not apply to this corpus (it takes: {takes})")
    return PREPARERS[corpus](corpus_dir, data_dir, **options)


__all__ = ["PREPARERS", "SOURCES", "prepare", "options_of"]
