"""EmoDB (Berlin Database of Emotional Speech): 535 utterances, 10 actors, 7 emotions.

Everything comes from the file name, e.g. ``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion
letter ``F``, version ``a``. The wav files are found anywhere under the corpus dir (the official
zip has them in ``wav/``).

Ids: speaker id = the two-digit speaker code (``03``); utterance id = the file stem (``03a01Fa``),
which already starts with it. Maps written: wav.scp, utt2spk, utt2emo, utt2gender, and utt2sentence
(the sentence code, e.g. ``a01``: the same ten German sentences are spoken in every emotion, so a
text-independent split can hold sentences out).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, iter_files
from ser.datadir import DataDir

SOURCE = "download: http://emodb.bilderbar.info/download/download.zip, free for research"

#: Emotion letter (German initial) -> label.
EMOTIONS = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}

#: Speaker code -> gender.
GENDERS = {
    "03": "m",
    "08": "f",
    "09": "f",
    "10": "m",
    "11": "m",
    "12": "m",
    "13": "f",
    "14": "f",
    "15": "m",
    "16": "f",
}

_NAME = re.compile(r"^(?P<spk>\d\d)(?P<text>[a-z]\d\d)(?P<emo>[A-Za-z])(?P<version>[a-z])$")


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write an EmoDB data dir to `data_dir` from the wav files under `corpus_dir`; return it.

    A file whose name does not follow the EmoDB pattern, with an unknown emotion letter or an unknown
    speaker, is reported on stderr and skipped.
    """
    root = check_corpus_dir(corpus_dir, "emodb", "the folder holding EmoDB's wav files (e.g. 03a01Fa.wav)", SOURCE)
    skips = SkipReport("emodb")
    names = ("wav.scp", "utt2spk", "utt2emo", "utt2gender", "utt2sentence")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in iter_files(root, [".wav"]):
        match = _NAME.match(path.stem)
        if match is None:
            skips.skip(path, "name does not follow the EmoDB pattern SSTTTEV.wav (e.g. 03a01Fa.wav)")
            continue
        spk, letter = match["spk"], match["emo"]
        if letter not in EMOTIONS:
            skips.skip(path, f"unknown emotion letter '{letter}' (known: {''.join(EMOTIONS)})")
            continue
        if spk not in GENDERS:
            skips.skip(path, f"unknown speaker '{spk}' (EmoDB speakers: {' '.join(GENDERS)})")
            continue
        utt = path.stem
        add_utterance(maps, skips, path, utt, {
            "utt2spk": spk,
            "utt2emo": EMOTIONS[letter],
            "utt2gender": GENDERS[spk],
            "utt2sentence": match["text"],
        })
    skips.summary()
    return finish("emodb", maps, data_dir)


__all__ = ["EMOTIONS", "GENDERS", "SOURCE", "prepare"]
