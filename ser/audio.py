"""The one way `ser` opens audio: mono float32 at a target rate, whole files, regions or streamed blocks.

Containers libsndfile reads (WAV, FLAC, AIFF, OGG, MP3) are read with soundfile, region by region; what it cannot
read (m4a/AAC from phones, opus/webm, the audio track of video files) is decoded with PyAV, which ships its own
FFmpeg libraries, into memory once.

Why one path: every front end, scorer, VAD and benchmark must see the same samples for the same file and
apply the same checks, whatever its container (WAV/FLAC/AIFF/OGG, even behind a misleading `.wav` name,
since libsndfile sniffs the header), bit depth, channel count or sample rate. `open_audio` reads the header
once and refuses missing, undecodable and truncated files (a half-copied WAV would otherwise pass as a
shorter clip with the whole clip's label); `read` and `blocks` refuse empty, non-finite and silent audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from ser.errors import InputFileError

TARGET_RATE = 16000
#: sample rates outside this range are refused: a header declaring 1 Hz would be upsampled to millions of samples
MIN_RATE, MAX_RATE = 1000, 768000
#: float samples beyond this are refused (a little over 1 is clipping headroom; 32767 is an integer-scaled file)
MAX_PEAK = 8.0


def resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling with libsoxr (the `soxr` package librosa already needs): its cost and memory grow
    with the length of the signal, not with the ratio of the two rates (24414 -> 16000 Hz is no dearer than
    48000 -> 16000 Hz), and it needs no torch."""
    if orig_rate == target_rate:
        return samples
    import soxr

    return soxr.resample(np.ascontiguousarray(samples, dtype=np.float32), orig_rate, target_rate).astype(np.float32, copy=False)


def wav_truncation(path: Path) -> str | None:
    """Describe a RIFF/WAVE file whose data chunk is shorter than its header declares, else None.

    libsndfile silently reads what is there. Streamed files with a placeholder size (0 or 0xFFFFFFFF)
    are not flagged.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = size - handle.tell()
                if declared not in (0, 0xFFFFFFFF) and declared > available:
                    return f"truncated: the header declares {declared} data bytes, the file holds {available}"
                return None
            handle.seek(declared + (declared & 1), 1)


def _mono(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]


def decode_with_av(path: Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples, rate) of the first audio stream of any container FFmpeg knows, via PyAV.

    Channels are averaged here, as `_mono` does for libsndfile's files: FFmpeg's own downmix weights stereo by
    1/sqrt(2) (+3 dB on the mean) and adds centre/LFE in 5.1, so the same audio would be louder as m4a than as WAV.
    FFmpeg drops the encoder's priming samples the container declares (MP4 edit list, iTunSMPB, LAME header) but
    keeps the padding that fills the last frame; that tail is cut to the duration the container declares.
    """
    import av

    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise InputFileError(path, "the file has no audio stream")
            stream = streams[0]
            rate = int(stream.rate or stream.codec_context.sample_rate)
            to_float = av.AudioResampler(format="fltp", rate=rate)  # input layout kept: channels averaged below
            chunks, last = [], 0
            for frame in container.decode(stream):
                chunks += [out.to_ndarray().mean(axis=0) for out in to_float.resample(frame)]
                last = int(round(frame.samples * rate / (frame.sample_rate or rate)))
            chunks += [out.to_ndarray().mean(axis=0) for out in to_float.resample(None)]
            declared = (int(round(stream.duration * stream.time_base * rate))
                        if stream.duration and stream.time_base else None)
    except InputFileError:
        raise
    except Exception as exc:  # FFmpeg's errors of every kind: not decodable
        raise InputFileError(path, f"cannot decode audio ({type(exc).__name__}: {exc})") from None
    samples = (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)).astype(np.float32, copy=False)
    if declared and 0 < samples.size - declared < last:  # only the last frame's padding: a wrong header cuts no more
        samples = samples[:declared]
    return samples, rate


