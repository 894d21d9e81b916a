"""A real Dask cluster on 127.0.0.1 (a `dask scheduler` and two `dask worker` processes started here): `ser extract`,
`ser score` and `ser evaluate --cluster` give what the local runs give, bit for bit, and a worker killed mid-run
costs nothing but its tasks' time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from ser.cli import main
from ser.datadir import DataDir

BIN = Path(sys.executable).parent


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Scheduler + two one-thread workers; yields (scheduler file, worker processes); all killed afterwards."""
    from distributed import Client

    root = tmp_path_factory.mktemp("dask")
    sched_file = root / "scheduler.json"
    # the `dask` console script, or `python -m dask` where the environment has none (an install without scripts)
    dask = [str(BIN / "dask")] if (BIN / "dask").is_file() else [sys.executable, "-m", "dask"]
    procs = [_start([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], root / "scheduler.log")]
    deadline = time.time() + 60
    while not sched_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    workers = [_start([*dask, "worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--nworkers", "1",
                       "--no-dashboard", "--host", "127.0.0.1"], root / f"worker{i}.log") for i in range(2)]
    procs += workers
    try:
        with Client(scheduler_file=str(sched_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield str(sched_file), workers
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def small_data(emodb_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cluster_data")
    wavs = [p for spk in ("03", "08", "09") for p in sorted(emodb_dir.glob(f"{spk}*.wav"))[:16]]
    letters = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
    DataDir(maps={"wav.scp": {p.stem: str(p) for p in wavs}, "utt2spk": {p.stem: p.stem[:2] for p in wavs},
                  "utt2emo": {p.stem: letters[p.stem[5]] for p in wavs}}).write(root / "data")
    return root


def _extract(data: Path, out: Path, *extra: str) -> None:
    assert main(["extract", "--features", "egemaps88", "--no-progress", *extra, str(data), str(out)]) == 0


def _same_features(a: Path, b: Path) -> None:
    ra, rb = kaldiio.load_scp(str(a / "feats.scp")), kaldiio.load_scp(str(b / "feats.scp"))
    assert sorted(ra) == sorted(rb)
    for utt in ra:
        np.testing.assert_array_equal(ra[utt], rb[utt])


def test_extract_score_evaluate_on_a_cluster_equal_local_runs(cluster, small_data, capsys):
    sched, _ = cluster
    root = small_data
    _extract(root / "data", root / "local", "--nj", "1")
    _extract(root / "data", root / "remote", "--cluster", sched)
    _same_features(root / "local", root / "remote")
    for d in ("local", "remote"):
        assert main(["compute-cmvn", str(root / d)]) == 0
    assert main(["make-folds", str(root / "data"), str(root / "folds")]) == 0
    for d, extra in (("local", []), ("remote", ["--cluster", sched])):
        assert main(["evaluate", "--quiet", *extra, str(root / d), str(root / "folds"), str(root / f"exp_{d}"), "encoder=svm"]) == 0
    for fold in ("03", "08", "09"):
        assert (root / "exp_local" / f"fold_{fold}" / "scores.tsv").read_text() == \
            (root / "exp_remote" / f"fold_{fold}" / "scores.tsv").read_text()
    model = root / "exp_local" / "fold_03" / "model.ser"
    rows = {}
    for name, extra in (("local", ["--nj", "1"]), ("remote", ["--cluster", sched])):
        capsys.readouterr()
        assert main(["score", "--json", "--quiet", "--model", str(model), *extra, str(root / "data")]) == 0
        rows[name] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows["local"] == rows["remote"]


def test_a_worker_killed_mid_run_loses_nothing(cluster, small_data):
    sched, workers = cluster
    root = small_data
    out = root / "killed"
    cmd = [sys.executable, "-m", "ser", "extract", "--features", "egemaps88", "--no-progress", "--cluster", sched,
           str(root / "data"), str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not ((out / "feats.scp").exists() and (out / "feats.scp").read_text().count("\n") >= 3):
        time.sleep(0.02)
    os.killpg(workers[0].pid, signal.SIGKILL)  # the worker and its nanny, as a lost machine would
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    if not (root / "local" / "feats.scp").exists():
        _extract(root / "data", root / "local", "--nj", "1")
    _same_features(root / "local", out)


def test_chunks_give_every_worker_many_and_stay_small():
    from ser.parallel import chunk_size

    assert chunk_size(535, 2) == 8  # EmoDB on local:2: ~34 chunks per worker
    assert chunk_size(48, 2) == 2  # a small run still spreads over both workers
    assert chunk_size(3, 4) == 1 and chunk_size(0, 2) == 1


def test_the_initializer_runs_once_per_worker_process_and_arguments():
    from ser.parallel import _initialised

    calls = []

    def init(name: str) -> None:
        calls.append(name)

    results = [_initialised(init, (name,), str.upper, name) for name in ("a", "a", "b", "a")]
    assert results == ["A", "A", "B", "A"] and calls == ["a", "b"]


def test_local_cluster_workers_start_as_the_local_pool_and_give_the_local_features(small_data):
    """`local:N` forks its workers where the local pool would (extract, score) and spawns them for callers that ask
    (fold training, tuning); the forked workers' features equal a one-process run bit for bit."""
    from ser.parallel import DASK_START_METHOD, default_start_method, local_dask_config

    assert local_dask_config()[DASK_START_METHOD] == default_start_method()
    assert local_dask_config("spawn")[DASK_START_METHOD] == "spawn"
    root = small_data
    out = root / "local2"
    cmd = [sys.executable, "-m", "ser", "extract", "--features", "egemaps88", "--no-progress", "--cluster", "local:2",
           str(root / "data"), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if not (root / "local" / "feats.scp").exists():
        _extract(root / "data", root / "local", "--nj", "1")
    _same_features(root / "local", out)
