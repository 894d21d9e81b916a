"""TESS (Toronto emotional speech set): 2 actresses x 200 words x 7 emotions = 2800 clips.

Why a preparer of its own: the labels are only in the file names, and copies of the release disagree on
spelling. Each clip is a target word in the carrier phrase "Say the word ...", named
``<speaker>_<word>_<emotion>.wav``, e.g. ``OAF_back_angry.wav``, ``YAF_chair_ps.wav``; the release puts them
in one folder per speaker and emotion (``OAF_angry/``, ``OAF_Fear/``, ``YAF_pleasant_surprised/`` ...).
Speakers: ``OAF`` (the older actress, 64 at recording) and ``YAF`` (the younger, 26); both female.
Emotion codes: angry, disgust, fear, happy, neutral, sad, and ``ps`` = pleasant surprise. Names are read
case-insensitively, and ``pleasant_surprise`` / ``pleasant_surprised`` (the spelling of some folders, and of
some re-packaged copies' file names) are read as ``ps``.

Labels written to utt2emo (the corpus's own names as full lower-case words): angry, disgust, fear, happy,
neutral, sad, surprised (for ps). ``ser/labelmaps/tess.yaml`` maps them into the shared nouns.

Ids: speaker ``OAF`` / ``YAF``; utterance id = speaker + "-" + file stem, e.g. ``OAF-OAF_back_angry``.
Maps written: wav.scp, utt2spk, utt2emo, utt2gender (f), utt2sentence (the target word, so a
text-independent split can hold words out) and text (``Say the word back``).

Skipped, each reported with the file and the reason: a name that is not ``SPEAKER_word_emotion``, an
unknown speaker or emotion code, a file whose folder names another emotion than its file name
(``OAF_angry/OAF_back_sad.wav``: the label would be a guess), and a second file with the same name.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, iter_files
from ser.datadir import DataDir

SOURCE = "download: https://tspace.library.utoronto.ca/handle/1807/24487 (University of Toronto), CC BY-NC-ND 4.0"

#: Emotion code (lower case, as in file and folder names) -> label written to utt2emo.
EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
}

#: Speaker -> gender.
GENDERS = {"OAF": "f", "YAF": "f"}

CARRIER = "Say the word"

_NAME = re.compile(r"^(?P<spk>[A-Za-z]+)_(?P<word>[A-Za-z]+)_(?P<emo>[A-Za-z_]+)$")
_FOLDER = re.compile(r"^(?P<spk>OAF|YAF)_(?P<emo>[A-Za-z_]+)$", re.IGNORECASE)


def folder_emotion(folder: str) -> str | None:
    """The label a release folder such as ``OAF_Fear`` names, or None for any other folder."""
    match = _FOLDER.match(folder)
    if match is None:
        return None
    return EMOTIONS.get(match["emo"].lower())


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write a TESS data dir to `data_dir` from the wav files under `corpus_dir`; return it."""
    root = check_corpus_dir(corpus_dir, "tess", "the folder holding TESS's OAF_* and YAF_* folders", SOURCE)
    skips = SkipReport("tess")
    names = ("wav.scp", "utt2spk", "utt2emo", "utt2gender", "utt2sentence", "text")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in iter_files(root, [".wav"]):
        match = _NAME.match(path.stem)
        if match is None:
            skips.skip(path, "name does not follow the TESS pattern SPEAKER_word_emotion.wav (e.g. OAF_back_angry.wav)")
            continue
        spk, word, code = match["spk"].upper(), match["word"].lower(), match["emo"].lower()
        if spk not in GENDERS:
            skips.skip(path, f"unknown speaker '{match['spk']}' (TESS speakers: {' '.join(GENDERS)})")
            continue
        if code not in EMOTIONS:
            skips.skip(path, f"unknown emotion code '{match['emo']}' (known: angry disgust fear happy neutral ps sad)")
            continue
        label = EMOTIONS[code]
        in_folder = folder_emotion(path.parent.name)
        if in_folder is not None and in_folder != label:
            skips.skip(path, f"file name says {label} but its folder {path.parent.name} says {in_folder}")
            continue
        utt = f"{spk}-{path.stem}"
        add_utterance(maps, skips, path, utt, {
            "utt2spk": spk,
            "utt2emo": label,
            "utt2gender": GENDERS[spk],
            "utt2sentence": word,
            "text": f"{CARRIER} {word}",
        })
    skips.summary()
    return finish("tess", maps, data_dir)


__all__ = ["CARRIER", "EMOTIONS", "GENDERS", "SOURCE", "folder_emotion", "prepare"]
