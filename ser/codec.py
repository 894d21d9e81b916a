"""Lossy re-encoding (MP3, AAC in .m4a) with PyAV, whose wheel carries FFmpeg's encoders: the codec copies of
training clips (``ser extract --codec``) and the codec tests encode the same way.

Why in the package: audio that users score often went through a phone's AAC or an MP3 encoder, which moves
eGeMAPS ratio functionals enough to flip a linear model's label (benchmarks/codecs.py); training on codec copies
teaches the model that such a change carries no emotion. A copy is read back by ``ser.audio``'s own reader, so
it is exactly what scoring that file would read.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

#: codec name -> (FFmpeg encoder, container suffix): AAC in MP4 (.m4a) as phones record it, MP3 as a plain stream
CODECS = {"aac": ("aac", ".m4a"), "mp3": ("mp3", ".mp3")}


def encode_pcm(pcm: np.ndarray, rate: int, out: str | Path, codec: str, bitrate: int, timestamps: bool = True) -> None:
    """Write int16 `pcm` ((samples,) or (samples, channels)) to `out` with FFmpeg's `codec` encoder at `bitrate` bit/s.

    With `timestamps` the first packet gets a negative pts, so the muxer records the encoder's priming delay (the
    MP4 edit list) as ffmpeg's command line and phones do; without them it records none (the priming then stays at
    the start of the decoded audio)."""
    import av

    frames = np.ascontiguousarray(np.atleast_2d(np.asarray(pcm, dtype=np.int16).T).T)  # (samples, channels)
    with av.open(str(out), "w") as container:
        stream = container.add_stream(codec, rate=int(rate), layout="mono" if frames.shape[1] == 1 else "stereo")
        stream.bit_rate = int(bitrate)
        frame = av.AudioFrame.from_ndarray(frames.reshape(1, -1), format="s16", layout=stream.layout.name)
        frame.sample_rate = int(rate)
        if timestamps:
            frame.pts, frame.time_base = 0, Fraction(1, int(rate))
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16 (x 32768, rounded, clipped): a 16-bit file's samples come back unchanged."""
    return np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def round_trip(samples: np.ndarray, rate: int, codec: str, kbps: float) -> np.ndarray:
    """`samples` (mono float) encoded with `codec` ("aac" or "mp3") at `kbps` kbit/s and read back by `ser`'s reader
    (``ser.audio``: libsndfile for MP3, PyAV for .m4a), the samples scoring such a file sees, at `rate`."""
    from ser.audio import load_audio
    from ser.errors import SerError

    if codec not in CODECS:
        raise SerError(f"unknown codec '{codec}' (known: {', '.join(sorted(CODECS))})")
    if not kbps > 0:
        raise SerError(f"a codec bitrate must be > 0 kbit/s, not {kbps:g}")
    encoder, suffix = CODECS[codec]
    with tempfile.TemporaryDirectory(prefix="ser-codec-") as tmp:
        path = Path(tmp) / f"copy{suffix}"
        encode_pcm(to_pcm16(samples), rate, path, encoder, round(kbps * 1000))
        return load_audio(path, rate, allow_silence=True)


__all__ = ["CODECS", "encode_pcm", "round_trip", "to_pcm16"]
