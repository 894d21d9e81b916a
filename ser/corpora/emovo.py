"""EMOVO (Italian emotional speech, Fondazione Ugo Bordoni): 6 actors x 14 sentences x 7 emotions = 588 clips.

Why a preparer of its own: everything is in the file name, ``dis-f1-b1.wav`` = emotion code - actor -
sentence, in one folder per actor (``f1 f2 f3 m1 m2 m3``; the release also has a ``documents`` folder).
Emotion codes (Italian): ``dis`` disgusto, ``gio`` gioia, ``neu`` neutrale, ``pau`` paura, ``rab`` rabbia,
``sor`` sorpresa, ``tri`` tristezza. Actors: f1-f3 female, m1-m3 male (the letter is the gender).
Sentence codes are a letter and a digit (``b1``, ``l2``, ``n3``, ``d1`` ...: short, long, nonsense and
question sentences); any such code is accepted and written to utt2sentence.

Labels written to utt2emo: the codes' meanings as English words (the corpus paper's names): disgust, joy,
neutral, fear, anger, surprise, sadness. ``ser/labelmaps/emovo.yaml`` maps joy to happiness.

Ids: speaker = the actor code, ``f1``; utterance id = speaker + "-" + file stem, e.g. ``f1-dis-f1-b1``.
Maps written: wav.scp, utt2spk, utt2emo, utt2gender, utt2sentence.

Skipped, each reported with the file and the reason: a name that is not ``emo-actor-sentence``, an
unknown emotion code or actor, and a second file with the same name. The actor comes from the file name;
the folder it sits in is not read.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, iter_files
from ser.datadir import DataDir

SOURCE = "request it from Fondazione Ugo Bordoni: http://voice.fub.it/activities/corpora/emovo/index.html"

#: Emotion code -> label (English word).
EMOTIONS = {
    "dis": "disgust",  # disgusto
    "gio": "joy",  # gioia
    "neu": "neutral",  # neutrale
    "pau": "fear",  # paura
    "rab": "anger",  # rabbia
    "sor": "surprise",  # sorpresa
    "tri": "sadness",  # tristezza
}

#: Actor -> gender.
GENDERS = {"f1": "f", "f2": "f", "f3": "f", "m1": "m", "m2": "m", "m3": "m"}

_NAME = re.compile(r"^(?P<emo>[a-z]+)-(?P<spk>[a-z]\d+)-(?P<sentence>[a-z]\d+)$")


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write an EMOVO data dir to `data_dir` from the wav files under `corpus_dir`; return it."""
    root = check_corpus_dir(corpus_dir, "emovo", "the folder holding EMOVO's f1 f2 f3 m1 m2 m3 folders", SOURCE)
    skips = SkipReport("emovo")
    names = ("wav.scp", "utt2spk", "utt2emo", "utt2gender", "utt2sentence")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in iter_files(root, [".wav"]):
        match = _NAME.match(path.stem.lower())
        if match is None:
            skips.skip(path, "name does not follow the EMOVO pattern emotion-actor-sentence.wav (e.g. dis-f1-b1.wav)")
            continue
        code, spk = match["emo"], match["spk"]
        if code not in EMOTIONS:
            skips.skip(path, f"unknown emotion code '{code}' (known: {' '.join(EMOTIONS)})")
            continue
        if spk not in GENDERS:
            skips.skip(path, f"unknown actor '{spk}' (EMOVO actors: {' '.join(GENDERS)})")
            continue
        utt = f"{spk}-{path.stem}"
        add_utterance(maps, skips, path, utt, {
            "utt2spk": spk,
            "utt2emo": EMOTIONS[code],
            "utt2gender": GENDERS[spk],
            "utt2sentence": match["sentence"],
        })
    skips.summary()
    return finish("emovo", maps, data_dir)


__all__ = ["EMOTIONS", "GENDERS", "SOURCE", "prepare"]
