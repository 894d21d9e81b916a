"""Holding up under faults (issue 14): a worker killed mid-task loses only its task, workers die with their
parent (kill -9 or SIGTERM of `ser`), and `ser score` rows reach --csv as they finish."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser.errors import SerError
from ser.parallel import ordered_map

REPO = Path(__file__).resolve().parents[1]
SER = [sys.executable, "-m", "ser"]


def _double_or_die(task: int) -> int:
    """Task 3 kills its own worker, every time (what a file that drives a worker out of memory does)."""
    if task == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return task * 2


def test_a_task_that_kills_its_worker_is_lost_alone_and_the_rest_finish(capfd):
    out = list(ordered_map(_double_or_die, range(10), nj=2, on_lost=lambda task, reason: f"lost {task}: {reason}"))
    assert out[:3] == [0, 2, 4] and out[4:] == [2 * t for t in range(4, 10)]
    assert out[3].startswith("lost 3: its worker process died")
    err = capfd.readouterr().err
    assert "a worker process died" in err and "running these again one at a time" in err
    with pytest.raises(SerError, match="died twice"):  # without on_lost: a clear error, no hang
        list(ordered_map(_double_or_die, range(10), nj=2))


def children_of(pid: int) -> list[int]:
    """Live (not zombie) child pids of `pid`, from /proc (psutil when installed)."""
    try:
        import psutil

        try:
            return [c.pid for c in psutil.Process(pid).children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:
            return []
    except ImportError:  # pragma: no cover - psutil is in the test extra
        out = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
        return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def gone_within(pids: list[int], seconds: float = 10.0) -> bool:
    return wait_for(lambda: not any(alive(p) for p in pids), seconds)


def emodb_list(emodb_dir: Path, tmp_path: Path, n: int) -> Path:
    files = sorted(emodb_dir.glob("*.wav"))[:n]
    listing = tmp_path / "clips.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    return listing


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_score_workers_die_with_their_parent(emodb_dir, tmp_path, sig):
    listing = emodb_list(emodb_dir, tmp_path, 200)
    proc = subprocess.Popen(SER + ["score", "--quiet", "--nj", "2", "--csv", str(tmp_path / "s.csv"), str(listing)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        csv_path = tmp_path / "s.csv"
        assert wait_for(lambda: csv_path.exists() and csv_path.read_text().count("\n") >= 4), "rows reach the CSV as they finish"
        workers = children_of(proc.pid)
        assert len(workers) >= 2
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        assert gone_within(workers), "workers outlived their parent"
        rows = list(csv.reader(csv_path.open()))  # the rows done are kept, each one whole
        assert 4 <= len(rows) < 201 and {len(r) for r in rows} == {len(rows[0])}
        if sig == signal.SIGTERM:
            assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    finally:
        proc.kill()


def test_spawned_fold_workers_die_with_their_parent(tmp_path):
    """`ser evaluate --nj 2` trains folds in spawned workers (completed_map): a kill -9 of the parent ends them."""
    script = "import time; from ser.parallel import completed_map; list(completed_map(time.sleep, [60, 60], 2, start_method='spawn'))"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        assert wait_for(lambda: len([p for p in children_of(proc.pid) if _is_worker(p)]) >= 2)
        workers = children_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert gone_within(workers), "fold workers outlived their parent"
    finally:
        proc.kill()


def _is_worker(pid: int) -> bool:
    try:
        return "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def test_score_goes_on_after_a_worker_is_killed(emodb_dir, tmp_path):
    listing = emodb_list(emodb_dir, tmp_path, 80)
    csv_path = tmp_path / "s.csv"
    proc = subprocess.Popen(SER + ["score", "--quiet", "--nj", "2", "--csv", str(csv_path), str(listing)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: csv_path.exists() and csv_path.read_text().count("\n") >= 6), "rows reach the CSV as they finish"
        victim = children_of(proc.pid)[-1]
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert "a worker process died" in err and "Traceback" not in err
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 80 and proc.returncode == 0 and all(r["label"] for r in rows)


def test_long_files_are_scored_as_windows(emodb_dir, tmp_path, capsys):
    """A file over --max-clip becomes windows of about --max-segment s, a row each (the recording is their
    speaker); --max-clip 0 scores it whole, as before."""
    import json

    import numpy as np
    import soundfile as sf

    from ser.cli import main

    x = np.concatenate([sf.read(f, dtype="float32")[0] for f in sorted(emodb_dir.glob("*.wav"))[:30]])
    path = tmp_path / "long.wav"
    sf.write(path, x, 16000)
    seconds = x.size / 16000
    assert seconds > 60
    capsys.readouterr()
    assert main(["score", "--json", "--max-clip", "60", str(path)]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert len(rows) == int(np.ceil(seconds / 10)) and "scored as windows" in out.err
    assert rows[0]["start"] == 0 and abs(rows[-1]["end"] - seconds) < 0.01
    assert all(abs(a["end"] - b["start"]) < 1e-6 for a, b in zip(rows, rows[1:])) and all(r["end"] - r["start"] <= 10 for r in rows)
    assert {r["speaker"] for r in rows} == {str(path)} and all(r["label"] for r in rows)
    assert main(["score", "--json", "--max-clip", "0", str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def _under_file_limit(code: str, nbytes: int, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `code` in a child whose writes past `nbytes` fail with EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored): a full disk."""
    import resource

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, preexec_fn=limit, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_a_row_that_does_not_fit_is_cut_back_and_the_csv_named(tmp_path):
    """score --csv writes row by row (ser.fileio.line_by_line): a write that fails partway leaves no half row."""
    out = tmp_path / "s.csv"
    code = f"""
from ser.fileio import line_by_line
try:
    with line_by_line({str(out)!r}) as write:
        for i in range(100):
            write("row %03d," % i + "x" * 40 + "\\n")
except OSError as exc:
    print(exc.filename, exc.strerror)
"""
    proc = _under_file_limit(code, 1000, tmp_path)
    assert proc.stdout.strip() == f"{out} File too large", proc.stderr
    text = out.read_text()
    assert text.endswith("\n") and len(text) < 1000 and text.splitlines() == [f"row {i:03d}," + "x" * 40 for i in range(len(text.splitlines()))]


def test_an_ark_that_does_not_fit_is_named_and_recovered(tmp_path):
    import kaldiio
    import numpy as np

    from ser.frontend.arkio import recover

    ark, scp = tmp_path / "feats.ark", tmp_path / "feats.scp"
    code = f"""
import numpy as np
from ser.frontend.arkio import ArkAppender
try:
    with ArkAppender({str(ark)!r}, {str(scp)!r}) as writer:
        for i in range(50):
            writer.append("u%02d" % i, np.full((10, 13), i, dtype=np.float32))
except OSError as exc:
    print(exc.filename, exc.strerror)
"""
    proc = _under_file_limit(code, 3000, tmp_path)
    assert proc.stdout.strip() == f"{ark} File too large", proc.stderr
    kept = recover(ark, scp)
    assert 0 < len(kept) < 50
    assert all(np.array_equal(m, np.full((10, 13), int(u[1:]), dtype=np.float32)) for u, m in kaldiio.load_scp(str(scp)).items())


def test_a_forked_child_gets_the_default_sigterm_back():
    """A process forked under `stop_workers_on_sigterm` (a `local:N` Dask worker) dies on SIGTERM instead of running
    the parent's handler (stop *its* workers, unwind *the parent's* with-blocks) in its own copy."""
    from ser.parallel import stop_workers_on_sigterm

    with stop_workers_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        pid = os.fork()
        if pid == 0:
            os._exit(0 if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
