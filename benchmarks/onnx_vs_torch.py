"""Benchmark: each torch encoder at its papers' sizes, scored by torch and by its ONNX graph in onnxruntime.

For every registered torch encoder (random weights; the graph and the cost do not depend on training), on real
EmoDB emobase78 frames (egemaps88 functionals for the DNN): the largest |posterior difference| between the two
(the export refuses > 1e-4) and the throughput of each, in utterances per second with the same batches
(``ser.batching``) and the same number of threads, measured in this run; the ratio onnxruntime / torch is
what to read (this machine is shared and noisy). Fastest of `--repeats` passes each.

    .venv/bin/python benchmarks/onnx_vs_torch.py [--emodb-dir ../shared/data/emodb] [--clips 64] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
ENCODERS = ["blstm", "gagru", "bigru_att", "alstm", "alstm_mean", "alstm_lstm", "dnn"]


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import ser
    from ser.inference import predict
    from ser.models.onnx_classifier import OnnxClassifier
    from ser.models.registry import build_model
    from ser.onnx_export import export_graph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emodb-dir", default=str(REPO.parent / "shared" / "data" / "emodb"))
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clips = sorted(Path(args.emodb_dir).glob("*.wav"))
    clips = [str(p) for p in clips[:: max(1, len(clips) // args.clips)][: args.clips]]
    frames = [(x - x.mean(0)) / (x.std(0) + 1e-5) for x in ser.extract(clips, features="emobase78")]
    functionals = ser.extract(clips, features="egemaps88")
    seconds = sum(x.shape[0] for x in frames) / 100
    print(f"{len(clips)} EmoDB clips ({seconds:.0f} s of audio), {args.threads} thread(s), torch {torch.__version__}, "
          f"best of {args.repeats}")
    print(f"{'encoder':<11} {'params':>8} {'max |diff|':>10} {'torch utt/s':>12} {'onnx utt/s':>11} {'onnx/torch':>10}")
    ratios = []
    for name in ENCODERS:
        torch.manual_seed(0)
        inputs = functionals if name == "dnn" else frames
        heads = {"num_classes": {"speaker": 8}} if name.startswith("alstm") else None
        model = build_model(name, None, inputs[0].shape[1], 7, heads).eval()
        onnx = OnnxClassifier(export_graph(model), [str(i) for i in range(7)], threads=args.threads)
        frame_level = model.input_kind == "frames"
        reference = predict(model, inputs, frame_level, torch.device("cpu"))
        diff = float(np.abs(onnx.posteriors(inputs) - reference).max())
        t_torch = best_of(args.repeats, lambda: predict(model, inputs, frame_level, torch.device("cpu")))
        t_onnx = best_of(args.repeats, lambda: onnx.posteriors(inputs))
        params = sum(p.numel() for p in model.parameters())
        ratios.append(t_torch / t_onnx)
        print(f"{name:<11} {params:>8} {diff:>10.1e} {len(inputs) / t_torch:>12.1f} {len(inputs) / t_onnx:>11.1f} "
              f"{t_torch / t_onnx:>9.2f}x")
    print(f"onnxruntime / torch throughput: min {min(ratios):.2f}x, geometric mean {np.exp(np.mean(np.log(ratios))):.2f}x")


if __name__ == "__main__":
    main()
