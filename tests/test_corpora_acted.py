"""TESS, SAVEE, CREMA-D and EMOVO preparation on miniature trees built by tests/corpus_builders.py.

None of these corpora is on this machine: each tree follows the corpus's documented layout and file naming,
with real EmoDB speech copied under those names, plus decoy files that must be skipped with a named reason.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from corpus_builders import (
    build_mini_crema_d,
    build_mini_emovo,
    build_mini_savee,
    build_mini_tess,
    crema_d_stems,
)
from ser.cli import main
from ser.corpora import prepare
from ser.datadir import DataDir


@pytest.fixture(scope="module")
def emodb_wavs(emodb_dir: Path) -> list[Path]:
    """A few real EmoDB recordings to copy into built trees."""
    return sorted(emodb_dir.glob("*.wav"))[:6]


def reread(path: Path) -> DataDir:
    """The data dir as written on disk, validated (audio files included)."""
    on_disk = DataDir.read(path)
    on_disk.validate(check_files=True)
    return on_disk


def _map(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


# --- TESS ----------------------------------------------------------------------------------------


def test_tess_built_tree(emodb_wavs, tmp_path, capsys):
    root = build_mini_tess(tmp_path / "tess", emodb_wavs, words=("back", "chair"))
    shutil.copy(emodb_wavs[0], root / "OAF_angry" / "OAF_dog_cheerful.wav")  # unknown emotion code
    shutil.copy(emodb_wavs[0], root / "OAF_angry" / "OAF_dog_sad.wav")  # folder says angry, name says sad
    shutil.copy(emodb_wavs[0], root / "YAF_happy" / "take 2.wav")  # not the TESS pattern
    (root / "OAF_angry" / "README.txt").write_text("not audio")
    disk = reread(prepare("tess", root, tmp_path / "data").path)
    assert len(disk.utts) == 2 * 2 * 7
    assert disk.speakers == ["OAF", "YAF"]
    assert Counter(disk.utt2emo.values()) == {
        label: 4 for label in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprised")
    }
    assert disk.utt2emo["YAF-YAF_chair_ps"] == "surprised"  # in YAF_pleasant_surprised/
    assert disk.utt2emo["OAF-OAF_back_fear"] == "fear"  # in OAF_Fear/
    assert Path(disk.wav_scp["OAF-OAF_back_ps"]) == root / "OAF_Pleasant_surprise" / "OAF_back_ps.wav"
    assert set(disk.maps["utt2gender"].values()) == {"f"}
    assert disk.maps["text"]["YAF-YAF_chair_ps"] == "Say the word chair"
    assert _map(tmp_path / "data" / "utt2sentence")["OAF-OAF_back_angry"] == "back"
    err = capsys.readouterr().err
    assert "OAF_dog_cheerful.wav: unknown emotion code 'cheerful'" in err
    assert "OAF_dog_sad.wav: file name says sad but its folder OAF_angry says angry" in err
    assert "take 2.wav: name does not follow the TESS pattern" in err
    assert "skipped 3 files" in err


def test_tess_case_and_spelling_variants(emodb_wavs, tmp_path):
    flat = tmp_path / "tess_flat"
    flat.mkdir()
    shutil.copy(emodb_wavs[0], flat / "oaf_Back_ANGRY.wav")
    shutil.copy(emodb_wavs[1], flat / "YAF_dog_pleasant_surprise.wav")
    shutil.copy(emodb_wavs[2], flat / "YAF_dog_Pleasant_Surprised.WAV")
    disk = reread(prepare("tess", flat, tmp_path / "data").path)
    assert disk.utt2emo == {
        "OAF-oaf_Back_ANGRY": "angry",
        "YAF-YAF_dog_Pleasant_Surprised": "surprised",
        "YAF-YAF_dog_pleasant_surprise": "surprised",
    }
    assert disk.maps["text"]["OAF-oaf_Back_ANGRY"] == "Say the word back"


# --- SAVEE ---------------------------------------------------------------------------------------


def test_savee_release_layout(emodb_wavs, tmp_path, capsys):
    root = build_mini_savee(tmp_path / "savee", emodb_wavs, clips_per_emotion=2)
    shutil.copy(emodb_wavs[0], root / "AudioData" / "DC" / "x01.wav")  # unknown emotion prefix
    (root / "AudioData" / "ZZ").mkdir()
    shutil.copy(emodb_wavs[0], root / "AudioData" / "ZZ" / "a01.wav")  # not a SAVEE speaker
    shutil.copy(emodb_wavs[0], root / "AudioData" / "DC" / "a01 (copy).wav")  # neither layout
    disk = reread(prepare("savee", root, tmp_path / "data").path)
    per_speaker = 6 * 2 + 4  # neutral has twice as many clips
    assert len(disk.utts) == 4 * per_speaker
    assert disk.speakers == ["DC", "JE", "JK", "KL"]
    assert Counter(disk.utt2emo.values()) == {
        "anger": 8, "disgust": 8, "fear": 8, "happiness": 8, "neutral": 16, "sadness": 8, "surprise": 8,
    }
    assert disk.utt2emo["KL-su02"] == "surprise" and disk.utt2emo["JE-sa01"] == "sadness"
    assert disk.utt2spk["KL-su02"] == "KL"
    assert Path(disk.wav_scp["DC-a01"]) == root / "AudioData" / "DC" / "a01.wav"
    assert set(disk.maps["utt2gender"].values()) == {"m"}
    err = capsys.readouterr().err
    assert "x01.wav: unknown emotion prefix 'x'" in err
    assert "ZZ/a01.wav: 'ZZ' is not a SAVEE speaker" in err
    assert "a01 (copy).wav: name is neither" in err
    assert "skipped 3 files" in err


def test_savee_flat_layout_and_duplicates(emodb_wavs, tmp_path, capsys):
    root = build_mini_savee(tmp_path / "savee", emodb_wavs, flat=True)
    build_mini_savee(root, emodb_wavs, speakers=("DC",))  # the release layout beside it: the same DC clips again
    disk = reread(prepare("savee", root, tmp_path / "data").path)
    assert len(disk.utts) == 4 * 8
    assert disk.utt2emo["DC-n02"] == "neutral" and disk.utt2emo["JK-h01"] == "happiness"
    assert Path(disk.wav_scp["DC-a01"]) == root / "AudioData" / "DC" / "a01.wav"  # first in sorted path order
    err = capsys.readouterr().err
    assert f"{root / 'DC_a01.wav'}: same clip as {root / 'AudioData' / 'DC' / 'a01.wav'}" in err
    assert "skipped 8 files" in err


# --- CREMA-D -------------------------------------------------------------------------------------

ACTORS = (1001, 1002, 1091)


def test_crema_d_built_tree(emodb_wavs, tmp_path, capsys):
    root = build_mini_crema_d(
        tmp_path / "crema", emodb_wavs, actors=ACTORS, demographics={1001: "Male", 1002: "Female", 1091: "Female"}
    )
    audio = root / "AudioWAV"
    shutil.copy(emodb_wavs[0], audio / "1001_DFA_XYZ_XX.wav")  # unknown emotion code
    shutil.copy(emodb_wavs[0], audio / "1092_DFA_ANG_XX.wav")  # no such actor
    shutil.copy(emodb_wavs[0], audio / "1001_DFA_ANG.wav")  # a field missing
    disk = reread(prepare("crema_d", root, tmp_path / "data").path)
    stems = crema_d_stems(ACTORS, ("IEO", "DFA"))
    assert disk.utts == sorted(stems) and len(stems) == 3 * (5 * 3 + 1 + 6)
    assert disk.speakers == ["1001", "1002", "1091"]
    assert disk.utt2emo["1002_IEO_HAP_HI"] == "happy" and disk.utt2emo["1091_DFA_SAD_XX"] == "sad"
    assert set(disk.utt2emo.values()) == {"anger", "disgust", "fear", "happy", "neutral", "sad"}
    assert disk.maps["utt2gender"]["1001_DFA_ANG_XX"] == "m" and disk.maps["utt2gender"]["1091_IEO_NEU_XX"] == "f"
    assert disk.maps["text"]["1001_DFA_ANG_XX"] == "Don't forget a jacket"
    assert disk.maps["text"]["1001_IEO_FEA_LO"] == "It's eleven o'clock"
    intensity = _map(tmp_path / "data" / "utt2intensity")
    assert intensity["1001_IEO_FEA_LO"] == "low" and intensity["1002_IEO_DIS_MD"] == "medium"
    assert intensity["1091_DFA_FEA_XX"] == "unspecified"
    assert _map(tmp_path / "data" / "utt2sentence")["1001_IEO_FEA_LO"] == "IEO"
    err = capsys.readouterr().err
    assert "1001_DFA_XYZ_XX.wav: unknown emotion 'XYZ'" in err
    assert "1092_DFA_ANG_XX.wav: unknown actor '1092'" in err
    assert "1001_DFA_ANG.wav: name does not follow the CREMA-D pattern" in err
    assert ".mp3" not in err  # the AudioMP3 copies are not read
    assert "skipped 3 files or rows" in err


def test_crema_d_genders_only_when_every_actor_is_known(emodb_wavs, tmp_path, capsys):
    root = build_mini_crema_d(
        tmp_path / "crema", emodb_wavs, actors=ACTORS, sentences=("TSI",),
        demographics={1001: "Male", 1002: "unknown"},  # 1002's row unusable, 1091 missing
    )
    disk = reread(prepare("crema_d", root, tmp_path / "data").path)
    assert len(disk.utts) == 3 * 6
    assert "utt2gender" not in disk.maps and not (tmp_path / "data" / "utt2gender").exists()
    err = capsys.readouterr().err
    assert f"{root / 'VideoDemographics.csv'}:3: actor 1002: unknown Sex 'unknown'" in err
    assert "no usable row for 2 actor(s) (1002 1091): utt2gender not written" in err
    (root / "VideoDemographics.csv").unlink()
    reread(prepare("crema_d", root, tmp_path / "data").path)
    assert "no VideoDemographics.csv" in capsys.readouterr().err


# --- EMOVO ---------------------------------------------------------------------------------------


def test_emovo_built_tree(emodb_wavs, tmp_path, capsys):
    root = build_mini_emovo(tmp_path / "emovo", emodb_wavs, actors=("f1", "m2", "m3"), sentences=("b1", "n3"))
    shutil.copy(emodb_wavs[0], root / "f1" / "xyz-f1-b1.wav")  # unknown emotion code
    shutil.copy(emodb_wavs[0], root / "f1" / "dis-f4-b1.wav")  # no such actor
    shutil.copy(emodb_wavs[0], root / "f1" / "dis-f1-b1 copia.wav")  # not the EMOVO pattern
    disk = reread(prepare("emovo", root, tmp_path / "data").path)
    assert len(disk.utts) == 3 * 7 * 2
    assert disk.speakers == ["f1", "m2", "m3"]
    assert Counter(disk.utt2emo.values()) == {
        label: 6 for label in ("disgust", "joy", "neutral", "fear", "anger", "surprise", "sadness")
    }
    assert disk.utt2emo["f1-gio-f1-b1"] == "joy" and disk.utt2emo["m3-pau-m3-n3"] == "fear"
    assert disk.maps["utt2gender"]["f1-gio-f1-b1"] == "f" and disk.maps["utt2gender"]["m2-tri-m2-b1"] == "m"
    assert _map(tmp_path / "data" / "utt2sentence")["m3-pau-m3-n3"] == "n3"
    err = capsys.readouterr().err
    assert "xyz-f1-b1.wav: unknown emotion code 'xyz'" in err
    assert "dis-f4-b1.wav: unknown actor 'f4'" in err
    assert "dis-f1-b1 copia.wav: name does not follow the EMOVO pattern" in err
    assert "skipped 3 files" in err


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_prepares_the_new_corpora(emodb_wavs, tmp_path, capsys):
    trees = {
        "tess": build_mini_tess(tmp_path / "tess", emodb_wavs, words=("back",)),
        "savee": build_mini_savee(tmp_path / "savee", emodb_wavs, speakers=("DC", "JE")),
        "crema_d": build_mini_crema_d(tmp_path / "crema", emodb_wavs, actors=(1001, 1002), sentences=("WSI",)),
        "emovo": build_mini_emovo(tmp_path / "emovo", emodb_wavs, sentences=("d1",)),
    }
    expected = {"tess": (14, 2), "savee": (16, 2), "crema_d": (12, 2), "emovo": (14, 2)}
    for corpus, root in trees.items():
        assert main(["prepare", corpus, str(root), str(tmp_path / f"data_{corpus}")]) == 0, corpus
        utts, speakers = expected[corpus]
        assert f"{utts} utterances, {speakers} speakers" in capsys.readouterr().out
    assert main(["prepare", "emovo", str(tmp_path / "nowhere"), str(tmp_path / "d")]) != 0
    assert "voice.fub.it" in capsys.readouterr().err
