"""Build miniature corpus trees, in the real releases' layouts and file formats, inside a tmp dir.

The trees are made by code at test time; their audio is real speech COPIED from files the caller
passes (EmoDB wavs: 16 kHz mono 16-bit, like IEMOCAP and RAVDESS audio), so feature extraction and
training run on real recordings under the other corpora's names. Nothing here is a copy of IEMOCAP,
RAVDESS, TESS, SAVEE, CREMA-D or EMOVO themselves (IEMOCAP is licence-gated; the others are not on
this machine): only their documented layouts and formats.

Reused by recipe tests, e.g. a 2-session x 2-speaker IEMOCAP with 8 kept utterances per speaker
over all four classes::

    release = build_mini_iemocap(tmp, emodb_wavs, sessions=2, dialogs_per_session=2, turns_per_speaker=6)

Each (dialogue, speaker) then has the labels neu exc xxx ang sad fru (the start of LABEL_CYCLE):
4 kept turns (neutral, happy via exc, angry, sad), one dropped xxx and one dropped fru.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# --- IEMOCAP -------------------------------------------------------------------------------------

#: Release label codes given, in turn, to each speaker's turns of a dialogue (restarting per dialogue).
#: The first six give every speaker all four audio classes (with happy from exc), an xxx and a fru.
LABEL_CYCLE = ("neu", "exc", "xxx", "ang", "sad", "fru", "hap", "neu")

#: Categorical-evaluator words for the C-E/C-F lines of the EmoEvaluation blocks.
_CATEGORY_WORDS = {
    "neu": "Neutral",
    "hap": "Happiness",
    "exc": "Excited",
    "sad": "Sadness",
    "ang": "Anger",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
    "xxx": "Neutral",
}

_PHRASES = (
    "Excuse me.",
    "Do you have your forms?",
    "Yeah.",
    "Let me see them: all three pages.",
    "I've been waiting here for an hour.",
    "That's not my problem.",
    "Okay, fine.",
    "Well, what am I supposed to do now?",
)

#: Lines per transcription file that must be skipped as unparsable (an XX turn, a line without a span).
UNPARSABLE_LINES_PER_DIALOG = 2


@dataclass(frozen=True)
class MiniTurn:
    """One turn of a miniature IEMOCAP dialogue, as the builder writes it."""

    session: int  # 1-based
    dialog: str  # e.g. Ses01F_impro01
    name: str  # e.g. Ses01F_impro01_M000
    speaker: str  # e.g. Ses01M (session + gender of the turn, not of the dialogue)
    start: float
    end: float
    code: str  # release label code, e.g. exc
    text: str
    time_index: int  # 0-based position in the dialogue by start time

    @property
    def utt(self) -> str:
        """The utterance id ser.corpora.iemocap gives this turn."""
        return f"{self.speaker}-{self.name}"


def iemocap_dialog_names(session: int, dialogs_per_session: int) -> list[str]:
    """Dialogue names of one session: even ones improvised in an F session (``Ses01F_impro01``), odd ones
    scripted in an M session (``Ses01M_script01_1``: a name with an extra ``_`` before the turn part)."""
    names = []
    for d in range(dialogs_per_session):
        if d % 2 == 0:
            names.append(f"Ses{session:02d}F_impro{d // 2 + 1:02d}")
        else:
            names.append(f"Ses{session:02d}M_script{d // 2 + 1:02d}_1")
    return names


def iemocap_turns(
    sessions: int = 1,
    dialogs_per_session: int = 1,
    turns_per_speaker: int = 8,
    label_cycle: Sequence[str] = LABEL_CYCLE,
) -> list[MiniTurn]:
    """The turns build_mini_iemocap writes (same arguments), in dialogue and time order.

    In each dialogue the two speakers alternate, starting with the dialogue's own gender letter, so
    ``Ses01F_impro01_M000`` (the male of session 1 in an F dialogue) is the second turn. Turn k of a
    speaker gets ``label_cycle[k % len(label_cycle)]``. Start times step by 13.7 s from 6.2901 s, so
    dialogues with 8+ turns reach past 100 s (a string sort of the times would misorder them).
    """
    turns = []
    for session in range(1, sessions + 1):
        for dialog in iemocap_dialog_names(session, dialogs_per_session):
            letters = (dialog[5], "M" if dialog[5] == "F" else "F")
            for t in range(2 * turns_per_speaker):
                k, letter = t // 2, letters[t % 2]
                start = round(6.2901 + 13.7 * t + 0.0123 * (t % 5), 4)
                end = round(start + 1.9456 + 0.7 * (t % 3), 4)
                turns.append(
                    MiniTurn(
                        session=session,
                        dialog=dialog,
                        name=f"{dialog}_{letter}{k:03d}",
                        speaker=f"Ses{session:02d}{letter}",
                        start=start,
                        end=end,
                        code=label_cycle[k % len(label_cycle)],
                        text=_PHRASES[t % len(_PHRASES)],
                        time_index=t,
                    )
                )
    return turns


def _emo_block(turn: MiniTurn, rng: random.Random) -> str:
    v, a, d = (round(rng.uniform(1.0, 5.0) * 2) / 2 for _ in range(3))
    word = _CATEGORY_WORDS[turn.code]
    other = "Anger" if word != "Anger" else "Frustration"
    lines = [
        f"[{turn.start:.4f} - {turn.end:.4f}]\t{turn.name}\t{turn.code}\t[{v:.4f}, {a:.4f}, {d:.4f}]",
        f"C-E2:\t{word};\t()",
        f"C-E3:\t{word if turn.code != 'xxx' else 'Sadness'};\t()",
        f"C-E4:\t{word};\t()",
        f"C-F1:\t{word}; {other};\t(curious)",
        "A-E3:\tval 3; act 2; dom  2;\t()",
        "A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)",
        "A-F1:\tval 3; act 2; dom  1;\t()",
    ]
    return "\n".join(lines) + "\n"


def build_mini_iemocap(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    sessions: int = 1,
    dialogs_per_session: int = 1,
    turns_per_speaker: int = 8,
    label_cycle: Sequence[str] = LABEL_CYCLE,
    seed: int = 0,
) -> Path:
    """Write ``root/IEMOCAP_full_release/Session1..N`` and return the IEMOCAP_full_release path.

    Per dialogue (turns as iemocap_turns gives them, same arguments):
      * ``SessionN/dialog/EmoEvaluation/<dialog>.txt`` in the release's TAB-separated format: a ``%``
        header line, then one block per turn (``[start - end]<TAB>TURN<TAB>code<TAB>[V, A, D]``, C-E/C-F
        and A-E/A-F evaluator lines with ``dom  2`` spelt with two spaces), blank lines between blocks,
        blocks in shuffled order (never time order); plus a decoy ``EmoEvaluation/Categorical/`` file.
      * ``SessionN/dialog/transcriptions/<dialog>.txt``: ``TURN [006.2901-008.2357]: text`` lines in time
        order, with UNPARSABLE_LINES_PER_DIALOG lines that must be skipped (an ``..._MXX0`` turn and a
        line without a time span).
      * ``SessionN/sentences/wav/<dialog>/<TURN>.wav`` for every turn, xxx included: a copy of
        ``audio_source_files[i % len]`` (pass real 16 kHz mono wavs, e.g. EmoDB files).
    """
    if not audio_source_files:
        raise ValueError("build_mini_iemocap needs at least one audio file to copy")
    rng = random.Random(seed)
    release = Path(root) / "IEMOCAP_full_release"
    turns = iemocap_turns(sessions, dialogs_per_session, turns_per_speaker, label_cycle)
    by_dialog: dict[str, list[MiniTurn]] = {}
    for turn in turns:
        by_dialog.setdefault(turn.dialog, []).append(turn)
    copied = 0
    for dialog, dialog_turns in by_dialog.items():
        session_dir = release / f"Session{dialog_turns[0].session}"
        eval_dir = session_dir / "dialog" / "EmoEvaluation"
        (eval_dir / "Categorical").mkdir(parents=True, exist_ok=True)
        shuffled = list(dialog_turns)
        rng.shuffle(shuffled)
        if len(shuffled) > 1 and shuffled == sorted(shuffled, key=lambda t: t.start):
            shuffled.reverse()
        text = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
        text += "\n".join(_emo_block(turn, rng) for turn in shuffled)
        (eval_dir / f"{dialog}.txt").write_text(text, encoding="utf-8")
        (eval_dir / "Categorical" / f"{dialog}_e2_cat.txt").write_text(
            "".join(f"{t.name} :{_CATEGORY_WORDS[t.code]}; ()\n" for t in dialog_turns), encoding="utf-8"
        )

        lines = []
        for t in dialog_turns:
            lines.append(f"{t.name} [{t.start:08.4f}-{t.end:08.4f}]: {t.text}")
            if t.time_index == 0:
                lines.append(f"{dialog}_MXX0 [{t.end:08.4f}-{t.end + 0.5:08.4f}]: [LAUGHTER]")
        lines.append("M: [BREATHING]")
        trans_dir = session_dir / "dialog" / "transcriptions"
        trans_dir.mkdir(parents=True, exist_ok=True)
        (trans_dir / f"{dialog}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

        wav_dir = session_dir / "sentences" / "wav" / dialog
        wav_dir.mkdir(parents=True, exist_ok=True)
        for t in dialog_turns:
            shutil.copyfile(audio_source_files[copied % len(audio_source_files)], wav_dir / f"{t.name}.wav")
            copied += 1
    return release


# --- RAVDESS -------------------------------------------------------------------------------------

RAVDESS_EMOTIONS = ("01", "02", "03", "04", "05", "06", "07", "08")
#: Song (vocal channel 02) has no disgust (07) or surprised (08) in the real corpus.
RAVDESS_SONG_EMOTIONS = ("01", "02", "03", "04", "05", "06")


def ravdess_name(
    modality: int, channel: int, emotion: str, intensity: int, statement: int, repetition: int, actor: int
) -> str:
    """File stem ``MM-VV-EE-II-SS-RR-AA``."""
    return f"{modality:02d}-{channel:02d}-{emotion}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"


def build_mini_ravdess(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    actors: Sequence[int] = (1, 2),
    emotions: Sequence[str] = RAVDESS_EMOTIONS,
    statements: Sequence[int] = (1,),
    repetitions: Sequence[int] = (1,),
    song: bool = False,
    video_files_per_actor: int = 2,
) -> Path:
    """Write ``root/Actor_NN/MM-VV-EE-II-SS-RR-AA.wav`` files (as the release's audio zips unpack) and return root.

    Per actor: audio-only speech (modality 03, channel 01) for every emotion x intensity x statement x
    repetition, where neutral (01) has only normal intensity as in the real corpus; with `song`, audio-only
    songs (channel 02) for RAVDESS_SONG_EMOTIONS, normal intensity; and `video_files_per_actor` small
    non-audio ``.mp4`` files with audio-video (01) and video-only (02) modality names, which a preparer must
    count and skip. Audio files are copies of ``audio_source_files[i % len]``.

    Speech files per actor: len(statements) * len(repetitions) * (2 * len(emotions) - [01 in emotions]).
    """
    if not audio_source_files:
        raise ValueError("build_mini_ravdess needs at least one audio file to copy")
    root = Path(root)
    copied = 0
    for actor in actors:
        actor_dir = root / f"Actor_{actor:02d}"
        actor_dir.mkdir(parents=True, exist_ok=True)
        stems = []
        for channel, channel_emotions in ((1, emotions), (2, RAVDESS_SONG_EMOTIONS if song else ())):
            for emotion in channel_emotions:
                intensities = (1,) if emotion == "01" or channel == 2 else (1, 2)
                for intensity in intensities:
                    for statement in statements:
                        for repetition in repetitions:
                            stems.append(ravdess_name(3, channel, emotion, intensity, statement, repetition, actor))
        for stem in stems:
            shutil.copyfile(audio_source_files[copied % len(audio_source_files)], actor_dir / f"{stem}.wav")
            copied += 1
        for v in range(video_files_per_actor):
            modality = 1 + v % 2
            stem = ravdess_name(modality, 1, emotions[v % len(emotions)], 1, 1, 1, actor)
            (actor_dir / f"{stem}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    return root


# --- TESS, SAVEE, CREMA-D, EMOVO -----------------------------------------------------------------
# Miniature trees in the layouts the corpora's documentation and releases use; audio copied from the
# caller's files. Decoys (files a preparer must skip) are added by the tests themselves, next to these.

#: TESS release folders per speaker and file-name emotion code, with the release's own spelling and case.
TESS_FOLDERS = {
    "OAF": {
        "angry": "OAF_angry", "disgust": "OAF_disgust", "fear": "OAF_Fear", "happy": "OAF_happy",
        "neutral": "OAF_neutral", "ps": "OAF_Pleasant_surprise", "sad": "OAF_Sad",
    },
    "YAF": {
        "angry": "YAF_angry", "disgust": "YAF_disgust", "fear": "YAF_fear", "happy": "YAF_happy",
        "neutral": "YAF_neutral", "ps": "YAF_pleasant_surprised", "sad": "YAF_sad",
    },
}


def _copier(audio_source_files: Sequence[str | Path], builder: str):
    """A function copying audio_source_files[i % len] to each path it is given, in turn."""
    if not audio_source_files:
        raise ValueError(f"{builder} needs at least one audio file to copy")
    count = [0]

    def copy(target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio_source_files[count[0] % len(audio_source_files)], target)
        count[0] += 1

    return copy


def build_mini_tess(
    root: str | Path, audio_source_files: Sequence[str | Path], words: Sequence[str] = ("back", "chair")
) -> Path:
    """Write ``root/<TESS_FOLDERS folder>/<SPK>_<word>_<code>.wav`` for both speakers, every word and all 7
    emotion codes (``ps`` = pleasant surprise), and return root: 2 x len(words) x 7 files."""
    root = Path(root)
    copy = _copier(audio_source_files, "build_mini_tess")
    for spk, folders in TESS_FOLDERS.items():
        for code, folder in folders.items():
            for word in words:
                copy(root / folder / f"{spk}_{word}_{code}.wav")
    return root


SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
SAVEE_PREFIXES = ("a", "d", "f", "h", "n", "sa", "su")


def savee_clips(clips_per_emotion: int = 1) -> list[str]:
    """Clip names of one speaker: each prefix numbered 01.., neutral with twice as many (as in the corpus)."""
    return [
        f"{prefix}{k:02d}"
        for prefix in SAVEE_PREFIXES
        for k in range(1, (2 if prefix == "n" else 1) * clips_per_emotion + 1)
    ]


def build_mini_savee(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    speakers: Sequence[str] = SAVEE_SPEAKERS,
    clips_per_emotion: int = 1,
    flat: bool = False,
) -> Path:
    """Write the release layout ``root/AudioData/<SPK>/<prefix><nn>.wav`` (or, with `flat`, ``root/<SPK>_<prefix><nn>.wav``)
    and return root. Files per speaker: 8 x clips_per_emotion (neutral counts twice)."""
    root = Path(root)
    copy = _copier(audio_source_files, "build_mini_savee")
    for spk in speakers:
        for clip in savee_clips(clips_per_emotion):
            copy(root / f"{spk}_{clip}.wav" if flat else root / "AudioData" / spk / f"{clip}.wav")
    return root


CREMA_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def crema_d_stems(actors: Sequence[int], sentences: Sequence[str]) -> list[str]:
    """Stems as in the release: IEO in LO/MD/HI for each emotion but neutral (XX), every other sentence XX only."""
    stems = []
    for actor in actors:
        for sentence in sentences:
            for emotion in CREMA_EMOTIONS:
                levels = ("LO", "MD", "HI") if sentence == "IEO" and emotion != "NEU" else ("XX",)
                stems.extend(f"{actor}_{sentence}_{emotion}_{level}" for level in levels)
    return stems


def build_mini_crema_d(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    actors: Sequence[int] = (1001, 1002, 1091),
    sentences: Sequence[str] = ("IEO", "DFA"),
    demographics: dict[int, str] | None = None,
) -> Path:
    """Write ``root/AudioWAV/<stem>.wav`` (crema_d_stems), a few ``AudioMP3/<stem>.mp3`` stand-ins (not audio;
    a preparer reading .wav must ignore them) and, with `demographics` ({actor: "Male"|"Female"|...}),
    ``root/VideoDemographics.csv`` with the release's columns ActorID, Age, Sex, Race, Ethnicity. Returns root."""
    root = Path(root)
    copy = _copier(audio_source_files, "build_mini_crema_d")
    stems = crema_d_stems(actors, sentences)
    for stem in stems:
        copy(root / "AudioWAV" / f"{stem}.wav")
    (root / "AudioMP3").mkdir(parents=True, exist_ok=True)
    for stem in stems[:3]:
        (root / "AudioMP3" / f"{stem}.mp3").write_bytes(b"ID3 not real mp3 data")
    if demographics is not None:
        rows = ["ActorID,Age,Sex,Race,Ethnicity"]
        rows += [f"{actor},{30 + actor % 40},{sex},Caucasian,Not Hispanic" for actor, sex in demographics.items()]
        (root / "VideoDemographics.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


EMOVO_EMOTIONS = ("dis", "gio", "neu", "pau", "rab", "sor", "tri")


def build_mini_emovo(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    actors: Sequence[str] = ("f1", "m2"),
    sentences: Sequence[str] = ("b1", "l2"),
) -> Path:
    """Write ``root/<actor>/<emo>-<actor>-<sentence>.wav`` for every emotion code and a ``documents/`` folder
    (the release has one; not audio), and return root: len(actors) x 7 x len(sentences) files."""
    root = Path(root)
    copy = _copier(audio_source_files, "build_mini_emovo")
    for actor in actors:
        for emotion in EMOVO_EMOTIONS:
            for sentence in sentences:
                copy(root / actor / f"{emotion}-{actor}-{sentence}.wav")
    (root / "documents").mkdir(parents=True, exist_ok=True)
    (root / "documents" / "emovo.txt").write_text("corpus description (not audio)\n", encoding="utf-8")
    return root
