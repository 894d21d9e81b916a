"""librosa front end (kind: mfcc_pitch): 13 MFCCs (c0 included) + log F0, and their deltas.

The attention-BLSTM input (features/mfcc_pitch28.yaml): "13-dimensional MFCC including the
zero-th order coefficient, the pitch and their first order derivatives" = 14 static + 14 delta
columns. Frames are centred (librosa `center=True`, zero padding), so an utterance of N samples
gives 1 + N // hop frames, and frame t describes the signal around t * hop.

MFCCs: librosa's (power mel spectrogram of a Hann-windowed `win_length_ms` frame zero-padded to
the next power of two, `power_to_db` without librosa's default 80 dB clamp below the utterance's
loudest bin, so that a frame's value never depends on the rest of the clip; orthonormal DCT-II);
c0 is kept. The utterance mean (DC offset) is removed first. The 13 MFCCs are the same numbers
as spectral36's.

Pitch: `librosa.yin` on the same frame grid (pYIN's HMM is ~100x slower and buys nothing a
sequence model cannot learn). YIN always returns a period, even in silence and fricatives, so
voicing is decided here: a frame is voiced when the normalised cross-correlation of the YIN
analysis frame with itself shifted by the YIN period is at least `voicing_threshold` (a periodic
frame scores near 1, noise near 0), and the frame's energy is within `silence_db` of the
utterance's loudest frame, and YIN's period is not on the edge of the search range (where YIN
lands when it finds no real trough, as in noise; so voiced F0 lies in about fmin*1.02 ..
fmax/1.02). Isolated voiced/unvoiced single frames are then removed with a 3-frame median
filter on the decision. On EmoDB this decision agrees with pYIN's on 75-94 % of frames (about
what two pitch trackers' voicing decisions agree on), and F0 on frames both call voiced agrees
to within 20 % on 95-100 % of them.

Unvoiced representation (`unvoiced`):
- "zero" (default): natural-log F0 (ln Hz, 4.1 at 60 Hz ... 6.2 at 500 Hz) in voiced frames,
  0 in unvoiced ones. This is the convention of the openSMILE/Emobase F0 that the SER papers
  use (F0 = 0 when unvoiced); in a single column it keeps both the voicing pattern (speech rate,
  voiced proportion, which carry emotion) and the contour, and 0 lies far below any real log
  F0, so the two cases never overlap. Log rather than Hz because pitch perception and
  speaker/emotion shifts are multiplicative. The price is delta spikes at voicing onsets and
  offsets; they carry the same onset information and come out of the same `delta()` as every
  other front end.
- "interpolate": log F0 linearly interpolated across unvoiced stretches (held flat before the
  first and after the last voiced frame), as Kaldi's pitch feature does; a smooth contour but
  the voicing information is lost from this column. An utterance with no voiced frame gets 0.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ser.frontend.base import register_extractor
from ser.frontend.deltas import add_deltas

_UNVOICED_MODES = ("zero", "interpolate")


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


@register_extractor("mfcc_pitch")
class MfccPitchExtractor:
    """13 MFCC (with c0) + log F0 per centred frame, plus `deltas` orders of regression deltas."""

    def __init__(
        self,
        n_mfcc: int = 13,
        win_length_ms: float = 25.0,
        hop_length_ms: float = 10.0,
        n_mels: int = 40,
        fmin_pitch: float = 60.0,
        fmax_pitch: float = 500.0,
        deltas: int = 1,
        delta_window: int = 2,
        unvoiced: str = "zero",
        voicing_threshold: float = 0.5,
        silence_db: float = 35.0,
        pitch_periods: float = 3.0,
    ) -> None:
        import librosa  # noqa: F401  (slow import: here, not at module import)

        if unvoiced not in _UNVOICED_MODES:
            raise ValueError(f"mfcc_pitch unvoiced must be one of {_UNVOICED_MODES}, not '{unvoiced}'")
        if not 0 < fmin_pitch < fmax_pitch:
            raise ValueError(f"mfcc_pitch needs 0 < fmin_pitch < fmax_pitch, got {fmin_pitch}, {fmax_pitch}")
        if hop_length_ms <= 0 or win_length_ms < hop_length_ms:
            raise ValueError("mfcc_pitch needs 0 < hop_length_ms <= win_length_ms")
        self.n_mfcc = int(n_mfcc)
        self.win_length_ms = float(win_length_ms)
        self.hop_length_ms = float(hop_length_ms)
        self.n_mels = int(n_mels)
        self.fmin_pitch = float(fmin_pitch)
        self.fmax_pitch = float(fmax_pitch)
        self.deltas = int(deltas)
        self.delta_window = int(delta_window)
        self.unvoiced = unvoiced
        self.voicing_threshold = float(voicing_threshold)
        self.silence_db = float(silence_db)
        self.pitch_periods = float(pitch_periods)
        base = [f"mfcc_{i}" for i in range(self.n_mfcc)] + ["log_f0"]
        self.names = base + [f"{n}_d{'d' * k}" for k in range(self.deltas) for n in base]
        self.frame_shift = self.hop_length_ms / 1000.0
        self._mel_cache: dict[int, np.ndarray] = {}
        # librosa compiles some helpers (numba) on first use: pay that once per worker, here.
        self(np.zeros(1600, dtype=np.float32) + 1e-3 * np.sin(np.arange(1600, dtype=np.float32)), 16000)

    @property
    def dim(self) -> int:
        return len(self.names)

    # -- geometry -----------------------------------------------------------------------------
    def _geometry(self, rate: int) -> tuple[int, int, int, int]:
        hop = int(round(rate * self.hop_length_ms / 1000.0))
        win = int(round(rate * self.win_length_ms / 1000.0))
        n_fft = _next_pow2(win)
        # YIN analysis frame: `pitch_periods` periods of the lowest F0, and longer than the max lag.
        yin_len = int(math.ceil(self.pitch_periods * rate / self.fmin_pitch))
        yin_len = max(yin_len, int(math.ceil(rate / self.fmin_pitch)) + 2, win)
        yin_len += yin_len % 2
        return hop, win, n_fft, yin_len

    def _mel_basis(self, rate: int, n_fft: int) -> np.ndarray:
        key = rate * 100000 + n_fft
        if key not in self._mel_cache:
            import librosa

            self._mel_cache[key] = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=self.n_mels)
        return self._mel_cache[key]

    # -- features -----------------------------------------------------------------------------
    def _mfcc(self, samples: np.ndarray, rate: int, hop: int, win: int, n_fft: int) -> np.ndarray:
        import librosa

        with warnings.catch_warnings():  # clips shorter than n_fft are fine: centred frames are zero-padded
            warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
            spec = np.abs(librosa.stft(samples, n_fft=n_fft, hop_length=hop, win_length=win, window="hann", center=True)) ** 2
        mel = self._mel_basis(rate, n_fft) @ spec
        return librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=self.n_mfcc).T  # (frames, n_mfcc)

    def _pitch(self, samples: np.ndarray, rate: int, hop: int, yin_len: int, frames: int) -> np.ndarray:
        """(frames,) log F0 with unvoiced frames handled per `self.unvoiced`."""
        import librosa

        f0 = librosa.yin(samples, fmin=self.fmin_pitch, fmax=self.fmax_pitch, sr=rate, frame_length=yin_len, hop_length=hop, center=True)
        f0 = f0[:frames]
        # Voicing: normalised cross-correlation at the YIN period over the same centred frames.
        padded = np.pad(samples.astype(np.float64), yin_len // 2)
        framed = np.lib.stride_tricks.sliding_window_view(padded, yin_len)[::hop][:frames]  # (frames, yin_len) view
        max_lag = int(math.ceil(rate / self.fmin_pitch)) + 1
        span = yin_len - max_lag  # compared stretch, the same length for every lag
        lag = np.clip(np.rint(rate / np.maximum(f0, 1e-6)).astype(np.int64), 1, max_lag)
        # compare x[a : a+span] with x[a+lag : a+lag+span], the pair centred on the frame centre
        start = (yin_len - span - lag) // 2
        offsets = np.arange(span)[None, :]
        head = np.take_along_axis(framed, start[:, None] + offsets, axis=1)
        shifted = np.take_along_axis(framed, (start + lag)[:, None] + offsets, axis=1)
        e_head = np.einsum("ij,ij->i", head, head)
        e_shift = np.einsum("ij,ij->i", shifted, shifted)
        nccf = np.einsum("ij,ij->i", head, shifted) / np.sqrt(e_head * e_shift + 1e-20)
        energy = e_head / span
        loud = energy > max(float(energy.max()) * 10.0 ** (-self.silence_db / 10.0), 1e-10)
        # YIN falls back to the global minimum of its difference function when no trough is deep
        # enough, which in noise lands on the edge of the lag range: never call those voiced.
        inside = (f0 > self.fmin_pitch * 1.02) & (f0 < self.fmax_pitch / 1.02)
        voiced = (nccf >= self.voicing_threshold) & loud & inside
        if voiced.size >= 3:  # 3-frame median (majority) filter; end frames keep their value
            smoothed = voiced.copy()
            smoothed[1:-1] = voiced[:-2].astype(np.int8) + voiced[1:-1] + voiced[2:] >= 2
            voiced = smoothed
        log_f0 = np.log(np.clip(np.nan_to_num(f0, nan=self.fmin_pitch), self.fmin_pitch, self.fmax_pitch))
        if self.unvoiced == "zero":
            return np.where(voiced, log_f0, 0.0)
        if not voiced.any():
            return np.zeros(frames)
        idx = np.flatnonzero(voiced)
        return np.interp(np.arange(frames), idx, log_f0[idx])

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ValueError("mfcc_pitch: empty signal (0 samples)")
        samples = samples - samples.mean()  # a DC offset would leak into c0..c2 of quiet frames
        hop, win, n_fft, yin_len = self._geometry(int(rate))
        mfcc = self._mfcc(samples, int(rate), hop, win, n_fft)
        pitch = self._pitch(samples, int(rate), hop, yin_len, mfcc.shape[0])
        feats = np.concatenate([mfcc, pitch[:, None]], axis=1).astype(np.float32)
        if self.deltas:
            feats = add_deltas(feats, self.deltas, self.delta_window)
        return np.ascontiguousarray(feats, dtype=np.float32)


__all__ = ["MfccPitchExtractor"]
