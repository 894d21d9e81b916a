"""Conversations with per-turn emotion labels: readers for MELD, the IEMOCAP release and conversation JSON.

A ``Dialogue`` is an id and a list of ``Turn`` (speaker, text, emotion) in spoken order. Every reader
returns ``{split: [Dialogue, ...]}`` with splits ``train``, ``dev``, ``test``.

- MELD (``train_sent_emo.csv``, ``dev_sent_emo.csv``, ``test_sent_emo.csv``): rows grouped by
  ``Dialogue_ID`` and ordered by ``Utterance_ID``; mojibake (UTF-8 text that was read as CP1252 and
  written back as UTF-8, e.g. ``â€™`` or ``Â’`` for ``’``) is repaired by ``fix_mojibake`` and the number
  of repaired strings is reported.
- IEMOCAP release (``IEMOCAP_full_release/Session1..5``): labels from EmoEvaluation, text from the
  transcriptions, turns sorted by start time; six classes (happy sad neutral angry excited frustrated);
  sessions 1-4 split 80:20 into train/dev by dialogue with a seeded shuffle, session 5 = test.
- Conversation JSON (AGHMN's data-file shape): a list of dialogues, each a list of
  ``{"speaker", "utterance", "emotion"}`` turns (an extra ``"dialogue"`` key names the dialogue).
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ser.errors import InputFileError, SerError
from ser.fileio import atomic_write

MELD_CLASSES = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
IEMOCAP6_CLASSES = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
IEMOCAP6_CODES = {"hap": "happy", "sad": "sad", "neu": "neutral", "ang": "angry", "exc": "excited", "fru": "frustrated"}
SPLITS = ("train", "dev", "test")
MELD_HEADER = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
)  # fmt: skip

#: Default class list per source name (the order of the paper's tables).
CLASSES = {"meld": MELD_CLASSES, "iemocap": IEMOCAP6_CLASSES}


def log(message: str) -> None:
    print(f"ser.text: {message}", file=sys.stderr)


@dataclass
class Turn:
    speaker: str
    text: str
    emotion: str | None = None


@dataclass
class Dialogue:
    id: str
    turns: list[Turn] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.turns)


def count(dialogues: Sequence[Dialogue]) -> tuple[int, int]:
    """(dialogues, turns)."""
    return len(dialogues), sum(len(d) for d in dialogues)


# --- mojibake ------------------------------------------------------------------------------------

_SUSPECT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]")
_C1 = re.compile("[\u0080-\u009f]")


def _cp1252_bytes(text: str) -> bytes | None:
    """The bytes that CP1252 (with Latin-1 for its 5 undefined code points) would decode to `text`."""
    out = bytearray()
    for ch in text:
        if ord(ch) < 256:
            out.append(ord(ch))
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def fix_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-CP1252 damage: ``â€™`` -> ``’``, ``Â’`` -> ``’`` (the latter via the C1 control
    U+0092, which is CP1252's ``’`` read as Latin-1). Text without the tell-tale pairs is returned unchanged;
    a string that does not decode as UTF-8 after re-encoding (e.g. a genuine ``café``) is left alone."""
    for _ in range(3):  # doubly damaged text needs two rounds
        if not _SUSPECT.search(text):
            break
        raw = _cp1252_bytes(text)
        if raw is None:
            break
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            break
        if fixed == text:
            break
        text = fixed
    if _C1.search(text):
        text = _C1.sub(lambda m: bytes([ord(m.group())]).decode("cp1252", errors="replace"), text)
    return text


# --- MELD ----------------------------------------------------------------------------------------

MELD_FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}


