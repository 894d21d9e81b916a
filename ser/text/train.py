"""Training the text conversation models over several seeds: the text task of the shared loop (``ser.trainer``).

Protocol (the paper's): Adam lr 5e-4, gradient norm clipped at 5, dropout 0.3 (model config), after every
epoch the validation macro-F1 is measured; when it does not rise the learning rate is multiplied by 0.95;
training stops after `patience` (10) epochs without a gain and the best-validation weights are kept and
scored on the test split. Optional class weights (min count / count)^0.5 from the training labels.
The vocabulary comes from the training split only; word vectors from a word2vec/GloVe file (L2-normalised,
OOV random) or random without a file. The minilm reader has neither: every utterance text of the three splits
is encoded once by frozen MiniLM (unlabelled text only, like a pre-trained word-vector lookup), cached in
EXP/sentence_vectors.npz for the other seeds and reruns.

Randomness: the seed is set once before the model is built; the dialogue order of each epoch comes from one
generator that runs on through the epochs, and its state (and torch's) is part of the checkpoint, so a
killed seed resumes exactly.

Layout of an experiment directory::

    EXP/config.yaml                       (the merged config; a rerun with another config is refused)
    EXP/seed_<n>/model.pt  predictions.tsv  metrics.json  train.log  .done
                 checkpoint.pt   (while training; see ser.trainer)
    EXP/results.json  EXP/RESULTS.md      (``ser.report.write_seed_report``: per-class Acc/F1, weighted Acc/F1,
                                           mF1, mean +- std over seeds)
    EXP/sentence_vectors.npz              (reader minilm: MiniLM vector per sha1(model + text), shared by the seeds)
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ser.errors import SerError
from ser.fileio import atomic_write, write_text_atomic
from ser.metrics import Metrics, compute_metrics
from ser.text.config import TextTrainConfig
from ser.text.data import Dialogue, Vocab, count
from ser.text.embeddings import embedding_matrix
from ser.text.model import Batch, TextEmotionModel, TextModelConfig, save_model
from ser.trainer import LoopConfig, pick_device, run_training, sqrt_min_frequency_weights

if TYPE_CHECKING:
    from ser.text.sentence_encoder import SentenceEncoder

SENTENCE_CACHE = "sentence_vectors.npz"
CHECKPOINT = "checkpoint.pt"


def _set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def encode_split(
    dialogues: Sequence[Dialogue], vocab: Vocab | SentenceEncoder, classes: Sequence[str]
) -> tuple[list, list]:
    """(token-id lists per dialogue, or sentence vectors for minilm; label index per turn in dialogue order);
    unknown labels are an error."""
    index = {c: i for i, c in enumerate(classes)}
    encoded, labels = [], []
    for d in dialogues:
        encoded.append([vocab.encode(t.text) for t in d.turns])
        for t in d.turns:
            if t.emotion not in index:
                raise SerError(f"dialogue {d.id}: label {t.emotion!r} is not one of {', '.join(classes)}")
            labels.append(index[t.emotion])
    return encoded, labels


@torch.no_grad()
def predict(model: TextEmotionModel, encoded: Sequence, batch_size: int = 8) -> np.ndarray:
    """Posteriors [turns, C] for encoded dialogues (in order)."""
    model.eval()
    device = str(model.out.weight.device)
    out = []
    for i in range(0, len(encoded), batch_size):
        logits = model(Batch(encoded[i : i + batch_size], model.config.window, device))
        out.append(torch.softmax(logits, dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.out.out_features), dtype=np.float32)


def _metrics(labels: Sequence[int], probs: np.ndarray, classes: Sequence[str]) -> Metrics:
    return compute_metrics([classes[i] for i in labels], [classes[i] for i in probs.argmax(1)], classes)


class TextTask:
    """Hooks of the shared loop for one seed: batches of whole dialogues, dev macro-F1 selects."""

    def __init__(self, model: TextEmotionModel, tc: TextTrainConfig, train: tuple[list, list], dev: tuple[list, list],
                 classes: Sequence[str], device: str, seed: int) -> None:
        self.model, self.tc, self.classes, self.device = model, tc, list(classes), device
        self.tr_x, tr_y = train
        self.dv_x, self.dv_y = dev
        weight = sqrt_min_frequency_weights(tr_y, len(classes)).to(device) if tc.class_weights else None
        self.loss_fn = nn.CrossEntropyLoss(weight=weight)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=tc.lr)
        # label offsets per dialogue, so a shuffled batch finds its labels
        self.offsets = np.cumsum([0] + [len(d) for d in self.tr_x])
        self.tr_y = np.asarray(tr_y, dtype=np.int64)
        self.rng = np.random.default_rng(seed)

    def clip_parameters(self) -> Iterable[torch.Tensor]:
        return self.params

    def begin_epoch(self, epoch: int) -> None:
        pass  # the dialogue-order generator and torch's RNG run on from epoch to epoch

    def batches(self, epoch: int) -> Iterable[np.ndarray]:
        order = self.rng.permutation(len(self.tr_x))
        for i in range(0, len(order), self.tc.batch_size):
            yield order[i : i + self.tc.batch_size]

    def loss(self, idx: np.ndarray) -> tuple[torch.Tensor, int]:
        batch = Batch([self.tr_x[j] for j in idx], self.model.config.window, self.device)
        target = torch.from_numpy(np.concatenate([self.tr_y[self.offsets[j] : self.offsets[j + 1]] for j in idx])).to(self.device)
        return self.loss_fn(self.model(batch), target), len(target)

    def validate(self) -> dict[str, float]:
        m = _metrics(self.dv_y, predict(self.model, self.dv_x), self.classes)
        return {"macro_f1": float(m.macro_f1), "acc": float(m.wa)}

    def extra_state(self) -> dict[str, Any]:
        return {"numpy_rng": json.dumps(self.rng.bit_generator.state), "torch_rng": torch.get_rng_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])


class _SeedLog:
    """A seed's log lines: appended to train.log as they come (a resumed run adds to it) and passed on."""

    def __init__(self, path: Path, log: Callable[[str], None] | None) -> None:
        self.handle = open(path, "a", encoding="utf-8")
        self.log = log or (lambda m: print(m, file=sys.stderr))

    def __call__(self, message: str) -> None:
        self.handle.write(message + "\n")
        self.handle.flush()
        self.log(message)

    def close(self) -> None:
        self.handle.close()


