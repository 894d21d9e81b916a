"""Audio-level perturbations for augmented copies: speed change, additive noise at an SNR, gain, and two
channel effects, synthetic reverberation and a telephone channel.

Why copies on disk rather than on the fly: a front end such as openSMILE costs far more than a training
step, so each copy is featurised once by `ser extract --speed-perturb/--noise-snr/--gain-db` into the feature
dir's ``augment/`` folder, a data dir of its own. As in Kaldi's perturb_data_dir_speed.sh a copy is named
``<kind>-<utt>`` (``sp0.9-03a01Fa``) and its pseudo-speaker ``<kind>-<spk>`` (``sp0.9-03``), so per-speaker
statistics of copies never mix with the originals'; ``utt2orig`` maps every copy back to its original, which
is what keeps copies of validation and test utterances out of training (``ser.copies``). ``utt2perturb``
states each copy's perturbation in full (kind, value, seed, noise file), so extraction repeats exactly.

The channel effects exist because a model trained on one studio's recordings meets other rooms and lines:
``rev0.3-<utt>`` convolves the clip with an exponentially decaying noise impulse response of RT60 0.3 s (seeded
per copy); ``tel-<utt>`` passes it through a narrow-band telephone line (8 kHz, 300-3400 Hz, G.711 mu-law).
Both keep the clip's length and RMS level, so they change the channel only (gain is a kind of its own).
``shift3-<utt>`` is the clip with its first 3 ms cut off: the same speech, but the 10 ms analysis frames fall
elsewhere, a change nobody hears and that re-encoding (MP3/AAC) or a recorder's start time also makes; a model
trained on such copies learns weights that do not hang on where the frames fall.
``mp364k-<utt>`` / ``aac64k-<utt>`` is the clip encoded as MP3 / AAC (.m4a) at 64 kbit/s and decoded as `ser`
decodes such a file (``ser.codec``): the lossy channel of phone recordings and downloads.
Numpy FFTs only: the runtime install has no scipy.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ser.codec import CODECS, round_trip
from ser.datadir import DataDir
from ser.errors import SerError

#: per-utterance maps a copy inherits from its original (labels, speaker attributes, sessions...)
INHERITED = ("utt2emo", "utt2emo_full", "utt2gender", "utt2session", "utt2dialog", "utt2turn", "utt2corpus", "text")
AUGMENT_DIR = "augment"
WHITE = "white"
NOISE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
#: telephone channel: G.711 narrow band and its mu-law constant
PHONE_RATE = 8000
PHONE_BAND = (300.0, 3400.0)
MU = 255.0
MULAW, LINEAR = "mulaw", "linear"


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: `speed` (factor), `noise` (SNR in dB, seed, source: white or a file), `gain` (dB),
    `reverb` (RT60 in s, seed), `telephone` (source: mulaw or linear companding; value unused), `shift`
    (milliseconds cut from the start) or `codec` (kbit/s; source: the codec, aac or mp3)."""

    kind: str
    value: float
    seed: int = 0
    source: str = WHITE

    @property
    def prefix(self) -> str:
        """The id prefix of its copies: sp0.9, snr10, gain-6 (Kaldi's sp0.9- style)."""
        if self.kind == "telephone":
            return "tel" if self.source == MULAW else "tellin"
        if self.kind == "codec":
            return f"{self.source}{self.value:g}k"
        short = {"speed": "sp", "noise": "snr", "gain": "gain", "reverb": "rev", "shift": "shift"}[self.kind]
        return f"{short}{self.value:g}"

    def to_line(self) -> str:
        """The utt2perturb value: `speed 0.9`, `gain -6`, `noise 10 SEED SOURCE` (the source last: a path may hold spaces)."""
        if self.kind == "noise":
            return f"noise {self.value:g} {self.seed} {self.source}"
        if self.kind == "reverb":
            return f"reverb {self.value:g} {self.seed}"
        if self.kind == "telephone":
            return f"telephone {self.source}"
        if self.kind == "codec":
            return f"codec {self.value:g} {self.source}"
        return f"{self.kind} {self.value:g}"

    @classmethod
    def from_line(cls, line: str) -> "Perturbation":
        parts = line.split(maxsplit=3)
        try:
            if parts[0] == "noise" and len(parts) == 4:
                return cls("noise", float(parts[1]), int(parts[2]), parts[3])
            if parts[0] in ("speed", "gain", "shift") and len(parts) == 2:
                return cls(parts[0], float(parts[1]))
            if parts[0] == "reverb" and len(parts) == 3:
                return cls("reverb", float(parts[1]), int(parts[2]))
            if parts[0] == "telephone" and len(parts) == 2 and parts[1] in (MULAW, LINEAR):
                return cls("telephone", 0.0, 0, parts[1])
            if parts[0] == "codec" and len(parts) == 3 and parts[2] in CODECS:
                return cls("codec", float(parts[1]), 0, parts[2])
        except (ValueError, IndexError):
            pass
        raise SerError(f"utt2perturb: cannot read the perturbation '{line}' (speed F, gain DB, noise SNR SEED SOURCE, "
                       "reverb RT60 SEED, telephone mulaw|linear, shift MS or codec KBPS aac|mp3)")


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


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _same_level(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`out` scaled to `like`'s RMS: a channel copy must not also be a gain copy."""
    level = _rms(out)
    return (out * (_rms(like) / level if level > 0 else 1.0)).astype(np.float32)


def reverb_impulse(rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A room's impulse response, synthetic: a unit direct path, then Gaussian noise whose energy falls 60 dB in
    `rt60` seconds (amplitude exp(-3 ln(10) t / rt60)), cut at rt60; the tail's energy equals the direct path's."""
    if not rt60 > 0:
        raise SerError(f"reverb RT60 must be > 0 seconds, not {rt60:g}")
    n = max(2, int(round(rt60 * rate)))
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * np.exp(-3.0 * np.log(10.0) * t / rt60)
    tail[0] = 0.0
    tail /= np.sqrt(np.sum(tail**2))
    tail[0] = 1.0
    return tail


def add_reverb(samples: np.ndarray, rate: int, rt60: float, seed: int) -> np.ndarray:
    """The clip convolved (FFT) with `reverb_impulse`, cut to its own length and level."""
    h = reverb_impulse(rate, rt60, np.random.default_rng(seed))
    x = samples.astype(np.float64)
    size = x.size + h.size - 1
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: x.size]
    return _same_level(wet, samples)


def band_limit(samples: np.ndarray, rate: int, low: float, high: float) -> np.ndarray:
    """Zero every FFT bin outside [low, high] Hz, with 50 Hz raised-cosine edges (less ringing than a brick wall)."""
    spectrum = np.fft.rfft(samples.astype(np.float64))
    f = np.fft.rfftfreq(samples.size, 1.0 / rate)
    edge = 50.0
    gain = np.clip((f - (low - edge)) / edge, 0.0, 1.0) * np.clip(((high + edge) - f) / edge, 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spectrum * gain, samples.size)


def mulaw(samples: np.ndarray) -> np.ndarray:
    """G.711-style mu-law companding to 8 bits and back: the quantisation noise of a digital phone line."""
    peak = float(np.max(np.abs(samples))) or 1.0
    x = np.clip(samples / peak, -1.0, 1.0)
    code = np.round(np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU) * 127.0)
    y = code / 127.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU * peak


def telephone(samples: np.ndarray, rate: int, companding: str = MULAW) -> np.ndarray:
    """A narrow-band phone line: to 8 kHz, mu-law (or not), 300-3400 Hz, back to `rate`; same length and level."""
    import soxr

    if companding not in (MULAW, LINEAR):
        raise SerError(f"telephone companding must be {MULAW} or {LINEAR}, not '{companding}'")
    x = np.ascontiguousarray(samples, dtype=np.float32)
    narrow = soxr.resample(x, float(rate), float(PHONE_RATE)).astype(np.float64) if rate > PHONE_RATE else x.astype(np.float64)
    phone_rate = min(rate, PHONE_RATE)
    if companding == MULAW:
        narrow = mulaw(narrow)
    narrow = band_limit(narrow, phone_rate, PHONE_BAND[0], min(PHONE_BAND[1], phone_rate / 2))
    out = soxr.resample(narrow.astype(np.float32), float(phone_rate), float(rate)) if rate > PHONE_RATE else narrow
    out = np.asarray(out, dtype=np.float64)
    out = np.pad(out, (0, max(0, x.size - out.size)))[: x.size]
    return _same_level(out, samples)


def apply_perturbation(samples: np.ndarray, rate: int, p: Perturbation) -> np.ndarray:
    """The perturbed clip; the same `Perturbation` always gives the same samples."""
    if p.kind == "speed":
        return change_speed(samples, rate, p.value)
    if p.kind == "gain":
        return (samples * 10.0 ** (p.value / 20.0)).astype(np.float32)
    if p.kind == "noise":
        return add_noise(samples, noise_like(samples.size, rate, p.source, np.random.default_rng(p.seed)), p.value)
    if p.kind == "reverb":
        return add_reverb(samples, rate, p.value, p.seed)
    if p.kind == "telephone":
        return telephone(samples, rate, p.source)
    if p.kind == "shift":
        return shift_start(samples, rate, p.value)
    if p.kind == "codec":
        return round_trip(samples, rate, p.source, p.value)
    raise SerError(f"unknown perturbation '{p.kind}' (speed, noise, gain, reverb, telephone, shift, codec)")


def shift_start(samples: np.ndarray, rate: int, ms: float) -> np.ndarray:
    """The clip without its first `ms` milliseconds (analysis frames then fall elsewhere in the same speech)."""
    cut = round(ms * rate / 1000)
    if not 0 < cut < samples.size:
        raise SerError(f"a shift of {ms:g} ms ({cut} samples) must be > 0 and shorter than the clip ({samples.size} samples)")
    return np.ascontiguousarray(samples[cut:], dtype=np.float32)


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
                       noise_dir: str | Path | None = None, rt60s: Sequence[float] = (),
                       phone: Sequence[str] = (), shifts_ms: Sequence[float] = (),
                       codecs: Sequence[tuple[str, float]] = ()) -> list[tuple[str, list[Perturbation]]]:
    """(kind, [template]) per copy kind; a noise or reverb kind's seed (and noise file) is drawn per copy in
    `augment_datadir`. `phone`: telephone copies with these companding modes (mulaw -> tel, linear -> tellin);
    `codecs`: (codec, kbit/s) pairs."""
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
    for rt60 in rt60s:
        if not rt60 > 0:
            raise SerError(f"--reverb-rt60 values must be > 0 seconds, not {rt60:g}")
        out.append((Perturbation("reverb", float(rt60)).prefix, [Perturbation("reverb", float(rt60))]))
    for mode in phone:
        p = Perturbation("telephone", 0.0, 0, mode)
        if mode not in (MULAW, LINEAR):
            raise SerError(f"--telephone takes {MULAW} or {LINEAR}, not '{mode}'")
        out.append((p.prefix, [p]))
    for ms in shifts_ms:
        if not ms > 0:
            raise SerError(f"--shift-ms values must be > 0 milliseconds, not {ms:g}")
        out.append((Perturbation("shift", float(ms)).prefix, [Perturbation("shift", float(ms))]))
    for codec, kbps in codecs:
        if codec not in CODECS or not kbps > 0:
            raise SerError(f"--codec takes CODEC:KBPS with CODEC one of {', '.join(sorted(CODECS))} and KBPS > 0, "
                           f"not '{codec}:{kbps:g}'")
        p = Perturbation("codec", float(kbps), 0, codec)
        out.append((p.prefix, [p]))
    return out


def _stable_seed(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def augment_datadir(data: DataDir, kinds: list[tuple[str, list[Perturbation]]]) -> DataDir:
    """The data dir of every copy: `<kind>-<utt>` ids, `<kind>-<spk>` pseudo-speakers, utt2orig, utt2perturb.

    A noise copy's seed and noise file (a reverb copy's seed: its room) are chosen from its own id (not from
    run order), so adding a kind or an utterance never changes the other copies."""
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
            elif p.kind == "reverb":
                p = Perturbation("reverb", p.value, _stable_seed(copy))
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
    "LINEAR",
    "MU",
    "MULAW",
    "NOISE_SUFFIXES",
    "PHONE_BAND",
    "PHONE_RATE",
    "Perturbation",
    "WHITE",
    "add_noise",
    "add_reverb",
    "apply_perturbation",
    "augment_datadir",
    "band_limit",
    "change_speed",
    "mulaw",
    "noise_files",
    "noise_like",
    "plan_perturbations",
    "reverb_impulse",
    "shift_start",
    "telephone",
]
