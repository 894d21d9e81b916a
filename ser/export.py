"""`ser export`: an experiment -> one model bundle that `ser score` loads.

Two sources:
  * ``fold=NAME``: the fold's own model file (``fold_NAME/model.ser``, the model that was scored on that
    fold), with the experiment's protocol and results added;
  * otherwise the final model, **retrained** on every speaker of the experiment's feature dir
    (``train_all_speakers``): there is no validation speaker left, so nothing is selected while it trains;
    the settings come from the folds (``Classifier.final_config``: torch encoders run for the median best
    epoch over the folds, non-torch models are fitted as in every fold). It is written to
    ``exp/all_speakers/`` (model.ser, train.log, .done) and reused by later exports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from ser.bundle import MODEL_FILE, load_bundle, save_bundle
from ser.errors import SerError
from ser.experiment import find_feat_dir, read_protocol
from ser.lock import OutputLock

ALL_SPEAKERS_DIR = "all_speakers"
Logger = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _results_summary(exp_dir: Path) -> dict[str, Any] | None:
    path = exp_dir / "results.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    pooled = data.get("pooled") or {}
    return {"num_folds": data.get("num_folds"), "num_utterances": data.get("num_utterances"),
            "mean": data.get("mean"), "std": data.get("std"),
            "pooled": {k: pooled.get(k) for k in ("n", "uar", "wa", "macro_f1") if k in pooled}}


def fold_models(exp_dir: Path) -> list[Path]:
    return sorted(p / MODEL_FILE for p in exp_dir.glob("fold_*") if (p / MODEL_FILE).is_file())


def train_all_speakers(exp_dir: str | Path, feat_dir: str | Path | None = None, overrides: Sequence[str] = (),
                       force: bool = False, log: Logger = _stderr) -> Path:
    """Train the final model on every speaker of the experiment's feature dir; returns its model file."""
    from ser.config import load_config
    from ser.evaluate import resolve_classes
    from ser.features_table import FeatureTable

    exp_dir = Path(exp_dir)
    out = exp_dir / ALL_SPEAKERS_DIR
    if (out / ".done").is_file() and (out / MODEL_FILE).is_file() and not force:
        log(f"reusing {out}/{MODEL_FILE} (--retrain-all trains it again)")
        return out / MODEL_FILE
    feat_dir = find_feat_dir(exp_dir, feat_dir, read_protocol(exp_dir))
    if not (feat_dir / "feats.scp").is_file():
        raise SerError(f"{exp_dir}: the feature dir '{feat_dir}' is not there; pass --feat-dir")
    if not (exp_dir / "config.yaml").is_file():
        raise SerError(f"{exp_dir}/config.yaml is missing: not an experiment dir of `ser evaluate`")
    if (exp_dir / "tune.yaml").is_file():  # its config.yaml is the untuned base; each fold chose its own settings
        raise SerError(f"{exp_dir} is a `ser tune` experiment, whose folds chose different settings: export one fold's "
                       "model (--fold F), or train the final model with `ser evaluate` on settings you choose")
    cfg = load_config(exp_dir / "config.yaml", list(overrides))
    folds = [load_bundle(p) for p in fold_models(exp_dir)]
    table = FeatureTable(feat_dir)
    classes = folds[0].classes if folds else resolve_classes(cfg, table.data)
    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        return _train_all(cfg, table, feat_dir, folds, classes, out)


def _train_all(cfg, table, feat_dir: Path, folds, classes, out: Path) -> Path:
    from ser.classifier import classifier_class
    from ser.evaluate import FoldLogger, fit_model, save_model
    from ser.fileio import write_text_atomic

    fold_log = FoldLogger(out / "train.log", prefix="[all speakers] ")
    try:
        final = classifier_class(cfg.encoder).final_config(cfg, [f.meta.get("training") or {} for f in folds], fold_log)
        fold_log(f"final model: every speaker of {feat_dir} ({len(table.data.speakers)}), no validation speaker")
        trained = fit_model(final, table, table.utts, [], classes, out, fold_log)
        save_model(out / MODEL_FILE, final, trained, classes, table, "all speakers")
        (out / "checkpoint.pt").unlink(missing_ok=True)
        write_text_atomic(out / ".done", "")
    finally:
        fold_log.close()
    return out / MODEL_FILE


#: utterances of the training feature dir on which an ONNX graph is checked against torch
ONNX_CHECK_UTTERANCES = 64


