"""Malformed and unusual audio files for the probes, each written at probe time (none copied from a corpus).

Every maker writes one file (or folder, link, pipe) at the given path; AUDIO_CASES pairs it with what ser must
do: score it (`None`) or refuse it with an error holding the given fragment.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from tests.bad_audio import tone


def _wav_bytes(x: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    import io

    out = io.BytesIO()
    sf.write(out, x, rate, format="WAV", subtype=subtype)
    return out.getvalue()


def _patch_fmt(raw: bytes, channels: int | None = None, rate: int | None = None) -> bytes:
    """A WAV with its fmt chunk's channel count or sample rate rewritten (what a broken writer leaves)."""
    raw = bytearray(raw)
    fmt = raw.index(b"fmt ") + 8
    if channels is not None:
        raw[fmt + 2 : fmt + 4] = struct.pack("<H", channels)
    if rate is not None:
        raw[fmt + 4 : fmt + 8] = struct.pack("<I", rate)
    return bytes(raw)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def empty_file(p: Path) -> Path:
    return write(p, b"")


def header_only(p: Path) -> Path:
    return write(p, _wav_bytes(tone(0.5))[:44])


def truncated(p: Path) -> Path:
    raw = _wav_bytes(tone(1.0))
    return write(p, raw[: len(raw) // 2])


def text_named_wav(p: Path) -> Path:
    return write(p, b"RIFF but not really a wave file\n" * 10)


def zero_channels(p: Path) -> Path:
    return write(p, _patch_fmt(_wav_bytes(tone(0.5)), channels=0))


def nan_floats(p: Path) -> Path:
    x = tone(0.5)
    x[100:300] = np.nan
    sf.write(p, x, 16000, subtype="FLOAT")
    return p


def inf_floats(p: Path) -> Path:
    x = tone(0.5)
    x[500] = np.inf
    sf.write(p, x, 16000, subtype="FLOAT")
    return p


def huge_declared_rate(p: Path) -> Path:
    return write(p, _patch_fmt(_wav_bytes(tone(0.5)), rate=2_000_000_000))


def one_hz(p: Path) -> Path:
    sf.write(p, tone(0.5)[:32000], 1)
    return p


def silence(p: Path) -> Path:
    sf.write(p, np.zeros(16000, dtype=np.float32), 16000, subtype="PCM_16")
    return p


def too_short(p: Path) -> Path:
    sf.write(p, tone(0.5)[:16], 16000, subtype="PCM_16")
    return p


def folder_named_wav(p: Path) -> Path:
    p.mkdir()
    return p


def symlink_loop(p: Path) -> Path:
    os.symlink(p.name, p)
    return p


def dangling_symlink(p: Path) -> Path:
    os.symlink(p.parent / "gone.wav", p)
    return p


def fifo_named_wav(p: Path) -> Path:
    os.mkfifo(p)
    return p


def unreadable(p: Path) -> Path:
    sf.write(p, tone(0.5), 16000, subtype="PCM_16")
    p.chmod(0)
    return p


def pcm8(p: Path) -> Path:
    sf.write(p, tone(0.5), 16000, subtype="PCM_U8")
    return p


def pcm24(p: Path) -> Path:
    sf.write(p, tone(0.5), 16000, subtype="PCM_24")
    return p


def six_channels(p: Path) -> Path:
    sf.write(p, tone(0.5, channels=6), 16000, subtype="PCM_16")
    return p


def flac_named_wav(p: Path) -> Path:
    sf.write(p, tone(0.5), 16000, format="FLAC", subtype="PCM_16")
    return p


def wav_named_flac(p: Path) -> Path:
    return write(p.with_suffix(".flac"), _wav_bytes(tone(0.5)))


def ogg_vorbis(p: Path) -> Path:
    sf.write(p.with_suffix(".ogg"), tone(0.5), 16000, format="OGG", subtype="VORBIS")
    return p.with_suffix(".ogg")


def rate_44101(p: Path) -> Path:
    sf.write(p, tone(1.0, 44101), 44101, subtype="PCM_16")
    return p


def rate_8000(p: Path) -> Path:
    sf.write(p, tone(0.5, 8000), 8000, subtype="PCM_16")
    return p


def float_loud(p: Path) -> Path:
    sf.write(p, tone(0.5) * 30000, 16000, subtype="FLOAT")
    return p


def float64(p: Path) -> Path:
    sf.write(p, tone(0.5).astype(np.float64), 16000, subtype="DOUBLE")
    return p


def empty_flac(p: Path) -> Path:
    return write(p.with_suffix(".flac"), b"")


def riff_size_lies(p: Path) -> Path:
    """The RIFF and data sizes claim 1 GB: a stream-written header never patched."""
    raw = bytearray(_wav_bytes(tone(0.5)))
    raw[4:8] = struct.pack("<I", 1_000_000_000)
    data = raw.index(b"data") + 4
    raw[data : data + 4] = struct.pack("<I", 999_999_000)
    return write(p, bytes(raw))


#: name -> (maker, None when ser must score it, else a fragment its error must hold)
AUDIO_CASES: dict[str, tuple[Callable[[Path], Path], str | None]] = {
    "empty_file": (empty_file, 'empty file (0 bytes)'),
    "header_only": (header_only, 'truncated'),
    "truncated": (truncated, 'truncated: the header declares 32000 data bytes'),
    "text_named_wav": (text_named_wav, 'cannot decode audio'),
    "zero_channels": (zero_channels, 'cannot decode audio'),
    "nan_floats": (nan_floats, '200 of 8000 samples are NaN or Inf'),
    "inf_floats": (inf_floats, '1 of 8000 samples are NaN or Inf'),
    "huge_declared_rate": (huge_declared_rate, 'sample rate 2000000000 Hz is outside'),
    "one_hz": (one_hz, 'sample rate 1 Hz is outside'),
    "silence": (silence, 'digital silence'),
    "too_short": (too_short, 'too short'),
    "folder_named_wav": (folder_named_wav, 'folder holds no audio files'),
    "symlink_loop": (symlink_loop, 'Too many levels of symbolic links'),
    "dangling_symlink": (dangling_symlink, 'symbolic link to nothing'),
    "fifo_named_wav": (fifo_named_wav, 'not a regular file'),
    "unreadable": (unreadable, 'Permission denied'),
    "pcm8": (pcm8, None),
    "pcm24": (pcm24, None),
    "six_channels": (six_channels, None),
    "flac_named_wav": (flac_named_wav, None),
    "wav_named_flac": (wav_named_flac, None),
    "ogg_vorbis": (ogg_vorbis, None),
    "rate_44101": (rate_44101, None),
    "rate_8000": (rate_8000, None),
    "float_loud": (float_loud, 'far outside [-1, 1]'),
    "float64": (float64, None),
    "empty_flac": (empty_flac, 'empty file (0 bytes)'),
    "riff_size_lies": (riff_size_lies, 'declares 999999000 data bytes'),
}

__all__ = ["AUDIO_CASES"]