def train_seed(
    splits: dict[str, list[Dialogue]],
    classes: Sequence[str],
    model_config: TextModelConfig,
    train_config: TextTrainConfig,
    out_dir: str | Path,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    sentence_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Train one seed, keep the best-validation weights, score the test split; write out_dir/* and return metrics.
    `sentence_cache`: the minilm reader's vector cache file (None: encode in memory)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = _SeedLog(out_dir / "train.log", log)
    try:
        return _train_seed(splits, classes, model_config, train_config, out_dir, seed, say, sentence_cache)
    finally:
        say.close()


def _train_seed(splits, classes, model_config, tc: TextTrainConfig, out_dir: Path, seed: int, say, sentence_cache) -> dict[str, Any]:
    _set_seed(seed)
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    train = list(splits["train"])
    dev, test = list(splits["dev"]), list(splits["test"])
    if tc.max_train_dialogues > 0:
        train = train[: tc.max_train_dialogues]
    if tc.max_eval_dialogues > 0:
        dev, test = dev[: tc.max_eval_dialogues], test[: tc.max_eval_dialogues]
    device = str(pick_device(tc.device))
    if model_config.reader == "minilm":
        mc = TextModelConfig.from_dict(asdict(model_config))  # checked: embed_dim is the sentence vector's 384
        vocab = _sentence_vectors(train + dev + test, device, sentence_cache, say)
        _set_seed(seed)  # loading MiniLM may draw random numbers: the weights must not depend on the cache
        itos: list[str] = []
        model = TextEmotionModel(mc, 0, len(classes))
        if tc.embeddings:
            say(f"reader minilm reads frozen sentence vectors: the embedding file {tc.embeddings} is not used")
        say(f"model {mc.tag}: {sum(p.numel() for p in model.parameters())} trainable parameters on frozen "
            f"all-MiniLM-L6-v2 vectors; {count(train)[0]} training dialogues")  # fmt: skip
    else:
        vocab = Vocab.build(train, tc.min_count)
        itos = vocab.itos
        matrix, found = embedding_matrix(vocab.itos, tc.embeddings, dim=model_config.embed_dim, seed=seed)
        mc = TextModelConfig.from_dict({**asdict(model_config), "embed_dim": int(matrix.shape[1])})
        model = TextEmotionModel(mc, len(vocab), len(classes))
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(matrix))
        source = tc.embeddings or "no embedding file"
        say(f"model {mc.tag}: {sum(p.numel() for p in model.parameters())} parameters; vocabulary {len(vocab)} "
            f"from {count(train)[0]} training dialogues ({found} words from {source})")  # fmt: skip
    tr = encode_split(train, vocab, classes)
    dv = encode_split(dev, vocab, classes)
    te_x, te_y = encode_split(test, vocab, classes)
    model.to(device)
    task = TextTask(model, tc, tr, dv, classes, device, seed)
    loop = LoopConfig(max_epochs=tc.max_epochs, patience=tc.patience, grad_clip=tc.clip, lr_decay=tc.lr_decay,
                      metric="macro_f1", metric_label="macro-F1")
    outcome = run_training(task, loop, out_dir / CHECKPOINT, say)
    probs = predict(model, te_x)
    model.to("cpu")
    test_m = _metrics(te_y, probs, classes)
    save_model(out_dir / "model.pt", model, itos, classes, extra={"seed": seed, "best_epoch": outcome.best_epoch})
    rows = ["dialogue\tturn\tspeaker\treference\tprediction\t" + "\t".join(classes)]
    k = 0
    for d in test:
        for t_i, turn in enumerate(d.turns):
            p = probs[k]
            rows.append(f"{d.id}\t{t_i}\t{turn.speaker}\t{turn.emotion}\t{classes[int(p.argmax())]}\t"
                        + "\t".join(f"{x:.4f}" for x in p))  # fmt: skip
            k += 1
    write_text_atomic(out_dir / "predictions.tsv", "\n".join(rows) + "\n")
    result = {
        "seed": seed,
        "model_config": asdict(mc),
        "train_config": asdict(tc),
        "best_epoch": outcome.best_epoch,
        "epochs": outcome.epochs_run,
        "seconds_per_epoch": float(np.mean([row["seconds"] for row in outcome.history])),
        "device": device,
        "dev_macro_f1": outcome.best_score,
        "train_dialogues": count(train)[0],
        "test": test_m.to_dict(),
    }
    say(f"test: acc {test_m.wa:.4f} wF1 {test_m.weighted_f1:.4f} mF1 {test_m.macro_f1:.4f} (best epoch {outcome.best_epoch})")
    with atomic_write(out_dir / "metrics.json") as handle:
        json.dump(result, handle, indent=1, default=list)
    write_text_atomic(out_dir / ".done", "")
    (out_dir / CHECKPOINT).unlink(missing_ok=True)
    return result


def _sentence_vectors(dialogues: Sequence[Dialogue], device: str, cache, say) -> "SentenceEncoder":
    """MiniLM vectors of every turn's text (encoded once, batched; the cache file keeps them for later seeds)."""
    from ser.text.sentence_encoder import SentenceEncoder

    encoder = SentenceEncoder(cache, device=device)
    texts = [t.text for d in dialogues for t in d.turns]
    new, seconds = encoder.add(texts)
    where = f" (cache {cache})" if cache else ""
    say(f"sentence vectors: {len(set(texts))} distinct texts, {new} encoded now in {seconds:.1f}s{where}")
    return encoder


def run_seeds(
    splits, classes, model_config, train_config, exp_dir, seeds: Sequence[int], command: str = "", log=None
) -> dict[str, Any]:
    """Train every seed not yet done (a seed directory with .done is kept), then write results.json and RESULTS.md."""
    from ser.report import write_seed_report

    exp_dir = Path(exp_dir)
    for seed in seeds:
        seed_dir = exp_dir / f"seed_{seed}"
        if (seed_dir / ".done").exists():
            (log or print)(f"seed {seed}: done already, kept")
            continue
        cache = exp_dir / SENTENCE_CACHE if model_config.reader == "minilm" else None
        train_seed(splits, classes, model_config, train_config, seed_dir, seed=seed, log=log, sentence_cache=cache)
    return write_seed_report(exp_dir, seeds=seeds, command=command)


__all__ = ["CHECKPOINT", "SENTENCE_CACHE", "TextTask", "encode_split", "predict", "run_seeds", "train_seed"]
