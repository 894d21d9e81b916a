"""Training and evaluation of the text conversation models over several seeds, with the AGHMN tables.

Protocol (the paper's): Adam lr 5e-4, gradient norm clipped at 5, dropout 0.3 (model config), after every
epoch the validation macro-F1 is measured; when it does not rise the learning rate is multiplied by 0.95;
training stops after `patience` (10) epochs without a gain and the best-validation weights are kept and
scored on the test split. Optional class weights (min count / count)^0.5 from the training labels.
The vocabulary comes from the training split only; word vectors from a word2vec/GloVe file (L2-normalised,
OOV random) or random without a file. The minilm reader has neither: every utterance text of the three splits
is encoded once by frozen MiniLM (unlabelled text only, like a pre-trained word-vector lookup), cached in
EXP/sentence_vectors.npz for the other seeds and reruns.

Layout of an experiment directory::

    EXP/seed_<n>/model.pt  predictions.tsv  metrics.json  train.log  .done
                 checkpoint.pt   (while training: written atomically after every epoch; a killed run resumes
                                  from it exactly, with the optimiser, learning rate, RNG states and best weights)
    EXP/results.json  EXP/RESULTS.md      (per-class Acc/F1, weighted Acc/F1, mF1: mean +- std over seeds)
    EXP/sentence_vectors.npz              (reader minilm: MiniLM vector per sha1(model + text), shared by the seeds)
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ser.errors import SerError
from ser.fileio import atomic_write, write_text_atomic
from ser.metrics import Metrics, compute_metrics, summarise_folds
from ser.text.data import Dialogue, Vocab, count
from ser.text.embeddings import embedding_matrix
from ser.text.model import Batch, TextEmotionModel, TextModelConfig, save_model

if TYPE_CHECKING:
    from ser.text.sentence_encoder import SentenceEncoder

SENTENCE_CACHE = "sentence_vectors.npz"


@dataclass
class TextTrainConfig:
    lr: float = 5e-4
    lr_decay: float = 0.95
    clip: float = 5.0
    patience: int = 10
    max_epochs: int = 100
    batch_size: int = 4  # dialogues per batch
    class_weights: bool = False
    embeddings: str | None = None
    min_count: int = 1
    max_train_dialogues: int = 0  # > 0: a training subset (smoke runs)
    max_eval_dialogues: int = 0  # > 0: a dev/test subset (smoke runs)
    device: str = "cpu"  # cpu | cuda | auto


def _set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SerError("device cuda requested but torch sees no GPU (use --device cpu or auto)")
    if name != "cpu" and not name.startswith("cuda"):
        raise SerError(f"unknown device '{name}' (cpu, cuda or auto)")
    return name


def class_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """(min count / count)^0.5 per class (classes absent from training get weight 1)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = np.sqrt(counts[present].min() / counts[present])
    return torch.tensor(weights, dtype=torch.float32)


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
    log_lines: list[str] = []

    def emit(msg: str) -> None:
        (log or (lambda m: print(m, file=sys.stderr)))(msg)

    def say(msg: str) -> None:
        log_lines.append(msg)
        emit(msg)

    _set_seed(seed)
    tc = train_config
    train = list(splits["train"])
    dev, test = list(splits["dev"]), list(splits["test"])
    if tc.max_train_dialogues > 0:
        train = train[: tc.max_train_dialogues]
    if tc.max_eval_dialogues > 0:
        dev, test = dev[: tc.max_eval_dialogues], test[: tc.max_eval_dialogues]
    device = resolve_device(tc.device)
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
    tr_x, tr_y = encode_split(train, vocab, classes)
    dv_x, dv_y = encode_split(dev, vocab, classes)
    te_x, te_y = encode_split(test, vocab, classes)
    model.to(device)
    weight = class_weights(tr_y, len(classes)).to(device) if tc.class_weights else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=tc.lr)
    # label offsets per dialogue, so a shuffled batch finds its labels
    offsets = np.cumsum([0] + [len(d) for d in tr_x])
    tr_y_arr = np.asarray(tr_y, dtype=np.int64)
    rng = np.random.default_rng(seed)
    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
    epoch_seconds: list[float] = []
    first_epoch, stopped = 1, False
    ckpt_path = out_dir / "checkpoint.pt"
    if ckpt_path.is_file():  # resume exactly where a killed run left off
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        best_state, best_f1, best_epoch = ckpt["best_state"], ckpt["best_f1"], ckpt["best_epoch"]
        stale, epoch_seconds, stopped = ckpt["stale"], list(ckpt["epoch_seconds"]), ckpt["stopped"]
        rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        log_lines[:] = list(ckpt["log"])
        first_epoch = ckpt["epoch"] + 1
        say(f"resumed from {ckpt_path} after epoch {ckpt['epoch']}")
    for epoch in range(first_epoch, tc.max_epochs + 1):
        if stopped:
            break
        model.train()
        start = time.perf_counter()
        order = rng.permutation(len(tr_x))
        total, n = 0.0, 0
        for i in range(0, len(order), tc.batch_size):
            idx = order[i : i + tc.batch_size]
            batch = Batch([tr_x[j] for j in idx], mc.window, device)
            target = torch.from_numpy(np.concatenate([tr_y_arr[offsets[j] : offsets[j + 1]] for j in idx])).to(device)
            loss = loss_fn(model(batch), target)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, tc.clip)
            optimiser.step()
            total += float(loss.detach()) * len(target)
            n += len(target)
        seconds = time.perf_counter() - start
        epoch_seconds.append(seconds)
        dev_m = _metrics(dv_y, predict(model, dv_x), classes)
        improved = dev_m.macro_f1 > best_f1
        if improved:
            best_f1, best_epoch, stale = dev_m.macro_f1, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            for group in optimiser.param_groups:
                group["lr"] *= tc.lr_decay
        line = (f"epoch {epoch}: loss {total / max(n, 1):.4f}  dev mF1 {dev_m.macro_f1:.4f} acc {dev_m.wa:.4f}"
                f"{'  *' if improved else ''}  lr {optimiser.param_groups[0]['lr']:.2e}  {seconds:.1f}s")  # fmt: skip
        log_lines.append(line)
        stopped = stale >= tc.patience
        checkpoint = {
            "epoch": epoch, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
            "best_state": best_state, "best_f1": best_f1, "best_epoch": best_epoch, "stale": stale,
            "epoch_seconds": epoch_seconds, "stopped": stopped, "numpy_rng": json.dumps(rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(), "log": log_lines,
        }  # fmt: skip
        with atomic_write(ckpt_path, "wb") as handle:
            torch.save(checkpoint, handle)
        emit(line)  # after the checkpoint: a kill from here on loses nothing of this epoch
        if stopped:
            say(f"early stop: {tc.patience} epochs without a validation gain")
    model.load_state_dict(best_state)
    probs = predict(model, te_x)
    model.to("cpu")
    test_m = _metrics(te_y, probs, classes)
    save_model(out_dir / "model.pt", model, itos, classes, extra={"seed": seed, "best_epoch": best_epoch})
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
        "best_epoch": best_epoch,
        "epochs": len(epoch_seconds),
        "seconds_per_epoch": float(np.mean(epoch_seconds)),
        "device": device,
        "dev_macro_f1": best_f1,
        "train_dialogues": count(train)[0],
        "test": test_m.to_dict(),
    }
    say(f"test: acc {test_m.wa:.4f} wF1 {test_m.weighted_f1:.4f} mF1 {test_m.macro_f1:.4f} (best epoch {best_epoch})")
    with atomic_write(out_dir / "metrics.json") as handle:
        json.dump(result, handle, indent=1, default=list)
    write_text_atomic(out_dir / "train.log", "\n".join(log_lines) + "\n")
    (out_dir / ".done").write_text("")
    ckpt_path.unlink(missing_ok=True)
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


