"""`speaker_gender` normalisation on real EmoDB clips: speakers with statistics of their own are normalised as by
`speaker`; a clip alone gets the training speakers of its predicted gender, and the bundle keeps what that needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser.bundle import load_bundle
from ser.cli import main
from ser.datadir import DataDir
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.model_card import format_card
from ser.normalization import (TRAINING_SPEAKERS, SpeakerGenderNormalization, SpeakerNormalization, gender_name,
                               load_normalization)
from ser.score import Scorer

#: EmoDB's speakers and their genders (the corpus documentation); 03 and 08 are the held-out pair
GENDER = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m", "13": "f"}
PER_SPEAKER = 10  # MIN_CLIPS: a speaker of functionals needs 10 clips for statistics of their own
LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


@pytest.fixture(scope="module")
def feats(emodb_dir: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gender")
    ids = [u for spk in GENDER for u in sorted(p.stem for p in emodb_dir.glob(f"{spk}*.wav"))[:PER_SPEAKER]]
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: LETTERS[u[5]] for u in ids}, "utt2gender": {u: GENDER[u[:2]] for u in ids}}).write(root / "data")
    assert main(["extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(root / "data"), str(root / "feats")]) == 0
    assert main(["compute-cmvn", str(root / "feats")]) == 0
    return root / "feats"


def _train_utts(table: FeatureTable) -> list[str]:
    return [u for u in table.utts if u[:2] not in ("03", "08")]


def test_gender_names():
    assert [gender_name(v) for v in ("f", "F", "female", "w", "m", "Male", "", None, "x")] == \
        ["female", "female", "female", "female", "male", "male", None, None, None]


def test_speakers_with_statistics_are_normalised_as_by_speaker(feats: Path):
    table = FeatureTable(feats)
    plain = table.normalization("speaker", _train_utts(table))
    gendered = table.normalization("speaker_gender", _train_utts(table))
    for utt in table.utts:
        a, used_a = plain.apply(table.raw[utt], utt[:2])
        b, used_b = gendered.apply(table.raw[utt], utt[:2])
        np.testing.assert_array_equal(a, b)
        assert used_a == used_b == f"speaker:{utt[:2]}"


def test_a_lone_clip_gets_its_predicted_genders_speakers(feats: Path):
    table = FeatureTable(feats)
    norm = table.normalization("speaker_gender", _train_utts(table))
    right = 0
    held_out = [u for u in table.utts if u[:2] in ("03", "08")]
    for utt in held_out:
        out, used = norm.apply(table.raw[utt])  # no speaker: a lone clip
        gender, p = norm.predict_gender(table.raw[utt])
        assert used.startswith(f"{TRAINING_SPEAKERS}-{gender}(p=") and 0.5 <= p <= 1.0
        np.testing.assert_array_equal(out, norm.apply_gender(table.raw[utt], gender)[0])
        right += gender == gender_name(GENDER[utt[:2]])
    # two speakers the classifier never saw, one of each gender: their voices must still tell
    assert right >= 0.75 * len(held_out), f"{right}/{len(held_out)}"
    # the two genders' statistics differ, most in the pitch features
    female, male = norm.by_gender["female"], norm.by_gender["male"]
    f0 = table.header["names"].index("F0semitoneFrom27.5Hz_sma3nz_amean")
    assert female[0, f0] / female[0, -1] > male[0, f0] / male[0, -1]


def test_state_round_trips_and_bundles_score_with_it(feats: Path, tmp_path: Path, emodb_dir: Path, capsys):
    table = FeatureTable(feats)
    norm = table.normalization("speaker_gender", _train_utts(table))
    again = load_normalization("speaker_gender", norm.state())
    utt = table.utts[0]
    np.testing.assert_array_equal(again.apply(table.raw[utt])[0], norm.apply(table.raw[utt])[0])
    assert again.apply(table.raw[utt])[1] == norm.apply(table.raw[utt])[1]
    # through `ser evaluate` (a logreg fold) and its bundle, as `ser score` loads it
    data = DataDir.read(feats)
    assert main(["make-folds", str(feats), str(tmp_path / "folds")]) == 0
    assert main(["evaluate", "--quiet", "--folds", "03", str(feats), str(tmp_path / "folds"), str(tmp_path / "exp"),
                 "encoder=logreg", "normalization=speaker_gender"]) == 0
    scorer = Scorer(load_bundle(tmp_path / "exp" / "fold_03" / "model.ser"))
    lone = next(u for u in data.utt2spk if u.startswith("03"))
    _, used = scorer.normalization.apply(table.raw[lone])
    assert used.startswith(f"{TRAINING_SPEAKERS}-")
    # the model card and `ser score`'s note say what a lone clip gets in the mode's own words, not `speaker`'s
    card = format_card(scorer.bundle)
    assert SpeakerGenderNormalization.lone_fallback in card
    assert SpeakerNormalization.lone_fallback not in card
    wav = str(next(p for p in emodb_dir.glob("03*.wav")))
    assert main(["score", "--model", str(tmp_path / "exp" / "fold_03" / "model.ser"), wav]) == 0
    assert SpeakerGenderNormalization.lone_fallback in capsys.readouterr().err


def test_missing_or_one_sided_genders_are_clear_errors(feats: Path, tmp_path: Path):
    table = FeatureTable(feats)
    del table.data.maps["utt2gender"]
    with pytest.raises(SerError, match="needs the gender .* utt2gender"):
        table.normalization("speaker_gender", _train_utts(table))
    table = FeatureTable(feats)
    men = [u for u in _train_utts(table) if GENDER[u[:2]] == "m"]
    with pytest.raises(SerError, match="both genders; none is female"):
        table.normalization("speaker_gender", men)
