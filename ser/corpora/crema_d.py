"""CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset): 91 actors, 12 sentences, 6 emotions, 7442 clips.

Why a preparer of its own: labels and speakers are in the file names, and gender is in a separate table.
Audio: ``AudioWAV/1001_DFA_ANG_XX.wav`` = actor (1001-1091) _ sentence _ emotion _ level, found anywhere
under the corpus dir. Only ``.wav`` files are read (the release's ``AudioMP3/`` copies of the same clips
are not). Sentence codes: IEO "It's eleven o'clock", TIE "That is exactly what happened", IOM "I'm on my
way to the meeting", IWW "I wonder what this is about", TAI "The airplane is almost full", MTI "Maybe
tomorrow it will be cold", IWL "I would like a new alarm clock", ITH "I think I have a doctor's
appointment", DFA "Don't forget a jacket", ITS "I think I've seen this before", TSI "The surface is
slick", WSI "We'll stop in a couple of minutes". Emotions: ANG anger, DIS disgust, FEA fear, HAP happy
(the corpus's "Happy/Joy"), NEU neutral, SAD sad. Levels: LO low, MD medium, HI high, XX unspecified.

Gender: from the corpus's ``VideoDemographics.csv`` (columns ActorID, Age, Sex, Race, Ethnicity; Sex is
Male/Female), at the top of the corpus dir or one folder down. utt2gender is written only when that file
is there and names every actor that has clips (a data-dir map must cover every utterance); otherwise it
is left out and the log says which actors were missing. Bad rows of the table are reported and skipped.

Labels written to utt2emo: anger, disgust, fear, happy, neutral, sad (``ser/labelmaps/crema_d.yaml`` maps
happy and sad to happiness and sadness).

Ids: speaker = the actor number, ``1001``; utterance id = the file stem, ``1001_DFA_ANG_XX``, which
already starts with it (all actor numbers have four digits, so sort orders agree).
Maps written: wav.scp, utt2spk, utt2emo, utt2intensity (low/medium/high/unspecified), utt2sentence (the
code), text (the sentence), and utt2gender as above.

Skipped, each reported with the file and the reason: a name that is not ``AAAA_SSS_EEE_LL``, an actor
outside 1001-1091, an unknown sentence, emotion or level code, and a second file with the same name.
(The release's ``1076_MTI_SAD_XX.wav`` is known to hold no speech; preparation only reads names, so
``ser extract`` is where it is reported.)
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, iter_files, log
from ser.datadir import DataDir

SOURCE = "download: https://github.com/CheyneyComputerScience/CREMA-D (git LFS), Open Database License"

EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTORS = range(1001, 1092)
DEMOGRAPHICS = "VideoDemographics.csv"
SEXES = {"male": "m", "female": "f", "m": "m", "f": "f"}

_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Za-z]{3})_(?P<emo>[A-Za-z]{3})_(?P<level>[A-Za-z]{2})$")


def find_demographics(root: Path) -> Path | None:
    """VideoDemographics.csv at the top of the corpus dir or one folder down, or None."""
    for candidate in [root / DEMOGRAPHICS, *sorted(root.glob(f"*/{DEMOGRAPHICS}"))]:
        if candidate.is_file():
            return candidate
    return None


def read_demographics(path: Path, skips: SkipReport) -> dict[str, str]:
    """{actor id: m|f} from the Sex column; rows without a usable ActorID or Sex are reported and skipped."""
    genders: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        if "actorid" not in fields or "sex" not in fields:
            skips.skip(path, f"header {reader.fieldnames} lacks the ActorID and Sex columns; no genders read")
            return genders
        for row in reader:
            where = f"{path}:{reader.line_num}"
            actor = (row.get(fields["actorid"]) or "").strip()
            sex = (row.get(fields["sex"]) or "").strip().lower()
            if not actor:
                continue
            if sex not in SEXES:
                skips.skip(where, f"actor {actor}: unknown Sex '{sex}' (expected Male or Female)")
                continue
            if actor in genders:
                skips.skip(where, f"actor {actor} listed again (kept the first row)")
                continue
            genders[actor] = SEXES[sex]
    return genders


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write a CREMA-D data dir to `data_dir` from the wav files under `corpus_dir`; return it."""
    root = check_corpus_dir(
        corpus_dir, "crema_d", "the CREMA-D folder (holding AudioWAV/ and VideoDemographics.csv)", SOURCE
    )
    skips = SkipReport("crema_d")
    names = ("wav.scp", "utt2spk", "utt2emo", "utt2intensity", "utt2sentence", "text")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in iter_files(root, [".wav"]):
        match = _NAME.match(path.stem)
        if match is None:
            skips.skip(
                path, "name does not follow the CREMA-D pattern ACTOR_SENTENCE_EMOTION_LEVEL (e.g. 1001_DFA_ANG_XX.wav)"
            )
            continue
        actor = match["actor"]
        sentence, emotion, level = (match[k].upper() for k in ("sentence", "emo", "level"))
        bad = [
            f"{what} '{code}'"
            for what, code, known in (
                ("sentence", sentence, SENTENCES),
                ("emotion", emotion, EMOTIONS),
                ("level", level, LEVELS),
            )
            if code not in known
        ]
        if int(actor) not in ACTORS:
            bad.insert(0, f"actor '{actor}' (CREMA-D actors are 1001-1091)")
        if bad:
            skips.skip(path, "unknown " + ", ".join(bad))
            continue
        utt = path.stem
        add_utterance(maps, skips, path, utt, {
            "utt2spk": actor,
            "utt2emo": EMOTIONS[emotion],
            "utt2intensity": LEVELS[level],
            "utt2sentence": sentence,
            "text": SENTENCES[sentence],
        })
    _add_genders(root, maps, skips)
    skips.summary(noun="files or rows")
    return finish("crema_d", maps, data_dir)


def _add_genders(root: Path, maps: dict[str, dict[str, str]], skips: SkipReport) -> None:
    """utt2gender from VideoDemographics.csv when it names every actor with clips; else a log line saying why not."""
    table = find_demographics(root)
    if table is None:
        log("crema_d", f"no {DEMOGRAPHICS} in {root} or the folders under it: utt2gender not written")
        return
    genders = read_demographics(table, skips)
    actors = set(maps["utt2spk"].values())
    missing = sorted(actors - set(genders))
    if missing:
        shown = " ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        log("crema_d", f"{table} has no usable row for {len(missing)} actor(s) ({shown}): utt2gender not written")
        return
    maps["utt2gender"] = {utt: genders[spk] for utt, spk in maps["utt2spk"].items()}


__all__ = [
    "ACTORS",
    "DEMOGRAPHICS",
    "EMOTIONS",
    "LEVELS",
    "SENTENCES",
    "SEXES",
    "SOURCE",
    "find_demographics",
    "prepare",
    "read_demographics",
]
