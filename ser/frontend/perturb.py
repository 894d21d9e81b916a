"""Audio-level perturbations for augmented copies: speed change, additive noise at an SNR, gain.

Why copies on disk rather than on the fly: a front end such as openSMILE costs far more than a training
step, so each copy is featurised once by `ser extract --speed-perturb/--noise-snr/--gain-db` into the feature
dir's ``augment/`` folder, a data dir of its own. As in Kaldi's perturb_data_dir_speed.sh a copy is named
``<kind>-<utt>`` (``sp0.9-03a01Fa``) and its pseudo-speaker ``<kind>-<spk>`` (``sp0.9-03``), so per-speaker
statistics of copies never mix with the originals'; ``utt2orig`` maps every copy back to its original, which
is what keeps copies of validation and test utterances out of training (``ser.copies``). ``utt2perturb``
states each copy's perturbation in full (kind, value, seed, noise file), so extraction repeats exactly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ser.datadir import DataDir
from ser.errors import SerError

#: per-utterance maps a copy inherits from its original (labels, speaker attributes, sessions...)
INHERITED = ("utt2emo", "utt2emo_full", "utt2gender", "utt2session", "utt2dialog", "utt2turn", "utt2corpus", "text")
AUGMENT_DIR = "augment"
WHITE = "white"
NOISE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: `speed` (factor), `noise` (SNR in dB, seed, source: white or a file) or `gain` (dB)."""

    kind: str
    value: float
    seed: int = 0
    source: str = WHITE

    @property
    def prefix(self) -> str:
        """The id prefix of its copies: sp0.9, snr10, gain-6 (Kaldi's sp0.9- style)."""
        short = {"speed": "sp", "noise": "snr", "gain": "gain"}[self.kind]
        return f"{short}{self.value:g}"

    def to_line(self) -> str:
        """The utt2perturb value: `speed 0.9`, `gain -6`, `noise 10 SEED SOURCE` (the source last: a path may hold spaces)."""
        if self.kind == "noise":
            return f"noise {self.value:g} {self.seed} {self.source}"
        return f"{self.kind} {self.value:g}"

    @classmethod
    def from_line(cls, line: str) -> "Perturbation":
        parts = line.split(maxsplit=3)
        try:
            if parts[0] == "noise" and len(parts) == 4:
                return cls("noise", float(parts[1]), int(parts[2]), parts[3])
            if parts[0] in ("speed", "gain") and len(parts) == 2:
                return cls(parts[0], float(parts[1]))
        except (ValueError, IndexError):
            pass
        raise SerError(f"utt2perturb: cannot read the perturbation '{line}' (speed F, gain DB or noise SNR SEED SOURCE)")


