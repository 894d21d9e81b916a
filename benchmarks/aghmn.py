"""Benchmark: AGHMN / scLSTM text pipeline on MELD: training seconds per epoch per variant, and per-turn
latency of the streaming classifier against recomputing the memory window from scratch every turn.

All numbers come from this one run on this machine (shared and noisy: only ratios mean something):
  * training: one `ser.text.train.train_seed` run per variant (UniF-AGRU, UniF-BiAGRU, BiF-AGRU, BiF-BiAGRU,
    UniF-Soft, BiF-Soft with the BiGRU reader; scLSTM with the CNN reader, as recipes/meld/run.sh) on the full
    MELD train split with the trainer's default batch size, random word vectors, memory bank K = 10 (the MELD
    recipe's; `--train-window`). The figure is the trainer's own `seconds_per_epoch` (its clock covers the
    optimisation loop only, not the dev scoring; dev/test are cut to a few dialogues so the rest stays short).
    Printed: s/epoch, turns/s, each variant relative to BiF-AGRU, and BiF-AGRU against the 60 s/epoch target.
  * streaming: a BiF-AGRU model with random weights (timing does not depend on them) labels `--turns` turns of
    MELD test dialogues concatenated into one long conversation (so that the K = `--window` bank fills), turn by
    turn, three ways, interleaved per turn so that machine noise hits all three alike:
      - `Stream.step`: the current utterance is read once; the bank keeps the last K utterance vectors;
      - full recompute: the last K utterances and the current one are batched from their token ids and the
        model's `forward` runs on that window (what a naive real-time system does); its last row is the turn;
      - recompute, last query only: the K + 1 utterances are re-read, then `attend` runs for the current turn
        only (separates the cost of re-reading utterances from that of scoring every turn of the window).
    Printed: median and p90 ms per turn (all turns, and turns with a full bank), ratios to `Stream`, and the
    largest posterior difference between the three; exit status 1 if it exceeds 1e-5 (the comparison would be
    meaningless). The streaming target is >= 5x faster than full recompute.

    .venv/bin/python benchmarks/aghmn.py [--window 40] [--turns 200] [--variants bif_agru,sclstm]
    .venv/bin/python benchmarks/aghmn.py --max-train-dialogues 50 --turns 60    # smoke run

Needs conversation JSON from `ser prepare-text meld <csv-dir> <out>` (recipes/meld stage 0 makes the default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ser.text.data import Dialogue, Vocab, count, default_classes, read_conversation_dir  # noqa: E402
from ser.text.model import Batch, Stream, TextEmotionModel, TextModelConfig  # noqa: E402
from ser.text.train import TextTrainConfig, train_seed  # noqa: E402

#: name -> (printed label, model options), the configs of recipes/meld/run.sh
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "unif_agru": ("UniF-AGRU", {"memory": "unif", "summary": "agru"}),
    "unif_biagru": ("UniF-BiAGRU", {"memory": "unif", "summary": "biagru"}),
    "bif_agru": ("BiF-AGRU", {"memory": "bif", "summary": "agru"}),
    "bif_biagru": ("BiF-BiAGRU", {"memory": "bif", "summary": "biagru"}),
    "unif_soft": ("UniF-Soft", {"memory": "unif", "summary": "soft"}),
    "bif_soft": ("BiF-Soft", {"memory": "bif", "summary": "soft"}),
    "sclstm": ("scLSTM", {"model": "sclstm", "reader": "cnn"}),
}
EPOCH_TARGET_S = 60.0  # BiF-AGRU, full MELD train split, this CPU
STREAM_TARGET = 5.0  # streaming at least this many times faster than full recompute
AGREE_TOL = 1e-5


def time_training(splits: dict[str, list[Dialogue]], classes: Sequence[str], names: Sequence[str],
                  args: argparse.Namespace) -> dict[str, float]:
    """Seconds per epoch of each variant, as the trainer measures them, in a throw-away experiment dir."""
    train = splits["train"][: args.max_train_dialogues or None]
    n_dia, n_turns = count(train)
    tc = TextTrainConfig(max_epochs=args.epochs, patience=args.epochs + 1,
                         max_train_dialogues=args.max_train_dialogues, max_eval_dialogues=2)  # fmt: skip
    print(f"training: {n_dia} dialogues / {n_turns} turns; batch {tc.batch_size} dialogues (trainer default); "
          f"K = {args.train_window}; {args.epochs} epoch(s) per variant")  # fmt: skip
    print(f"{'variant':12s} {'s/epoch':>8s} {'turns/s':>8s} {'vs BiF-AGRU':>12s}")
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ser-bench-aghmn-") as tmp:
        for name in names:
            label, options = VARIANTS[name]
            mc = TextModelConfig.from_dict({"window": args.train_window, **options})
            result = train_seed(splits, classes, mc, tc, Path(tmp) / name, seed=0, log=lambda _msg: None)
            seconds[name] = result["seconds_per_epoch"]
            ref = seconds.get("bif_agru")
            rel = f"{seconds[name] / ref:11.2f}x" if ref else f"{'-':>12s}"
            print(f"{label:12s} {seconds[name]:8.1f} {n_turns / seconds[name]:8.0f} {rel}", flush=True)
    if "bif_agru" in seconds:
        s = seconds["bif_agru"]
        scaled = s * 9989 / n_turns if n_turns != 9989 else s
        note = "" if n_turns == 9989 else f" (scaled to the full 9989 turns: {scaled:.1f} s)"
        verdict = "yes" if scaled < EPOCH_TARGET_S else "NO"
        print(f"BiF-AGRU under the {EPOCH_TARGET_S:.0f} s/epoch target: {verdict} ({s:.1f} s/epoch{note})")
    return seconds


def long_conversation(dialogues: Sequence[Dialogue], turns: int) -> list[str]:
    """Texts of the first `turns` turns of the dialogues played one after another: MELD dialogues are shorter
    than K = 40, and a real-time system sees one unbroken stream anyway."""
    texts = [t.text for d in dialogues for t in d.turns][:turns]
    if len(texts) < turns:
        raise SystemExit(f"only {len(texts)} test turns; ask for fewer with --turns")
    return texts


def recompute_full(model: TextEmotionModel, window: list[list[int]]) -> np.ndarray:
    """Posteriors of the last turn of `window` (<= K previous turns + current) from token ids: `forward` labels
    every turn of the window and the others are thrown away."""
    logits = model(Batch([window], model.config.window))
    return torch.softmax(logits[-1], dim=0).numpy()


def recompute_last(model: TextEmotionModel, window: list[list[int]]) -> np.ndarray:
    """The same turn from the same token ids, but only its own query is scored: re-reading is the only waste."""
    batch = Batch([window], model.config.window)
    u = model.encode(batch.tokens, batch.lengths)
    logits = model.attend(u[-1:], u[:-1].unsqueeze(0), torch.tensor([len(window) - 1]))
    return torch.softmax(logits[0], dim=0).numpy()


@torch.no_grad()
def time_streaming(vocab: Vocab, classes: Sequence[str], texts: list[str], window: int, warmup: int) -> bool:
    """Per-turn latency of Stream vs recomputation; returns whether all three agree within AGREE_TOL."""
    torch.manual_seed(0)
    model = TextEmotionModel(TextModelConfig(memory="bif", summary="agru", window=window), len(vocab), len(classes))
    model.eval()
    for text in texts[:warmup]:  # warm-up: first calls allocate and pick kernels
        Stream(model, vocab.encode).step(text)
        recompute_full(model, [vocab.encode(text)])
    stream = Stream(model, vocab.encode)
    history: list[list[int]] = []  # token ids of the turns so far (a recomputing system keeps these)

    def full(text: str) -> np.ndarray:
        return recompute_full(model, history[-window:] + [vocab.encode(text)])

    def last(text: str) -> np.ndarray:
        return recompute_last(model, history[-window:] + [vocab.encode(text)])

    ways: dict[str, Callable[[str], np.ndarray]] = {"stream": stream.step, "full": full, "last": last}
    ms: dict[str, list[float]] = {k: [] for k in ways}
    worst = {k: 0.0 for k in ways if k != "stream"}
    for text in texts:
        probs = {}
        for key, way in ways.items():
            tick = time.perf_counter()
            probs[key] = way(text)
            ms[key].append(1000 * (time.perf_counter() - tick))
        for key in worst:
            worst[key] = max(worst[key], float(np.abs(probs[key] - probs["stream"]).max()))
        history.append(vocab.encode(text))

    def p90(xs: list[float]) -> float:
        return float(np.percentile(xs, 90))

    labels = {"stream": "Stream.step", "full": "recompute, forward", "last": "recompute, last query"}
    print(f"streaming: BiF-AGRU (BiGRU reader, random weights), K = {window}, {len(texts)} MELD test turns "
          f"in one conversation; ms per turn")  # fmt: skip
    print(f"{'':24s} {'median':>8s} {'p90':>8s} {'median K-full':>14s} {'p90 K-full':>11s} {'vs Stream':>10s}")
    med = {}
    for key, label in labels.items():
        full_bank = ms[key][window:] or ms[key]  # turns whose bank holds K vectors
        med[key] = statistics.median(ms[key])
        rel = med[key] / med["stream"]
        print(f"{label:24s} {med[key]:8.2f} {p90(ms[key]):8.2f} {statistics.median(full_bank):14.2f} "
              f"{p90(full_bank):11.2f} {rel:9.1f}x")  # fmt: skip
    speedup = med["full"] / med["stream"]
    print(f"Stream vs full recompute: {speedup:.1f}x faster (median); target >= {STREAM_TARGET:.0f}x: "
          f"{'yes' if speedup >= STREAM_TARGET else 'NO'}")  # fmt: skip
    agree = all(v <= AGREE_TOL for v in worst.values())
    print(f"posteriors, max |difference| from Stream over all turns: recompute forward {worst['full']:.2e}, "
          f"last query {worst['last']:.2e} (tolerance {AGREE_TOL:g}): {'agree' if agree else 'DISAGREE'}")  # fmt: skip
    return agree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO / "recipes" / "meld" / "data" / "meld"),
                        help="conversation-JSON dir with train/dev/test.json (ser prepare-text meld)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}; "
                        "'none' skips training")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-train-dialogues", type=int, default=0, help="> 0: train on the first N (smoke run)")
    parser.add_argument("--train-window", type=int, default=10, help="K for training (MELD recipe: 10)")
    parser.add_argument("--window", type=int, default=40, help="K for the streaming comparison")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    names = [] if args.variants == "none" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    # BiF-AGRU first, so the others can be printed relative to it
    names = sorted(dict.fromkeys(names), key=lambda v: (v != "bif_agru", list(VARIANTS).index(v)))

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}; threads {torch.get_num_threads()}; data {args.data}")
    splits = read_conversation_dir(args.data)
    classes = default_classes(splits["train"])
    if names:
        time_training(splits, classes, names, args)
    train = splits["train"][: args.max_train_dialogues or None]
    vocab = Vocab.build(train)  # as the trainer builds it: training split only
    texts = long_conversation(splits["test"], args.turns)
    return 0 if time_streaming(vocab, classes, texts, args.window, args.warmup) else 1


if __name__ == "__main__":
    sys.exit(main())
