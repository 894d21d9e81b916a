"""Model files ("bundles"): read, write and verify. One sealed file holds everything needed to score audio.

Every trained model is one: each fold's ``fold_<name>/model.ser``, the all-speaker model of ``ser export``,
the built-in model. Format version 2 is a zip archive (stored, fixed timestamps: the same model gives the
same bytes)::

    meta.json                  format, spec (what rebuilds the classifier), classes, output_kind, normalization
                               mode, features (the feats.yaml header: feature-set definition, dim, versions),
                               config, training (source, speakers, best epoch, ...), protocol and results
                               summary (exported bundles), package versions
    model/<name>.npy           the classifier's arrays (torch weights, or an SVM's hyperplanes)
    normalization/<name>.npy   the fitted normaliser's statistics (``ser.normalization``)
    onnx/model.onnx            optional (``ser export --onnx``): the torch model as an ONNX graph, which
                               scores with onnxruntime and no torch (``ser.onnx_export``)

The zip comment holds ``ser-sha256:`` + the SHA-256 of every byte before it: a flipped byte anywhere is a
clear refusal instead of silently changed scores (the seal detects corruption, not malice: anyone can
recompute it). Reading needs numpy alone (``allow_pickle=False``), so a torch-free model scores without
importing torch; arrays holding NaN/Inf are refused; sizes are checked before anything is decompressed.
Version 1 bundles (a ``torch.save`` archive) are still read, with ``torch.load(weights_only=True)``.

What builds and trains models is elsewhere: ``ser.classifier`` (rebuilding from spec + arrays),
``ser.evaluate`` (fold models), ``ser.export`` (the all-speaker model and exported bundles).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ser.errors import SerError

BUNDLE_MAGIC = "ser-bundle"
BUNDLE_FORMAT = 2
MODEL_FILE = "model.ser"
DEFAULT_MODEL = Path(__file__).resolve().parent / "default_model" / "acted6.ser"
GROUPS = ("model", "normalization")
ONNX_MEMBER = "onnx/model.onnx"
#: refuse larger files and archives before reading them (a model here is at most tens of MB)
MAX_FILE_BYTES = 2 * 1024**3
MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_MEMBERS = 100_000
MAX_META_BYTES = 64 * 1024**2
#: ser stores members uncompressed; a member that unpacks to far more than it occupies is a zip bomb
MAX_PACKING_RATIO = 20
_EPOCH = (1980, 1, 1, 0, 0, 0)


class BundleError(SerError):
    """A model file that cannot be used: corrupted, another format version, another feature set."""


@dataclass
class Bundle:
    """A loaded model file: metadata, the classifier's arrays and the normaliser's statistics."""

    meta: dict[str, Any]
    model_state: dict[str, np.ndarray]
    norm_state: dict[str, np.ndarray]
    path: str = "<memory>"
    #: the ONNX graph of a torch model exported with ``--onnx`` (None otherwise)
    onnx_graph: bytes | None = None

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def normalization(self) -> str:
        return self.meta["normalization"]

    @property
    def encoder(self) -> str:
        return self.meta["spec"]["encoder"]

    @property
    def output_kind(self) -> str:
        return self.meta.get("output_kind", "posteriors")

    @property
    def feature_set_dict(self) -> dict[str, Any]:
        return dict(self.meta["features"]["feature_set"])

    @property
    def frame_level(self) -> bool:
        return self.feature_set_dict.get("level", "frame") == "frame"

    def feature_set(self):
        from ser.frontend.featureset import FeatureSet

        return FeatureSet.from_dict(self.feature_set_dict, source=f"{self.path} (feature set)")

    def check_features(self, header: dict[str, Any], where: str) -> None:
        """Refuse features made with another feature-set definition than the model's."""
        theirs = (header or {}).get("feature_set")
        if theirs != self.feature_set_dict:
            raise BundleError(
                f"{where}: features made with feature set '{(theirs or {}).get('name')}' but the model "
                f"{self.path} was trained on '{self.feature_set_dict.get('name')}' ({_diff(self.feature_set_dict, theirs or {})}); "
                "score the audio instead, or extract it with the model's feature set"
            )

    def version_notes(self) -> list[str]:
        """Front-end packages whose installed version differs from the one that made the training features."""
        from ser.frontend.versions import package_versions

        trained = self.meta["features"].get("versions") or {}
        here = package_versions()
        return [f"{name} {trained[name]} made the training features, {here.get(name, 'none')} is installed here"
                for name in ("opensmile", "librosa", "torchaudio", "numpy") if name in trained and trained[name] != here.get(name)]

    def summary(self) -> str:
        m = self.meta
        src = m.get("training", {})
        res = (m.get("results") or {}).get("mean") or {}
        uar = f", cross-validated UAR {res['uar'] * 100:.1f}%" if res.get("uar") is not None else ""
        kind = "" if self.output_kind == "posteriors" else f"; its scores are {self.output_kind}, not probabilities"
        if (m.get("calibration") or {}).get("temperature"):
            kind += f"; posteriors calibrated (temperature {m['calibration']['temperature']:.2f})"
        return (f"{self.path}: {self.encoder} on {self.feature_set_dict.get('name')}, {len(self.classes)} classes, "
                f"normalisation {self.normalization}, trained on {src.get('source', '?')}{uar}{kind}")


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "differs in " + ", ".join(keys) if keys else "same"


