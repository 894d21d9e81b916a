"""Fold plans: speaker-disjointness on EmoDB, the IEMOCAP session-partner rule, sessions, k groups, tampering."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from ser.datadir import DataDir
from ser.errors import SerError
from ser.folds import FoldError, build_plan, make_folds, read_plan, speaker_groups

EMODB_GENDER = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}


def emodb_datadir(emodb_dir: Path) -> DataDir:
    """A data dir built straight from EmoDB file names (`03a01Fa.wav`: speaker 03, emotion F)."""
    wavs = sorted(emodb_dir.glob("*.wav"))
    wav_scp = {w.stem: str(w) for w in wavs}
    utt2spk = {u: u[:2] for u in wav_scp}
    utt2emo = {u: u[5] for u in wav_scp}
    utt2gender = {u: EMODB_GENDER[u[:2]] for u in wav_scp}
    return DataDir(maps={"wav.scp": wav_scp, "utt2spk": utt2spk, "utt2emo": utt2emo, "utt2gender": utt2gender})


def synthetic_datadir(spk_sessions: dict[str, str | None], per_spk: int = 4, classes=("ang", "hap", "neu", "sad")) -> DataDir:
    utt2spk, utt2emo, utt2session = {}, {}, {}
    for spk, sess in spk_sessions.items():
        for i in range(per_spk):
            utt = f"{spk}_u{i:03d}"
            utt2spk[utt] = spk
            utt2emo[utt] = classes[i % len(classes)]
            if sess is not None:
                utt2session[utt] = sess
    maps = {"wav.scp": {u: f"/nowhere/{u}.wav" for u in utt2spk}, "utt2spk": utt2spk, "utt2emo": utt2emo}
    if utt2session:
        maps["utt2session"] = utt2session
    return DataDir(maps=maps)


def iemocap_like() -> DataDir:
    return synthetic_datadir({f"Ses0{s}{g}": f"Ses0{s}" for s in range(1, 6) for g in "FM"})


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_emodb_loso_folds_are_speaker_disjoint(emodb_dir, tmp_path):
    data = emodb_datadir(emodb_dir)
    assert len(data.utts) == 535
    plan = make_folds(data, "loso", tmp_path / "folds")
    speakers = sorted(EMODB_GENDER)
    assert plan.names == speakers
    all_utts = set(data.utt2spk)
    tested = []
    for fold in plan.folds:
        folder = tmp_path / "folds" / fold.name
        parts = {p: read_lines(folder / p) for p in ("train", "valid", "test")}
        for p, utts in parts.items():
            assert utts == sorted(utts) and len(set(utts)) == len(utts), p
        spk = {p: {data.utt2spk[u] for u in utts} for p, utts in parts.items()}
        assert spk["test"] == {fold.name}  # exactly one speaker, the fold's name
        assert len(spk["valid"]) == 1 and spk["valid"] != spk["test"]
        assert not spk["train"] & (spk["test"] | spk["valid"])
        assert set(parts["train"]) | set(parts["valid"]) | set(parts["test"]) == all_utts
        assert len(parts["train"]) + len(parts["valid"]) + len(parts["test"]) == 535
        tested += parts["test"]
    assert sorted(tested) == sorted(all_utts)  # every utterance tested exactly once
    # validation rule: next speaker in sorted order, cyclically; each speaker validates once
    valid = {f.name: f.valid_speakers[0] for f in plan.folds}
    assert valid["03"] == "08" and valid["15"] == "16" and valid["16"] == "03"
    assert sorted(valid.values()) == speakers
    assert all(f.validation == "next-speaker" for f in plan.folds)
    # speaker 08 has no disgust: allowed, and noted
    assert plan.fold("08").missing_test_classes == ["E"]
    assert [f.name for f in plan.folds if f.missing_test_classes] == ["08"]
    meta = yaml.safe_load((tmp_path / "folds" / "plan.yaml").read_text())
    assert meta["kind"] == "loso" and meta["num_folds"] == 10 and meta["num_utterances"] == 535
    assert meta["folds"][0]["name"] == "03"  # stays a string
    assert "- '08'" in (tmp_path / "folds" / "plan.yaml").read_text()  # quoted for YAML 1.2 readers too
    assert meta["folds"][1]["missing_test_classes"] == ["E"]
    assert any(n.startswith("fold 08: no test utterances of class E") for n in meta["notes"])
    assert (tmp_path / "folds" / ".done").is_file()
    # read back: same plan, re-checked
    back = read_plan(tmp_path / "folds", data)
    assert back.names == plan.names and back.kind == "loso"
    for a, b in zip(plan.folds, back.folds):
        assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)
        assert (a.train_speakers, a.valid_speakers, a.test_speakers) == (b.train_speakers, b.valid_speakers, b.test_speakers)
    assert back.fold("08").missing_test_classes == ["E"]


def test_two_validation_speakers_of_both_genders(emodb_dir, tmp_path, capsys):
    """--valid-speakers 2: the two speakers after the test speaker, the second swapped for the next speaker of
    the other gender when both share one; speaker-disjoint, every utterance tested once, recorded in plan.yaml."""
    from ser.cli import main

    data = emodb_datadir(emodb_dir)
    plan = build_plan(data, "loso", valid_speakers=2)
    valid = {f.name: f.valid_speakers for f in plan.folds}
    assert valid["03"] == ["08", "10"]  # 08 f, 09 f -> 09 swapped for 10 m
    assert valid["10"] == ["11", "13"]  # 11 m, 12 m -> 12 swapped for 13 f
    assert valid["15"] == ["03", "16"]  # 16 f, 03 m already mixed (sorted in the fold)
    for fold in plan.folds:
        assert len(fold.valid_speakers) == 2 and fold.name not in fold.valid_speakers
        assert {EMODB_GENDER[s] for s in fold.valid_speakers} == {"f", "m"}
        assert not set(fold.train_speakers) & set(fold.valid_speakers) and fold.validation == "next-2-speakers"
    assert sorted(u for f in plan.folds for u in f.test) == sorted(data.utts)
    data.write(tmp_path / "data")
    assert main(["make-folds", str(tmp_path / "data"), str(tmp_path / "folds"), "--valid-speakers", "2"]) == 0
    meta = yaml.safe_load((tmp_path / "folds" / "plan.yaml").read_text())
    assert meta["options"]["valid_speakers"] == 2 and "next-2-speakers" in meta["validation_rule"]
    back = read_plan(tmp_path / "folds", DataDir.read(tmp_path / "data"))
    assert [f.valid_speakers for f in back.folds] == [f.valid_speakers for f in plan.folds]
    with pytest.raises(FoldError, match="leave no training speaker"):
        build_plan(data, "loso", valid_speakers=9)
    with pytest.raises(FoldError, match="kind 'loso' only"):
        build_plan(data, "kfold-speakers", groups=5, valid_speakers=2)


def test_iemocap_session_partner_is_validation():
    data = iemocap_like()
    plan = build_plan(data, "loso")
    assert len(plan.folds) == 10
    for fold in plan.folds:
        session = fold.name[:5]
        partner = session + ("M" if fold.name.endswith("F") else "F")
        assert fold.valid_speakers == [partner]
        assert fold.validation == "session-partner"
        assert fold.test_sessions == [session]
        # train = the four other sessions
        assert {s[:5] for s in fold.train_speakers} == {f"Ses0{i}" for i in range(1, 6)} - {session}
        assert len(fold.train_speakers) == 8


def test_session_rule_falls_back_to_next_speaker():
    # session X has three speakers, Y has one; Z has a pair
    data = synthetic_datadir({"a": "X", "b": "X", "c": "X", "d": "Y", "e": "Z", "f": "Z"})
    plan = build_plan(data, "loso")
    by = {f.name: f for f in plan.folds}
    assert by["a"].valid_speakers == ["b"] and by["a"].validation == "next-speaker"
    assert by["d"].valid_speakers == ["e"] and by["d"].validation == "next-speaker"
    assert by["e"].valid_speakers == ["f"] and by["e"].validation == "session-partner"
    assert by["f"].valid_speakers == ["e"] and by["f"].validation == "session-partner"


def test_leave_one_session_out(tmp_path):
    data = iemocap_like()
    plan = make_folds(data, "loso-session", tmp_path / "f")
    assert plan.names == [f"Ses0{i}" for i in range(1, 6)]
    for i, fold in enumerate(plan.folds):
        sess = fold.name
        nxt = f"Ses0{i % 5 + 2}" if i < 4 else "Ses01"
        assert fold.test_speakers == [sess + "F", sess + "M"]
        assert fold.valid_speakers == [nxt + "F", nxt + "M"]
        assert fold.valid_sessions == [nxt]
        assert len(fold.train_speakers) == 6
    back = read_plan(tmp_path / "f", data)
    assert back.kind == "loso-session" and back.fold("Ses05").valid_sessions == ["Ses01"]
    # sessions must be speaker-disjoint
    bad = synthetic_datadir({"a": "X", "b": "Y", "c": "Z"})
    bad.maps["utt2session"]["a_u000"] = "Y"
    with pytest.raises(FoldError, match="speaker 'a' appears in sessions"):
        build_plan(bad, "loso-session")
    with pytest.raises(FoldError, match="needs utt2session"):
        build_plan(synthetic_datadir({"a": None, "b": None, "c": None}), "loso-session")


def test_kfold_speaker_groups(tmp_path):
    actors = {f"{i:02d}": None for i in range(1, 25)}  # RAVDESS-like: 24 actors, 6 folds of 4
    data = synthetic_datadir(actors, per_spk=2)
    plan = make_folds(data, "kfold-speakers", tmp_path / "f", groups=6)
    assert plan.names == ["g1", "g2", "g3", "g4", "g5", "g6"]
    assert plan.fold("g1").test_speakers == ["01", "02", "03", "04"]
    assert plan.fold("g1").valid_speakers == ["05", "06", "07", "08"]
    assert plan.fold("g6").test_speakers == ["21", "22", "23", "24"]
    assert plan.fold("g6").valid_speakers == plan.fold("g1").test_speakers
    for fold in plan.folds:
        assert len(fold.train_speakers) == 16
        assert not set(fold.train_speakers) & (set(fold.test_speakers) | set(fold.valid_speakers))
    meta = yaml.safe_load((tmp_path / "f" / "plan.yaml").read_text())
    assert meta["options"]["groups"] == 6 and meta["options"]["speaker_groups"]["g2"] == ["05", "06", "07", "08"]
    assert [len(g) for g in speaker_groups([str(i) for i in range(10)], 3)] == [4, 3, 3]
    assert build_plan(synthetic_datadir({f"s{i:02d}": None for i in range(12)}, 1), "kfold-speakers", groups=12).names[0] == "g01"
    with pytest.raises(FoldError, match="--groups"):
        build_plan(data, "kfold-speakers")
    with pytest.raises(FoldError, match="only 24 speakers"):
        build_plan(data, "kfold-speakers", groups=25)
    # rewriting the same dir with another kind removes the old plan's fold dirs
    make_folds(data, "loso", tmp_path / "f")
    assert not (tmp_path / "f" / "g1").exists() and (tmp_path / "f" / "01" / "test").is_file()


def test_too_few_speakers_and_unknown_kind():
    with pytest.raises(FoldError, match="at least 3 speakers"):
        build_plan(synthetic_datadir({"a": None, "b": None}), "loso")
    with pytest.raises(FoldError, match="unknown fold kind"):
        build_plan(synthetic_datadir({"a": None, "b": None, "c": None}), "random")
    assert issubclass(FoldError, SerError)


def test_read_plan_detects_tampered_overlap(tmp_path):
    data = synthetic_datadir({s: None for s in "abcde"})
    make_folds(data, "loso", tmp_path / "f")
    assert read_plan(tmp_path / "f", data).fold("a").valid_speakers == ["b"]
    train = tmp_path / "f" / "a" / "train"
    lines = read_lines(train)
    # move one of the test speaker's utterances into train: plan.yaml still claims it is fine
    train.write_text("\n".join(sorted(lines + ["a_u000"])) + "\n")
    with pytest.raises(FoldError, match=r"fold a: .*utterance 'a_u000' is in both train and test"):
        read_plan(tmp_path / "f", data)
    # a different utterance of the test speaker (not a duplicate line): speaker overlap
    test = tmp_path / "f" / "a" / "test"
    test.write_text("\n".join(u for u in read_lines(test) if u != "a_u000") + "\n")
    with pytest.raises(FoldError, match=r"speaker\(s\) \['a'\] in both train and test"):
        read_plan(tmp_path / "f", data)
    # valid speaker leaking into train of another fold
    make_folds(data, "loso", tmp_path / "g")
    (tmp_path / "g" / "c" / "train").write_text("\n".join(read_lines(tmp_path / "g" / "c" / "train") + ["d_u001"]) + "\n")
    (tmp_path / "g" / "c" / "valid").write_text("d_u000\n")
    with pytest.raises(FoldError, match="in both train and valid"):
        read_plan(tmp_path / "g", data)


def test_read_plan_unknown_utterances(tmp_path):
    data = synthetic_datadir({s: None for s in "abc"})
    make_folds(data, "loso", tmp_path / "f")
    smaller = data.subset_utts(u for u in data.utt2spk if u != "b_u001")  # e.g. a features dir missing a failed file
    with pytest.raises(FoldError, match="b_u001"):
        read_plan(tmp_path / "f", smaller)
    plan = read_plan(tmp_path / "f", smaller, allow_missing=True)
    assert plan.fold("b").dropped == 1 and "b_u001" not in plan.fold("b").test
    with pytest.raises(FoldError, match="no fold plan"):
        read_plan(tmp_path / "nothing", data)


def test_make_folds_command(emodb_dir, tmp_path, capsys):
    from ser.commands import make_folds as cmd

    data = emodb_datadir(emodb_dir)
    data.write(tmp_path / "data")
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    assert cmd.EXAMPLES and cmd.NAME == "make-folds"
    rc = cmd.run(parser.parse_args([str(tmp_path / "data"), str(tmp_path / "folds")]))
    assert rc == 0
    out = capsys.readouterr().out
    assert "10 loso folds" in out and "fold 08: no test utterances of class E" in out
    meta = yaml.safe_load((tmp_path / "folds" / "plan.yaml").read_text())
    assert meta["data_dir"] == str(tmp_path / "data")
    assert read_plan(tmp_path / "folds", DataDir.read(tmp_path / "data")).names[0] == "03"
    with pytest.raises(SerError, match="--groups"):
        cmd.run(parser.parse_args([str(tmp_path / "data"), str(tmp_path / "x"), "--groups", "3"]))
    rc = cmd.run(parser.parse_args([str(tmp_path / "data"), str(tmp_path / "k"), "--kind", "kfold-speakers", "--groups", "5"]))
    assert rc == 0 and (tmp_path / "k" / "g5" / "test").is_file()