def read_meld_csv(path: str | Path) -> tuple[list[Dialogue], int]:
    """Dialogues of one MELD CSV and the number of strings (utterances and speakers) whose mojibake was repaired."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such MELD CSV file")
    repaired = 0
    rows: dict[int, list[tuple[int, Turn]]] = {}
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header[: len(MELD_HEADER)]) != MELD_HEADER:
            raise InputFileError(path, f"not a MELD CSV: header {header} (expected {','.join(MELD_HEADER)})")
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            text = ",".join(row)
            if any("\udc80" <= c <= "\udcff" for c in text) or "\0" in text:
                raise InputFileError(path, f"row {lineno}: not UTF-8 text (a bad byte or NUL); save the file as UTF-8")
            if len(row) < 7:
                raise InputFileError(path, f"row {lineno}: {len(row)} fields, expected {len(MELD_HEADER)}")
            utterance, speaker, emotion = row[1], row[2], row[3].strip().lower()
            fixed_u, fixed_s = fix_mojibake(utterance), fix_mojibake(speaker)
            repaired += (fixed_u != utterance) + (fixed_s != speaker)
            try:
                dia, utt = int(row[5]), int(row[6])
            except ValueError as exc:
                raise InputFileError(path, f"row {lineno}: bad Dialogue_ID/Utterance_ID ({exc})") from None
            if emotion not in MELD_CLASSES:
                raise InputFileError(path, f"row {lineno}: unknown emotion {emotion!r}")
            rows.setdefault(dia, []).append((utt, Turn(" ".join(fixed_s.split()), " ".join(fixed_u.split()), emotion)))
    dialogues = []
    for dia in sorted(rows):
        turns = sorted(rows[dia], key=lambda x: x[0])
        dialogues.append(Dialogue(f"dia{dia}", [t for _, t in turns]))
    return dialogues, repaired


def read_meld(meld_dir: str | Path) -> tuple[dict[str, list[Dialogue]], int]:
    """{split: dialogues} of the official MELD split and the total count of repaired strings."""
    meld_dir = Path(meld_dir)
    out: dict[str, list[Dialogue]] = {}
    repaired = 0
    for split, name in MELD_FILES.items():
        out[split], n = read_meld_csv(meld_dir / name)
        require_labels(out[split], meld_dir / name)
        repaired += n
    return out, repaired


# --- conversation JSON ----------------------------------------------------------------------------


def read_conversation_json(path: str | Path, name: str | None = None) -> list[Dialogue]:
    """Dialogues of a conversation-JSON file (list of lists of {speaker, utterance, emotion}); emotion may be
    missing or null (unlabelled conversations for ``ser converse``)."""
    from ser.limits import load_json_file

    path = Path(path)
    data = load_json_file(path, "conversation file")
    if not isinstance(data, list):
        raise InputFileError(path, "expected a JSON list of dialogues")
    stem = name or path.stem
    dialogues = []
    for i, dia in enumerate(data):
        if not isinstance(dia, list):
            raise InputFileError(path, f"dialogue {i}: expected a list of turns")
        turns = []
        for j, turn in enumerate(dia):
            if not isinstance(turn, dict) or "utterance" not in turn or "speaker" not in turn:
                raise InputFileError(path, f"dialogue {i} turn {j}: expected an object with speaker and utterance")
            emotion = turn.get("emotion")
            turns.append(Turn(str(turn["speaker"]), str(turn["utterance"]), None if emotion is None else str(emotion)))
        dia_id = str(dia[0].get("dialogue", f"{stem}-{i}")) if dia else f"{stem}-{i}"
        dialogues.append(Dialogue(dia_id, turns))
    return dialogues


def read_conversation_dir(directory: str | Path, prefix: str = "") -> dict[str, list[Dialogue]]:
    """{split: dialogues} from ``<prefix>train.json``, ``<prefix>dev.json``, ``<prefix>test.json`` (a prefix
    such as ``iemocap6_`` is found automatically when there is exactly one such set)."""
    directory = Path(directory)
    if not prefix:
        candidates = sorted(p.name[: -len("train.json")] for p in directory.glob("*train.json"))
        if len(candidates) != 1:
            raise SerError(f"{directory}: expected one *train.json/*dev.json/*test.json set, found {candidates}")
        prefix = candidates[0]
    splits = {split: read_conversation_json(directory / f"{prefix}{split}.json") for split in SPLITS}
    for split in SPLITS:
        require_labels(splits[split], directory / f"{prefix}{split}.json")
    return splits


def require_labels(dialogues: Sequence[Dialogue], path: str | Path) -> None:
    """A training/evaluation split must hold labelled turns: an empty or unlabelled one would train or score
    on nothing and still exit 0."""
    if not any(turn.emotion is not None for dialogue in dialogues for turn in dialogue.turns):
        n_dia, n_turns = count(dialogues)
        raise InputFileError(path, f"no labelled turn ({n_dia} dialogues, {n_turns} turns): a split for training or "
                             "evaluation needs an emotion on its turns")


def write_conversation_json(path: str | Path, dialogues: Iterable[Dialogue]) -> None:
    data = [
        [{"dialogue": d.id, "speaker": t.speaker, "utterance": t.text, "emotion": t.emotion} for t in d.turns]
        for d in dialogues
    ]
    with atomic_write(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


# --- IEMOCAP release ------------------------------------------------------------------------------


def read_iemocap_release(corpus_dir: str | Path, dev_fraction: float = 0.2, seed: int = 0) -> dict[str, list[Dialogue]]:
    """Six-class conversations from the IEMOCAP release: sessions 1-4 -> train/dev (by dialogue, seeded
    shuffle, `dev_fraction` to dev), session 5 -> test. Turns are sorted by start time; turns with other
    labels (xxx, sur, ...) are left out of the dialogue; a turn without a transcript gets empty text."""
    from ser.corpora import SkipReport
    from ser.corpora.iemocap import find_release, read_emo_evaluation, read_transcriptions, speaker_of

    root = find_release(Path(corpus_dir).expanduser())
    skips = SkipReport("iemocap-text")
    by_session: dict[int, list[Dialogue]] = {}
    unparsed = dropped = 0
    for session_dir in sorted(root.iterdir()):
        match = re.fullmatch(r"Session(\d+)", session_dir.name)
        if not match or not session_dir.is_dir():
            continue
        number = int(match[1])
        for eval_file in sorted((session_dir / "dialog" / "EmoEvaluation").glob("*.txt")):
            turns = sorted(read_emo_evaluation(eval_file, skips), key=lambda t: (t.start, t.end, t.name))
            trans = session_dir / "dialog" / "transcriptions" / eval_file.name
            texts: dict[str, str] = {}
            if trans.is_file():
                texts, n = read_transcriptions(trans)
                unparsed += n
            kept = []
            for t in turns:
                if t.code not in IEMOCAP6_CODES:
                    dropped += 1
                    continue
                kept.append(Turn(speaker_of(t.name) or t.name, texts.get(t.name, ""), IEMOCAP6_CODES[t.code]))
            if kept:
                by_session.setdefault(number, []).append(Dialogue(eval_file.stem, kept))
    if unparsed:
        log(f"iemocap: skipped {unparsed} transcription lines that do not parse")
    if dropped:
        log(f"iemocap: left out {dropped} turns outside the six classes")
    skips.summary("block headers")
    trainable = [d for s in sorted(by_session) if s != 5 for d in by_session[s]]
    rng = random.Random(seed)
    order = list(range(len(trainable)))
    rng.shuffle(order)
    n_dev = int(round(dev_fraction * len(trainable)))
    dev_ids = set(order[:n_dev])
    return {
        "train": [d for i, d in enumerate(trainable) if i not in dev_ids],
        "dev": [d for i, d in enumerate(trainable) if i in dev_ids],
        "test": list(by_session.get(5, [])),
    }


def default_classes(dialogues: Iterable[Dialogue]) -> list[str]:
    """The paper's class order when the labels are MELD's or IEMOCAP's six, else the sorted label set."""
    labels = {t.emotion for d in dialogues for t in d.turns if t.emotion is not None}
    for known in (MELD_CLASSES, IEMOCAP6_CLASSES):
        if labels and labels <= set(known):
            return list(known)
    return sorted(labels)


