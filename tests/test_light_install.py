"""The runtime install for real: a fresh venv with `pip install '.[onnx]'` (no torch, scikit-learn, librosa)
scores with the built-in model and with an ONNX model file, like the full install does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ser.bundle import DEFAULT_MODEL, load_bundle, save_bundle
from ser.models.registry import build_model
from ser.onnx_export import export_graph

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{REPO}[onnx]"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def onnx_bundle(path: Path) -> Path:
    """A DNN on the built-in model's eGeMAPS features (random weights) exported with its ONNX graph."""
    base = load_bundle(DEFAULT_MODEL)
    torch.manual_seed(0)
    model = build_model("dnn", None, int(base.meta["spec"]["input_dim"]), len(base.classes)).eval()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    meta = {k: v for k, v in base.meta.items() if k not in ("calibration", "card")}
    return save_bundle(path, {**meta, "spec": model.spec, "output_kind": "posteriors"}, state, base.norm_state,
                       export_graph(model))


@pytest.mark.slow
def test_light_install_scores_like_the_full_one(light_venv, emodb_dir, tmp_path):
    python = str(light_venv / "bin" / "python")
    for module in ("torch", "sklearn", "librosa"):
        assert subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode != 0, module
    clips = [str(p) for p in sorted(emodb_dir.glob("15*.wav"))[:10]]
    model = onnx_bundle(tmp_path / "dnn_onnx.ser")
    for extra in ([], ["--model", str(model)]):
        light = subprocess.run([str(light_venv / "bin" / "ser"), "score", "--json", "--quiet", "--speaker", "15", *extra, *clips],
                               capture_output=True, text=True)
        assert light.returncode == 0, light.stderr[-2000:]
        env = {**os.environ, "SER_BACKEND": "torch"}
        full = subprocess.run([sys.executable, "-m", "ser", "score", "--json", "--quiet", "--speaker", "15", *extra, *clips],
                              capture_output=True, text=True, env=env)
        assert full.returncode == 0, full.stderr[-2000:]
        ours, theirs = ([json.loads(line) for line in p.stdout.splitlines()] for p in (light, full))
        assert [r["label"] for r in ours] == [r["label"] for r in theirs] and len(ours) == len(clips)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(list(a["posteriors"].values()), list(b["posteriors"].values()), atol=1e-4)
