"""One trainer for every torch encoder: padded, length-bucketed batches, Adam, early stopping on
validation UAR, gradient clipping, class balancing, repeatable seeds, and resume after a crash.

Repeatability: epoch e seeds its shuffling and dropout with (seed, e), so a run resumed from the
checkpoint of epoch e continues exactly as the uninterrupted run would have. The checkpoint holds
only tensors and plain values and loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import copy
import io
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ser.config import ExperimentConfig
from ser.errors import SerError
from ser.features_table import FeatureTable
from ser.fileio import atomic_write
from ser.metrics import compute_metrics

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
MODEL_FORMAT = 1


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SerError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def torch_save_atomic(obj: Any, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_write(path, mode="wb") as handle:
        handle.write(buffer.getvalue())


@dataclass
class Split:
    """One part of a fold: normalised inputs, integer targets per task, utterance ids."""

    utts: list[str]
    inputs: list[np.ndarray]
    targets: dict[str, np.ndarray]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([x.shape[0] for x in self.inputs], dtype=np.int64)


def label_split(
    table: FeatureTable,
    utts: Sequence[str],
    classes: Sequence[str],
    global_stats: np.ndarray | None,
    aux: dict[str, dict[str, int]],
    warn: Callable[[str], None],
) -> Split:
    """Inputs and targets; utterances with a label outside `classes` are reported and left out."""
    index = {c: i for i, c in enumerate(classes)}
    utt2emo = table.data.utt2emo
    kept, dropped = [], {}
    for utt in utts:
        label = utt2emo.get(utt)
        if label in index:
            kept.append(utt)
        else:
            dropped[label] = dropped.get(label, 0) + 1
    for label, count in sorted(dropped.items(), key=lambda kv: str(kv[0])):
        warn(f"{count} utterances with label '{label}' are not in the class list {list(classes)}: left out")
    targets = {"emotion": np.array([index[utt2emo[u]] for u in kept], dtype=np.int64)}
    utt2spk, utt2gender = table.data.utt2spk, table.data.get("utt2gender") or {}
    if "speaker" in aux:
        targets["speaker"] = np.array([aux["speaker"].get(utt2spk[u], -100) for u in kept], dtype=np.int64)
    if "gender" in aux:
        targets["gender"] = np.array([aux["gender"].get(utt2gender.get(u, ""), -100) for u in kept], dtype=np.int64)
    return Split(utts=kept, inputs=table.matrices(kept, global_stats), targets=targets)


def upsample_indices(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Duplicate random utterances of minority classes until every class has the majority count."""
    counts = np.bincount(labels)
    out = [np.arange(labels.size)]
    for cls, count in enumerate(counts):
        if 0 < count < counts.max():
            members = np.flatnonzero(labels == cls)
            out.append(rng.choice(members, size=counts.max() - count, replace=True))
    return np.concatenate(out)


