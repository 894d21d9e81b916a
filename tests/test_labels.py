"""One label space across corpora (ser.labels, ser/labelmaps/*.yaml): the shipped maps, loading and validating a
map, and applying the maps to the real EmoDB and RAVDESS data dirs (their preparation only parses names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import require_data
from ser.corpora import crema_d, emodb, emovo, iemocap, msp_improv, ravdess, savee, tess
from ser.datadir import DataDir
from ser.errors import SerError
from ser.labels import LABELMAP_DIR, SHARED_CLASSES, apply_label_map, load_label_map, shipped_label_maps


@pytest.fixture(scope="module")
def data_dirs(emodb_dir, tmp_path_factory) -> dict[str, Path]:
    """Real EmoDB and RAVDESS data dirs, prepared once."""
    root = tmp_path_factory.mktemp("data")
    emodb.prepare(emodb_dir, root / "emodb")
    ravdess.prepare(require_data("ravdess"), root / "ravdess")
    return {"emodb": root / "emodb", "ravdess": root / "ravdess"}


# --- label maps --------------------------------------------------------------------------------


def test_shipped_maps_cover_every_label_their_preparer_writes():
    written = {
        "emodb": emodb.EMOTIONS.values(),
        "ravdess": ravdess.EMOTIONS.values(),
        "iemocap": iemocap.LABELS.values(),
        "msp_improv": msp_improv.LABELS.values(),
        "tess": tess.EMOTIONS.values(),
        "savee": savee.EMOTIONS.values(),
        "crema_d": crema_d.EMOTIONS.values(),
        "emovo": emovo.EMOTIONS.values(),
    }
    assert shipped_label_maps() == sorted(written)
    for corpus, labels in written.items():
        mapping = load_label_map(corpus)  # validates every target against SHARED_CLASSES
        assert set(labels) <= set(mapping), corpus
        assert {t for t in mapping.values() if t} <= set(SHARED_CLASSES)


def test_label_maps_on_real_emodb_and_ravdess(data_dirs):
    emo = apply_label_map(DataDir.read(data_dirs["emodb"]).utt2emo, load_label_map("emodb"))
    assert emo.kept == {
        "anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "neutral": 79, "sadness": 62,
    }
    assert not emo.dropped and not emo.unmapped
    rav = apply_label_map(DataDir.read(data_dirs["ravdess"]).utt2emo, load_label_map("ravdess"))
    assert rav.kept == {
        "neutral": 96 + 192, "happiness": 192, "sadness": 192, "anger": 192, "fear": 192, "disgust": 192, "surprise": 192,
    }  # calm merged into neutral (the documented default)
    assert rav.utt2emo["Actor_01-03-01-02-01-01-01-01"] == "neutral"  # a calm clip


def test_ravdess_map_documents_the_calm_choice():
    text = (LABELMAP_DIR / "ravdess.yaml").read_text()
    assert "calm: neutral" in text
    comment = text[: text.index("calm: neutral")]
    assert "# Calm is merged into neutral" in comment


def test_label_map_errors_and_null(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("angry: anger\nsad: melancholy\nhappy: joy\n")
    with pytest.raises(SerError, match=r"unknown target label\(s\) joy, melancholy"):
        load_label_map(bad)
    assert load_label_map(bad, classes=None)["sad"] == "melancholy"  # free targets (wavdir)
    bad.write_text("no: neutral\n")  # YAML 1.1 reads a bare no as False
    with pytest.raises(SerError, match="quote such labels"):
        load_label_map(bad)
    bad.write_text("Angry: anger\nangry: anger\n")
    with pytest.raises(SerError, match="listed twice"):
        load_label_map(bad)
    bad.write_text("- anger\n")
    with pytest.raises(SerError, match="non-empty mapping"):
        load_label_map(bad)
    with pytest.raises(SerError, match="shipped: crema_d, emodb"):
        load_label_map("timit")
    good = tmp_path / "good.yaml"
    good.write_text("angry: anger\ncalm: null\n")
    mapped = apply_label_map({"a": "angry", "b": "calm", "c": "calm", "d": "sad"}, load_label_map(good))
    assert mapped.utt2emo == {"a": "anger"}
    assert mapped.kept == {"anger": 1} and mapped.dropped == {"calm": 2} and mapped.unmapped == {"sad": 1}
    assert mapped.n_dropped == 3
