"""Any registered torch encoder (+ heads) behind the classifier protocol (``ser.classifier.Classifier``).

Fitting early-stops on the validation speakers (``ser.train``). With ``train.refit`` it first picks the
epoch count that way (in ``select/``, which records its choice once: a kill during the refit cannot change
it), then trains again from scratch on train + valid for that many epochs. The final model on every
speaker (``final_config``) trains for the median best epoch over the folds, with no validation data.
"""

from __future__ import annotations

import copy
import json
import statistics
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ser.classifier import POSTERIORS, Logger
from ser.config import ExperimentConfig
from ser.errors import SerError
from ser.features_table import LabelledSet
from ser.fileio import write_text_atomic

SELECT_DIR = "select"  # with train.refit: the early-stopping run that picks the epoch count
SELECTED = "selected.json"


def empty_set() -> LabelledSet:
    return LabelledSet([], [], np.zeros(0, dtype=np.int64), [], [])


class TorchClassifier:
    """An SERModel (encoder from the registry + multitask heads), trained by the shared loop."""

    selects_on_validation = True

    def __init__(self, cfg: ExperimentConfig | None, classes: Sequence[str]) -> None:
        self.cfg = cfg
        self.classes = list(classes)
        self.output_kind = POSTERIORS
        self.model: Any = None
        self.device: Any = None

    @classmethod
    def create(cls, cfg: ExperimentConfig, classes: list[str]) -> "TorchClassifier":
        return cls(cfg, classes)

    def fit(self, train: LabelledSet, valid: LabelledSet, workdir: Path, log: Logger) -> dict[str, Any]:
        from ser.train import train_torch
        from ser.trainer import pick_device

        cfg = self.cfg
        self.device = pick_device(cfg.train.device)
        if cfg.train.valid_split:
            if cfg.augment.copies:
                raise SerError("train.valid_split cannot be combined with augment.copies: a copy of a validation "
                               "utterance would be trained on; validate on speakers instead")
            train, valid = (train + valid).random_split(cfg.train.valid_split, cfg.train.seed)
            log(f"validation: a random {cfg.train.valid_split:.0%} of the training utterances ({len(valid.utts)} of "
                f"{len(train.utts) + len(valid.utts)}; train.valid_split), the validation speakers trained on")
        if cfg.train.refit and valid.utts:
            selected = self._select_epochs(train, valid, workdir / SELECT_DIR, log)
            log(f"selected epoch {selected['best_epoch']} (valid {cfg.train.select_metric.upper()} {selected['best_valid_uar']:.4f}); refit on train + "
                f"valid ({len(train.utts) + len(valid.utts)} utterances) for {selected['best_epoch']} epochs")
            refit = copy.deepcopy(cfg)
            refit.train.max_epochs = refit.train.min_epochs = selected["best_epoch"]
            self.model, outcome = train_torch(refit, train + valid, empty_set(), self.classes, workdir, log)
            record = {"best_epoch": selected["best_epoch"], "best_valid_uar": selected["best_valid_uar"], "refit": True}
        else:
            self.model, outcome = train_torch(cfg, train, valid, self.classes, workdir, log)
            record = {"best_epoch": outcome.best_epoch, "best_valid_uar": outcome.best_score}
        record["epochs_run"] = outcome.epochs_run
        if cfg.train.select_metric != "uar":  # best_valid_uar then holds that metric
            record["select_metric"] = cfg.train.select_metric
        if outcome.averaged_epochs:
            record["averaged_epochs"] = outcome.averaged_epochs
        label = cfg.train.select_metric.upper()
        valid_uar = "" if np.isnan(record["best_valid_uar"]) else f" (valid {label} {record['best_valid_uar']:.4f})"
        log(f"best epoch {record['best_epoch']}{valid_uar}; {outcome.epochs_run} epochs in {outcome.seconds:.1f}s")
        return record

    def _select_epochs(self, train: LabelledSet, valid: LabelledSet, select_dir: Path, log: Logger) -> dict[str, Any]:
        """Early stopping on the validation speakers, once: the choice is kept in select/selected.json."""
        from ser.train import CHECKPOINT, train_torch

        done = select_dir / SELECTED
        if done.is_file():
            selected = json.loads(done.read_text(encoding="utf-8"))
            log(f"epoch count chosen earlier: {selected['best_epoch']} ({done})")
            return selected
        _, outcome = train_torch(self.cfg, train, valid, self.classes, select_dir, log)
        selected = {"best_epoch": outcome.best_epoch, "best_valid_uar": outcome.best_score,
                    "train_speakers": sorted(set(train.speakers)), "valid_speakers": sorted(set(valid.speakers))}
        write_text_atomic(done, json.dumps(selected) + "\n")
        (select_dir / CHECKPOINT).unlink(missing_ok=True)
        return selected

    def posteriors(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        from ser.inference import predict

        if not len(inputs):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return predict(self.model, inputs, self.model.input_kind == "frames", self.device)

    def spec(self) -> dict[str, Any]:
        return copy.deepcopy(self.model.spec)

    def state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}

    @classmethod
    def from_state(cls, spec: dict[str, Any], classes: Sequence[str], state: dict[str, np.ndarray]) -> "TorchClassifier":
        import torch

        from ser.models import build_model_from_spec

        out = cls(None, classes)
        out.model = build_model_from_spec(spec)
        try:
            out.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        except RuntimeError as exc:
            raise SerError(f"the weights do not fit the '{spec['encoder']}' architecture ({str(exc).splitlines()[0]})") from None
        out.model.eval()
        out.device = torch.device("cpu")
        return out

    @classmethod
    def final_config(cls, cfg: ExperimentConfig, records: Sequence[dict[str, Any]], log: Logger) -> ExperimentConfig:
        """Train for the median best epoch over the folds (rounded up), with no early stopping."""
        epochs = [int(r.get("best_epoch") or 0) for r in records]
        epochs = [e for e in epochs if e > 0]
        if not epochs:
            raise SerError("no fold model records a best epoch; run `ser evaluate` first or export one --fold")
        final = copy.deepcopy(cfg)
        n = int(np.ceil(statistics.median(epochs)))
        final.train.max_epochs = final.train.min_epochs = n
        final.train.patience = n + 1
        log(f"training on every speaker for {n} epochs (median best epoch of the folds: {epochs})")
        return final


__all__ = ["SELECTED", "SELECT_DIR", "TorchClassifier", "empty_set"]