# --- write -------------------------------------------------------------------------------------------
def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    return info


def save_bundle(path: str | Path, meta: dict[str, Any], model_state: Mapping[str, np.ndarray],
                norm_state: Mapping[str, np.ndarray], onnx_graph: bytes | None = None) -> Path:
    """Write a sealed model file atomically (with the model's ONNX graph when given)."""
    from ser import __version__
    from ser.fileio import atomic_write

    meta = json.loads(json.dumps({**meta, "format": BUNDLE_MAGIC, "format_version": BUNDLE_FORMAT,
                                  "ser_version": __version__}, default=str))  # plain JSON values only
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_member("meta.json"), json.dumps(meta, indent=1, sort_keys=True))
        for group, arrays in zip(GROUPS, (model_state, norm_state)):
            for name in sorted(arrays):
                if "/" in name or name.startswith("."):
                    raise SerError(f"array name '{name}' cannot be stored in a model file")
                archive.writestr(_member(f"{group}/{name}.npy"), _npy_bytes(np.asarray(arrays[name])))
        if onnx_graph is not None:
            archive.writestr(_member(ONNX_MEMBER), onnx_graph)
    path = Path(path)
    with atomic_write(path, mode="wb") as out:
        out.write(_seal(buffer.getvalue()))
    return path


SEAL_PREFIX = b"ser-sha256:"


def _eocd(raw: bytes) -> int:
    """Offset of the zip end-of-central-directory record (-1 if none)."""
    return raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 65535))


def _seal(raw: bytes) -> bytes:
    """Put the SHA-256 of the archive (up to its comment) into the zip comment."""
    end = _eocd(raw)
    if end < 0 or raw[end + 20 : end + 22] != b"\0\0":
        raise SerError("unexpected archive: no empty zip comment to hold the checksum")
    seal = SEAL_PREFIX + hashlib.sha256(raw[: end + 20]).hexdigest().encode()
    return raw[: end + 20] + len(seal).to_bytes(2, "little") + seal


def _check_seal(raw: bytes, path: Path) -> None:
    end = _eocd(raw)
    seal = raw[end + 22 :] if end >= 0 else b""
    if not seal.startswith(SEAL_PREFIX):
        raise BundleError(f"{path}: not a ser model bundle, or its end is damaged (no checksum found); re-export it")
    if seal[len(SEAL_PREFIX) :] != hashlib.sha256(raw[: end + 20]).hexdigest().encode() or \
            int.from_bytes(raw[end + 20 : end + 22], "little") != len(seal):
        raise BundleError(f"{path}: checksum mismatch: the file was modified or damaged after export; re-export it")


# --- read --------------------------------------------------------------------------------------------
def load_bundle(path: str | Path) -> Bundle:
    """Load and check a model file; a corrupted file, another format version or an inconsistent one is refused."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BundleError(f"{path}: {size} bytes is more than a model file may hold ({MAX_FILE_BYTES}); not read")
    raw = path.read_bytes()
    if raw[:2] != b"PK":
        raise BundleError(f"{path}: not a readable ser model bundle (not a zip archive)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        names = archive.namelist()
    except Exception as exc:  # zip errors of every kind: the file is damaged or not a bundle
        raise BundleError(f"{path}: not a readable ser model bundle (corrupted or another kind of file: "
                          f"{type(exc).__name__}: {exc})") from None
    _check_sizes(archive, path)  # before anything is unpacked, version 1 (torch) archives too
    if "meta.json" not in names:
        return _load_version1(raw, path)
    _check_seal(raw, path)
    try:
        meta = json.loads(archive.read("meta.json").decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: unreadable meta.json ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_MAGIC:
        raise BundleError(f"{path}: not a ser model bundle")
    _check_version(meta.get("format_version"), meta, path)
    groups: dict[str, dict[str, np.ndarray]] = {g: {} for g in GROUPS}
    onnx_graph = archive.read(ONNX_MEMBER) if ONNX_MEMBER in names else None
    for name in names:
        group, _, leaf = name.partition("/")
        if name in ("meta.json", ONNX_MEMBER):
            continue
        if group not in groups or not leaf.endswith(".npy"):
            raise BundleError(f"{path}: unexpected member '{name}'")
        try:
            groups[group][leaf[:-4]] = _read_npy(archive, name)
        except BundleError as exc:
            raise BundleError(f"{path}: {exc}") from None
        except Exception as exc:
            raise BundleError(f"{path}: array {name} is unreadable ({type(exc).__name__}: {exc})") from None
    bundle = Bundle(meta=meta, model_state=groups["model"], norm_state=groups["normalization"], path=str(path),
                    onnx_graph=onnx_graph)
    _check_consistency(bundle)
    return bundle


def _read_npy(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array; its header's shape must fit the member's size, so a lying header cannot allocate gigabytes."""
    size = archive.getinfo(name).file_size
    with archive.open(name) as handle:
        version = np.lib.format.read_magic(handle)
        shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(handle)
        if int(np.prod(shape, dtype=object)) * dtype.itemsize > size:
            raise BundleError(f"array {name} declares shape {shape} of {dtype}, more than its {size} bytes")
    with archive.open(name) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)