def not_a_readable_file(path: Path) -> str | None:
    """Why `path` cannot be opened as an audio file before any decoder sees it, or None: a decoder would block for
    ever on a pipe, and "file does not exist" hides a link that leads nowhere or an empty file."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a symbolic link to nothing (dangling)" if path.is_symlink() else "file does not exist"
    except OSError as exc:  # ELOOP: a link that leads to itself
        return f"cannot open ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a folder, not an audio file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device); ser reads audio files only"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:  # e.g. no read permission: say so, not "cannot decode"
        return f"cannot open ({exc.strerror})"
    return None


class AudioFile:
    """An audio file whose header was read and checked; samples are read on demand (libsndfile) or were decoded
    at opening (PyAV, for containers libsndfile does not read)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.decoded: np.ndarray | None = None
        unusable = not_a_readable_file(self.path)
        if unusable:
            raise InputFileError(self.path, unusable)
        try:
            info = sf.info(str(self.path))
        except Exception as exc:  # libsndfile reports format problems as RuntimeError/LibsndfileError
            self._open_with_av(exc)
        else:
            truncation = wav_truncation(self.path)
            if truncation:
                raise InputFileError(self.path, truncation)
            self.rate = int(info.samplerate)
            self.frames = int(info.frames)
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise InputFileError(self.path, f"sample rate {self.rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz: not audio ser can use")

    def _open_with_av(self, soundfile_error: Exception) -> None:
        try:
            import av  # noqa: F401
        except ImportError:
            raise InputFileError(self.path, f"cannot decode audio ({soundfile_error}); m4a/AAC, opus and video "
                                 "containers need PyAV (pip install av)") from None
        self.decoded, self.rate = decode_with_av(self.path)
        self.frames = int(self.decoded.size)

    @property
    def duration(self) -> float:
        return self.frames / float(self.rate)

    def read(self, start: float | None = None, end: float | None = None, target_rate: int = TARGET_RATE,
             allow_silence: bool = False) -> np.ndarray:
        """Samples of [start, end) seconds (the whole file by default) as 1-D float32 in [-1, 1] at `target_rate`.

        Only the region is read. Digital silence (all samples zero) is refused unless `allow_silence`: its
        features are degenerate (log energies of -inf) and would silently poison normalisation statistics.
        """
        first, last, where = self._region(start, end)
        try:
            if self.decoded is not None:
                data = self.decoded[first:last, None]
            else:
                data, _ = sf.read(str(self.path), start=first, stop=last, dtype="float32", always_2d=True)
        except Exception as exc:
            raise InputFileError(self.path, f"{where}cannot decode audio ({exc})") from None
        if data.shape[0] == 0:
            raise InputFileError(self.path, f"{where}empty" if where else "zero-length audio (no samples)")
        mono = self._checked(_mono(data), where)
        if not allow_silence and not np.any(mono):
            raise InputFileError(self.path, f"{where}digital silence" if where else "all samples are zero (digital silence)")
        return resample(np.ascontiguousarray(mono, dtype=np.float32), self.rate, target_rate)

    def stream(self, start: float | None = None, end: float | None = None, target_rate: int = TARGET_RATE,
               block_seconds: float = 5.0) -> Iterator[np.ndarray]:
        """The samples `read` returns, as consecutive float32 blocks (their concatenation equals `read`'s array, bit
        for bit: libsoxr's stream resampler gives what its one-shot call does), read and resampled one block at a
        time so a one-pass consumer of an hour of audio (openSMILE functionals) never holds it whole. The same
        checks as `read`; empty and silent audio are refused after the last block."""
        first, last, where = self._region(start, end)
        size = max(1, int(block_seconds * self.rate))
        resampler = None
        if self.rate != target_rate:
            import soxr

            resampler = soxr.ResampleStream(self.rate, target_rate, 1, dtype="float32")
        region = None if self.decoded is None else self.decoded[first:last]
        chunks = ((region[i : i + size, None] for i in range(0, region.size, size)) if region is not None else
                  sf.blocks(str(self.path), blocksize=size, start=first, stop=last, dtype="float32", always_2d=True))
        heard, total = False, 0
        try:
            for data in chunks:
                mono = np.ascontiguousarray(self._checked(_mono(data), where), dtype=np.float32)
                heard = heard or bool(np.any(mono))
                total += mono.size
                yield mono if resampler is None else resampler.resample_chunk(mono)
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(self.path, f"{where}cannot decode audio ({exc})") from None
        if total == 0:
            raise InputFileError(self.path, f"{where}empty" if where else "zero-length audio (no samples)")
        if not heard:
            raise InputFileError(self.path, f"{where}digital silence" if where else "all samples are zero (digital silence)")
        if resampler is not None:
            yield resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

    def _region(self, start: float | None, end: float | None) -> tuple[int, int | None, str]:
        """(first sample, last sample or None for the end, the prefix errors about a region carry)."""
        first = 0 if start is None else int(round(start * self.rate))
        last = None if end is None or end <= 0 else int(round(end * self.rate))
        return first, last, "" if start is None else f"segment {start:.2f}-{end} s: "

    def _checked(self, mono: np.ndarray, where: str) -> np.ndarray:
        """`mono`, or InputFileError for NaN/Inf samples or integer-scaled values in a float file."""
        if not np.isfinite(mono).all():
            bad = int((~np.isfinite(mono)).sum())
            raise InputFileError(self.path, f"{where}{bad} of {mono.size} samples are NaN or Inf")
        peak = float(np.abs(mono).max()) if mono.size else 0.0
        if peak > MAX_PEAK:  # a float file holding integer-scaled samples: every feature would be off
            raise InputFileError(self.path, f"{where}samples reach {peak:.1f}, far outside [-1, 1] (integer values in a "
                                 "float file?); rescale the file")
        return mono

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        """The whole file as consecutive mono float64 blocks of `size` samples at the file's own rate, read one
        at a time: memory stays flat for hour-long files."""
        total = 0
        size = max(1, int(size))
        chunks = ((self.decoded[i : i + size, None] for i in range(0, self.decoded.size, size)) if self.decoded is not None
                  else sf.blocks(str(self.path), blocksize=size, dtype="float32", always_2d=True))
        try:
            for chunk in chunks:
                mono = chunk.mean(axis=1, dtype=np.float64) if chunk.shape[1] > 1 else chunk[:, 0].astype(np.float64)
                if not np.isfinite(mono).all():
                    raise InputFileError(self.path, "NaN or Inf samples")
                total += mono.size
                yield mono
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(self.path, f"cannot decode audio ({exc})") from None
        if total == 0:
            raise InputFileError(self.path, "zero-length audio (no samples)")


def open_audio(path: str | Path) -> AudioFile:
    return AudioFile(path)


def load_audio(path: str | Path, target_rate: int = TARGET_RATE, allow_silence: bool = False) -> np.ndarray:
    """The whole file as 1-D float32 at `target_rate`; InputFileError names the file and the reason."""
    return open_audio(path).read(target_rate=target_rate, allow_silence=allow_silence)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the header alone (cheap; used to check frame counts)."""
    info = sf.info(str(path))
    return info.frames / float(info.samplerate)


__all__ = [
    "AudioFile",
    "MAX_PEAK",
    "TARGET_RATE",
    "audio_duration",
    "decode_with_av",
    "load_audio",
    "not_a_readable_file",
    "open_audio",
    "resample",
    "wav_truncation",
]
