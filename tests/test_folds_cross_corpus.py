"""Folds over a combined data dir: leave-one-corpus-out (`loco`) and LOSO, on the real EmoDB + RAVDESS dirs
(prepared from file names and combined by ser.combine, 6 shared classes; well under a second)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from conftest import require_data
from ser.combine import combine
from ser.corpora import emodb, ravdess
from ser.datadir import DataDir
from ser.folds import FoldError, build_plan, corpus_validation_speakers, make_folds, read_plan

SIX = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
PARTS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def dirs(emodb_dir, tmp_path_factory) -> dict[str, Path]:
    """Prepared EmoDB and RAVDESS data dirs and their 6-class combination `acted6`."""
    root = tmp_path_factory.mktemp("data")
    emodb.prepare(emodb_dir, root / "emodb")
    ravdess.prepare(require_data("ravdess"), root / "ravdess")
    combine(root / "acted6", [str(root / "emodb"), str(root / "ravdess")], classes=",".join(SIX))
    return {"emodb": root / "emodb", "ravdess": root / "ravdess", "acted6": root / "acted6"}


def read_parts(folder: Path) -> dict[str, list[str]]:
    return {p: (folder / p).read_text(encoding="utf-8").splitlines() for p in PARTS}


def test_loco_on_real_emodb_and_ravdess(dirs, tmp_path):
    data = DataDir.read(dirs["acted6"])
    corpus_of, spk_of, gender_of = data.maps["utt2corpus"], data.utt2spk, data.maps["utt2gender"]
    plan = make_folds(data, "loco", tmp_path / "folds")
    assert plan.names == ["emodb", "ravdess"] and plan.kind == "loco"
    tested: list[str] = []
    sizes = {}
    for fold in plan.folds:
        parts = read_parts(tmp_path / "folds" / fold.name)  # the files on disk are the truth
        corpora = {p: {corpus_of[u] for u in utts} for p, utts in parts.items()}
        speakers = {p: {spk_of[u] for u in utts} for p, utts in parts.items()}
        other = ({"emodb", "ravdess"} - {fold.name}).pop()
        assert corpora["test"] == {fold.name}
        assert corpora["train"] == corpora["valid"] == {other}  # validation from the other corpus only
        assert not speakers["train"] & speakers["valid"]
        # test = every utterance of the held-out corpus
        assert sorted(parts["test"]) == sorted(u for u, c in corpus_of.items() if c == fold.name)
        assert sorted(u for p in PARTS for u in parts[p]) == sorted(data.utt2spk)
        sizes[fold.name] = tuple(len(speakers[p]) for p in ("test", "valid", "train"))
        tested += parts["test"]
    assert sorted(tested) == sorted(data.utt2spk)  # every utterance tested exactly once
    assert sizes == {"emodb": (10, 5, 19), "ravdess": (24, 2, 8)}
    # the rule: ceil(n / 5) speakers evenly spread; EmoDB's spread picks (09, 14) are both female, so 14 -> 15 (m)
    assert plan.fold("emodb").valid_speakers == [f"ravdess.Actor_{a:02d}" for a in (3, 8, 13, 17, 22)]
    assert plan.fold("ravdess").valid_speakers == ["emodb.09", "emodb.15"]
    spk2utt = data.spk2utt()
    for fold in plan.folds:
        assert {gender_of[spk2utt[s][0]] for s in fold.valid_speakers} == {"f", "m"}
    assert all(f.validation == "spread-per-corpus" for f in plan.folds)
    meta = yaml.safe_load((tmp_path / "folds" / "plan.yaml").read_text())
    assert meta["kind"] == "loco" and meta["options"]["corpora"] == {"emodb": 10, "ravdess": 24}
    assert "ceil(n / 5)" in meta["validation_rule"]
    by_name = {f["name"]: f for f in meta["folds"]}
    assert by_name["ravdess"]["test_corpus"] == "ravdess"
    assert by_name["ravdess"]["valid_speakers_by_corpus"] == {"emodb": ["emodb.09", "emodb.15"]}
    assert by_name["emodb"]["counts"] == {"train": 988, "valid": 260, "test": 454}
    back = read_plan(tmp_path / "folds", data)
    assert back.kind == "loco" and [f.test_corpus for f in back.folds] == ["emodb", "ravdess"]
    assert back.fold("ravdess").valid_speakers_by_corpus == {"emodb": ["emodb.09", "emodb.15"]}
    for a, b in zip(plan.folds, back.folds):
        assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)


def test_loco_read_plan_catches_a_corpus_in_train_and_test(dirs, tmp_path):
    data = DataDir.read(dirs["acted6"])
    folds = tmp_path / "folds"
    make_folds(data, "loco", folds)
    # move a whole test speaker into train: still speaker-disjoint, but EmoDB is now in train and test
    parts = read_parts(folds / "emodb")
    moved = [u for u in parts["test"] if data.utt2spk[u] == "emodb.03"]
    (folds / "emodb" / "train").write_text("\n".join(sorted(parts["train"] + moved)) + "\n")
    (folds / "emodb" / "test").write_text("\n".join(u for u in parts["test"] if u not in moved) + "\n")
    with pytest.raises(FoldError, match="fold emodb: corpus 'emodb' is in both train and test"):
        read_plan(folds, data)
    make_folds(data, "loco", folds)
    parts = read_parts(folds / "ravdess")
    moved = [u for u in parts["test"] if data.utt2spk[u] == "ravdess.Actor_01"]
    (folds / "ravdess" / "valid").write_text("\n".join(sorted(parts["valid"] + moved)) + "\n")
    (folds / "ravdess" / "test").write_text("\n".join(u for u in parts["test"] if u not in moved) + "\n")
    with pytest.raises(FoldError, match="fold ravdess: corpus 'ravdess' is in both valid and test"):
        read_plan(folds, data)
    # a loco plan cannot be re-checked without utt2corpus
    make_folds(data, "loco", folds)
    blind = DataDir(maps={k: v for k, v in data.maps.items() if k != "utt2corpus"}, path=data.path)
    with pytest.raises(FoldError, match="a loco plan, but .* has no utt2corpus"):
        read_plan(folds, blind)


def test_loco_refusals(dirs, tmp_path):
    with pytest.raises(FoldError, match="'loco' needs utt2corpus"):
        build_plan(DataDir.read(dirs["emodb"]), "loco")
    combine(tmp_path / "only_emodb", [str(dirs["emodb"])])
    with pytest.raises(FoldError, match=r"at least 2 corpora in utt2corpus; found 1 \(emodb\)"):
        build_plan(DataDir.read(tmp_path / "only_emodb"), "loco")
    # hand-made utt2corpus: a speaker in two corpora; a corpus of one speaker cannot validate
    utt2spk = {f"{s}_u{i}": s for s in ("a1", "a2", "a3", "b1") for i in range(3)}
    maps = {"wav.scp": {u: "/x.wav" for u in utt2spk}, "utt2spk": utt2spk, "utt2corpus": {u: u[0] for u in utt2spk}}
    with pytest.raises(FoldError, match="loco fold a: the other corpora \\(b\\) have one speaker each"):
        build_plan(DataDir(maps=maps), "loco")
    maps["utt2corpus"] = {**maps["utt2corpus"], "a1_u0": "b"}
    with pytest.raises(FoldError, match="speaker 'a1' appears in corpora 'b' and 'a'"):
        build_plan(DataDir(maps=maps), "loco")


def test_corpus_validation_speakers_rule():
    ten = [f"s{i}" for i in range(10)]
    assert corpus_validation_speakers(ten) == ["s2", "s7"]  # k = 2: positions 10 // 4, 30 // 4
    assert corpus_validation_speakers(ten[:6]) == ["s1", "s4"]
    assert corpus_validation_speakers(ten[:4]) == ["s2"]  # k = 1: the middle one
    assert corpus_validation_speakers(ten[:2]) == ["s1"]  # never all speakers: one stays to train
    assert corpus_validation_speakers(ten[:1]) == []
    assert len(corpus_validation_speakers([f"a{i:02d}" for i in range(91)])) == 19  # CREMA-D size
    # genders: picks s2, s7 both 'f' -> s7 becomes the nearest 'm' (s8 and s6 tie: the earlier)
    genders = {s: ("m" if s in ("s0", "s6", "s8") else "f") for s in ten}
    assert corpus_validation_speakers(ten, genders) == ["s2", "s6"]
    assert corpus_validation_speakers(ten, {s: "f" for s in ten}) == ["s2", "s7"]  # one gender: nothing to swap
    partial = {s: g for s, g in genders.items() if s != "s9"}
    assert corpus_validation_speakers(ten, partial) == ["s2", "s7"]  # a speaker of unknown gender: no swap


def test_loso_over_combined_dir_wraps_validation_across_corpora(dirs, tmp_path):
    data = DataDir.read(dirs["acted6"])
    corpus_of = data.maps["utt2corpus"]
    spk_corpus = {s: corpus_of[utts[0]] for s, utts in data.spk2utt().items()}
    plan = make_folds(data, "loso", tmp_path / "folds")
    assert len(plan.folds) == 34 and plan.names == data.speakers
    crossing = {}
    for fold in plan.folds:
        parts = read_parts(tmp_path / "folds" / fold.name)
        speakers = {p: {data.utt2spk[u] for u in utts} for p, utts in parts.items()}
        assert speakers["test"] == {fold.name} and len(speakers["valid"]) == 1
        assert not speakers["train"] & (speakers["test"] | speakers["valid"])
        assert {corpus_of[u] for u in parts["train"]} == {"emodb", "ravdess"}  # a combined model
        valid = fold.valid_speakers[0]
        if spk_corpus[valid] != spk_corpus[fold.name]:
            crossing[fold.name] = valid
    # next-speaker wraps across corpora: only at the two corpus boundaries
    assert crossing == {"emodb.16": "ravdess.Actor_01", "ravdess.Actor_24": "emodb.03"}
    assert sorted(u for f in plan.folds for u in f.test) == sorted(data.utt2spk)
    assert read_plan(tmp_path / "folds", data).fold("emodb.16").valid_speakers == ["ravdess.Actor_01"]


def test_make_folds_command_loco(dirs, tmp_path, capsys):
    from ser.commands import make_folds as cmd

    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    assert cmd.run(parser.parse_args([str(dirs["acted6"]), str(tmp_path / "f"), "--kind", "loco"])) == 0
    out = capsys.readouterr().out
    assert "2 loco folds over 34 speakers" in out
    assert "emodb: test corpus emodb: 10 speakers (454)" in out and "train 8 speakers (368)" in out
    assert (tmp_path / "f" / "ravdess" / "valid").read_text().startswith("emodb.09")


def test_cross_corpus_experiment_end_to_end(dirs, tmp_path):
    """A small leave-one-corpus-out experiment on real audio: the label space travels from `ser combine` through
    extraction into protocol.yaml and every fold's model file, and the report breaks UAR down per corpus."""
    import json
    import shutil

    from ser.bundle import load_bundle
    from ser.cli import main

    data = DataDir.read(dirs["acted6"])
    keep_spk = ["emodb.03", "emodb.08", "emodb.10", "ravdess.Actor_01", "ravdess.Actor_02", "ravdess.Actor_03"]
    spk2utt = data.spk2utt()
    keep = [u for s in keep_spk for u in sorted(spk2utt[s], key=lambda u: data.utt2emo[u])[::8]]
    small = tmp_path / "small"
    data.subset_utts(keep).write(small)
    shutil.copyfile(dirs["acted6"] / "labels.yaml", small / "labels.yaml")
    assert main(["extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(small), str(tmp_path / "feats")]) == 0
    assert main(["compute-cmvn", str(tmp_path / "feats")]) == 0
    assert main(["make-folds", "--kind", "loco", str(small), str(tmp_path / "folds")]) == 0
    exp = tmp_path / "exp"
    assert main(["evaluate", "--quiet", str(tmp_path / "feats"), str(tmp_path / "folds"), str(exp), "encoder=logreg"]) == 0
    protocol = yaml.safe_load((exp / "protocol.yaml").read_text())
    assert protocol["label_space"]["classes"] == list(SIX)
    assert protocol["label_space"]["corpora"]["ravdess"]["mapping"]["calm"] == "neutral"
    meta = load_bundle(exp / "fold_ravdess" / "model.ser").meta
    assert meta["label_space"] == protocol["label_space"]
    assert sorted(meta["training"]["train_speakers"]) == ["emodb.03", "emodb.08", "emodb.10"]  # no RAVDESS actor
    assert main(["report", str(exp)]) == 0
    per_corpus = json.loads((exp / "results.json").read_text())["per_corpus"]
    assert set(per_corpus) == {"emodb", "ravdess"} and per_corpus["ravdess"]["n"] == sum(u.startswith("ravdess.") for u in keep)
