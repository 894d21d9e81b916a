"""Augmentation: config checks, SpecAugment masking and mixup on training batches only, audio copies
(speed, noise, gain, reverberation, telephone) and the speaker-safety rule that no copy of a validation or test
utterance is trained on."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from ser.augment import mix, mixed_targets, mixup_draw, mixup_loss, spec_augment
from ser.augment_config import AugmentConfig, SpecAugmentConfig, check_applicable
from ser.cli import main
from ser.config import ExperimentConfig, load_config
from ser.datadir import DataDir
from ser.errors import SerError
from ser.features_table import LabelledSet

LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
AUG = ["augment.spec_augment.time_masks=2", "augment.spec_augment.time_width=5",
       "augment.spec_augment.feature_masks=2", "augment.spec_augment.feature_width=4", "augment.mixup.alpha=0.4"]
TINY = ["encoder=gagru", "encoder_conf.hidden_size=8", "encoder_conf.num_layers=1", "train.batch_size=8",
        "train.threads=1", "train.max_epochs=2", "train.patience=5", "train.device=cpu"]


# --- config -------------------------------------------------------------------------------------
def test_augment_config_is_validated_and_recorded():
    cfg = load_config(None, AUG)
    assert cfg.augment.spec_augment == SpecAugmentConfig(2, 5, 2, 4) and cfg.augment.mixup.alpha == 0.4
    assert cfg.to_dict()["augment"]["mixup"] == {"alpha": 0.4}
    assert ExperimentConfig(**cfg.to_dict()).to_dict() == cfg.to_dict()  # what parallel folds rebuild
    assert "SpecAugment" in cfg.augment.describe() and "mixup" in cfg.augment.describe()
    assert load_config(None).augment.describe() == "none"
    for bad, says in [("augment.warp=1", "unknown keys ['warp']"), ("augment.mixup.alpha=0", "alpha must be > 0"),
                      ("augment.spec_augment.time_width=2.5", "whole number"),
                      ("augment.spec_augment.time_masks=-1", ">= 0"), ("augment.mixup.beta=1", "unknown keys ['beta']"),
                      ("augment.mixup=yes", "must be a mapping"), ("augment.copies=[1]", "list of copy kinds")]:
        with pytest.raises(SerError, match=says.replace("[", r"\[").replace("]", r"\]")):
            load_config(None, [bad])
    with pytest.raises(SerError, match="not trained in batches"):
        check_applicable(load_config(None, AUG).augment, "svm", torch_model=False, frame_level=False)
    with pytest.raises(SerError, match="masks frames"):
        check_applicable(load_config(None, AUG[:4]).augment, "dnn", torch_model=True, frame_level=False)
    check_applicable(AugmentConfig(copies=["sp0.9"]), "svm", torch_model=False, frame_level=False)  # copies suit any model


# --- SpecAugment and mixup ------------------------------------------------------------------------
def test_spec_augment_masks_only_real_frames_and_repeats_with_the_seed():
    x = torch.ones(3, 50, 10)
    lens = torch.tensor([50, 30, 12])
    cfg = SpecAugmentConfig(time_masks=2, time_width=10, feature_masks=1, feature_width=3)
    a = spec_augment(x, lens, cfg, np.random.default_rng([0, 1]))
    b = spec_augment(x, lens, cfg, np.random.default_rng([0, 1]))
    assert torch.equal(a, b) and not torch.equal(a, x) and torch.equal(x, torch.ones(3, 50, 10))
    zeros = a == 0
    time_masked = zeros.all(dim=2)  # whole frames zeroed
    for i, n in enumerate(lens.tolist()):
        assert not time_masked[i, n:].any()  # padding is never "masked" (it stays as it was)
        assert time_masked[i].sum() <= 2 * 10
    feature_masked = zeros.all(dim=1)
    assert (feature_masked.sum(dim=1) <= 3).all()


def test_mixup_gives_convex_combinations_of_embeddings_and_targets():
    rng = np.random.default_rng(5)
    from ser.augment_config import MixupConfig

    lam, partner = mixup_draw(6, MixupConfig(alpha=0.4), rng)
    assert 0.0 <= lam <= 1.0 and sorted(partner) == list(range(6))
    emb = torch.randn(6, 4)
    mixed = mix(emb, lam, partner)
    assert torch.allclose(mixed, lam * emb + (1 - lam) * emb[partner])
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    soft = mixed_targets(labels, 3, lam, partner)
    assert torch.allclose(soft.sum(dim=1), torch.ones(6)) and (soft >= 0).all() and (soft <= 1).all()
    for i in range(6):
        expected = torch.zeros(3)
        expected[labels[i]] += lam
        expected[labels[partner[i]]] += 1 - lam
        assert torch.allclose(soft[i], expected)

    class Heads(torch.nn.Module):  # the SERModel loss interface, one emotion head
        def loss(self, outputs, targets, **kwargs):
            return torch.nn.functional.cross_entropy(outputs["emotion"], targets["emotion"])

    logits = torch.randn(6, 3)
    loss = mixup_loss(Heads(), {"emotion": logits}, {"emotion": labels}, lam, partner)
    soft_ce = -(soft * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    assert torch.allclose(loss, soft_ce, atol=1e-6)  # = cross-entropy against the mixed targets


def _toy_sets(frames: bool = True) -> tuple[LabelledSet, LabelledSet]:
    rng = np.random.default_rng(0)
    def make(n: int, prefix: str) -> LabelledSet:
        inputs = [rng.standard_normal((int(rng.integers(20, 40)) if frames else 1, 6)).astype(np.float32) for _ in range(n)]
        return LabelledSet([f"{prefix}{i:02d}" for i in range(n)], inputs, np.arange(n) % 3, [prefix] * n, [""] * n)
    return make(24, "a"), make(9, "b")


@pytest.mark.parametrize("encoder", ["gagru", "blstm"])
def test_augmentation_changes_training_batches_only(encoder):
    """Same weights -> bit-identical validation/test posteriors with augmentation on or off; the training loss differs."""
    from ser.inference import predict
    from ser.train import AudioTask

    train, valid = _toy_sets()
    classes = ["x", "y", "z"]
    small = ["encoder_conf.hidden_size=8", "encoder_conf.num_layers=1"] if encoder == "gagru" else ["encoder_conf.hidden_size=8"]
    plain = load_config(None, [f"encoder={encoder}", *small, "train.batch_size=8", "train.device=cpu"])
    augmented = load_config(None, [f"encoder={encoder}", *small, "train.batch_size=8", "train.device=cpu", *AUG])
    cpu = torch.device("cpu")
    off, on = AudioTask(plain, train, valid, classes, cpu), AudioTask(augmented, train, valid, classes, cpu)
    on.model.load_state_dict(off.model.state_dict())
    for task in (off, on):
        task.begin_epoch(1)
        task.model.train()
    batch = next(iter(off.batches(1)))
    torch.manual_seed(1)
    loss_off = off.loss(batch)[0]
    torch.manual_seed(1)
    loss_on = on.loss(batch)[0]
    assert not torch.equal(loss_off, loss_on)
    assert off.validate() == on.validate()
    p_off = predict(off.model, valid.inputs, True, cpu)
    p_on = predict(on.model, valid.inputs, True, cpu)
    assert np.array_equal(p_off, p_on)


# --- audio copies ---------------------------------------------------------------------------------
def test_speed_noise_and_gain_perturbations(emodb_dir):
    from ser.audio import load_audio
    from ser.frontend.perturb import Perturbation, apply_perturbation

    x = load_audio(emodb_dir / "03a01Fa.wav")
    slow = apply_perturbation(x, 16000, Perturbation("speed", 0.9))
    fast = apply_perturbation(x, 16000, Perturbation("speed", 1.1))
    assert abs(slow.size / x.size - 1 / 0.9) < 1e-3 and abs(fast.size / x.size - 1 / 1.1) < 1e-3
    noisy = apply_perturbation(x, 16000, Perturbation("noise", 10.0, 7, "white"))
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((noisy - x).astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 1e-3
    assert np.array_equal(noisy, apply_perturbation(x, 16000, Perturbation("noise", 10.0, 7, "white")))
    assert np.allclose(apply_perturbation(x, 16000, Perturbation("gain", -6.0)), x * 10 ** (-6 / 20))
    for p in (Perturbation("speed", 0.9), Perturbation("gain", -6.0), Perturbation("noise", 20.0, 3, "/a b/n.wav")):
        assert Perturbation.from_line(p.to_line()) == p
    assert [Perturbation("speed", 0.9).prefix, Perturbation("noise", 10.0).prefix, Perturbation("gain", -6.0).prefix] == \
        ["sp0.9", "snr10", "gain-6"]


@pytest.fixture(scope="module")
def emodb_aug(emodb_dir, tmp_path_factory):
    """Three EmoDB speakers x 8 utterances, emobase78_avg5, speed copies 0.9/1.1 and a noise copy, CMVN, LOSO folds."""
    root = tmp_path_factory.mktemp("aug")
    ids = [u for spk in ("03", "08", "09") for u in sorted(p.stem for p in emodb_dir.glob(f"{spk}*.wav"))[:8]]
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: LETTERS[u[5]] for u in ids}}).write(root / "data")
    assert main(["extract", "--features", "emobase78_avg5", "--nj", "2", "--no-progress", "--speed-perturb", "0.9,1.0,1.1",
                 "--noise-snr", "15", str(root / "data"), str(root / "feats")]) == 0
    assert main(["compute-cmvn", str(root / "feats")]) == 0
    assert main(["make-folds", str(root / "data"), str(root / "folds")]) == 0
    return root


def test_speed_copies_map_back_and_last_longer(emodb_aug):
    feats, aug = DataDir.read(emodb_aug / "feats"), DataDir.read(emodb_aug / "feats" / "augment")
    assert not any("-" in u for u in feats.utts)  # the feature dir itself holds originals only
    orig = aug.maps["utt2orig"]
    assert set(orig) == {f"{k}-{u}" for k in ("sp0.9", "sp1.1", "snr15") for u in feats.utts}  # 1.0 is the original
    frames, copy_frames = feats.maps["utt2num_frames"], aug.maps["utt2num_frames"]
    for copy, utt in orig.items():
        assert copy.endswith(utt) and aug.utt2spk[copy] == copy.split("-")[0] + "-" + feats.utt2spk[utt]
        assert aug.utt2emo[copy] == feats.utt2emo[utt]
        ratio = int(copy_frames[copy]) / int(frames[utt])
        expected = {"sp0.9": 1 / 0.9, "sp1.1": 1 / 1.1, "snr15": 1.0}[copy.split("-")[0]]
        assert abs(ratio - expected) < 0.05, (copy, ratio)
    assert aug.maps["utt2perturb"]["sp0.9-" + feats.utts[0]] == "speed 0.9"
    from ser.folds import build_plan

    with pytest.raises(SerError, match="augmented copies"):  # copies are never folded as speakers of their own
        build_plan(aug)


def test_copies_of_validation_and_test_speakers_never_train(emodb_aug):
    """LOSO fold 03 (valid 08): every training copy comes from a training utterance of speaker 09; none from 03 or 08."""
    from ser.copies import check_copies, training_copies
    from ser.features_table import FeatureTable
    from ser.folds import read_plan

    table = FeatureTable(emodb_aug / "feats")
    fold = read_plan(emodb_aug / "folds", table.data).fold("03")
    assert fold.valid_speakers == ["08"] and fold.train_speakers == ["09"]
    classes = sorted(set(table.data.utt2emo.values()))
    norm = table.normalization("speaker", fold.train)
    cfg = load_config(None, ["augment.copies=[all]"])
    copies = training_copies(cfg.augment, table, fold.train, fold.valid + fold.test, classes, norm, lambda _m: None)
    utt2orig = table.copy_table().utt2orig
    assert len(copies.utts) == 3 * len(fold.train)
    assert {utt2orig[u] for u in copies.utts} == set(fold.train)
    assert set(copies.speakers) == {"09"}  # a copy counts as its original's speaker
    assert not {utt2orig[u] for u in copies.utts} & set(fold.valid + fold.test)
    # the valid/test sets are built from the feature dir, which holds no copy
    held = table.labelled(fold.valid + fold.test, classes, norm, lambda _m: None)
    assert not set(held.utts) & set(utt2orig)
    # even when a caller passes every utterance as "training", held-out ones are dropped
    everything = training_copies(cfg.augment, table, table.utts, fold.test, classes, norm, lambda _m: None)
    assert not {utt2orig[u][:2] for u in everything.utts} & {"03"}
    with pytest.raises(SerError, match="held out"):
        check_copies(["sp0.9-" + fold.test[0]], utt2orig, table.data.utt2spk, fold.test)
    with pytest.raises(SerError, match="held out"):  # a copy of another utterance of a held-out speaker
        check_copies(["sp0.9-" + fold.test[1]], utt2orig, table.data.utt2spk, fold.test[:1])
    with pytest.raises(SerError, match=r"kinds \['sp0.9', 'sp1.1', 'snr15'\]|holds copies of kinds"):
        training_copies(load_config(None, ["augment.copies=[sp0.8]"]).augment, table, fold.train, fold.test, classes,
                        norm, lambda _m: None)


def test_evaluate_with_augmentation_records_it(emodb_aug, capsys):
    root = emodb_aug
    exp = root / "exp"
    assert main(["evaluate", "--quiet", "--folds", "03", str(root / "feats"), str(root / "folds"), str(exp),
                 *TINY, *AUG, "augment.copies=[sp0.9,sp1.1]"]) == 0
    log = (exp / "fold_03" / "train.log").read_text()
    assert f"augment: + {2 * 8} copies (sp0.9, sp1.1) of 8 training utterances" in log
    protocol = yaml.safe_load((exp / "protocol.yaml").read_text())
    assert "SpecAugment" in protocol["augmentation"] and "sp0.9, sp1.1" in protocol["augmentation"]
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["augment"]["copies"] == ["sp0.9", "sp1.1"] and config["augment"]["mixup"] == {"alpha": 0.4}
    from ser.bundle import load_bundle

    meta = load_bundle(exp / "fold_03" / "model.ser").meta
    assert meta["training"]["train_speakers"] == ["09"] and meta["training"]["augmented_copies"] == 16
    capsys.readouterr()
    assert main(["evaluate", "--quiet", "--folds", "03", str(root / "feats"), str(root / "folds"), str(root / "exp_bad"),
                 *TINY, "augment.copies=[sp0.8]"]) != 0
    assert "augment.copies asks for ['sp0.8']" in capsys.readouterr().err  # refused before any fold trains
    assert not (root / "exp_bad" / "fold_03").exists()


def test_copies_need_extracted_copies(emodb_aug, tmp_path):
    from ser.copies import CopyTable

    with pytest.raises(SerError, match="--speed-perturb"):
        CopyTable(tmp_path)
    assert CopyTable(emodb_aug / "feats").kinds == ["snr15", "sp0.9", "sp1.1"]
    assert Path(emodb_aug / "feats" / "augment" / "utt2orig").is_file()


# --- channel copies: reverberation and telephone ------------------------------------------------------
def _band_db(y: np.ndarray, x: np.ndarray, rate: int, low: float, high: float) -> float:
    """How much louder (dB) band [low, high) is in y than in x."""
    f = np.fft.rfftfreq(x.size, 1 / rate)
    keep = (f >= low) & (f < high)
    return float(10 * np.log10(np.sum(np.abs(np.fft.rfft(y))[keep] ** 2) / np.sum(np.abs(np.fft.rfft(x))[keep] ** 2)))


def test_reverb_decays_by_its_rt60_and_repeats_with_its_seed(emodb_dir):
    """An impulse through the reverb copy gives the designed room: energy (Schroeder curve) falling 60 dB per RT60."""
    from ser.audio import load_audio
    from ser.frontend.perturb import Perturbation, apply_perturbation, reverb_impulse

    rate = 16000
    for rt60 in (0.3, 0.6):
        impulse = np.zeros(2 * rate, dtype=np.float32)
        impulse[100] = 1.0
        h = apply_perturbation(impulse, rate, Perturbation("reverb", rt60, 11))[100:].astype(np.float64)
        assert np.count_nonzero(np.abs(h) > 1e-6 * np.abs(h).max()) <= int(rt60 * rate) + 1  # cut at the RT60
        decay = np.cumsum(h[::-1] ** 2)[::-1]
        db = 10 * np.log10(decay / decay[0])
        t = np.arange(db.size) / rate
        fit = (db < -5) & (db > -25)  # after the direct path's step, before the noise floor
        measured = -60 / np.polyfit(t[fit], db[fit], 1)[0]
        assert abs(measured - rt60) < 0.1 * rt60, (rt60, measured)
        assert len(reverb_impulse(rate, rt60, np.random.default_rng(0))) == int(round(rt60 * rate))
    x = load_audio(emodb_dir / "03a01Fa.wav")
    wet = apply_perturbation(x, rate, Perturbation("reverb", 0.3, 7))
    assert wet.size == x.size and abs(np.sqrt(np.mean(wet**2)) / np.sqrt(np.mean(x**2)) - 1) < 1e-4  # channel, not gain
    assert np.array_equal(wet, apply_perturbation(x, rate, Perturbation("reverb", 0.3, 7)))  # same seed, same room
    assert not np.array_equal(wet, apply_perturbation(x, rate, Perturbation("reverb", 0.3, 8)))
    p = Perturbation("reverb", 0.3, 7)
    assert p.prefix == "rev0.3" and p.to_line() == "reverb 0.3 7" and Perturbation.from_line(p.to_line()) == p


def test_telephone_copy_is_narrow_band(emodb_dir):
    """Nothing above 4 kHz (the 8 kHz line), the band below 250 Hz attenuated, 300-3400 Hz kept; length and level kept."""
    from ser.audio import load_audio
    from ser.frontend.perturb import Perturbation, apply_perturbation

    rate = 16000
    noise = (0.1 * np.random.default_rng(0).standard_normal(4 * rate)).astype(np.float32)
    for mode in ("mulaw", "linear"):
        p = Perturbation("telephone", 0.0, 0, mode)
        y = apply_perturbation(noise, rate, p)
        passband = _band_db(y, noise, rate, 500, 3000)
        assert abs(passband) < 6
        assert _band_db(y, noise, rate, 4000, 8000) - passband < -40
        assert _band_db(y, noise, rate, 0, 250) - passband < -30
        assert Perturbation.from_line(p.to_line()) == p
    x = load_audio(emodb_dir / "03a01Fa.wav")
    tel = apply_perturbation(x, rate, Perturbation("telephone", 0.0, 0, "mulaw"))
    assert tel.size == x.size and np.array_equal(tel, apply_perturbation(x, rate, Perturbation("telephone", 0.0, 0, "mulaw")))
    assert not np.allclose(tel, apply_perturbation(x, rate, Perturbation("telephone", 0.0, 0, "linear")))  # companding noise
    assert [Perturbation("telephone", 0.0, 0, m).prefix for m in ("mulaw", "linear")] == ["tel", "tellin"]


def test_channel_copies_are_extracted_and_map_back(emodb_dir, tmp_path):
    """`ser extract --reverb-rt60 0.3 --telephone`: rev0.3-/tel- copies, each of its original, in utt2perturb, usable
    by augment.copies; each reverb copy gets its own room (seed from its id)."""
    from ser.copies import CopyTable

    ids = ["03a01Fa", "03a01Nc", "08a01Ab"]
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: LETTERS[u[5]] for u in ids}}).write(tmp_path / "data")
    assert main(["extract", "--features", "emobase78_avg5", "--nj", "1", "--no-progress", "--reverb-rt60", "0.3",
                 "--telephone", str(tmp_path / "data"), str(tmp_path / "feats")]) == 0
    feats, aug = DataDir.read(tmp_path / "feats"), DataDir.read(tmp_path / "feats" / "augment")
    assert aug.maps["utt2orig"] == {f"{k}-{u}": u for k in ("rev0.3", "tel") for u in ids}
    perturb = aug.maps["utt2perturb"]
    assert {perturb[f"tel-{u}"] for u in ids} == {"telephone mulaw"}
    seeds = {perturb[f"rev0.3-{u}"].split()[2] for u in ids}
    assert len(seeds) == len(ids) and all(perturb[f"rev0.3-{u}"].startswith("reverb 0.3 ") for u in ids)
    for copy, utt in aug.maps["utt2orig"].items():
        assert aug.utt2spk[copy] == copy.split("-")[0] + "-" + feats.utt2spk[utt] and aug.utt2emo[copy] == feats.utt2emo[utt]
        assert aug.maps["utt2num_frames"][copy] == feats.maps["utt2num_frames"][utt]  # same length as the original
    table = CopyTable(tmp_path / "feats")
    assert table.kinds == ["rev0.3", "tel"]
    assert table.select(["tel"], ["03a01Fa", "03a01Nc"], ["08a01Ab"]) == ["tel-03a01Fa", "tel-03a01Nc"]


def _extract_with_copies(emodb_dir, tmp_path, ids: list[str], copy_options: list[str]):
    """`ser extract --features egemaps88 <copy_options>` of EmoDB clips `ids`: (original features, copies' features,
    the copies' utt2perturb)."""
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: LETTERS[u[5]] for u in ids}}).write(tmp_path / "data")
    assert main(["extract", "--features", "egemaps88", "--nj", "1", "--no-progress", *copy_options,
                 str(tmp_path / "data"), str(tmp_path / "feats")]) == 0
    return (kaldiio.load_scp(str(tmp_path / "feats" / "feats.scp")),
            kaldiio.load_scp(str(tmp_path / "feats" / "augment" / "feats.scp")),
            DataDir.read(tmp_path / "feats" / "augment").maps["utt2perturb"])