def _check_sizes(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse by the sizes the archive declares (zipfile never unpacks past a member's declared size)."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise BundleError(f"{path}: the archive declares {len(infos)} members and {sum(i.file_size for i in infos)} "
                          "unpacked bytes, more than a model file may hold; not read")
    for info in infos:
        if info.file_size > MAX_PACKING_RATIO * info.compress_size + 4096:
            raise BundleError(f"{path}: member {info.filename} would unpack {info.compress_size} bytes into "
                              f"{info.file_size} (ser stores members unpacked: a zip bomb or not a ser model); not read")
        if info.filename == "meta.json" and info.file_size > MAX_META_BYTES:
            raise BundleError(f"{path}: meta.json of {info.file_size} bytes is more than a model file's metadata may "
                              f"hold ({MAX_META_BYTES}); not read")


def _check_version(version: Any, meta: dict[str, Any], path: Path) -> None:
    if version != BUNDLE_FORMAT:
        from ser import __version__

        raise BundleError(f"{path}: bundle format version {version}, but this ser ({__version__}) reads version "
                          f"{BUNDLE_FORMAT}; re-export the model with `ser export`, or use the ser version that made it "
                          f"({meta.get('ser_version') or (meta.get('versions') or {}).get('ser', 'unknown')})")


def _load_version1(raw: bytes, path: Path) -> Bundle:
    """A ser 0.1 bundle (torch.save archive): the same content under older names."""
    import torch

    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        from ser.errors import torch_load_refusal

        raise BundleError(f"{path}: not a readable ser model bundle ({torch_load_refusal(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_MAGIC:
        hint = " (a fold's model.pt from ser 0.1? make a bundle with `ser export`)" if isinstance(payload, dict) and "meta" in payload else ""
        raise BundleError(f"{path}: not a ser model bundle{hint}")
    if payload.get("format_version") != 1:
        _check_version(payload.get("format_version"), payload.get("meta") or {}, path)
    _check_seal(raw, path)
    meta, state, stats = payload.get("meta"), payload.get("state_dict"), payload.get("norm_stats")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise BundleError(f"{path}: bundle without metadata or weights (corrupted)")
    key = {"speaker": "fallback", "global": "stats"}.get(meta.get("normalization"))
    norm = {key: stats.numpy()} if key and stats is not None else {}
    bundle = Bundle(meta=meta, model_state={k: v.numpy() for k, v in state.items()}, norm_state=norm, path=str(path))
    _check_consistency(bundle)
    return bundle


def _check_consistency(bundle: Bundle) -> None:
    """The feature set must exist here and produce what the model and statistics expect; arrays must be finite."""
    meta = bundle.meta
    for key in ("spec", "classes", "normalization", "features"):
        if key not in meta:
            raise BundleError(f"{bundle.path}: bundle metadata lacks '{key}'")
    for group, arrays in zip(GROUPS, (bundle.model_state, bundle.norm_state)):
        for name, array in arrays.items():
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise BundleError(f"{bundle.path}: {group} array '{name}' holds NaN or Inf values; the model is broken")
    features = meta["features"]
    fs = bundle.feature_set()
    dim = int(meta["spec"]["input_dim"])
    if int(features.get("dim", -1)) != dim:
        raise BundleError(f"{bundle.path}: built for another feature set: the model takes {dim}-d input but its feature set "
                          f"'{fs.name}' gives {features.get('dim')}-d")
    for name, stats in bundle.norm_state.items():
        if stats.ndim == 2 and stats.shape != (2, dim + 1):
            raise BundleError(f"{bundle.path}: normalisation statistics '{name}' of shape {stats.shape} do not fit {dim}-d features")
    from ser.normalization import load_normalization

    try:
        load_normalization(bundle.normalization, bundle.norm_state)
    except SerError as exc:
        raise BundleError(f"{bundle.path}: {exc}") from None
    from ser.frontend.base import registered_kinds

    if fs.kind not in registered_kinds():
        raise BundleError(f"{bundle.path}: feature extractor kind '{fs.kind}' is not available in this install "
                          f"(known: {', '.join(registered_kinds())})")


def resolve_model_path(model: str | Path | None) -> Path:
    """`--model FILE`, else the default bundle shipped in the package."""
    if model:
        return Path(model)
    if not DEFAULT_MODEL.is_file():
        raise BundleError(f"no default model is installed ({DEFAULT_MODEL} does not exist yet); pass --model FILE "
                          "(make one from an experiment with `ser export EXP MODEL_FILE`)")
    return DEFAULT_MODEL


__all__ = ["BUNDLE_FORMAT", "DEFAULT_MODEL", "MODEL_FILE", "Bundle", "BundleError", "load_bundle", "resolve_model_path",
           "save_bundle"]
