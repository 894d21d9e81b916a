"""The A-LSTM paper's 36-d frame set (kind: spectral36), vectorised numpy on one frame matrix.

"13D MFCCs, zero crossing rate (ZCR), energy, entropy of energy, spectral centroid, spectral
spread, spectral entropy, spectral flux, spectral roll-off, 12D chroma vector, chroma deviation,
harmonic ratio and pitch ... within a 25 ms window whose shifting step size was 10 ms"; the paper
then z-normalises within each utterance: `normalization: utterance` does that in conf/alstm_paper_protocol.yaml;
the other alstm configs normalise by speaker instead (ours). Normalisation is a step of its own, not this extractor.

The signal (utterance mean removed) is framed once, centred like librosa (`win//2` zeros before,
so N samples give 1 + N // hop frames, frame t centred on sample t * hop, the same grid as
mfcc_pitch), and every column is computed on that (frames, win) matrix:

- mfcc_0..12: power spectrum of the Hann-windowed frame (zero-padded to n_fft, the next power of
  two), `n_mels` Slaney mel filters (librosa.filters.mel), 10*log10 (floor 1e-10), orthonormal
  DCT-II; c0 kept. Equals librosa.feature.mfcc(S=power_to_db(melspectrogram(...), top_db=None))
  with the same n_fft / window / hop, and mfcc_pitch's MFCC columns.
- zcr: fraction of adjacent sample pairs whose sign differs (0..1).
- energy: ln(mean square) of the raw frame (+1e-10). The paper does not say linear or log; linear
  frame energy spans six decades, so after z-normalisation all but the loudest frames would sit at
  one value. `log_energy: false` gives the linear mean square.
- energy_entropy: entropy (bits) of the distribution of the frame's energy over 10 equal sub-frames.
- spectral_centroid, spectral_spread: magnitude-weighted mean and standard deviation of frequency, Hz.
- spectral_entropy: entropy (bits) of the distribution of spectral power over 10 equal sub-bands.
- spectral_flux: squared Euclidean distance between consecutive sum-normalised magnitude spectra
  (0 for the first frame).
- spectral_rolloff: frequency (Hz) below which 90 % (`rolloff`) of the spectral power lies.
- chroma_C..chroma_B: power spectrum folded onto 12 pitch classes (librosa.filters.chroma weights,
  C first), normalised to sum to 1 in each frame so that chroma is independent of loudness.
- chroma_std: standard deviation of those 12 values.
- harmonic_ratio: maximum, over lags fs/fmax_pitch .. fs/fmin_pitch, of the normalised
  autocorrelation r(k) / sqrt(E[0, W-k) E[k, W)) of the raw frame (frame mean removed): ~1 for a
  periodic frame, ~0 for noise. The per-lag normalisation removes the plain autocorrelation's
  bias towards short lags.
- pitch: fs / lag of the first local maximum of that function reaching `octave_ratio` times its
  maximum (the shortest convincing period, which avoids the sub-octave errors of a plain argmax,
  since multiples of the period correlate just as well), refined by parabolic interpolation;
  0 (unvoiced) unless harmonic_ratio >= `voicing_threshold` and the frame's energy is within
  `silence_db` of the utterance's loudest frame. In Hz, 0 when unvoiced, as openSMILE's F0.
  A 25 ms frame holds only 1.5 periods at 60 Hz, so the longest lags are noisier than YIN's;
  lags are capped at 3/4 of the window (at least a quarter-window of overlap).
"""

from __future__ import annotations

import math

import numpy as np

from ser.frontend.base import register_extractor

_EPS = 1e-10
_CHROMA = ["C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B"]
NAMES = (
    [f"mfcc_{i}" for i in range(13)]
    + ["zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread", "spectral_entropy", "spectral_flux", "spectral_rolloff"]
    + [f"chroma_{c}" for c in _CHROMA]
    + ["chroma_std", "harmonic_ratio", "pitch"]
)


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


def _entropy_bits(parts: np.ndarray) -> np.ndarray:
    """Entropy (bits) of each row's non-negative parts, normalised to a distribution (0 for an all-zero row)."""
    p = parts / (parts.sum(axis=1, keepdims=True) + _EPS)
    return -np.sum(p * np.log2(p + _EPS), axis=1)


