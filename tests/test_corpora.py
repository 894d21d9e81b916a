"""Corpus preparation: EmoDB on the real corpus; RAVDESS and IEMOCAP on miniature trees built by
tests/corpus_builders.py (real EmoDB audio under their names); wavdir; and `ser prepare`."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

from corpus_builders import (
    UNPARSABLE_LINES_PER_DIALOG,
    build_mini_iemocap,
    build_mini_ravdess,
    iemocap_turns,
)
from ser.cli import main
from ser.commands import prepare as prepare_command
from ser.corpora import PREPARERS, prepare
from ser.corpora import iemocap as iemocap_mod
from ser.datadir import DataDir
from ser.errors import SerError


@pytest.fixture(scope="module")
def emodb_wavs(emodb_dir: Path) -> list[Path]:
    """A dozen real EmoDB recordings to copy into built trees."""
    return sorted(emodb_dir.glob("*.wav"))[:12]


def reread(data: DataDir) -> DataDir:
    """The data dir as written on disk, validated."""
    on_disk = DataDir.read(data.path)
    on_disk.validate()
    return on_disk


# --- EmoDB (real corpus) -----------------------------------------------------------------------


def test_emodb_real_corpus(emodb_dir, tmp_path, capsys):
    data = prepare("emodb", emodb_dir, tmp_path / "emodb")
    disk = reread(data)
    assert len(disk.utts) == 535
    assert disk.speakers == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    counts = Counter(disk.utt2emo.values())
    assert counts == {
        "anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79,
    }
    assert "disgust" not in {disk.utt2emo[u] for u in disk.spk2utt()["08"]}
    genders = {disk.utt2spk[u]: g for u, g in disk.maps["utt2gender"].items()}
    assert genders == {
        "03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f", "14": "f", "15": "m", "16": "f",
    }
    assert disk.utt2spk["03a01Fa"] == "03" and disk.utt2emo["03a01Fa"] == "happiness"
    assert all(Path(w).is_absolute() for w in disk.wav_scp.values())
    assert (tmp_path / "emodb" / "utt2sentence").read_text().startswith("03a01Fa a01\n")
    err = capsys.readouterr().err
    assert "535 utterances, 10 speakers" in err and "anger 127" in err and "disgust 46" in err


def test_emodb_bad_names_reported_and_skipped(emodb_wavs, tmp_path, capsys):
    corpus = tmp_path / "corpus" / "wav"
    corpus.mkdir(parents=True)
    for wav in emodb_wavs[:3]:
        shutil.copy(wav, corpus / wav.name)
    shutil.copy(emodb_wavs[0], corpus / "03a01Xa.wav")  # unknown emotion letter
    shutil.copy(emodb_wavs[0], corpus / "recording.wav")  # not the EmoDB pattern
    (corpus / "README.txt").write_text("not audio")
    data = prepare("emodb", tmp_path / "corpus", tmp_path / "data")
    assert data.utts == sorted(w.stem for w in emodb_wavs[:3])
    err = capsys.readouterr().err
    assert "03a01Xa.wav: unknown emotion letter 'X'" in err
    assert "recording.wav: name does not follow the EmoDB pattern" in err
    assert "skipped 2 files" in err
    reread(data)


def test_emodb_reprepare_removes_stale_maps(emodb_wavs, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for wav in emodb_wavs[:2]:
        shutil.copy(wav, corpus / wav.name)
    out = tmp_path / "data"
    out.mkdir()
    (out / "utt2turn").write_text("zz-old 3\n")  # left by an earlier preparation
    (out / "text").write_text("zz-old hello\n")
    prepare("emodb", corpus, out)
    assert not (out / "utt2turn").exists() and not (out / "text").exists()
    reread(DataDir.read(out))


def test_missing_corpus_dir_says_what_to_pass(tmp_path):
    with pytest.raises(SerError) as info:
        prepare("emodb", tmp_path / "nowhere", tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and "emodb.bilderbar.info" in message
    assert not (tmp_path / "data").exists()


def test_empty_corpus_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SerError, match="no usable utterances"):
        prepare("emodb", tmp_path / "empty", tmp_path / "data")


def test_option_that_does_not_apply_is_an_error(tmp_path):
    with pytest.raises(SerError, match="classes"):
        prepare("emodb", tmp_path, tmp_path / "data", classes="all")
    with pytest.raises(SerError, match="unknown corpus"):
        prepare("timit", tmp_path, tmp_path / "data")


# --- RAVDESS (built tree) ----------------------------------------------------------------------


def test_ravdess_built_tree(emodb_wavs, tmp_path, capsys):
    root = build_mini_ravdess(tmp_path / "ravdess", emodb_wavs, actors=(1, 2, 12), song=True)
    shutil.copy(root / "Actor_01" / "03-01-01-01-01-01-01.wav", root / "Actor_01" / "03-01-09-01-01-01-01.wav")
    (root / "Actor_01" / "take2.wav").write_bytes(b"RIFF")
    data = prepare("ravdess", root, tmp_path / "data")
    disk = reread(data)
    speech_per_actor = 2 * 8 - 1  # neutral has no strong intensity
    assert len(disk.utts) == 3 * speech_per_actor
    assert disk.speakers == ["Actor_01", "Actor_02", "Actor_12"]
    utt = "Actor_12-03-01-05-02-01-01-12"
    assert disk.utt2spk[utt] == "Actor_12"
    assert disk.utt2emo[utt] == "angry"
    assert disk.maps["utt2gender"][utt] == "f"
    assert disk.maps["utt2gender"]["Actor_01-03-01-01-01-01-01-01"] == "m"
    assert disk.maps["text"][utt] == "Kids are talking by the door"
    assert (tmp_path / "data" / "utt2intensity").read_text().count("strong") == 3 * 7
    assert set(disk.utt2emo.values()) == {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}
    assert Path(disk.wav_scp[utt]) == root / "Actor_12" / "03-01-05-02-01-01-12.wav"
    err = capsys.readouterr().err
    assert "03-01-09-01-01-01-01.wav: unknown emotion '09'" in err
    assert "take2.wav: name does not follow the RAVDESS pattern" in err
    assert "3 audio-video files" in err and "3 video-only files" in err and "18 song files" in err


def test_ravdess_include_song(emodb_wavs, tmp_path):
    root = build_mini_ravdess(tmp_path / "ravdess", emodb_wavs, actors=(3,), song=True, video_files_per_actor=0)
    disk = reread(prepare("ravdess", root, tmp_path / "data", include_song=True))
    channels = Counter(_read(tmp_path / "data" / "utt2channel").values())
    assert channels == {"speech": 15, "song": 6}
    assert disk.utt2spk["Actor_03-03-02-06-01-01-01-03"] == "Actor_03"


def _read(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


# --- IEMOCAP (built tree) ----------------------------------------------------------------------

SESSIONS, DIALOGS, TURNS = 2, 2, 8


@pytest.fixture(scope="module")
def mini_iemocap(emodb_wavs, tmp_path_factory) -> Path:
    return build_mini_iemocap(
        tmp_path_factory.mktemp("iemocap"),
        emodb_wavs,
        sessions=SESSIONS,
        dialogs_per_session=DIALOGS,
        turns_per_speaker=TURNS,
    )


@pytest.fixture(scope="module")
def spec():
    return {t.utt: t for t in iemocap_turns(SESSIONS, DIALOGS, TURNS)}


def test_iemocap_builder_is_faithful(mini_iemocap, spec):
    """The tree has the quirks the preparer must handle (checked so the builder cannot drift)."""
    eval_file = mini_iemocap / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    text = eval_file.read_text()
    headers = [line for line in text.splitlines() if line.startswith("[")]
    starts = [float(h[1 : h.index(" ")]) for h in headers]
    assert starts != sorted(starts) and max(starts) > 100
    assert "\tSes01F_impro01_M000\t" in text and "dom  2;" in text and "\nC-E2:\t" in text
    codes = Counter(t.code for t in spec.values())
    assert codes["xxx"] and codes["exc"] and codes["fru"] and codes["hap"]
    assert (mini_iemocap / "Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F003.wav").is_file()


def test_iemocap_four_classes(mini_iemocap, spec, tmp_path, capsys):
    data = prepare("iemocap", mini_iemocap.parent, tmp_path / "data")  # the folder holding the release
    disk = reread(data)
    kept = {u: t for u, t in spec.items() if t.code in ("neu", "hap", "exc", "sad", "ang")}
    assert disk.utts == sorted(kept)
    assert disk.speakers == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    mapping = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}
    assert disk.utt2emo == {u: mapping[t.code] for u, t in kept.items()}
    full = disk.maps["utt2emo_full"]
    assert {full[u] for u, t in kept.items() if t.code == "exc"} == {"excited"}
    assert not any(t.code in ("xxx", "fru") for u, t in spec.items() if u in disk.utt2spk)
    # the cross-gender case: the male of session 1 speaking in an F dialogue
    utt = "Ses01M-Ses01F_impro01_M000"
    assert disk.utt2spk[utt] == "Ses01M" and disk.maps["utt2gender"][utt] == "m"
    assert disk.maps["utt2dialog"][utt] == "Ses01F_impro01" and disk.maps["utt2session"][utt] == "Ses01"
    assert iemocap_mod.original_name(utt) == "Ses01F_impro01_M000"
    assert Path(disk.wav_scp[utt]) == mini_iemocap / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M000.wav"
    # turn order: position by start time among ALL labelled turns of the dialogue (xxx/fru included)
    assert {u: int(v) for u, v in disk.maps["utt2turn"].items()} == {u: t.time_index for u, t in kept.items()}
    assert disk.maps["text"] == {u: t.text for u, t in kept.items()}
    assert disk.maps["utt2gender"]["Ses02F-Ses02M_script01_1_F000"] == "f"
    times = _read(tmp_path / "data" / "utt2time")
    assert times[utt] == f"{spec[utt].start:.4f} {spec[utt].end:.4f}"
    err = capsys.readouterr().err
    dialogs = SESSIONS * DIALOGS
    assert f"skipped {UNPARSABLE_LINES_PER_DIALOG * dialogs} transcription lines" in err
    assert "xxx 8" in err and "fru 8" in err


def test_iemocap_all_and_six_classes(mini_iemocap, spec, tmp_path):
    everything = reread(prepare("iemocap", mini_iemocap, tmp_path / "all", classes="all"))
    assert everything.utts == sorted(spec)
    assert {everything.utt2emo[u] for u, t in spec.items() if t.code == "xxx"} == {"ambiguous"}
    assert {everything.utt2emo[u] for u, t in spec.items() if t.code == "exc"} == {"excited"}
    six = reread(prepare("iemocap", mini_iemocap, tmp_path / "six", classes="6"))
    assert set(six.utt2emo.values()) == {"neutral", "happy", "excited", "sad", "angry", "frustrated"}
    assert len(six.utts) == sum(t.code != "xxx" for t in spec.values())
    with pytest.raises(SerError, match="class set"):
        prepare("iemocap", mini_iemocap, tmp_path / "bad", classes="5")


def test_iemocap_recipe_shape(emodb_wavs, tmp_path):
    """The shape recipe tests build: 2 sessions x 2 speakers, 8 utterances per speaker, all 4 classes."""
    release = build_mini_iemocap(tmp_path, emodb_wavs, sessions=2, dialogs_per_session=2, turns_per_speaker=6)
    disk = reread(prepare("iemocap", release, tmp_path / "data"))
    for spk, utts in disk.spk2utt().items():
        assert len(utts) == 8
        assert Counter(disk.utt2emo[u] for u in utts) == {"neutral": 2, "happy": 2, "sad": 2, "angry": 2}, spk


def test_iemocap_missing_wav_is_reported(emodb_wavs, tmp_path, capsys):
    release = build_mini_iemocap(tmp_path, emodb_wavs, turns_per_speaker=4)
    missing = release / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F003.wav"
    missing.unlink()
    disk = reread(prepare("iemocap", release, tmp_path / "data"))
    assert "Ses01F-Ses01F_impro01_F003" not in disk.utt2spk
    assert "Ses01F-Ses01F_impro01_F000" in disk.utt2spk
    assert f"skipping {missing}: labelled turn has no wav file" in capsys.readouterr().err


def test_iemocap_not_a_release(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(SerError, match="IEMOCAP_full_release"):
        prepare("iemocap", tmp_path / "stuff", tmp_path / "data")


# --- wavdir ------------------------------------------------------------------------------------


@pytest.fixture
def clips(emodb_wavs, tmp_path) -> Path:
    """clips/{spk-A/a_happy.wav, spk-A/b_sad.WAV, spkB/sub/c_angry.flac, d_neutral.wav, e_x.wav, noise}."""
    root = tmp_path / "clips"
    (root / "spk-A").mkdir(parents=True)
    (root / "spkB" / "sub").mkdir(parents=True)
    shutil.copy(emodb_wavs[0], root / "spk-A" / "a_happy.wav")
    shutil.copy(emodb_wavs[1], root / "spk-A" / "b_sad.WAV")
    samples, rate = sf.read(emodb_wavs[2])
    sf.write(root / "spkB" / "sub" / "c_angry.flac", samples, rate)
    shutil.copy(emodb_wavs[3], root / "d_neutral.wav")
    shutil.copy(emodb_wavs[4], root / "e 1.wav")
    (root / "notes.txt").write_text("not audio")
    (root / "spk-A" / "._a_happy.wav").write_bytes(b"\x00\x05\x16\x07 resource fork")
    return root


def test_wavdir_without_labels(clips, tmp_path):
    disk = reread(prepare("wavdir", clips, tmp_path / "data"))
    assert disk.utt2spk == {
        "spk_A-spk-A-a_happy": "spk_A",
        "spk_A-spk-A-b_sad": "spk_A",
        "sub-spkB-sub-c_angry": "sub",
        "clips-d_neutral": "clips",
        "clips-e_1": "clips",
    }
    assert "utt2emo" not in disk.maps and not (tmp_path / "data" / "utt2emo").exists()
    assert Path(disk.wav_scp["clips-e_1"]) == clips / "e 1.wav"


def test_wavdir_csv_labels(clips, tmp_path, capsys):
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text(
        "Path,Emotion,comment\n"
        "spk-A/a_happy.wav,Happy,by relative path\n"
        "b_sad.WAV,sad,by base name\n"
        "spkB/sub/c_angry,angry,relative path without extension\n"
        "missing.wav,angry,no such file\n"
    )
    disk = reread(prepare("wavdir", clips, tmp_path / "data", labels=csv_file))
    assert disk.utt2emo == {"spk_A-spk-A-a_happy": "happy", "spk_A-spk-A-b_sad": "sad", "sub-spkB-sub-c_angry": "angry"}
    err = capsys.readouterr().err
    assert "'missing.wav' names no audio file" in err
    assert "2 x not labelled in" in err


def test_wavdir_regex_labels_and_speakers(clips, tmp_path, capsys):
    disk = reread(
        prepare(
            "wavdir",
            clips,
            tmp_path / "data",
            label_regex=r"_(?P<emo>[a-z]+)\.",
            speaker_regex=r"^(?P<spk>[a-z])_",
        )
    )
    assert disk.utt2emo == {
        "a-spk-A-a_happy": "happy", "b-spk-A-b_sad": "sad", "c-spkB-sub-c_angry": "angry", "d-d_neutral": "neutral",
    }
    assert disk.speakers == ["a", "b", "c", "d"]
    assert "e 1.wav: speaker regex" in capsys.readouterr().err


def test_wavdir_bad_options(clips, tmp_path):
    with pytest.raises(SerError, match=r"\(\?P<emo>"):
        prepare("wavdir", clips, tmp_path / "data", label_regex=r"_([a-z]+)\.")
    with pytest.raises(SerError, match="not both"):
        prepare("wavdir", clips, tmp_path / "data", label_regex=r"(?P<emo>x)", labels=tmp_path / "x.csv")
    with pytest.raises(SerError, match="labels CSV does not exist"):
        prepare("wavdir", clips, tmp_path / "data", labels=tmp_path / "x.csv")
    with pytest.raises(SerError, match="give it with labels"):
        prepare("wavdir", clips, tmp_path / "data", label_map="ravdess")
    with pytest.raises(SerError, match="neither a file nor a shipped map"):
        prepare("wavdir", clips, tmp_path / "data", label_regex=r"_(?P<emo>[a-z]+)\.", label_map=tmp_path / "no.yaml")


@pytest.fixture
def savee_like(emodb_dir, tmp_path) -> Path:
    """A flat folder of SAVEE-style names (speaker_code+number), real EmoDB audio, one file per code."""
    root = tmp_path / "flat"
    root.mkdir()
    wavs = sorted(emodb_dir.glob("*.wav"))
    for wav, name in zip(wavs, ["DC_a01", "DC_sa02", "JE_su01", "JE_n01", "JE_x01", "KL_d01", "KL_Sa03"]):
        shutil.copy(wav, root / f"{name}.wav")
    return root


def test_wavdir_label_map(savee_like, tmp_path, capsys):
    codes = tmp_path / "codes.yaml"
    codes.write_text("# SAVEE-style prefixes\na: anger\nsa: sadness\nsu: surprise\nn: neutral\nd: null\n")
    disk = reread(
        prepare(
            "wavdir",
            savee_like,
            tmp_path / "data",
            label_regex=r"_(?P<emo>[A-Za-z]+)\d\d\.wav$",
            speaker_regex=r"^(?P<spk>[A-Z]+)_",
            label_map=codes,
        )
    )
    assert disk.utt2emo == {
        "DC-DC_a01": "anger", "DC-DC_sa02": "sadness", "JE-JE_n01": "neutral", "JE-JE_su01": "surprise",
        "KL-KL_Sa03": "sadness",  # codes are lower-cased before the map is looked up
    }
    err = capsys.readouterr().err
    assert f"{savee_like / 'JE_x01.wav'}: label 'x' is not in the label map {codes}" in err
    assert "dropped (null in the label map" in err and "d 1" in err
    assert "ONE speaker" not in err


def test_wavdir_shipped_label_map_and_cli(clips, tmp_path, capsys):
    disk = reread(prepare("wavdir", clips, tmp_path / "data", label_regex=r"_(?P<emo>[a-z]+)\.", label_map="ravdess"))
    assert sorted(disk.utt2emo.values()) == ["anger", "happiness", "neutral", "sadness"]
    codes = tmp_path / "codes.yaml"
    codes.write_text("happy: joy\nsad: sorrow\nangry: null\nneutral: neutral\n")  # free target names
    args = ["prepare", "wavdir", "--label-regex", r"_(?P<emo>[a-z]+)\.", "--label-map", str(codes)]
    assert main([*args, str(clips), str(tmp_path / "cli")]) == 0
    assert sorted(DataDir.read(tmp_path / "cli").utt2emo.values()) == ["joy", "neutral", "sorrow"]
    codes.write_text("yes: happiness\n")
    assert main([*args, str(clips), str(tmp_path / "cli2")]) != 0
    assert "quote such labels" in capsys.readouterr().err


def test_wavdir_one_speaker_warning(emodb_dir, tmp_path, capsys):
    flat = tmp_path / "clips"
    flat.mkdir()
    for spk in ("03", "08", "09"):
        shutil.copy(sorted(emodb_dir.glob(f"{spk}*.wav"))[0], flat)
    data = prepare("wavdir", flat, tmp_path / "data")
    assert data.speakers == ["clips"]
    err = capsys.readouterr().err
    assert "warning: all 3 clips have ONE speaker, 'clips'" in err
    assert "all the files are in one folder" in err
    assert "per-speaker normalisation" in err and "--speaker-regex" in err
    data = prepare("wavdir", flat, tmp_path / "data", speaker_regex=r"^(?P<spk>\d\d)")
    assert data.speakers == ["03", "08", "09"]
    assert "ONE speaker" not in capsys.readouterr().err
    prepare("wavdir", flat, tmp_path / "data", speaker_regex=r"^(?P<spk>\d)")
    assert "the speaker regex gives the same speaker for every file" in capsys.readouterr().err


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_corpus_names_match_registry():
    assert set(prepare_command.CORPORA) == set(PREPARERS)


def test_cli_prepare(emodb_dir, mini_iemocap, tmp_path, capsys):
    assert main(["prepare", "emodb", str(emodb_dir), str(tmp_path / "emodb")]) == 0
    assert "535 utterances, 10 speakers" in capsys.readouterr().out
    assert DataDir.read(tmp_path / "emodb").problems() == []
    assert main(["prepare", "iemocap", "--classes", "all", str(mini_iemocap), str(tmp_path / "iemocap")]) == 0
    assert len(DataDir.read(tmp_path / "iemocap").utts) == SESSIONS * DIALOGS * 2 * TURNS


def test_cli_bad_corpus_path(tmp_path, capsys):
    missing = tmp_path / "no" / "emodb"
    assert main(["prepare", "emodb", str(missing), str(tmp_path / "data")]) != 0
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    assert main(["prepare", "ravdess", "--classes", "4", str(tmp_path), str(tmp_path / "data")]) != 0
    assert "--classes" in capsys.readouterr().err
