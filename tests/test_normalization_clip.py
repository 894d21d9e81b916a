"""`normalization_clip`: normalised features clipped to [-c, c] in training and scoring alike (issue 16: eGeMAPS
ratio functionals tens of standard deviations out flipped labels under codecs). Off by default, bundles unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser.bundle import load_bundle, resolve_model_path, save_bundle
from ser.config import ExperimentConfig
from ser.errors import SerError
from ser.frontend.cmvn import apply_stats, stats_of
from ser.normalization import load_normalization, make_normalization
from ser.score import Scorer

DIM = 4


class Source:
    """Two speakers of 20 clips each: feature 0 of one clip of speaker b is far out."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.feats = {f"{s}{i}": rng.normal(size=(1, DIM)) for s in "ab" for i in range(20)}

    def utterance_stats(self, utt: str) -> np.ndarray:
        return stats_of(self.feats[utt])

    def speaker_of(self, utt: str) -> str:
        return utt[0]

    def speaker_stats(self, speaker: str) -> np.ndarray:
        return sum(stats_of(m) for u, m in self.feats.items() if u[0] == speaker)


@pytest.mark.parametrize("mode", ["global", "speaker"])
def test_off_by_default_is_todays_normalisation(mode):
    src = Source()
    norm = make_normalization(mode, min_count=10).fit(src, list(src.feats))
    state = norm.state()
    assert "clip" not in state and norm.clip == 0
    stats = state["stats"] if mode == "global" else state["fallback"]
    x = np.array([[35.0, 0.1, -60.0, 2.0]])
    np.testing.assert_array_equal(norm.apply(x)[0], apply_stats(x, stats))
    assert load_normalization(mode, state).clip == 0


def test_a_feature_35_sd_out_is_bounded():
    src = Source()
    norm = make_normalization("speaker", clip=5, min_count=10).fit(src, list(src.feats))
    stats = {s: src.speaker_stats(s) for s in "ab"}
    norm.adapt(stats)
    mean = stats["b"][0, :-1] / 20
    std = np.sqrt(stats["b"][1, :-1] / 20 - mean**2)
    x = (mean + std * np.array([35.0, -35.0, 1.5, -4.0]))[None, :]
    out, used = norm.apply(x, "b")
    assert used == "speaker:b"
    np.testing.assert_allclose(out, [[5.0, -5.0, 1.5, -4.0]], atol=1e-5)
    assert np.abs(norm.apply(x * 1e4)[0]).max() <= 5.0  # the training-speakers fallback is clipped too


def test_config_checks_the_clip():
    from ser.config import load_config

    assert load_config(None, ["normalization_clip=5"]).normalization_clip == 5.0
    assert ExperimentConfig(normalization_clip=5).normalization_clip == 5.0
    assert ExperimentConfig().normalization_clip == 0.0
    with pytest.raises(SerError):
        ExperimentConfig(normalization_clip=-1)


def test_clip_round_trips_through_a_bundle(tmp_path: Path):
    """The shipped bundle (no clip) rewritten with a clip: loads with it and scores clipped; the original is unchanged."""
    old = load_bundle(resolve_model_path(None))
    assert "clip" not in old.norm_state
    norm = load_normalization(old.normalization, old.norm_state)
    assert norm.clip == 0
    norm.clip = 5.0
    path = save_bundle(tmp_path / "clipped.ser", old.meta, old.model_state, norm.state())
    new = load_bundle(path)
    np.testing.assert_array_equal(new.norm_state["clip"], [5.0])
    assert load_normalization(new.normalization, new.norm_state).clip == 5.0

    fallback = old.norm_state["fallback"]
    mean = fallback[0, :-1] / fallback[0, -1]
    std = np.sqrt(fallback[1, :-1] / fallback[0, -1] - mean**2)
    x = mean[None, :].copy()
    x[0, 0] += 35 * std[0]
    z_old = Scorer(old).normalization.apply(x)[0]
    z_new = Scorer(new).normalization.apply(x)[0]
    np.testing.assert_array_equal(z_old, apply_stats(x, fallback))  # old bundles: today's behaviour
    assert z_old[0, 0] == pytest.approx(35, rel=1e-4) and z_new[0, 0] == pytest.approx(5)
    np.testing.assert_array_equal(z_new[0, 1:], z_old[0, 1:])