def test_shift_copies_cut_the_start_and_change_the_framing(emodb_dir, tmp_path):
    """`ser extract --shift-ms 3,7`: shift3-/shift7- copies are the clip less its first 3/7 ms (48/112 samples at
    16 kHz), so their functionals differ from the original's a little (frames fall elsewhere), not a lot."""
    from ser.audio import load_audio
    from ser.errors import SerError
    from ser.frontend.perturb import Perturbation, apply_perturbation

    x = load_audio(emodb_dir / "03a01Fa.wav")
    y = apply_perturbation(x, 16000, Perturbation("shift", 3.0))
    assert np.array_equal(y, x[48:]) and Perturbation.from_line(Perturbation("shift", 3.0).to_line()) == Perturbation("shift", 3.0)
    with pytest.raises(SerError, match="shorter than the clip"):
        apply_perturbation(x[:40], 16000, Perturbation("shift", 3.0))
    ids = ["03a01Fa", "08a01Ab"]
    orig, copies, perturb = _extract_with_copies(emodb_dir, tmp_path, ids, ["--shift-ms", "3,7"])
    assert perturb == {f"shift{k}-{u}": f"shift {k}" for k in (3, 7) for u in ids}
    for u in ids:
        a, b = np.asarray(orig[u]), np.asarray(copies[f"shift3-{u}"])
        assert a.shape == b.shape and not np.array_equal(a, b)
        assert np.median(np.abs(a - b) / (np.abs(a) + 1e-3)) < 0.05  # most features move by under 5%