def metrics_from_dict(d: dict[str, Any]) -> Metrics:
    return Metrics(tuple(d["classes"]), np.asarray(d["confusion"], dtype=np.int64))


def run_seeds(
    splits, classes, model_config, train_config, exp_dir, seeds: Sequence[int], command: str = "", log=None
) -> dict[str, Any]:
    """Train every seed not yet done (a seed directory with .done is kept), then write results.json and RESULTS.md."""
    exp_dir = Path(exp_dir)
    for seed in seeds:
        seed_dir = exp_dir / f"seed_{seed}"
        if (seed_dir / ".done").exists():
            (log or print)(f"seed {seed}: done already, kept")
            continue
        cache = exp_dir / SENTENCE_CACHE if model_config.reader == "minilm" else None
        train_seed(splits, classes, model_config, train_config, seed_dir, seed=seed, log=log, sentence_cache=cache)
    return write_report(exp_dir, seeds=seeds, command=command)


def summarise(exp_dir: str | Path, seeds: Sequence[int] | None = None) -> dict[str, Any]:
    exp_dir = Path(exp_dir)
    dirs = sorted(exp_dir.glob("seed_*/metrics.json"), key=lambda p: int(p.parent.name.split("_")[1]))
    if seeds is not None:
        dirs = [p for p in dirs if int(p.parent.name.split("_")[1]) in set(seeds)]
    if not dirs:
        raise SerError(f"{exp_dir}: no finished seeds (seed_*/metrics.json)")
    runs = {p.parent.name: json.loads(p.read_text()) for p in dirs}
    per_seed = {name: metrics_from_dict(r["test"]) for name, r in runs.items()}
    summary = summarise_folds(per_seed)
    classes = list(summary.classes)
    recall = np.array([m.recall for m in per_seed.values()])
    f1 = np.array([m.f1 for m in per_seed.values()])
    ddof = 1 if len(per_seed) > 1 else 0

    def ms(a):  # [mean, sample std]; None where undefined (one seed, or a class absent from every test set)
        a = np.asarray(a, dtype=float)
        a = a[~np.isnan(a)]
        mean = float(a.mean()) if a.size else None
        std = float(a.std(ddof=ddof)) if a.size > 1 else None
        return [mean, std]

    first = next(iter(runs.values()))
    return {
        "tag": TextModelConfig.from_dict(first["model_config"]).tag,
        "seeds": [int(n.split("_")[1]) for n in runs],
        "classes": classes,
        "per_class": {c: {"acc": ms(recall[:, i]), "f1": ms(f1[:, i])} for i, c in enumerate(classes)},
        "acc": ms(np.array([m.wa for m in per_seed.values()])),
        "weighted_f1": ms(np.array([m.weighted_f1 for m in per_seed.values()])),
        "macro_f1": ms(np.array([m.macro_f1 for m in per_seed.values()])),
        "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in runs.values()])),
        "epochs": [r["epochs"] for r in runs.values()],
        "model_config": first["model_config"],
        "train_config": first["train_config"],
        "pooled": summary.pooled.to_dict(),
    }


