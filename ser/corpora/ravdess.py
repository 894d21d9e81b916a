"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song): 24 actors, 8 emotions.

Everything comes from the file name, ``MM-VV-EE-II-SS-RR-AA.wav`` = modality (01 audio-video,
02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion, intensity (01 normal,
02 strong), statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"),
repetition, actor (odd = male, even = female). The files are found anywhere under the corpus dir
(the official zips hold ``Actor_01`` .. ``Actor_24`` folders).

Ids: speaker id ``Actor_12`` (as the corpus's folders name it, taken from the actor field of the file
name); utterance id = speaker + "-" + file stem, e.g. ``Actor_12-03-01-05-01-02-01-12``.
Only audio-only files (modality 03) are used; audio-video and video-only files are counted and
skipped. Song (channel 02) is skipped unless ``include_song``. Maps written: wav.scp, utt2spk, utt2emo,
utt2gender, utt2intensity (normal/strong), text (the statement), and utt2channel (speech/song) when
songs are included.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ser.corpora import SkipReport, add_utterance, check_corpus_dir, finish, log
from ser.datadir import DataDir

SOURCE = "download: Audio_Speech_Actors_01-24.zip from https://zenodo.org/record/1188976, CC BY-NC-SA 4.0"

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
CHANNELS = {"01": "speech", "02": "song"}
MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}

#: Extensions of the audio-only files (the release has .wav; a converted copy may have others).
AUDIO_SUFFIXES = {".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"}

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def speaker_id(actor: str) -> str:
    """``12`` -> ``Actor_12``."""
    return f"Actor_{actor}"


def prepare(corpus_dir: str | Path, data_dir: str | Path, include_song: bool = False) -> DataDir:
    """Write a RAVDESS data dir to `data_dir` from the audio files under `corpus_dir`; return it.

    Audio files whose names do not parse (or carry an unknown code) are reported on stderr and skipped.
    """
    root = check_corpus_dir(
        corpus_dir, "ravdess", "the folder holding RAVDESS's Actor_01 .. Actor_24 folders", SOURCE
    )
    skips = SkipReport("ravdess")
    not_used: Counter[str] = Counter()
    names = ["wav.scp", "utt2spk", "utt2emo", "utt2gender", "utt2intensity", "text"]
    if include_song:
        names.append("utt2channel")
    maps: dict[str, dict[str, str]] = {name: {} for name in names}
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts) or not path.is_file():
            continue
        is_audio = path.suffix.lower() in AUDIO_SUFFIXES
        match = _NAME.match(path.stem)
        if match is None:
            if is_audio:
                skips.skip(path, "name does not follow the RAVDESS pattern MM-VV-EE-II-SS-RR-AA")
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        if modality != "03":
            not_used[MODALITIES.get(modality, f"modality {modality}")] += 1
            continue
        if not is_audio:
            skips.skip(path, f"audio-only name but not an audio file extension ({path.suffix})")
            continue
        bad = [
            f"{what} '{code}'"
            for what, code, known in (
                ("vocal channel", channel, CHANNELS),
                ("emotion", emotion, EMOTIONS),
                ("intensity", intensity, INTENSITIES),
                ("statement", statement, STATEMENTS),
            )
            if code not in known
        ]
        if actor == "00":
            bad.append("actor '00'")
        if bad:
            skips.skip(path, "unknown " + ", ".join(bad))
            continue
        if CHANNELS[channel] == "song" and not include_song:
            not_used["song"] += 1
            continue
        spk = speaker_id(actor)
        utt = f"{spk}-{path.stem}"
        values = {
            "utt2spk": spk,
            "utt2emo": EMOTIONS[emotion],
            "utt2gender": "m" if int(actor) % 2 == 1 else "f",
            "utt2intensity": INTENSITIES[intensity],
            "text": STATEMENTS[statement],
        }
        if include_song:
            values["utt2channel"] = CHANNELS[channel]
        add_utterance(maps, skips, path, utt, values)
    skips.summary()
    if not_used:
        hint = " (pass include_song=True / --include-song to keep songs)" if "song" in not_used else ""
        log("ravdess", "not used: " + ", ".join(f"{n} {kind} files" for kind, n in sorted(not_used.items())) + hint)
    return finish("ravdess", maps, data_dir)


__all__ = [
    "AUDIO_SUFFIXES",
    "CHANNELS",
    "EMOTIONS",
    "INTENSITIES",
    "MODALITIES",
    "SOURCE",
    "STATEMENTS",
    "prepare",
    "speaker_id",
]
