"""Benchmark: training throughput of every torch encoder on EmoDB features, against this machine's
float32 matmul throughput measured in the same run (a roofline fraction), with the share of step
time spent outside torch operators (Python overhead) from torch.profiler.

    .venv/bin/python benchmarks/train.py --feat-dir recipes/emodb/feats/emobase78_avg5 [--steps 6]
    .venv/bin/python benchmarks/train.py --feat-dir ... --loso gagru --folds-dir recipes/emodb/folds/loso [--nj 2]

Needs a feature dir from `ser extract` (the EmoDB recipe's stage 1 makes one). `--loso NAME` also times
one full leave-one-speaker-out run of that encoder's recipe config.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ser.features_table import FeatureTable  # noqa: E402
from ser.models import build_model  # noqa: E402
from ser.train import collate  # noqa: E402

ENCODERS = ("blstm", "gagru", "bigru_att", "alstm", "alstm_lstm", "alstm_mean")


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def step_profile(name: str, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], input_dim: int) -> dict[str, float]:
    heads = {"tasks": ["emotion"]}
    model = build_model(name, {}, input_dim, 7, heads)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(x, lens, y):
        out = model(x, lens)
        loss = torch.nn.functional.cross_entropy(out["emotion"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(*batches[0])  # warm-up
    # Training FLOPs per frame ~ 6 x the encoder's parameters (2 per multiply-add, forward + 2x backward):
    # every encoder weight is applied once per frame; FlopCounterMode does not count fused RNN kernels.
    flops_per_frame = 6.0 * sum(p.numel() for p in model.encoder.parameters())
    frames, start = 0, time.perf_counter()
    for x, lens, y in batches:
        step(x, lens, y)
        frames += int(lens.sum())
    wall = time.perf_counter() - start
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        tick = time.perf_counter()
        step(*batches[1])
        profiled_wall = time.perf_counter() - tick
    op_time = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key.startswith("aten::")) / 1e6
    return {
        "frames_per_s": frames / wall,
        "gflops": flops_per_frame * frames / wall / 1e9,
        "python_share": max(0.0, 1.0 - op_time / profiled_wall),
        "step_s": wall / len(batches),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feat-dir", default=str(REPO / "recipes" / "emodb" / "feats" / "emobase78_avg5"))
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--loso", metavar="CONFIG", help="also time a full LOSO run of recipes/emodb/conf/CONFIG.yaml")
    parser.add_argument("--folds-dir", default=str(REPO / "recipes" / "emodb" / "folds" / "loso"))
    parser.add_argument("--nj", type=int, default=2, help="folds trained at once in the LOSO run (as the recipes do)")
    args = parser.parse_args()

    table = FeatureTable(args.feat_dir, "speaker")
    rng = np.random.default_rng(0)
    utts = rng.permutation(table.utts)
    batches = []
    for i in range(args.steps + 1):
        chosen = utts[i * args.batch_size : (i + 1) * args.batch_size]
        x, lens = collate(table.matrices(chosen), True)
        batches.append((x, lens, torch.from_numpy(rng.integers(0, 7, len(chosen)))))
    peak = matmul_gflops()
    print(f"features: {args.feat_dir} ({table.dim}-d); batch {args.batch_size}; torch threads {torch.get_num_threads()}")
    print(f"float32 matmul (1024^2, same run): {peak:.1f} GFLOP/s")
    print(f"{'encoder':12s} {'frames/s':>10s} {'step s':>8s} {'GFLOP/s':>8s} {'roofline':>9s} {'python share':>13s}")
    for name in args.encoders.split(","):
        r = step_profile(name, batches, table.dim)
        print(f"{name:12s} {r['frames_per_s']:10.0f} {r['step_s']:8.3f} {r['gflops']:8.2f} {r['gflops'] / peak:9.1%} {r['python_share']:13.1%}")
    if args.loso:
        from ser.config import load_config
        from ser.evaluate import evaluate

        cfg = load_config(REPO / "recipes" / "emodb" / "conf" / f"{args.loso}.yaml")
        with tempfile.TemporaryDirectory() as exp:
            start = time.perf_counter()
            evaluate(cfg, args.feat_dir, args.folds_dir, Path(exp) / args.loso, quiet=True, nj=args.nj)
            print(f"full 10-fold LOSO of {args.loso} (--nj {args.nj}): {(time.perf_counter() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