def _pm(pair: Sequence[float | None]) -> str:
    mean, std = (None if v is None or math.isnan(v) else v for v in pair)
    if mean is None:
        return "-"
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def table(summaries: Sequence[dict[str, Any]]) -> str:
    """Markdown laid out like the paper's Tables 2-3: per class Acc F1, then Avg. Acc F1 (weighted) and mF1."""
    classes = summaries[0]["classes"]
    head = "| Model | " + " | ".join(f"{c} Acc | {c} F1" for c in classes) + " | Avg. Acc | Avg. F1 | mF1 |"
    rule = "|---" * (2 * len(classes) + 4) + "|"
    rows = [head, rule]
    for s in summaries:
        if s["classes"] != classes:
            raise SerError(f"{s['tag']}: classes differ from {classes}; cannot share one table")
        cells = [f"{_pm(s['per_class'][c]['acc'])} | {_pm(s['per_class'][c]['f1'])}" for c in classes]
        rows.append(f"| {s['tag']} | " + " | ".join(cells)
                    + f" | {_pm(s['acc'])} | {_pm(s['weighted_f1'])} | {_pm(s['macro_f1'])} |")  # fmt: skip
    return "\n".join(rows) + "\n"


def write_report(exp_dir: str | Path, seeds: Sequence[int] | None = None, command: str = "") -> dict[str, Any]:
    exp_dir = Path(exp_dir)
    s = summarise(exp_dir, seeds)
    if not command and (exp_dir / "results.json").is_file():
        try:
            command = json.loads((exp_dir / "results.json").read_text()).get("command", "")
        except (OSError, ValueError):
            command = ""
    if command:
        s["command"] = command
    with atomic_write(exp_dir / "results.json") as handle:
        json.dump(s, handle, indent=1)
    n = len(s["seeds"])
    text = [
        f"# {s['tag']}: {n} seed{'s' if n != 1 else ''} ({', '.join(map(str, s['seeds']))})",
        "",
        "Test split; values in %, mean ± sample std over seeds. Acc per class = recall of that class; "
        "Avg. Acc = overall accuracy (support-weighted), Avg. F1 = support-weighted F1, mF1 = macro-F1.",
        "",
        table([s]),
        f"Epochs per seed: {s['epochs']}; {s['seconds_per_epoch']:.1f} s per training epoch (mean).",
        "",
        "Model: `" + json.dumps(s["model_config"]) + "`",
        "",
        "Training: `" + json.dumps(s["train_config"]) + "`",
        "",
    ]
    if command:
        text += ["Command:", "", "```", command, "```", ""]
    write_text_atomic(exp_dir / "RESULTS.md", "\n".join(text))
    return s


def compare(exp_dirs: Sequence[str | Path], out: str | Path | None = None) -> str:
    """One table over several experiment directories (same classes)."""
    summaries = [summarise(d) for d in exp_dirs]
    text = table(summaries)
    if out:
        write_text_atomic(out, text)
    return text
