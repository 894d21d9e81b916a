"""Model bundles: one file that holds everything `ser score` needs to label new audio.

A bundle is a `torch.save` of plain values and tensors (it loads with `torch.load(weights_only=True)`)::

    {"format": "ser-bundle", "format_version": 1,
     "meta": {encoder spec and config, classes, feature-set definition (feats.yaml header),
              normalisation mode, training source (fold or all speakers, epochs, speakers),
              protocol and results summary, package versions},
     "state_dict": {name: tensor},            # torch weights, or the SVM's pairs/coef/intercept
     "norm_stats": tensor | absent,           # Kaldi 2 x (D+1) stats: the training speakers' pooled stats
                                              # (speaker mode: fallback for unknown speakers) or the
                                              # training stats (global mode)
     "digest": sha256 of all of the above}

Two checks make flipped bytes anywhere in the file a clear refusal instead of silently changed scores:
the zip archive's comment (which torch ignores) holds the SHA-256 of every byte before it, and the
payload's "digest" covers the loaded metadata, weights and statistics.

Where the model comes from (`export_bundle`):
  * `fold=NAME`: the model of `exp/fold_NAME/model.pt`, with the statistics of that fold's training speakers;
  * otherwise a final model trained on all speakers (`retrain_all`): torch encoders run for the median best
    epoch over the folds with no early stopping (no validation data); the SVM is refitted on everything.
    It is written to `exp/all_speakers/` (model.pt, train.log, .done) and reused by later exports.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ser.errors import SerError

BUNDLE_MAGIC = "ser-bundle"
BUNDLE_FORMAT = 1
ALL_SPEAKERS_DIR = "all_speakers"
DEFAULT_MODEL = Path(__file__).resolve().parent / "default_model" / "emodb.ser"


class BundleError(SerError):
    """A bundle that cannot be used: corrupted, another format version, another feature set."""


# --- digest ------------------------------------------------------------------------------------------
def _digest(meta: dict[str, Any], state_dict: dict[str, Any], norm_stats: Any) -> str:
    import torch

    h = hashlib.sha256()
    h.update(json.dumps(meta, sort_keys=True, default=str).encode("utf-8"))

    def add_tensor(name: str, tensor: "torch.Tensor") -> None:
        t = tensor.detach().cpu().contiguous()
        h.update(f"|{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())

    for name in sorted(state_dict):
        add_tensor(name, state_dict[name])
    if norm_stats is not None:
        add_tensor("__norm_stats__", norm_stats)
    return h.hexdigest()


# --- the in-memory bundle ----------------------------------------------------------------------------
@dataclass
class Bundle:
    """A loaded bundle: metadata, the model, the feature set and the fallback statistics."""

    meta: dict[str, Any]
    state_dict: dict[str, Any]
    norm_stats: np.ndarray | None
    path: str = "<memory>"

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def normalization(self) -> str:
        return self.meta["normalization"]

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

    def build_model(self):
        """The classifier: a torch SERModel (eval mode) or the linear SVM."""
        spec = self.meta["spec"]
        if spec["encoder"] == "svm":
            from ser.baselines import LinearSVMClassifier, make_svm_config

            svm = LinearSVMClassifier(make_svm_config(spec.get("encoder_conf") or {}), self.classes)
            svm.pairs = self.state_dict["pairs"].numpy()
            svm.coef = self.state_dict["coef"].numpy()
            svm.intercept = self.state_dict["intercept"].numpy()
            if "prob_a" in self.state_dict:  # Platt parameters: calibrated posteriors
                svm.prob_a = self.state_dict["prob_a"].numpy()
                svm.prob_b = self.state_dict["prob_b"].numpy()
            return svm
        from ser.models import build_model_from_spec

        model = build_model_from_spec(spec)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise BundleError(f"{self.path}: the weights do not fit the '{spec['encoder']}' architecture ({str(exc).splitlines()[0]})") from None
        model.eval()
        return model

    def version_notes(self) -> list[str]:
        """Front-end packages whose installed version differs from the one that made the training features."""
        from ser.frontend.versions import package_versions

        trained = (self.meta["features"].get("versions") or {})
        here = package_versions()
        return [f"{name} {trained[name]} made the training features, {here.get(name, 'none')} is installed here"
                for name in ("opensmile", "librosa", "torchaudio", "numpy") if name in trained and trained[name] != here.get(name)]

    def summary(self) -> str:
        m = self.meta
        src = m.get("training", {})
        res = (m.get("results") or {}).get("mean") or {}
        uar = f", cross-validated UAR {res['uar'] * 100:.1f}%" if "uar" in res else ""
        return (f"{self.path}: {m['spec']['encoder']} on {self.feature_set_dict.get('name')}, {len(self.classes)} classes, "
                f"normalisation {self.normalization}, trained on {src.get('source', '?')}{uar}")


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "differs in " + ", ".join(keys) if keys else "same"


# --- write / read ------------------------------------------------------------------------------------
def save_bundle(path: str | Path, meta: dict[str, Any], state_dict: dict[str, Any], norm_stats: np.ndarray | None) -> Path:
    import torch

    from ser.fileio import atomic_write

    meta = json.loads(json.dumps(meta, default=str))  # plain JSON-able values only (weights_only-safe)
    stats_t = None if norm_stats is None else torch.from_numpy(np.asarray(norm_stats, dtype=np.float64))
    state = {k: v.detach().cpu() for k, v in state_dict.items()}
    payload = {"format": BUNDLE_MAGIC, "format_version": BUNDLE_FORMAT, "meta": meta, "state_dict": state,
               "digest": _digest(meta, state, stats_t)}
    if stats_t is not None:
        payload["norm_stats"] = stats_t
    buffer = io.BytesIO()
    torch.save(payload, buffer)
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
        raise SerError("unexpected torch.save output: no empty zip comment to hold the checksum")
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


def load_bundle(path: str | Path) -> Bundle:
    """Load and check a bundle; a corrupted file, another format version or an inconsistent one is refused."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    raw = path.read_bytes()
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors of every kind: the file is damaged or not a bundle
        raise BundleError(f"{path}: not a readable ser model bundle (corrupted or another kind of file: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_MAGIC:
        hint = " (a fold's model.pt? make a bundle with `ser export`)" if isinstance(payload, dict) and "meta" in payload else ""
        raise BundleError(f"{path}: not a ser model bundle{hint}")
    version = payload.get("format_version")
    if version != BUNDLE_FORMAT:
        raise BundleError(f"{path}: bundle format version {version}, but this ser ({_ser_version()}) reads version "
                          f"{BUNDLE_FORMAT}; re-export the model with `ser export`, or use the ser version that made it "
                          f"({(payload.get('meta') or {}).get('versions', {}).get('ser', 'unknown')})")
    _check_seal(raw, path)
    meta, state, stats = payload.get("meta"), payload.get("state_dict"), payload.get("norm_stats")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise BundleError(f"{path}: bundle without metadata or weights (corrupted)")
    if payload.get("digest") != _digest(meta, state, stats):
        raise BundleError(f"{path}: checksum mismatch: the file was modified or damaged after export; re-export it")
    bundle = Bundle(meta=meta, state_dict=state, norm_stats=None if stats is None else stats.numpy(), path=str(path))
    _check_consistency(bundle)
    return bundle


def _ser_version() -> str:
    from ser import __version__

    return __version__


def _check_consistency(bundle: Bundle) -> None:
    """The feature set must exist here and produce what the model and statistics expect."""
    meta = bundle.meta
    for key in ("spec", "classes", "normalization", "features"):
        if key not in meta:
            raise BundleError(f"{bundle.path}: bundle metadata lacks '{key}'")
    features = meta["features"]
    fs = bundle.feature_set()
    dim = int(meta["spec"]["input_dim"])
    if int(features.get("dim", -1)) != dim:
        raise BundleError(f"{bundle.path}: built for another feature set: the model takes {dim}-d input but its feature set "
                          f"'{fs.name}' gives {features.get('dim')}-d")
    if bundle.norm_stats is not None and bundle.norm_stats.shape != (2, dim + 1):
        raise BundleError(f"{bundle.path}: normalisation statistics of shape {bundle.norm_stats.shape} do not fit {dim}-d features")
    if bundle.normalization in ("speaker", "global") and bundle.norm_stats is None:
        raise BundleError(f"{bundle.path}: '{bundle.normalization}' normalisation but no statistics in the bundle")
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


# --- export ------------------------------------------------------------------------------------------
def _load_model_file(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise SerError(f"{path}: no model file (did the fold finish? run `ser evaluate` first)")
    return torch.load(path, map_location="cpu", weights_only=True)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _results_summary(exp_dir: Path) -> dict[str, Any] | None:
    path = exp_dir / "results.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    pooled = data.get("pooled") or {}
    return {"num_folds": data.get("num_folds"), "num_utterances": data.get("num_utterances"),
            "mean": data.get("mean"), "std": data.get("std"),
            "pooled": {k: pooled.get(k) for k in ("n", "uar", "wa", "macro_f1") if k in pooled}}


def find_feat_dir(exp_dir: Path, given: str | Path | None, protocol: dict[str, Any]) -> Path:
    """--feat-dir, else protocol.yaml's feat_dir (a relative one is tried from the cwd, then from the exp dir's parents)."""
    if given:
        return Path(given)
    recorded = Path(protocol.get("feat_dir") or "")
    if recorded.is_absolute() or (recorded / "feats.scp").is_file():
        return recorded
    for base in exp_dir.resolve().parents:
        if (base / recorded / "feats.scp").is_file():
            return base / recorded
    return recorded


def fold_dirs(exp_dir: Path) -> list[Path]:
    return sorted(p for p in exp_dir.glob("fold_*") if (p / "model.pt").is_file())


def training_stats(feat_dir: Path, mode: str, speakers: Sequence[str]) -> np.ndarray | None:
    """Pooled statistics of the training speakers (speaker mode: cmvn.scp; global: their feature matrices)."""
    from ser.datadir import DataDir
    from ser.frontend.cmvn import read_cmvn, speaker_stats, stats_of, sum_stats

    if mode not in ("speaker", "global"):
        return None
    wanted = set(speakers)
    if mode == "speaker":
        per_spk = read_cmvn(feat_dir) if (feat_dir / "cmvn.scp").is_file() else \
            speaker_stats(feat_dir / "feats.scp", DataDir.read(feat_dir).utt2spk)
        missing = wanted - set(per_spk)
        if missing:
            raise SerError(f"{feat_dir}/cmvn.scp has no statistics for training speakers {sorted(missing)}")
        return sum_stats(per_spk[s] for s in sorted(wanted))
    import kaldiio

    utt2spk = DataDir.read(feat_dir).utt2spk
    return sum_stats(stats_of(m) for u, m in kaldiio.load_scp_sequential(str(feat_dir / "feats.scp")) if utt2spk.get(u) in wanted)


def final_epochs(exp_dir: Path) -> tuple[int, list[int]]:
    """Median best epoch over the folds (rounded up): how long the all-speaker model trains."""
    epochs = [int(_load_model_file(d / "model.pt")["meta"].get("best_epoch") or 0) for d in fold_dirs(exp_dir)]
    epochs = [e for e in epochs if e > 0]
    if not epochs:
        raise SerError(f"{exp_dir}: no fold model records a best epoch; run `ser evaluate` first or pick --fold")
    return int(np.ceil(statistics.median(epochs))), epochs


def retrain_all(exp_dir: str | Path, feat_dir: str | Path | None = None, overrides: Sequence[str] = (), force: bool = False,
                log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Path:
    """Train the final model on every speaker of the experiment's feature dir; returns its model.pt."""
    from ser.config import load_config
    from ser.evaluate import resolve_classes
    from ser.features_table import FeatureTable
    from ser.fileio import write_text_atomic

    exp_dir = Path(exp_dir)
    out = exp_dir / ALL_SPEAKERS_DIR
    if (out / ".done").is_file() and (out / "model.pt").is_file() and not force:
        log(f"reusing {out}/model.pt (--retrain-all trains it again)")
        return out / "model.pt"
    protocol = _read_yaml(exp_dir / "protocol.yaml")
    feat_dir = find_feat_dir(exp_dir, feat_dir, protocol)
    if not (feat_dir / "feats.scp").is_file():
        raise SerError(f"{exp_dir}: the feature dir '{feat_dir}' is not there; pass --feat-dir")
    if not (exp_dir / "config.yaml").is_file():
        raise SerError(f"{exp_dir}/config.yaml is missing: not an experiment dir of `ser evaluate`")
    cfg = load_config(exp_dir / "config.yaml", list(overrides))
    folds = fold_dirs(exp_dir)
    classes = _load_model_file(folds[0] / "model.pt")["meta"]["classes"] if folds else None
    table = FeatureTable(feat_dir, cfg.normalization)
    classes = classes or resolve_classes(cfg, table.data)
    utts = table.utts
    out.mkdir(parents=True, exist_ok=True)
    if cfg.encoder == "svm":
        from ser.baselines import LinearSVMClassifier, make_svm_config
        from ser.train import label_split, torch_save_atomic

        gstats = table.global_stats(utts) if cfg.normalization == "global" else None
        split = label_split(table, utts, classes, gstats, {}, log)
        model = LinearSVMClassifier(make_svm_config(cfg.encoder_conf), classes).fit(np.stack([m[0] for m in split.inputs]), split.targets["emotion"])
        meta = {"format": 1, "spec": {"encoder": "svm", "encoder_conf": cfg.encoder_conf, "input_dim": table.dim,
                "num_classes": len(classes)}, "classes": classes, "normalization": cfg.normalization, "features": table.header,
                "config": cfg.to_dict(), "train_speakers": sorted({table.data.utt2spk[u] for u in split.utts})}
        torch_save_atomic({"meta": meta, "state_dict": model.state()}, out / "model.pt")
        log(f"svm refitted on all {len(split.utts)} utterances")
    else:
        from ser.train import train_fold

        epochs, per_fold = final_epochs(exp_dir)
        cfg.train.max_epochs = epochs
        cfg.train.patience = epochs + 1
        cfg.train.min_epochs = epochs
        log(f"training on all {len(table.data.speakers)} speakers for {epochs} epochs (median best epoch of folds: {per_fold})")
        ckpt = out / "checkpoint.pt"
        train_fold(cfg, table, utts, [], classes, out, log)
        if ckpt.exists():
            ckpt.unlink()
    write_text_atomic(out / ".done", "")
    return out / "model.pt"


def export_bundle(exp_dir: str | Path, out_file: str | Path, fold: str | None = None, feat_dir: str | Path | None = None,
                  overrides: Sequence[str] = (), force_retrain: bool = False, log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Path:
    """Write the bundle of a fold's model (`fold`) or of the all-speaker model (trained if needed)."""
    from ser.frontend.versions import package_versions

    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SerError(f"{exp_dir}: not an experiment dir")
    protocol = _read_yaml(exp_dir / "protocol.yaml")
    if fold is not None:
        model_file = exp_dir / f"fold_{fold}" / "model.pt"
        if not model_file.is_file():
            known = ", ".join(d.name[5:] for d in fold_dirs(exp_dir)) or "none"
            raise SerError(f"{model_file}: no such fold model (folds with a model: {known})")
        source = f"fold {fold}"
    else:
        model_file = retrain_all(exp_dir, feat_dir, overrides, force_retrain, log)
        source = "all speakers"
    saved = _load_model_file(model_file)
    meta_in = saved["meta"]
    feat_dir = find_feat_dir(exp_dir, feat_dir, protocol)
    mode = meta_in["normalization"]
    speakers = meta_in.get("train_speakers") or []
    stats = None
    if mode in ("speaker", "global"):
        if not (feat_dir / "feats.scp").is_file():
            raise SerError(f"the training statistics need the feature dir '{feat_dir}': pass --feat-dir")
        stats = training_stats(feat_dir, mode, speakers)
    meta = {
        "spec": copy.deepcopy(meta_in["spec"]),
        "classes": list(meta_in["classes"]),
        "normalization": mode,
        "norm_stats": {"speaker": "pooled statistics of the training speakers (fallback for unknown speakers)",
                       "global": "statistics of the training utterances"}.get(mode),
        "features": meta_in["features"],
        "config": meta_in.get("config"),
        "training": {"source": source, "model_file": str(model_file), "train_speakers": speakers,
                     "best_epoch": meta_in.get("best_epoch"), "best_valid_uar": meta_in.get("best_valid_uar")},
        "protocol": protocol or None,
        "results": _results_summary(exp_dir),
        "model_format": meta_in.get("format"),
        "versions": package_versions(),
        "experiment": exp_dir.name,
    }
    path = save_bundle(out_file, meta, saved["state_dict"], stats)
    log(f"{path}: {meta['spec']['encoder']} ({source}), {len(meta['classes'])} classes, normalisation {mode}")
    return path
