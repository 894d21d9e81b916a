"""`ser combine` (ser.combine) on the real EmoDB and RAVDESS data dirs (their preparation only parses names, so
it takes well under a second): prefixes, utt2corpus, label maps, --classes, counts, labels.yaml, refusals."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import require_data
from ser.cli import main
from ser.combine import SEPARATOR, combine, parse_input, sort_order_problem
from ser.corpora import emodb, ravdess
from ser.datadir import DataDir
from ser.errors import SerError
from ser.labels import apply_label_map, load_label_map

SIX = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")


@pytest.fixture(scope="module")
def ravdess_dir() -> Path:
    return require_data("ravdess")


@pytest.fixture(scope="module")
def data_dirs(emodb_dir, ravdess_dir, tmp_path_factory) -> dict[str, Path]:
    """Real EmoDB and RAVDESS data dirs, prepared once, in folders named after the corpora."""
    root = tmp_path_factory.mktemp("data")
    emodb.prepare(emodb_dir, root / "emodb")
    ravdess.prepare(ravdess_dir, root / "ravdess")
    return {"emodb": root / "emodb", "ravdess": root / "ravdess"}


# --- combine -------------------------------------------------------------------------------------


def _mapped_counts(path: Path, corpus: str) -> Counter:
    return apply_label_map(DataDir.read(path).utt2emo, load_label_map(corpus)).kept


def test_combine_real_emodb_and_ravdess_six_classes(data_dirs, tmp_path, capsys):
    out = tmp_path / "acted6"
    result = combine(out, [str(data_dirs["emodb"]), str(data_dirs["ravdess"])], classes=",".join(SIX))
    disk = DataDir.read(out)
    disk.validate(check_files=True)  # sorted files, ids, every map complete, audio present
    assert result.classes == list(SIX)
    assert set(disk.utt2emo.values()) == set(SIX)
    # counts: the sums of the inputs' mapped counts, per class
    expected = {c: _mapped_counts(data_dirs["emodb"], "emodb")[c] + _mapped_counts(data_dirs["ravdess"], "ravdess")[c] for c in SIX}
    assert Counter(disk.utt2emo.values()) == expected
    assert expected == {"anger": 319, "disgust": 238, "fear": 261, "happiness": 263, "neutral": 367, "sadness": 254}
    by_corpus = {r.name: r for r in result.corpora}
    assert dict(by_corpus["emodb"].dropped) == {"boredom (not in --classes)": 81}
    assert dict(by_corpus["ravdess"].dropped) == {"surprise (not in --classes)": 192}
    # prefixes, utt2corpus, no clash, Kaldi order
    assert len(disk.utts) == 535 - 81 + 1440 - 192
    assert disk.utt2spk["emodb.03a01Fa"] == "emodb.03" and disk.utt2emo["emodb.03a01Fa"] == "happiness"
    calm = "ravdess.Actor_01-03-01-02-01-01-01-01"
    assert disk.utt2spk[calm] == "ravdess.Actor_01" and disk.utt2emo[calm] == "neutral"
    assert disk.wav_scp[calm] == DataDir.read(data_dirs["ravdess"]).wav_scp["Actor_01-03-01-02-01-01-01-01"]
    corpus_of = disk.maps["utt2corpus"]
    assert Counter(corpus_of.values()) == {"emodb": 454, "ravdess": 1248}
    assert all(u.startswith(corpus_of[u] + SEPARATOR) and u.startswith(s) for u, s in disk.utt2spk.items())
    assert all("-" not in s for s in disk.speakers) and len(disk.speakers) == 34
    assert sort_order_problem(disk.utt2spk) is None
    # maps both inputs have are carried; the others are left out, and the log says so
    assert disk.maps["utt2gender"]["emodb.08a01Fd"] == "f" and disk.maps["utt2gender"][calm] == "m"
    assert not (out / "utt2sentence").exists() and not (out / "text").exists()
    err = capsys.readouterr().err
    assert "utt2sentence not written: ravdess lack(s) it" in err and "text not written: emodb lack(s) it" in err
    # labels.yaml: the class set and the mapping used per corpus
    record = yaml.safe_load((out / "labels.yaml").read_text())
    assert record["classes"] == list(SIX)
    assert record["corpora"]["ravdess"]["mapping"]["calm"] == "neutral"
    assert record["corpora"]["ravdess"]["label_map"].endswith("labelmaps/ravdess.yaml")
    assert record["corpora"]["emodb"]["kept"] == {k: v for k, v in _mapped_counts(data_dirs["emodb"], "emodb").items() if k in SIX}
    assert record["corpora"]["emodb"]["dropped"] == {"boredom (not in --classes)": 81}
    table = result.summary()
    assert table.splitlines()[0].split() == ["corpus", *SIX, "total", "dropped"]
    assert table.splitlines()[3].split() == ["total", "319", "238", "261", "263", "367", "254", "1702", "273"]


def test_combine_cli_override_and_every_class(data_dirs, tmp_path, capsys):
    no_calm = tmp_path / "no_calm.yaml"
    no_calm.write_text(
        "neutral: neutral\ncalm: null\nhappy: happiness\nsad: sadness\nangry: anger\nfearful: fear\n"
        "disgust: disgust\nsurprised: surprise\n"
    )
    out = tmp_path / "all"
    args = ["combine", "--label-map", f"rav={no_calm}", str(out), f"emo={data_dirs['emodb']}", f"rav={data_dirs['ravdess']}"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "1783 utterances, 34 speakers, 2 corpora" in stdout  # 535 + 1440 - 192 calm
    assert "rav dropped: calm (null in the label map) 192" in stdout
    disk = DataDir.read(out)
    assert Counter(disk.utt2emo.values())["neutral"] == 79 + 96
    assert set(disk.utt2emo.values()) == {"anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"}
    assert disk.utt2spk["emo.03a01Fa"] == "emo.03"  # the names given are the prefixes
    record = yaml.safe_load((out / "labels.yaml").read_text())
    assert record["corpora"]["emo"]["label_map"].startswith("none")  # no shipped 'emo' map: shared labels kept
    assert record["corpora"]["rav"]["label_map"] == str(no_calm)


def test_combine_refusals(data_dirs, tmp_path, capsys):
    emo, rav = data_dirs["emodb"], data_dirs["ravdess"]
    with pytest.raises(SerError, match="'emodb' is given twice"):
        combine(tmp_path / "x", [str(emo), f"emodb={rav}"])
    with pytest.raises(SerError, match=r"is given twice \(as emodb and again\)"):
        combine(tmp_path / "x", [str(emo), f"again={emo}"])
    with pytest.raises(SerError, match="unknown class\\(es\\) angry"):
        combine(tmp_path / "x", [str(emo)], classes="angry,sadness")
    with pytest.raises(SerError, match="not an input"):
        combine(tmp_path / "x", [str(emo)], label_maps={"ravdess": "ravdess"})
    # a folder name that is not a corpus name, and labels outside the shared space without a map
    odd = tmp_path / "my-ravdess"
    shutil.copytree(rav, odd)
    with pytest.raises(SerError, match="give the input as NAME=DIR, e.g. my_ravdess="):
        combine(tmp_path / "x", [str(odd)])
    with pytest.raises(SerError, match=r"no label map for corpus 'mine'.*angry, fearful.*--label-map mine=FILE"):
        combine(tmp_path / "x", [f"mine={odd}"])
    # a label the map does not list
    partial = tmp_path / "partial.yaml"
    partial.write_text("angry: anger\n")
    with pytest.raises(SerError, match=r"corpus ravdess: label\(s\) calm \(192\), disgust \(192\)"):
        combine(tmp_path / "x", [str(rav)], label_maps={"ravdess": partial})
    # a combined dir as input, the output as input, and an invalid input
    combine(tmp_path / "c", [str(emo)])
    with pytest.raises(SerError, match="already a combined dir"):
        combine(tmp_path / "x", [f"c={tmp_path / 'c'}"])
    with pytest.raises(SerError, match="is also input emodb"):
        combine(emo, [str(emo)])
    broken = tmp_path / "broken"
    shutil.copytree(emo, broken)
    (broken / "utt2gender").write_text("03a01Fa m\n")
    with pytest.raises(SerError, match="broken.*utt2gender: 534 utterances missing"):
        combine(tmp_path / "x", [str(broken)])
    assert not (tmp_path / "x").exists()  # nothing written by a refused combine


def test_parse_input(tmp_path):
    assert parse_input("emodb=data/x") == ("emodb", Path("data/x"))
    assert parse_input(str(tmp_path / "ravdess")) == ("ravdess", tmp_path / "ravdess")
    assert parse_input(str(tmp_path / "a=b" / "crema_d")) == ("crema_d", tmp_path / "a=b" / "crema_d")
    with pytest.raises(SerError, match="only letters, digits and '_'"):
        parse_input(("emo.db", tmp_path))