def read_source(kind: str, path: str | Path, **options) -> dict[str, list[Dialogue]]:
    """{split: dialogues} for ``meld`` (CSV dir), ``iemocap-text`` (release) or ``conv-json`` (JSON dir)."""
    if kind == "meld":
        splits, repaired = read_meld(path)
        log(f"meld: repaired mojibake in {repaired} strings")
        return splits
    if kind == "iemocap-text":
        return read_iemocap_release(path, **options)
    if kind == "conv-json":
        return read_conversation_dir(path)
    raise SerError(f"unknown text source '{kind}' (choose from: meld, iemocap-text, conv-json)")


# --- tokens and vocabulary ------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case; words (\\w+) and single punctuation characters: ``"Don't!"`` -> don ' t !."""
    return _TOKEN.findall(text.lower())


PAD, UNK = "<pad>", "<unk>"


class Vocab:
    """Token <-> id; 0 = padding, 1 = unknown. Built from the training split only."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, dialogues: Iterable[Dialogue], min_count: int = 1) -> "Vocab":
        counts: Counter[str] = Counter()
        for d in dialogues:
            for t in d.turns:
                counts.update(tokenize(t.text))
        return cls(sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        ids = [self.stoi.get(w, 1) for w in tokenize(text)]
        return ids or [1]  # an empty utterance reads as one unknown token


__all__ = [
    "CLASSES",
    "Dialogue",
    "IEMOCAP6_CLASSES",
    "IEMOCAP6_CODES",
    "MELD_CLASSES",
    "MELD_FILES",
    "MELD_HEADER",
    "SPLITS",
    "Turn",
    "Vocab",
    "count",
    "default_classes",
    "fix_mojibake",
    "log",
    "read_conversation_dir",
    "read_conversation_json",
    "read_iemocap_release",
    "read_meld",
    "read_meld_csv",
    "read_source",
    "require_labels",
    "tokenize",
    "write_conversation_json",
]