def onnx_graph_of(model, feat_dir: Path, log: Logger = _stderr) -> tuple[bytes, dict[str, Any]]:
    """The ONNX graph of a bundle's torch model, checked against torch on real features; and what to record."""
    from ser.classifier import classifier_class
    from ser.features_table import FeatureTable
    from ser.models.torch_classifier import TorchClassifier
    from ser.normalization import load_normalization
    from ser.onnx_export import OPSET, TOLERANCE, check_graph, export_graph

    if classifier_class(model.encoder) is not TorchClassifier:
        raise SerError(f"--onnx: '{model.encoder}' is not a torch encoder; its model file holds plain arrays that "
                       "already score without torch")
    torch_model = TorchClassifier.from_state(model.meta["spec"], model.classes, model.model_state).model
    graph = export_graph(torch_model)
    table = FeatureTable(feat_dir)
    utts = table.utts[:: max(1, len(table.utts) // ONNX_CHECK_UTTERANCES)][:ONNX_CHECK_UTTERANCES]
    norm = load_normalization(model.normalization, model.norm_state)
    inputs = [norm.apply(table.raw[u])[0] for u in utts]
    diff = check_graph(graph, torch_model, inputs)
    import onnxruntime

    log(f"ONNX graph: {len(graph)} bytes, opset {OPSET}; onnxruntime {onnxruntime.__version__} vs torch on {len(utts)} "
        f"utterances of {feat_dir}: max posterior difference {diff:.1e} (limit {TOLERANCE:g})")
    return graph, {"opset": OPSET, "bytes": len(graph), "max_abs_diff": diff, "checked_on": f"{len(utts)} utterances of {feat_dir}",
                   "onnxruntime": onnxruntime.__version__}


def export_bundle(exp_dir: str | Path, out_file: str | Path, fold: str | None = None, feat_dir: str | Path | None = None,
                  overrides: Sequence[str] = (), force_retrain: bool = False, log: Logger = _stderr,
                  calibrate: bool = False, card: dict[str, Any] | None = None, onnx: bool = False) -> Path:
    """Write the bundle of a fold's model (`fold`) or of the all-speaker model (trained if needed).

    `calibrate`: fit a temperature on the experiment's out-of-fold posteriors (``ser.calibration``), which
    `ser score` then applies; `card`: the model card's extra sections (training corpora and licences, measured
    results, what not to trust it on), shown by `ser info`; `onnx`: add the torch model's ONNX graph, checked
    against torch (``ser.onnx_export``), so that the file scores with onnxruntime and no torch."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SerError(f"{exp_dir}: not an experiment dir")
    if fold is not None:
        model_file = exp_dir / f"fold_{fold}" / MODEL_FILE
        if not model_file.is_file():
            known = ", ".join(p.parent.name[5:] for p in fold_models(exp_dir)) or "none"
            hint = " (a fold trained by ser 0.1 has model.pt: rerun `ser evaluate` for it)" if (model_file.parent / "model.pt").is_file() else ""
            raise SerError(f"{model_file}: no such fold model (folds with a model: {known}){hint}")
    else:
        model_file = train_all_speakers(exp_dir, feat_dir, overrides, force_retrain, log)
    model = load_bundle(model_file)
    meta = {**model.meta, "protocol": read_protocol(exp_dir) or None, "results": _results_summary(exp_dir),
            "experiment": exp_dir.name}
    meta["training"] = {**meta.get("training", {}), "model_file": str(model_file)}
    if calibrate:
        from ser.calibration import calibrate_experiment

        if model.output_kind != "posteriors":
            raise SerError(f"{exp_dir}: the model's scores are {model.output_kind}, not posteriors: nothing to calibrate")
        meta["calibration"] = calibrate_experiment(exp_dir).to_dict()
        log(f"calibration: temperature {meta['calibration']['temperature']:.3f}, ECE {meta['calibration']['ece_before']:.3f} -> "
            f"{meta['calibration']['ece_after']:.3f} on {meta['calibration']['fitted_on']}")
    if card:
        meta["card"] = card
    graph = None
    if onnx:
        graph, meta["onnx"] = onnx_graph_of(model, find_feat_dir(exp_dir, feat_dir, read_protocol(exp_dir)), log)
    path = save_bundle(out_file, meta, model.model_state, model.norm_state, graph)
    log(f"{path}: {model.encoder} ({meta['training'].get('source')}), {len(model.classes)} classes, "
        f"normalisation {model.normalization}")
    return path


__all__ = [
    "ALL_SPEAKERS_DIR",
    "ONNX_CHECK_UTTERANCES",
    "export_bundle",
    "fold_models",
    "onnx_graph_of",
    "train_all_speakers",
]
