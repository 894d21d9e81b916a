"""SAVEE (Surrey Audio-Visual Expressed Emotion): 4 male speakers x 120 clips = 480 clips, 7 emotions.

Why a preparer of its own: the labels and speakers are only in folder and file names, and copies of the
corpus use two layouts, both read here:

  * the release: ``AudioData/DC/a01.wav`` = speaker folder, then emotion prefix + clip number;
  * a flat copy (as some re-packaged downloads have it): ``DC_a01.wav`` = speaker _ prefix + number.

Speakers: DC, JE, JK, KL (all male; British English). Emotion prefixes: ``a`` anger, ``d`` disgust,
``f`` fear, ``h`` happiness, ``n`` neutral, ``sa`` sadness, ``su`` surprise (15 clips per emotion and
speaker, 30 of neutral). Labels written to utt2emo are those words (the corpus's own, already the shared
nouns); ``ser/labelmaps/savee.yaml`` is the identity.

Ids: speaker ``DC``; utterance id = speaker + "-" + prefix and number, e.g. ``DC-a01``, in both layouts.
Maps written: wav.scp, utt2spk, utt2emo, utt2gender (m). The clip number is not a sentence id (the
sentences differ per emotion), so no utt2sentence is written.

Skipped, each reported with the file and the reason: a name in neither layout, an unknown emotion prefix,
a folder or name prefix that is not a SAVEE speaker, and the same clip found twice (e.g. both layouts
side by side: the first in sorted path order is kept).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, iter_files
from ser.datadir import DataDir

SOURCE = "request it at http://kahlan.eps.surrey.ac.uk/savee/ (University of Surrey), free for research"

#: Emotion prefix -> label.
EMOTIONS = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}

#: Speaker -> gender.
GENDERS = {"DC": "m", "JE": "m", "JK": "m", "KL": "m"}

_CLIP = re.compile(r"^(?P<code>[A-Za-z]{1,2})(?P<num>\d\d)$")
_FLAT = re.compile(r"^(?P<spk>[A-Za-z]{2})_(?P<code>[A-Za-z]{1,2})(?P<num>\d\d)$")


def parse(path: Path) -> tuple[str, str, str] | str:
    """(speaker as written, emotion prefix, clip number) from either layout, or the reason it does not parse."""
    flat = _FLAT.match(path.stem)
    if flat is not None:
        return flat["spk"], flat["code"], flat["num"]
    clip = _CLIP.match(path.stem)
    if clip is not None:
        return path.parent.name, clip["code"], clip["num"]
    return "name is neither SPEAKER/<prefix><nn>.wav (DC/a01.wav) nor SPEAKER_<prefix><nn>.wav (DC_a01.wav)"


def prepare(corpus_dir: str | Path, data_dir: str | Path) -> DataDir:
    """Write a SAVEE data dir to `data_dir` from the wav files under `corpus_dir`; return it."""
    root = check_corpus_dir(
        corpus_dir, "savee", "the folder holding SAVEE's AudioData/DC .. KL folders (or DC_a01.wav files)", SOURCE
    )
    skips = SkipReport("savee")
    names = ("wav.scp", "utt2spk", "utt2emo", "utt2gender")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in iter_files(root, [".wav"]):
        parsed = parse(path)
        if isinstance(parsed, str):
            skips.skip(path, parsed)
            continue
        raw_spk, raw_code, num = parsed
        spk, code = raw_spk.upper(), raw_code.lower()
        if spk not in GENDERS:
            skips.skip(path, f"'{raw_spk}' is not a SAVEE speaker ({' '.join(GENDERS)})")
            continue
        if code not in EMOTIONS:
            skips.skip(path, f"unknown emotion prefix '{raw_code}' (known: {' '.join(EMOTIONS)})")
            continue
        utt = f"{spk}-{code}{num}"
        add_utterance(maps, skips, path, utt, {
            "utt2spk": spk,
            "utt2emo": EMOTIONS[code],
            "utt2gender": GENDERS[spk],
        }, duplicate="same clip as")
    skips.summary()
    return finish("savee", maps, data_dir)


__all__ = ["EMOTIONS", "GENDERS", "SOURCE", "parse", "prepare"]
