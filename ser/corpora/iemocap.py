"""IEMOCAP (release layout ``IEMOCAP_full_release/Session{1..5}/``): labelled turns of 151 dialogues.

Read per session: labels and times from ``dialog/EmoEvaluation/<dialog>.txt`` (block header lines
``[start - end]<TAB>TURN<TAB>label<TAB>[V, A, D]``; blocks are not in time order), transcripts from
``dialog/transcriptions/<dialog>.txt`` (``TURN [start-end]: text``; lines that do not parse, such as
turns named with ``XX`` or lacking a time span, are counted and skipped) and audio from
``sentences/wav/<dialog>/<TURN>.wav``.

Ids: the speaker is the session plus the gender letter after the last ``_`` of the turn name
(``Ses01F_impro01_M000`` is spoken by ``Ses01M``, the male of session 1, even in an ``F`` dialogue).
Utterance id = speaker + "-" + turn name, e.g. ``Ses01M-Ses01F_impro01_M000``; the original name is
everything after the first "-" (``original_name``). Every id therefore starts with its speaker, as
Kaldi needs, also in the cross-gender case.

Class sets (``classes``): "4" (default; the usual audio set) keeps neu -> neutral, hap and exc ->
happy, sad -> sad, ang -> angry (5531 turns on the full corpus); "6" keeps the six classes of the
text benchmarks (neutral happy sad angry excited frustrated); "all" keeps every labelled turn, with
oth -> other and xxx (no majority among the annotators) -> ambiguous.

Maps written: wav.scp, utt2spk, utt2emo, utt2emo_full (the label before merging, as a word, e.g.
``excited`` for a turn labelled ``happy``), utt2gender (m/f), utt2session (Ses01..Ses05), utt2dialog,
utt2turn (0-based position of the turn in its dialogue when all the dialogue's labelled turns, of
every class, are sorted by start time), utt2time (``start end`` in seconds within the dialogue),
utt2vad (``valence arousal dominance``, the release's 1-5 averages) and text (the transcript; empty
when the transcription file lacks the turn).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ser.corpora import SkipReport, check_corpus_dir, finish, log, one_line
from ser.datadir import DataDir
from ser.errors import SerError

SOURCE = "licence-gated: request it at https://sail.usc.edu/iemocap/"

#: Release label code -> word.
LABELS = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
    "sur": "surprised",
    "fea": "fearful",
    "dis": "disgust",
    "oth": "other",
    "xxx": "ambiguous",
}

#: Class set name -> {release code: label written to utt2emo}; codes not listed are dropped.
CLASS_SETS: dict[str, dict[str, str]] = {
    "4": {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"},
    "6": {code: LABELS[code] for code in ("neu", "hap", "exc", "sad", "ang", "fru")},
    "all": dict(LABELS),
}

_HEADER = re.compile(r"^\[\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s*$")
_TRANSCRIPT = re.compile(r"^(Ses\d\d[FM]_\S+_[FM]\d+)\s+\[\s*\d+(?:\.\d*)?\s*-\s*\d+(?:\.\d*)?\s*\]:\s?(.*)$")
_TURN_NAME = re.compile(r"^(?P<session>Ses\d\d)[FM]_\S+_(?P<gender>[FM])\d+$")
_SESSION_DIR = re.compile(r"^Session(\d+)$")


@dataclass
class Turn:
    """One labelled turn as its EmoEvaluation block header gives it."""

    name: str
    dialog: str
    start: float
    end: float
    start_text: str
    end_text: str
    code: str
    vad: tuple[float, float, float]


def speaker_of(turn_name: str) -> str | None:
    """``Ses01F_impro01_M000`` -> ``Ses01M``; None when the name does not look like a turn name."""
    match = _TURN_NAME.match(turn_name)
    return None if match is None else match["session"] + match["gender"]


def utterance_id(turn_name: str) -> str:
    """``Ses01F_impro01_M000`` -> ``Ses01M-Ses01F_impro01_M000`` (speaker + "-" + turn name)."""
    speaker = speaker_of(turn_name)
    if speaker is None:
        raise ValueError(f"not an IEMOCAP turn name: {turn_name!r}")
    return f"{speaker}-{turn_name}"


def original_name(utt: str) -> str:
    """Inverse of utterance_id: ``Ses01M-Ses01F_impro01_M000`` -> ``Ses01F_impro01_M000``."""
    return utt.split("-", 1)[1]


def find_release(root: Path) -> Path:
    """The folder holding Session1..5: `root` itself or `root/IEMOCAP_full_release`."""
    for candidate in (root, root / "IEMOCAP_full_release"):
        if candidate.is_dir() and any(_SESSION_DIR.match(p.name) and p.is_dir() for p in candidate.iterdir()):
            return candidate
    raise SerError(
        f"iemocap: no Session1..Session5 folders in {root}; pass the IEMOCAP_full_release folder "
        f"(or the folder holding it) ({SOURCE})"
    )


def read_emo_evaluation(path: Path, skips: SkipReport) -> list[Turn]:
    """The turns of one EmoEvaluation file, in file order; malformed block headers are reported and skipped."""
    turns = []
    dialog = path.stem
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line.startswith("["):
                continue  # comment (%), blank, evaluator lines (C-E2:, A-F1:, ...)
            match = _HEADER.match(line)
            vad = None
            if match is not None:
                try:
                    values = tuple(float(v) for v in match[5].split(","))
                    vad = values if len(values) == 3 else None
                except ValueError:
                    vad = None
            if match is None or vad is None:
                skips.skip(f"{path}:{lineno}", "block header is not '[start - end] TURN label [V, A, D]'")
                continue
            start_text, end_text, name, code = match[1], match[2], match[3], match[4].lower()
            turns.append(Turn(name, dialog, float(start_text), float(end_text), start_text, end_text, code, vad))
    return turns


def read_transcriptions(path: Path) -> tuple[dict[str, str], int]:
    """{turn name: transcript} from one transcription file, and the number of lines that did not parse."""
    texts: dict[str, str] = {}
    unparsed = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            line = raw.strip()
            if not line:
                continue
            match = _TRANSCRIPT.match(line)
            if match is None:
                unparsed += 1
                continue
            texts.setdefault(match[1], one_line(match[2]))
    return texts, unparsed


def prepare(corpus_dir: str | Path, data_dir: str | Path, classes: str = "4") -> DataDir:
    """Write an IEMOCAP data dir to `data_dir` from the release under `corpus_dir`; return it.

    `classes`: "4" (default), "6" or "all" (see the module docstring). Turns with a label outside the
    set are dropped (counted on stderr); a labelled turn without its wav file is reported and skipped.
    """
    classes = str(classes)
    if classes not in CLASS_SETS:
        raise SerError(f"iemocap: unknown class set '{classes}' (choose from: {', '.join(CLASS_SETS)})")
    class_map = CLASS_SETS[classes]
    root = find_release(
        check_corpus_dir(corpus_dir, "iemocap", "the IEMOCAP_full_release folder (or the folder holding it)", SOURCE)
    )
    skips = SkipReport("iemocap")
    names = ["wav.scp", "utt2spk", "utt2emo", "utt2emo_full", "utt2gender", "utt2session", "utt2dialog"]
    names += ["utt2turn", "utt2time", "utt2vad", "text"]
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    unparsed_lines = 0
    no_transcript = 0
    dialogs = 0
    sessions = sorted(
        (int(m[1]), p) for p in root.iterdir() if p.is_dir() and (m := _SESSION_DIR.match(p.name)) is not None
    )
    for number, session_dir in sessions:
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        eval_files = sorted(p for p in eval_dir.glob("*.txt") if p.is_file() and not p.name.startswith("."))
        if not eval_files:
            log("iemocap", f"{session_dir.name}: no label files in {eval_dir}")
        for eval_file in eval_files:
            dialog = eval_file.stem
            turns = [t for t in read_emo_evaluation(eval_file, skips) if _usable(t, seen, eval_file, skips)]
            if not turns:
                continue
            dialogs += 1
            order = {t.name: i for i, t in enumerate(sorted(turns, key=lambda t: (t.start, t.end, t.name)))}
            trans_file = session_dir / "dialog" / "transcriptions" / f"{dialog}.txt"
            texts: dict[str, str] = {}
            if trans_file.is_file():
                texts, unparsed = read_transcriptions(trans_file)
                unparsed_lines += unparsed
            else:
                log("iemocap", f"{trans_file}: missing; the turns of {dialog} get empty transcripts")
            wav_dir = session_dir / "sentences" / "wav" / dialog
            for turn in turns:
                if turn.code not in class_map:
                    dropped[turn.code] += 1
                    continue
                wav = wav_dir / f"{turn.name}.wav"
                if not wav.is_file():
                    skips.skip(wav, "labelled turn has no wav file")
                    continue
                spk = speaker_of(turn.name)
                utt = f"{spk}-{turn.name}"
                maps["wav.scp"][utt] = str(wav)
                maps["utt2spk"][utt] = spk
                maps["utt2emo"][utt] = class_map[turn.code]
                maps["utt2emo_full"][utt] = LABELS[turn.code]
                maps["utt2gender"][utt] = spk[-1].lower()
                maps["utt2session"][utt] = spk[:5]
                maps["utt2dialog"][utt] = dialog
                maps["utt2turn"][utt] = str(order[turn.name])
                maps["utt2time"][utt] = f"{turn.start_text} {turn.end_text}"
                maps["utt2vad"][utt] = " ".join(f"{v:.4f}" for v in turn.vad)
                if turn.name not in texts:
                    no_transcript += 1
                maps["text"][utt] = texts.get(turn.name, "")
    skips.summary(noun="turns or lines")
    log("iemocap", f"read {len(seen)} labelled turns in {dialogs} dialogues of {len(sessions)} sessions")
    if dropped:
        counts = ", ".join(f"{code} {n}" for code, n in dropped.most_common())
        log("iemocap", f"dropped, not in the '{classes}' class set: {counts}")
    if unparsed_lines:
        log("iemocap", f"skipped {unparsed_lines} transcription lines that do not parse as 'TURN [start-end]: text'")
    if no_transcript:
        log("iemocap", f"{no_transcript} kept turns have no transcription line (empty text)")
    return finish("iemocap", maps, data_dir)


def _usable(turn: Turn, seen: set[str], eval_file: Path, skips: SkipReport) -> bool:
    """Checks on one turn before it counts for its dialogue; reports and rejects bad ones."""
    where = f"{eval_file}: turn {turn.name}"
    if speaker_of(turn.name) is None:
        skips.skip(where, "turn name does not end in _F<digits> or _M<digits> after a SesNN[FM]_ prefix")
        return False
    if turn.code not in LABELS:
        skips.skip(where, f"unknown label code '{turn.code}' (known: {' '.join(LABELS)})")
        return False
    if turn.name in seen:
        skips.skip(where, "turn listed twice (kept the first)")
        return False
    seen.add(turn.name)
    return True


__all__ = [
    "CLASS_SETS",
    "LABELS",
    "SOURCE",
    "Turn",
    "find_release",
    "original_name",
    "prepare",
    "read_emo_evaluation",
    "read_transcriptions",
    "speaker_of",
    "utterance_id",
]
