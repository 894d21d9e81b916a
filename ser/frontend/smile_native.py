"""openSMILE through the C library inside the opensmile wheel, without opensmile-python's pandas stack.

Why: ``import opensmile`` loads pandas, pyarrow, audinterface and audobject (0.6-1.3 s here), which was most
of a cold ``ser score`` of one clip. The wheel's ctypes binding (``opensmile/core/lib.py``, stdlib + numpy
only) is loaded by file path, so the package's ``__init__`` never runs, and openSMILE is driven as
``opensmile.Smile`` drives it for one channel: the same config files and options, the same int16 input
(``x * 32768`` truncated) through the external audio source, the frames collected from the external sink.
The features are identical to ``opensmile.Smile``'s (tested); sets not in ``CONFIGS`` use ``opensmile.Smile``.

`stream` takes the audio as consecutive blocks while openSMILE runs in a second thread, its wave level a ring
buffer (``opensmile_stream_source.conf.inc``): a one-pass set (functionals over an hour) then never holds the hour's
samples, which as one write cost ~4 MB per audio second in emobase's intermediate levels. Same features, bit for bit
(tested).

`NativeSmile.from_config` runs a config of ours with several external sinks (`levels` returns each sink's frames):
the contours that ``ser.frontend.long_functionals`` summarises for long utterances.

One openSMILE instance is kept per `NativeSmile` and reset (``smile_reset``) after each clip instead of being
built again: ``opensmile.Smile`` parses the config files for every call, ~5 ms of CPU a clip (~10% of an eGeMAPS
functionals pass over a 3 s clip) that scoring paid per clip. The reset instance gives bit-identical features
(tested, in any order of clips and rates).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

#: openSMILE feature-set name -> config file under the package's config root (opensmile's FeatureSet values)
CONFIGS = {
    "ComParE_2016": "compare/ComParE_2016",
    "GeMAPSv01b": "gemaps/v01b/GeMAPSv01b",
    "eGeMAPSv02": "egemaps/v02/eGeMAPSv02",
    "emobase": "emobase/emobase",
    "IS09": "is09-13/IS09_emotion",
    "IS10": "is09-13/IS10_paraling_compat",
    "IS11": "is09-13/IS11_speaker_state",
    "IS12": "is09-13/IS12_speaker_trait_compat",
    "IS13": "is09-13/IS13_ComParE",
}
#: our level names -> openSMILE's sink levels
SINK_LEVELS = {"lld": "lld", "functionals": "func"}
SOURCE, SINK = "extsource", "extsink"
#: the ring-buffer source `stream` uses, and the seconds of audio its ring holds
STREAM_SOURCE = Path(__file__).with_name("opensmile_stream_source.conf.inc")
STREAM_RING_SECONDS = 2.0
#: a stream gives up when openSMILE has taken no audio for this long (a config whose buffers cannot drain)
STREAM_STALL_SECONDS = 120.0


@functools.cache
def _package_core() -> Path | None:
    """opensmile/core of the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec("opensmile")
    if spec is None or not spec.submodule_search_locations:
        return None
    core = Path(next(iter(spec.submodule_search_locations))) / "core"
    return core if (core / "lib.py").is_file() and (core / "config").is_dir() else None