class _Geometry:
    """Everything that depends only on the sample rate: sizes, window, filterbanks, lag range."""

    def __init__(self, rate: int, win_ms: float, hop_ms: float, n_mels: int, n_mfcc: int, fmin: float, fmax: float) -> None:
        import librosa

        self.win = int(round(rate * win_ms / 1000.0))
        self.hop = int(round(rate * hop_ms / 1000.0))
        if self.win < 20 or self.hop < 1:
            raise ValueError(f"spectral36: window of {self.win} samples / hop of {self.hop} at {rate} Hz is too small")
        self.n_fft = _next_pow2(self.win)
        self.window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(self.win) / self.win))[None, :]  # periodic Hann
        self.freqs = np.arange(self.n_fft // 2 + 1) * (rate / self.n_fft)
        self.mel = librosa.filters.mel(sr=rate, n_fft=self.n_fft, n_mels=n_mels).astype(np.float64).T  # (bins, mels)
        # orthonormal DCT-II as a (mels, n_mfcc) matrix: log-mel rows @ dct = cepstra
        k, i = np.meshgrid(np.arange(n_mfcc), np.arange(n_mels))
        self.dct = np.sqrt(2.0 / n_mels) * np.cos(np.pi * k * (2 * i + 1) / (2 * n_mels))
        self.dct[:, 0] /= np.sqrt(2.0)
        self.chroma = librosa.filters.chroma(sr=rate, n_fft=self.n_fft, base_c=True).astype(np.float64).T  # (bins, 12)
        n_bins = self.n_fft // 2 + 1
        self.band_starts = np.linspace(0, n_bins, 11).astype(int)[:-1]  # 10 sub-bands for spectral entropy
        self.sub_len = self.win // 10  # 10 sub-frames for entropy of energy
        # Autocorrelation lags for pitch; at least 2 samples, and leave >= 1/4 window of overlap.
        self.lag_lo = max(2, int(math.floor(rate / fmax)))
        self.lag_hi = min(int(math.ceil(rate / fmin)), int(0.75 * self.win))
        if self.lag_hi <= self.lag_lo + 1:
            raise ValueError(f"spectral36: pitch range {fmin}-{fmax} Hz leaves no lags in a {win_ms} ms window at {rate} Hz")
        self.n_acf = _next_pow2(2 * self.win)


@register_extractor("spectral36")
class Spectral36Extractor:
    """36 short-time features per centred 25 ms / 10 ms frame (A-LSTM's input)."""

    def __init__(
        self,
        win_length_ms: float = 25.0,
        hop_length_ms: float = 10.0,
        n_mels: int = 40,
        fmin_pitch: float = 60.0,
        fmax_pitch: float = 500.0,
        voicing_threshold: float = 0.5,
        silence_db: float = 35.0,
        octave_ratio: float = 0.9,
        rolloff: float = 0.9,
        log_energy: bool = True,
    ) -> None:
        if not 0 < fmin_pitch < fmax_pitch:
            raise ValueError(f"spectral36 needs 0 < fmin_pitch < fmax_pitch, got {fmin_pitch}, {fmax_pitch}")
        if not 0 < rolloff < 1:
            raise ValueError(f"spectral36 rolloff must be in (0, 1), got {rolloff}")
        self.win_length_ms = float(win_length_ms)
        self.hop_length_ms = float(hop_length_ms)
        self.n_mels = int(n_mels)
        self.fmin_pitch = float(fmin_pitch)
        self.fmax_pitch = float(fmax_pitch)
        self.voicing_threshold = float(voicing_threshold)
        self.silence_db = float(silence_db)
        self.octave_ratio = float(octave_ratio)
        self.rolloff = float(rolloff)
        self.log_energy = bool(log_energy)
        self.names = list(NAMES)
        self.frame_shift = self.hop_length_ms / 1000.0
        self._geometries: dict[int, _Geometry] = {}
        self._geometry(16000)  # build the 16 kHz filterbanks now (and fail early on bad options)

    @property
    def dim(self) -> int:
        return len(self.names)

    def _geometry(self, rate: int) -> _Geometry:
        if rate not in self._geometries:
            self._geometries[rate] = _Geometry(
                rate, self.win_length_ms, self.hop_length_ms, self.n_mels, 13, self.fmin_pitch, self.fmax_pitch
            )
        return self._geometries[rate]

    def frames(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """(1 + N // hop, win) float64 matrix of centred, zero-padded frames (a copy)."""
        g = self._geometry(rate)
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        x = x - x.mean()
        padded = np.pad(x, (g.win // 2, g.win - g.win // 2))
        view = np.lib.stride_tricks.sliding_window_view(padded, g.win)[:: g.hop]
        return view[: 1 + x.size // g.hop].copy()

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        rate = int(rate)
        if np.asarray(samples).size == 0:
            raise ValueError("spectral36: empty signal (0 samples)")
        g = self._geometry(rate)
        frames = self.frames(samples, rate)
        n = frames.shape[0]

        # time domain
        signs = np.signbit(frames)
        zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        mean_square = np.mean(frames * frames, axis=1)
        energy = np.log(mean_square + _EPS) if self.log_energy else mean_square
        sub = frames[:, : 10 * g.sub_len].reshape(n, 10, g.sub_len)
        energy_entropy = _entropy_bits(np.sum(sub * sub, axis=2))

        # spectrum
        mag = np.abs(np.fft.rfft(frames * g.window, n=g.n_fft, axis=1))
        power = mag * mag
        mag_sum = mag.sum(axis=1)
        centroid = (mag @ g.freqs) / (mag_sum + _EPS)
        spread = np.sqrt(np.maximum((mag @ (g.freqs**2)) / (mag_sum + _EPS) - centroid**2, 0.0))
        spectral_entropy = _entropy_bits(np.add.reduceat(power, g.band_starts, axis=1))
        norm_mag = mag / (mag_sum[:, None] + _EPS)
        flux = np.zeros(n)
        flux[1:] = np.sum(np.diff(norm_mag, axis=0) ** 2, axis=1)
        cum = np.cumsum(power, axis=1)
        rolloff_bin = np.argmax(cum >= self.rolloff * cum[:, -1:], axis=1)
        rolloff = g.freqs[rolloff_bin]

        mfcc = (10.0 * np.log10(np.maximum(power @ g.mel, _EPS))) @ g.dct
        chroma = power @ g.chroma
        chroma /= chroma.sum(axis=1, keepdims=True) + _EPS
        chroma_std = chroma.std(axis=1)

        harmonic_ratio, pitch = self._pitch(frames, g, rate, mean_square)

        feats = np.column_stack(
            [mfcc, zcr, energy, energy_entropy, centroid, spread, spectral_entropy, flux, rolloff, chroma, chroma_std, harmonic_ratio, pitch]
        )
        return np.ascontiguousarray(feats, dtype=np.float32)

    def _pitch(self, frames: np.ndarray, g: _Geometry, rate: int, mean_square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(harmonic ratio, pitch Hz or 0) per frame from the per-lag normalised autocorrelation."""
        x = frames - frames.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(x, n=g.n_acf, axis=1)
        lo, hi = g.lag_lo, g.lag_hi
        acf = np.fft.irfft(spec.real**2 + spec.imag**2, n=g.n_acf, axis=1)[:, lo - 1 : hi + 2]  # lags lo-1 .. hi+1
        lags = np.arange(lo - 1, hi + 2)
        cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x * x, axis=1)], axis=1)  # cs[:, k] = sum_{n<k} x^2
        e_head = cs[:, g.win - lags]  # sum_{n < W-k} x_n^2
        e_tail = cs[:, -1:] - cs[:, lags]  # sum_{n >= k} x_n^2
        nacf = acf / np.sqrt(e_head * e_tail + _EPS)
        inner = nacf[:, 1:-1]  # lags lo .. hi
        harmonic_ratio = np.clip(inner.max(axis=1), 0.0, 1.0)
        peak = (inner > nacf[:, :-2]) & (inner >= nacf[:, 2:]) & (inner >= self.octave_ratio * harmonic_ratio[:, None])
        has_peak = peak.any(axis=1)
        k = np.argmax(peak, axis=1)  # first qualifying local maximum
        rows = np.arange(x.shape[0])
        left, mid, right = nacf[rows, k], nacf[rows, k + 1], nacf[rows, k + 2]
        curvature = left - 2.0 * mid + right
        shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
        lag = lo + k + np.clip(shift, -0.5, 0.5)
        loud = mean_square > max(float(mean_square.max()) * 10.0 ** (-self.silence_db / 10.0), _EPS)
        voiced = has_peak & loud & (harmonic_ratio >= self.voicing_threshold)
        pitch = np.where(voiced, rate / lag, 0.0)
        return harmonic_ratio, pitch


__all__ = ["NAMES", "Spectral36Extractor"]