def change_speed(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play `factor` times faster (tempo and pitch together, as sox `speed`): the clip lasts 1/factor as long."""
    import soxr

    if factor <= 0:
        raise SerError(f"speed factor must be > 0, not {factor}")
    return soxr.resample(np.ascontiguousarray(samples, dtype=np.float32), float(rate), rate / factor).astype(np.float32)


def noise_like(length: int, rate: int, source: str, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of noise: white Gaussian, or a random stretch of a noise file (looped when it is shorter)."""
    if source == WHITE:
        return rng.standard_normal(length).astype(np.float32)
    from ser.audio import load_audio

    noise = load_audio(source, rate)
    if noise.size < length:
        noise = np.tile(noise, int(np.ceil(length / noise.size)))
    start = int(rng.integers(0, noise.size - length + 1))
    return noise[start : start + length].astype(np.float32)


def add_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """samples + noise scaled so that 10 log10(P_signal / P_noise) = snr_db."""
    p_signal = float(np.mean(np.square(samples, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_noise == 0.0:
        raise SerError("the noise is silent: it cannot be scaled to an SNR")
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (samples + scale * noise).astype(np.float32)


def apply_perturbation(samples: np.ndarray, rate: int, p: Perturbation) -> np.ndarray:
    """The perturbed clip; the same `Perturbation` always gives the same samples."""
    if p.kind == "speed":
        return change_speed(samples, rate, p.value)
    if p.kind == "gain":
        return (samples * 10.0 ** (p.value / 20.0)).astype(np.float32)
    if p.kind == "noise":
        return add_noise(samples, noise_like(samples.size, rate, p.source, np.random.default_rng(p.seed)), p.value)
    raise SerError(f"unknown perturbation '{p.kind}' (speed, noise, gain)")


def noise_files(noise_dir: str | Path | None) -> list[str]:
    """Audio files under a user's noise folder (sorted), or [white] without one."""
    if noise_dir is None:
        return [WHITE]
    folder = Path(noise_dir)
    if not folder.is_dir():
        raise SerError(f"{folder}: the noise folder does not exist")
    files = sorted(str(p.resolve()) for p in folder.rglob("*") if p.suffix.lower() in NOISE_SUFFIXES and p.is_file())
    if not files:
        raise SerError(f"{folder}: no audio files ({', '.join(sorted(NOISE_SUFFIXES))}) to take noise from")
    return files


def plan_perturbations(speeds: Sequence[float] = (), snrs: Sequence[float] = (), gains: Sequence[float] = (),
                       noise_dir: str | Path | None = None) -> list[tuple[str, list[Perturbation]]]:
    """(kind, [template]) per copy kind; a noise kind's seed and file are drawn per copy in `augment_datadir`."""
    out: list[tuple[str, list[Perturbation]]] = []
    for factor in speeds:
        if factor <= 0:
            raise SerError(f"--speed-perturb factors must be > 0, not {factor:g}")
        if factor != 1.0:  # 1.0 is the original itself
            out.append((Perturbation("speed", float(factor)).prefix, [Perturbation("speed", float(factor))]))
    sources = noise_files(noise_dir) if snrs else []
    for snr in snrs:
        out.append((Perturbation("noise", float(snr)).prefix, [Perturbation("noise", float(snr), 0, s) for s in sources]))
    for gain in gains:
        out.append((Perturbation("gain", float(gain)).prefix, [Perturbation("gain", float(gain))]))
    return out


def _stable_seed(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def augment_datadir(data: DataDir, kinds: list[tuple[str, list[Perturbation]]]) -> DataDir:
    """The data dir of every copy: `<kind>-<utt>` ids, `<kind>-<spk>` pseudo-speakers, utt2orig, utt2perturb.

    A noise copy's seed and noise file are chosen from its own id (not from run order), so adding a kind or an
    utterance never changes the other copies."""
    maps: dict[str, dict[str, str]] = {"wav.scp": {}, "utt2spk": {}, "utt2orig": {}, "utt2perturb": {}}
    for name in INHERITED:
        if data.get(name) is not None:
            maps[name] = {}
    segments: dict[str, tuple[str, float, float]] | None = {} if data.segments is not None else None
    for prefix, templates in kinds:
        for utt in data.utts:
            copy = f"{prefix}-{utt}"
            p = templates[0]
            if p.kind == "noise":
                seed = _stable_seed(copy)
                p = Perturbation("noise", p.value, seed, templates[seed % len(templates)].source)
            maps["utt2spk"][copy] = f"{prefix}-{data.utt2spk[utt]}"
            maps["utt2orig"][copy] = utt
            maps["utt2perturb"][copy] = p.to_line()
            for name in INHERITED:
                if name in maps and utt in data.maps[name]:
                    maps[name][copy] = data.maps[name][utt]
            if segments is not None:
                segments[copy] = data.segments[utt]
            else:
                maps["wav.scp"][copy] = data.wav_scp[utt]
    if segments is not None:
        maps["wav.scp"] = dict(data.wav_scp)  # copies read the same recordings
    return DataDir(maps=maps, segments=segments)


__all__ = [
    "AUGMENT_DIR",
    "INHERITED",
    "NOISE_SUFFIXES",
    "Perturbation",
    "WHITE",
    "add_noise",
    "apply_perturbation",
    "augment_datadir",
    "change_speed",
    "noise_files",
    "noise_like",
    "plan_perturbations",
]