@functools.cache
def _binding() -> ModuleType:
    """The wheel's ctypes binding of libSMILEapi, loaded as a module of its own."""
    path = _package_core() / "lib.py"
    spec = importlib.util.spec_from_file_location("ser_opensmile_binding", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def available(feature_set: str) -> bool:
    """True if `feature_set` can run natively here (a known set and the wheel's expected layout)."""
    if feature_set not in CONFIGS or _package_core() is None:
        return False
    try:
        _binding()
    except Exception:  # another opensmile layout or a library that does not load: opensmile.Smile it is
        return False
    return True


class NativeSmile:
    """One feature set at one level; ``__call__(samples, rate)`` -> (frames, features) float32."""

    def __init__(self, feature_set: str, level: str, streaming: bool = False) -> None:
        """`streaming`: an instance for `stream` (ring-buffered input) instead of `__call__` (one write)."""
        core = _package_core()
        options = {
            "sink": str(core / "config" / "shared" / "standard_external_data_output_single.conf.inc"),
            "sinkLevel": SINK_LEVELS[level],
            "frameModeFunctionalsConf": str(core / "config" / "shared" / "FrameModeFunctionals.conf.inc"),
        }
        self._setup(str(core / "config" / f"{CONFIGS[feature_set]}.conf"), options, (SINK,), streaming)

    @classmethod
    def from_config(cls, config: str, options: dict[str, str], sinks: tuple[str, ...]) -> NativeSmile:
        """An instance running a config of ours (`options` name its includes), reading the external sinks `sinks`."""
        smile = cls.__new__(cls)
        smile._setup(config, options, sinks, streaming=False)
        return smile

    def _setup(self, config: str, options: dict[str, str], sinks: tuple[str, ...], streaming: bool) -> None:
        """Config file, its options (the wheel's shared includes and the source are added), the external sinks read."""
        shared = _package_core() / "config" / "shared"
        self.streaming = streaming
        self.config = config
        self.sinks = sinks
        self.options = {
            "bufferModeRbConf": str(shared / "BufferModeRb.conf.inc"),
            **options,
            "source": str(STREAM_SOURCE if streaming else shared / "standard_external_wave_input.conf.inc"),
        }
        self._lock = threading.Lock()
        self._kept: tuple[int, Any, dict[str, Any]] | None = None  # (sample rate, instance, a sink callback per sink)
        self._frames: dict[str, list[np.ndarray]] = {}
        smile = self._smile(self.options)
        try:
            self.names = {sink: [smile.external_sink_get_element_name(sink, i)
                                 for i in range(smile.external_sink_get_num_elements(sink))] for sink in sinks}
        finally:
            smile.free()
        self.feature_names = self.names[sinks[0]]

    def _smile(self, options: dict[str, Any]) -> Any:
        smile = _binding().OpenSMILE()
        smile.initialize(config_file=self.config, options=options, loglevel=2, log_file=None, debug=False)
        return smile

    def _ready(self, rate: int) -> Any:
        """The kept instance if it was built for `rate`, else a new one (the old one freed): one at a time."""
        if self._kept is not None and self._kept[0] == rate:
            return self._kept[1]
        self.close()
        ring = {"streamRingSamples": int(STREAM_RING_SECONDS * rate)} if self.streaming else {}
        smile = self._smile({**self.options, **ring, "sampleRate": int(rate), "nBits": 16})
        # one C callback object per sink, kept with its instance
        callbacks = {sink: _binding().ExternalSinkCallbackEx(functools.partial(self._on_frames, sink)) for sink in self.sinks}
        self._kept = (rate, smile, callbacks)
        return smile

    def _on_frames(self, sink: str, data: Any, rows: int, cols: int, meta: Any, user: Any) -> int:
        self._frames[sink].append(np.ctypeslib.as_array(data, shape=(rows, cols)).copy())
        return 1

    def _register_sinks(self, smile: Any) -> None:
        """Point each sink at `_on_frames` (a reset forgets it) and empty its frames. Through the C API with the kept
        callback objects: the binding's own setter keeps every callback it was given, a list growing by one per clip."""
        self._frames = {sink: [] for sink in self.sinks}
        for sink, callback in self._kept[2].items():
            result = _binding().smileapi.smile_extsink_set_data_callback_ex(smile._smileobj, sink.encode(), callback, None)
            smile._check_smile_result(result)

    def __call__(self, samples: np.ndarray, rate: int) -> np.ndarray:
        if self.streaming:
            return self.stream([samples], rate)
        return self.levels(samples, rate)[self.sinks[0]]

    def levels(self, samples: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        """Every sink's frames for `samples` (float, at `rate`), run in one write."""
        pcm = _pcm(samples)
        with self._lock:  # one run at a time on the kept instance (the Python API may call from threads)
            smile = self._ready(int(rate))
            try:
                self._register_sinks(smile)
                smile.external_audio_source_write_data(SOURCE, bytes(pcm))
                smile.external_audio_source_set_eoi(SOURCE)
                smile.run()
                smile.reset()
            except BaseException:
                self.close()  # an instance whose run failed is not trusted again
                raise
            frames, self._frames = self._frames, {}
        return {sink: self._joined(frames[sink], sink) for sink in self.sinks}

    def stream(self, blocks: Iterable[np.ndarray], rate: int) -> np.ndarray:
        """The features of the concatenation of `blocks` (float samples at `rate`), fed to openSMILE as they come
        while it runs in another thread; an error from `blocks` (bad audio mid-file) stops the run and is re-raised.
        Only for an instance made with ``streaming=True``."""
        if not self.streaming:
            raise RuntimeError("NativeSmile.stream needs an instance made with streaming=True")
        with self._lock:
            smile = self._ready(int(rate))
            failures: list[BaseException] = []
            runner = threading.Thread(target=_run_into, args=(smile, failures), name="opensmile-stream", daemon=True)
            try:
                self._register_sinks(smile)
                runner.start()
                chunk = max(1, int(STREAM_RING_SECONDS * rate) // 8)
                for block in blocks:
                    pcm = _pcm(block)
                    for i in range(0, pcm.size, chunk):
                        _write_when_room(smile, pcm[i : i + chunk].tobytes(), runner, failures)
                smile.external_audio_source_set_eoi(SOURCE)
                runner.join()
                if failures:
                    raise failures[0]
                smile.reset()
            except BaseException:
                _stop(smile, runner)
                self.close()  # an instance whose run failed or was cut short is not trusted again
                raise
            frames, self._frames = self._frames, {}
        return self._joined(frames[self.sinks[0]], self.sinks[0])

    def _joined(self, frames: list[np.ndarray], sink: str) -> np.ndarray:
        if not frames:
            return np.zeros((0, len(self.names[sink])), dtype=np.float32)
        return np.vstack(frames).astype(np.float32, copy=False)

    def close(self) -> None:
        """Free the kept openSMILE instance (a later call builds a new one)."""
        if self._kept is not None:
            self._kept[1].free()
            self._kept = None

    def __del__(self) -> None:
        try:  # at interpreter shutdown the binding (and modules such as contextlib) may be gone already
            self.close()
        except Exception:  # noqa: BLE001, S110  nothing to report to at shutdown
            pass


def _pcm(samples: np.ndarray) -> np.ndarray:
    """Float samples as the int16 openSMILE reads (``x * 32768`` truncated, as opensmile.Smile converts)."""
    return (np.asarray(samples, dtype=np.float32) * 32768).astype(np.int16)


def _run_into(smile: Any, failures: list[BaseException]) -> None:
    """`smile.run()` in the stream's thread; what it raises goes to `failures` for the writer to re-raise."""
    try:
        smile.run()
    except BaseException as exc:  # noqa: BLE001  everything goes back to the writer's thread, which re-raises it
        failures.append(exc)


def _write_when_room(smile: Any, data: bytes, runner: threading.Thread, failures: list[BaseException]) -> None:
    """Write `data` to the ring, waiting while it is full; raise if openSMILE stopped or stalled meanwhile."""
    waited_since = None
    while not smile.external_audio_source_write_data(SOURCE, data):
        if not runner.is_alive():
            raise failures[0] if failures else RuntimeError("openSMILE stopped before the end of the audio")
        now = time.monotonic()
        waited_since = waited_since or now
        if now - waited_since > STREAM_STALL_SECONDS:
            raise RuntimeError(f"openSMILE took no audio for {STREAM_STALL_SECONDS:.0f} s; its buffers do not drain")
        time.sleep(0.0005)


def _stop(smile: Any, runner: threading.Thread) -> None:
    """End a stream cut short: signal the end of input (and abort) so the run thread returns, then wait for it."""
    if not runner.is_alive():
        return
    with contextlib.suppress(Exception):
        smile.external_audio_source_set_eoi(SOURCE)
    with contextlib.suppress(Exception):
        smile.abort()
    runner.join(timeout=STREAM_STALL_SECONDS)


__all__ = ["CONFIGS", "NativeSmile", "available"]
