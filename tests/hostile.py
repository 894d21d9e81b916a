"""Generators for hostile and broken non-audio inputs (model files, text, data dirs), made at test time.

Shared by tests/test_probes.py and benchmarks/probe.py; the audio ones are in tests/bad_audio.py.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that occupies no disk (truncate): a huge 'model' costs nothing to make."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def zip_bomb(path: Path, unpacked: int, member: str = "meta.json", seal: bool = True) -> Path:
    """A small zip whose one deflated member unpacks to `unpacked` zero bytes, posing as a model bundle; sealed
    like a real bundle (anyone can recompute the seal), so only size checks can stop it. Deflate level 1 for
    speed: 1.5 GiB packs into 7 MB in seconds (level 9's classic 1.5 MB takes 20 s)."""
    from ser.bundle import _seal

    chunk = b"\0" * (1 << 22)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(member, "w", force_zip64=unpacked > 2**31) as handle:
            left = unpacked
            while left > 0:
                handle.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    raw = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(_seal(raw) if seal else raw)
    return path


def reseal_bundle(src: Path, dst: Path, edit) -> None:
    """Copy a bundle with `edit(meta, arrays)` applied, sealed again (as any tool that rewrites files could)."""
    import io
    import json

    import numpy as np

    from ser.bundle import _seal, load_bundle

    bundle = load_bundle(src)
    meta, arrays = json.loads(json.dumps(bundle.meta)), {f"model/{k}.npy": v.copy() for k, v in bundle.model_state.items()}
    arrays.update({f"normalization/{k}.npy": v for k, v in bundle.norm_state.items()})
    edit(meta, arrays)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("meta.json", json.dumps(meta))
        for name, array in arrays.items():
            out = io.BytesIO()
            np.save(out, array)
            archive.writestr(name, out.getvalue())
    dst.write_bytes(_seal(buffer.getvalue()))


def deep_json(depth: int = 10000) -> str:
    """A list nested `depth` times: valid JSON (and YAML) that recursive parsers cannot read."""
    return "[" * depth + "]" * depth


def billion_laughs(path: Path, levels: int = 9) -> Path:
    """A YAML alias bomb: 10 aliases per level, so walking it visits 10**levels nodes."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_text_model(path: Path) -> Path:
    """A small untrained AGHMN text model file (what `ser converse` loads)."""
    import torch

    from ser.text.model import TextEmotionModel, TextModelConfig, save_model

    torch.manual_seed(0)
    model = TextEmotionModel(TextModelConfig(hidden=8, embed_dim=6, window=3, cnn_maps=4), vocab_size=30, num_classes=4)
    save_model(path, model.eval(), ["<pad>", "<unk>"] + [f"w{i}" for i in range(28)], ["ang", "hap", "neu", "sad"])
    return path


class _Payload:
    """Unpickling this runs a shell command: what a hostile model file would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_torch_file(path: Path, marker: Path) -> Path:
    """A torch.save archive whose unpickling would create `marker` (refused by torch.load(weights_only=True))."""
    import torch

    torch.save({"format": "ser-bundle", "format_version": 1, "meta": _Payload(marker)}, path)
    return path


def child_peak_rss_mib(cmd: list[str], **kw) -> tuple[subprocess.CompletedProcess, float]:
    """Run `cmd`; its result and its peak resident memory in MiB (measured by the kernel, not guessed)."""
    import sys

    wrapper = [sys.executable, "-c",
               "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "print(f'PEAK_RSS_KIB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr); "
               "sys.exit(p.returncode)", *cmd]
    proc = subprocess.run(wrapper, capture_output=True, text=True, **kw)
    line = [x for x in proc.stderr.splitlines() if x.startswith("PEAK_RSS_KIB=")][-1]
    proc.stderr = "\n".join(x for x in proc.stderr.splitlines() if not x.startswith("PEAK_RSS_KIB="))
    return proc, int(line.split("=")[1]) / 1024


def tone_wavs(folder: Path, names: list[str]) -> dict[str, Path]:
    """Half-second 16-bit tone WAVs `folder/<name>.wav` (names may hold hostile characters)."""
    import soundfile as sf

    from tests.bad_audio import tone

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        out[name] = folder / f"{name}.wav"
        sf.write(out[name], tone(0.5), 16000, subtype="PCM_16")
    return out


def tone_datadir(root: Path, ids: list[str]) -> Path:
    """root/data: a data dir of tone WAVs whose speaker is the id's first two characters."""
    from ser.datadir import DataDir

    files = tone_wavs(root / "wav", ids)
    DataDir(maps={"wav.scp": {u: str(p) for u, p in files.items()}, "utt2spk": {u: u[:2] for u in ids}}).write(root / "data")
    return root / "data"


def segments_naming_unknown_recording(root: Path) -> Path:
    """root/data: utterances s1-1, s1-2 in recordings reca, recb (tone WAVs), and s1-3 in 'recX', which wav.scp lacks."""
    files = tone_wavs(root / "wav", ["a", "b"])
    data = root / "data"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text(f"reca {files['a']}\nrecb {files['b']}\n")
    (data / "segments").write_text("s1-1 reca 0.0 0.4\ns1-2 recb 0.0 0.4\ns1-3 recX 0.0 0.4\n")
    (data / "utt2spk").write_text("s1-1 s1\ns1-2 s1\ns1-3 s1\n")
    return data