def make_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Length-bucketed batches: shuffle, sort within pools of 50 batches, shuffle batch order.

    Similar lengths share a batch, so little compute goes to padding; without `rng` the order is
    deterministic (sorted by length), which is what prediction uses.
    """
    order = np.arange(lengths.size) if rng is None else rng.permutation(lengths.size)
    pool = batch_size * 50
    batches = []
    for start in range(0, order.size, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, chunk.size, batch_size))
    if rng is not None:
        rng.shuffle(batches)
    return batches


def collate(inputs: Sequence[np.ndarray], frame_level: bool, max_frames: int = 0, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pad (B, T, D) with zeros plus lengths; utterance-level inputs become (B, D)."""
    if not frame_level:
        return torch.from_numpy(np.stack([x[0] for x in inputs])), None
    if max_frames and rng is not None:
        cropped = []
        for x in inputs:
            if x.shape[0] > max_frames:
                start = int(rng.integers(0, x.shape[0] - max_frames + 1))
                x = x[start : start + max_frames]
            cropped.append(x)
        inputs = cropped
    lengths = np.array([x.shape[0] for x in inputs])
    batch = np.zeros((len(inputs), lengths.max(), inputs[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(inputs):
        batch[i, : x.shape[0]] = x
    return torch.from_numpy(batch), torch.from_numpy(lengths)


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: Sequence[np.ndarray], frame_level: bool, device: torch.device, batch_size: int = 64) -> np.ndarray:
    """Emotion posteriors (N, C) in input order."""
    model.eval()
    lengths = np.array([x.shape[0] for x in inputs])
    out = np.zeros((len(inputs), 0), dtype=np.float32)
    rows: dict[int, np.ndarray] = {}
    for batch in make_batches(lengths, batch_size, None):
        x, lens = collate([inputs[i] for i in batch], frame_level)
        logits = model(x.to(device), lens)["emotion"]
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        for i, p in zip(batch, probs):
            rows[int(i)] = p
    if rows:
        out = np.stack([rows[i] for i in range(len(inputs))])
    return out


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """N / (C * n_c) for classes present in training; absent classes get weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = labels.size / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


@dataclass
class FoldOutcome:
    best_epoch: int
    best_valid_uar: float
    epochs_run: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def _aux_tasks(cfg: ExperimentConfig, table: FeatureTable, train_utts: Sequence[str]) -> dict[str, dict[str, int]]:
    tasks = [t for t in (cfg.heads_conf.get("tasks") or []) if t != "emotion"]
    aux: dict[str, dict[str, int]] = {}
    if "speaker" in tasks:
        speakers = sorted({table.data.utt2spk[u] for u in train_utts})
        aux["speaker"] = {s: i for i, s in enumerate(speakers)}
    if "gender" in tasks:
        if table.data.get("utt2gender") is None:
            raise SerError(f"{table.feat_dir}: the gender head needs utt2gender")
        aux["gender"] = {"f": 0, "m": 1}
    unknown = set(tasks) - {"speaker", "gender"}
    if unknown:
        raise SerError(f"heads_conf tasks {sorted(unknown)} are unknown (emotion, speaker, gender)")
    return aux


def train_fold(
    cfg: ExperimentConfig,
    table: FeatureTable,
    train_utts: Sequence[str],
    valid_utts: Sequence[str],
    classes: Sequence[str],
    out_dir: Path,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> tuple[torch.nn.Module, FoldOutcome, dict[str, Any]]:
    """Train on `train_utts`, select the epoch by validation UAR, and write model.pt in `out_dir`."""
    from ser.models import build_model

    tc = cfg.train
    out_dir.mkdir(parents=True, exist_ok=True)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    device = pick_device(tc.device)
    frame_level = table.level == "frame"
    global_stats = table.global_stats(train_utts) if cfg.normalization == "global" else None
    aux = _aux_tasks(cfg, table, train_utts)
    train = label_split(table, train_utts, classes, global_stats, aux, log)
    valid = label_split(table, valid_utts, classes, global_stats, {}, log)
    if not train.utts:
        raise SerError("no training utterances with a known label")

    heads_conf = copy.deepcopy(cfg.heads_conf)
    if aux:
        heads_conf.setdefault("num_classes", {}).update({task: len(m) for task, m in aux.items()})
    torch.manual_seed(tc.seed)
    model = build_model(cfg.encoder, cfg.encoder_conf, table.dim, len(classes), heads_conf).to(device)
    if model.input_kind == "frames" and not frame_level:
        raise SerError(f"encoder '{cfg.encoder}' needs frame-level features; '{table.header.get('feature_set', {}).get('name')}' is utterance-level")
    if model.input_kind == "utterance" and frame_level:
        raise SerError(f"encoder '{cfg.encoder}' needs utterance-level features (e.g. egemaps88), not frame-level ones")
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    cw = {"emotion": class_weights(train.targets["emotion"], len(classes)).to(device)} if tc.balance == "class_weight" else None
    base_index = np.arange(len(train.utts))
    if tc.balance == "upsample":
        base_index = upsample_indices(train.targets["emotion"], np.random.default_rng(tc.seed))

    state = {"epoch": 0, "best_uar": -1.0, "best_epoch": 0, "bad_epochs": 0, "history": [], "best_state": None}
    ckpt_path = out_dir / CHECKPOINT
    if ckpt_path.is_file():
        try:
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            state = ckpt["state"]
        except Exception as err:  # noqa: BLE001 - any unreadable or foreign checkpoint gets the same advice
            raise SerError(f"{ckpt_path}: cannot resume from this checkpoint ({type(err).__name__}: {err}); "
                           "delete it to train this fold from the start") from err
        log(f"resuming from {ckpt_path} after epoch {state['epoch']}")

    started = time.perf_counter()
    lengths = train.lengths[base_index]
    while state["epoch"] < tc.max_epochs:
        epoch = state["epoch"] + 1
        tick = time.perf_counter()
        rng = np.random.default_rng([tc.seed, epoch])
        torch.manual_seed(tc.seed * 100003 + epoch)
        model.train()
        total, count = 0.0, 0
        for batch in make_batches(lengths, tc.batch_size, rng):
            idx = base_index[batch]
            x, lens = collate([train.inputs[i] for i in idx], frame_level, tc.max_frames, rng)
            targets = {task: torch.from_numpy(t[idx]).to(device) for task, t in train.targets.items()}
            outputs = model(x.to(device), lens)
            loss = model.loss(outputs, targets, class_weights=cw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        row = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - tick}
        if valid.utts:
            post = predict(model, valid.inputs, frame_level, device)
            pred = [classes[i] for i in post.argmax(axis=1)]
            m = compute_metrics([classes[i] for i in valid.targets["emotion"]], pred, classes)
            row.update(valid_uar=float(m.uar), valid_wa=float(m.wa))
            improved = m.uar > state["best_uar"]
        else:
            improved = True  # no validation data: keep the last epoch
        if improved:
            state.update(best_uar=row.get("valid_uar", float("nan")), best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["history"].append(row)
        log(
            f"epoch {epoch:3d}  loss {row['loss']:.4f}  valid UAR {row.get('valid_uar', float('nan')):.4f}  "
            f"WA {row.get('valid_wa', float('nan')):.4f}  {row['seconds']:.1f}s" + ("  *" if improved else "")
        )
        torch_save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state}, ckpt_path)
        if state["bad_epochs"] >= tc.patience and epoch >= tc.min_epochs:
            log(f"early stop: no validation UAR gain for {tc.patience} epochs; best epoch {state['best_epoch']}")
            break

    model.load_state_dict(state["best_state"])
    outcome = FoldOutcome(best_epoch=state["best_epoch"], best_valid_uar=float(state["best_uar"]),
                          epochs_run=state["epoch"], seconds=time.perf_counter() - started, history=state["history"])
    meta = {
        "format": MODEL_FORMAT,
        "spec": model.spec,
        "classes": list(classes),
        "normalization": cfg.normalization,
        "features": table.header,
        "config": cfg.to_dict(),
        "best_epoch": outcome.best_epoch,
        "best_valid_uar": outcome.best_valid_uar,
        "train_speakers": sorted({table.data.utt2spk[u] for u in train.utts}),
    }
    torch_save_atomic({"meta": meta, "state_dict": state["best_state"]}, out_dir / MODEL)
    return model, outcome, meta


def write_scores(path: Path, utts: Sequence[str], truth: Sequence[str], posteriors: np.ndarray, classes: Sequence[str]) -> None:
    """scores.tsv: utt, true, pred, one posterior column per class (the report's input)."""
    with atomic_write(path) as out:
        out.write("utt\ttrue\tpred\t" + "\t".join(classes) + "\n")
        for utt, true, post in zip(utts, truth, posteriors):
            out.write(f"{utt}\t{true}\t{classes[int(np.argmax(post))]}\t" + "\t".join(f"{p:.6f}" for p in post) + "\n")


def finite_or_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