def test_codec_copies_are_what_scoring_the_encoded_file_reads(emodb_dir, tmp_path):
    """`ser extract --codec mp3:64,aac:64`: mp364k-/aac64k- copies are the clip encoded at 64 kbit/s and decoded by
    `ser`'s own reader (the samples scoring that .mp3/.m4a would see: aligned with the WAV, ~25 dB SNR, not equal);
    their functionals move a little; a codec or bitrate `ser` cannot make is refused."""
    from ser.audio import load_audio
    from ser.codec import encode_pcm, to_pcm16
    from ser.errors import SerError
    from ser.frontend.perturb import Perturbation, apply_perturbation, plan_perturbations

    x = load_audio(emodb_dir / "03a01Fa.wav")
    for codec, suffix in (("mp3", ".mp3"), ("aac", ".m4a")):
        p = Perturbation("codec", 64.0, 0, codec)
        assert p.prefix == f"{codec}64k" and Perturbation.from_line(p.to_line()) == p
        y = apply_perturbation(x, 16000, p)
        encode_pcm(to_pcm16(x), 16000, tmp_path / f"clip{suffix}", codec, 64000)
        assert np.array_equal(y, load_audio(tmp_path / f"clip{suffix}"))
        n = min(x.size, y.size)
        assert abs(x.size - y.size) < 0.01 * 16000
        snr = 10 * np.log10(np.sum(x[:n] ** 2) / np.sum((x[:n] - y[:n]) ** 2))
        assert 15 < snr < 40, f"{codec}: {snr:.1f} dB"
    for bad in ([("flac", 64.0)], [("mp3", 0.0)]):
        with pytest.raises(SerError, match="--codec"):
            plan_perturbations(codecs=bad)
    ids = ["03a01Fa", "08a01Ab"]
    orig, copies, perturb = _extract_with_copies(emodb_dir, tmp_path, ids, ["--codec", "mp3:64,aac:64"])
    assert perturb == {f"{c}64k-{u}": f"codec 64 {c}" for c in ("mp3", "aac") for u in ids}
    for u in ids:
        a, b = np.asarray(orig[u]), np.asarray(copies[f"aac64k-{u}"])
        assert a.shape == b.shape and not np.array_equal(a, b)
        assert np.median(np.abs(a - b) / (np.abs(a) + 1e-3)) < 0.1
