"""Probes: real `ser` processes killed, raced and starved of disk, on a few EmoDB speakers.

Each verb that writes (extract --nj 1/2, compute-cmvn, score --csv, evaluate, export) is compared bit for bit with an
uninterrupted run of the same command, made once per probe run (`reference()`):
- `killed[*]`: kill -9 of the process group mid-run (some output already written), then a rerun; the killed run's
  lock is left behind by a dead pid and must be taken over.
- `second_writer[*]`: the first writer is stopped (SIGSTOP) while it holds its lock, a second real process runs the
  same command: it must exit 2 naming the holder (pid, host, start time); the first, resumed, finishes intact.
- `stale_lock[*]`: a lock naming a pid that is gone (this host) is taken over.
- `full_disk[*]`: the child runs under RLIMIT_FSIZE with SIGXFSZ ignored, so its writes fail with EFBIG: one line
  naming the file, exit 2, nothing complete lost, no torn output a rerun would trust; the rerun with the limit
  lifted equals the uninterrupted run.
- `bundle_feature_set[*]`: a model scored against a feature dir of another feature set is refused by name.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.probekit import DATA, SER, Result, clean, cli, family, lines, verdict
from tests.test_faults import wait_for

SPEAKERS = ("03", "08", "09", "10")
PER_SPEAKER = 12
_REF: dict[str, Path] = {}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


# --- the uninterrupted runs every probe compares with -------------------------------------------------------------
def reference() -> Path:
    """EmoDB (4 speakers x 12 clips): data dir, egemaps88 features + CMVN, folds, a logreg experiment and its export,
    a score CSV, and a big feature dir (compute-cmvn takes seconds on it) with its CMVN. Built once per run."""
    if "root" in _REF:
        return _REF["root"]
    emodb = DATA / "emodb"
    if not emodb.is_dir():
        raise RuntimeError(f"no EmoDB at {emodb} (set SER_SHARED_DATA)")
    root = Path(tempfile.mkdtemp(prefix="probe-faults-ref-"))
    atexit.register(shutil.rmtree, root, True)
    (root / "corpus" / "wav").mkdir(parents=True)
    for spk in SPEAKERS:
        for wav in sorted(emodb.glob(f"{spk}*.wav"))[:PER_SPEAKER]:
            (root / "corpus" / "wav" / wav.name).symlink_to(wav)
    steps = [("prepare", "emodb", str(root / "corpus"), str(root / "data")),
             ("extract", "--features", "egemaps88", "--nj", "1", "--no-progress", str(root / "data"), str(root / "func")),
             ("compute-cmvn", str(root / "func")),
             ("make-folds", str(root / "data"), str(root / "folds")),
             ("evaluate", "--quiet", "--nj", "1", str(root / "func"), str(root / "folds"), str(root / "exp"), "encoder=logreg"),
             ("export", str(root / "exp"), str(root / "model.ser")),
             ("score", "--quiet", "--nj", "1", "--csv", str(root / "scores.csv"), str(root / "data"))]
    for argv in steps:
        rc, _, err = cli(*argv)
        if rc != 0:
            raise RuntimeError(f"reference `ser {' '.join(argv)}` failed ({rc}): {err[-300:]}")
    big_feats(root / "big")
    rc, _, err = cli("compute-cmvn", str(root / "big"))
    if rc != 0:
        raise RuntimeError(f"reference compute-cmvn failed: {err[-300:]}")
    _REF["root"] = root
    return root


def big_feats(out: Path, utts: int = 20000, speakers: int = 20) -> Path:
    """A feature dir of `utts` random 20x13 matrices (seeded, 21 MB), enough that compute-cmvn runs for seconds."""
    import kaldiio
    import numpy as np

    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [f"spk{u % speakers:02d}-utt{u:05d}" for u in range(utts)]
    ids.sort()
    with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as writer:
        for utt in ids:
            writer(utt, rng.standard_normal((20, 13)).astype(np.float32))
    (out / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in ids))
    return out


def copy(name: str, tmp: Path) -> Path:
    dst = tmp / name
    shutil.copytree(reference() / name, dst, symlinks=True)
    return dst


def load_scp(scp: Path) -> dict[str, Any]:
    import kaldiio

    return {k: v for k, v in kaldiio.load_scp(str(scp)).items()}


def same_matrices(scp: Path, ref_scp: Path) -> tuple[bool, str]:
    """Every matrix of `scp` equals the reference's, bit for bit, and no id is missing, extra or listed twice."""
    import numpy as np

    if not scp.is_file():
        return False, f"{scp.name} missing"
    ids = [line.split()[0] for line in scp.read_text().splitlines() if line.strip()]
    got, want = load_scp(scp), load_scp(ref_scp)
    if len(ids) != len(set(ids)) or set(got) != set(want):
        return False, f"{len(ids)} ids ({len(set(ids))} distinct), want {len(want)}"
    bad = [k for k in want if got[k].dtype != want[k].dtype or not np.array_equal(got[k], want[k])]
    return (not bad), (f"{len(want)} matrices identical" if not bad else f"{len(bad)} matrices differ ({bad[:3]})")


def _arrays(state: dict | None) -> dict:
    import numpy as np

    return {k: np.asarray(v) for k, v in (state or {}).items()}


def same_bundle(path: Path, ref: Path) -> bool:
    import numpy as np

    from ser.bundle import load_bundle

    if not path.is_file():
        return False
    a, b = load_bundle(path), load_bundle(ref)
    ma, mb, na, nb = (_arrays(s) for s in (a.model_state, b.model_state, a.norm_state, b.norm_state))
    return (a.classes == b.classes and ma.keys() == mb.keys() and na.keys() == nb.keys()
            and all(np.array_equal(ma[k], mb[k]) for k in ma) and all(np.array_equal(na[k], nb[k]) for k in na))


def rows_of(csv: bytes) -> int:
    return max(csv.count(b"\n") - 1, 0)


def fold_scores(exp: Path) -> dict[str, bytes]:
    return {d.name: (d / "scores.tsv").read_bytes() for d in sorted(exp.glob("fold_*")) if (d / "scores.tsv").is_file()}


# --- child processes ------------------------------------------------------------------------------------------------
def start(argv: list[str], err: Path, preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    """`ser ARGV` in a session (process group) of its own, stderr to `err`."""
    return subprocess.Popen(SER + argv, stdout=subprocess.DEVNULL, stderr=err.open("w"), start_new_session=True,
                            env=ENV, preexec_fn=preexec)


def run(argv: list[str], preexec: Callable[[], None] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(SER + argv, capture_output=True, text=True, env=ENV, preexec_fn=preexec, timeout=timeout)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def lock_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def held_by(path: Path, pid: int) -> bool:
    return (lock_holder(path) or {}).get("pid") == pid


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- kill -9 mid-run, then rerun --------------------------------------------------------------------------------------
def _kill_extract(tmp: Path, nj: str) -> Result:
    ref = reference()
    argv = ["extract", "--features", "egemaps88", "--nj", nj, "--no-progress", str(ref / "data"), str(tmp / "f")]
    job = start(argv, tmp / "err")
    wait_for(lambda: lines(tmp / "f" / "feats.scp") >= 5 or job.poll() is not None, 120)
    if job.poll() is not None:
        return False, f"finished (rc {job.returncode}) before the kill: {(tmp / 'err').read_text()[-200:]}"
    kill_group(job)
    kept, lock_left = lines(tmp / "f" / "feats.scp"), held_by(tmp / "f" / ".ser-lock", job.pid)
    again = run(argv)
    reused = int((re.search(r"(\d+) already done", again.stderr) or [0, 0])[1])
    same, how = same_matrices(tmp / "f" / "feats.scp", ref / "func" / "feats.scp")
    ok = again.returncode == 0 and lock_left and same and reused >= kept - 1 >= 4 and clean(again.stderr)
    return verdict(ok, f"kill -9 after {kept}, its lock taken over, {reused} reused; {how} to the uninterrupted run",
                   f"rerun rc {again.returncode}, kept {kept}, reused {reused}, lock left {lock_left}, {how}: {again.stderr[-200:]}")


def _kill_cmvn(tmp: Path) -> Result:
    ref = reference()
    big = copy("big", tmp)
    for name in ("cmvn.ark", "cmvn.scp"):
        (big / name).unlink()
    job = start(["compute-cmvn", str(big)], tmp / "err")
    wait_for(lambda: held_by(big / ".ser-lock", job.pid) or job.poll() is not None, 120)
    time.sleep(0.2)  # into the reading of the 20000 matrices
    if job.poll() is not None:
        return False, f"finished (rc {job.returncode}) before the kill"
    kill_group(job)
    torn = (big / "cmvn.scp").exists() or (big / "cmvn.ark").exists() or list(big.glob(".cmvn*"))
    again = run(["compute-cmvn", str(big)])
    same, how = same_matrices(big / "cmvn.scp", ref / "big" / "cmvn.scp")
    return verdict(again.returncode == 0 and not torn and same and clean(again.stderr),
                   f"killed while reading: no cmvn file left, the rerun took the lock over; {how}",
                   f"rerun rc {again.returncode}, left after kill {torn}, {how}: {again.stderr[-200:]}")


def _kill_score(tmp: Path) -> Result:
    ref = reference()
    argv = ["score", "--quiet", "--nj", "1", "--csv", str(tmp / "s.csv"), str(ref / "data")]
    job = start(argv, tmp / "err")
    wait_for(lambda: lines(tmp / "s.csv") >= 6 or job.poll() is not None, 120)
    if job.poll() is not None:
        return False, f"finished (rc {job.returncode}) before the kill"
    kill_group(job)
    kept = (tmp / "s.csv").read_bytes()
    want = (ref / "scores.csv").read_bytes()
    whole = kept.endswith(b"\n") and want.startswith(kept)  # every row kept is whole and the uninterrupted run's row
    again = run(argv)
    same = (tmp / "s.csv").read_bytes() == want
    return verdict(again.returncode == 0 and whole and same, f"kill -9 kept {rows_of(kept)} whole rows; the rerun's CSV is byte-identical",
                   f"rerun rc {again.returncode}, kept rows whole {whole}, identical {same}: {again.stderr[-200:]}")


def _kill_evaluate(tmp: Path) -> Result:
    ref = reference()
    func = copy("func", tmp)
    argv = ["evaluate", "--quiet", "--nj", "1", str(func), str(ref / "folds"), str(tmp / "exp"), "encoder=logreg"]
    job = start(argv, tmp / "err")

    def mid_fold() -> list[Path]:  # a fold after the first, its lock held, not finished
        return [d for d in sorted((tmp / "exp").glob("fold_*")) if (tmp / "exp" / "fold_03" / ".done").is_file()
                and held_by(d / ".ser-lock", job.pid) and not (d / ".done").exists()]

    wait_for(lambda: mid_fold() or job.poll() is not None, 180)
    if job.poll() is not None:
        return False, f"finished (rc {job.returncode}) before the kill"
    kill_group(job)
    done = {d.name: (d / "model.ser").stat().st_mtime_ns for d in (tmp / "exp").glob("fold_*") if (d / ".done").is_file()}
    cut = [d.name for d in mid_fold()]  # its lock left by the dead pid, no .done
    if len(done) == len(SPEAKERS) or not cut:
        return False, f"no fold was cut by the kill (done: {sorted(done)})"
    again = run(argv)
    kept = all((tmp / "exp" / name / "model.ser").stat().st_mtime_ns == t for name, t in done.items())
    same = fold_scores(tmp / "exp") == fold_scores(ref / "exp") and len(fold_scores(ref / "exp")) == len(SPEAKERS)
    return verdict(again.returncode == 0 and kept and same and clean(again.stderr),
                   f"killed in {cut[0]} after {len(done)} fold(s): those kept, not retrained; its lock taken over; "
                   "every scores.tsv byte-identical",
                   f"rerun rc {again.returncode}, done folds kept {kept}, identical {same}: {again.stderr[-200:]}")


KILL_CASES: dict[str, Callable[[Path], Result]] = {
    "extract_nj1": lambda t: _kill_extract(t, "1"),
    "extract_nj2": lambda t: _kill_extract(t, "2"),
    "compute_cmvn": _kill_cmvn,
    "score_csv": _kill_score,
    "evaluate": _kill_evaluate,
}
family("killed", KILL_CASES, lambda tmp, name, case: case(tmp))


# --- a second writer while the first holds the lock ----------------------------------------------------------------
def _writers(tmp: Path) -> dict[str, tuple[list[str], Path, Callable[[], tuple[bool, str]]]]:
    """name -> (argv, the lock it takes, check of the first writer's output against the uninterrupted run)."""
    ref = reference()
    f, s_csv, exp = tmp / "f", tmp / "s.csv", tmp / "exp"
    return {
        "extract": (["extract", "--features", "egemaps88", "--nj", "1", "--no-progress", str(ref / "data"), str(f)],
                    f / ".ser-lock", lambda: same_matrices(f / "feats.scp", ref / "func" / "feats.scp")),
        "compute_cmvn": (["compute-cmvn", str(tmp / "big")], tmp / "big" / ".ser-lock",
                         lambda: same_matrices(tmp / "big" / "cmvn.scp", ref / "big" / "cmvn.scp")),
        "score_csv": (["score", "--quiet", "--nj", "1", "--csv", str(s_csv), str(ref / "data")], tmp / "s.csv.ser-lock",
                      lambda: (s_csv.is_file() and s_csv.read_bytes() == (ref / "scores.csv").read_bytes(), "CSV byte-identical")),
        "evaluate_fold": (["evaluate", "--quiet", "--nj", "1", str(tmp / "func"), str(ref / "folds"), str(exp), "encoder=logreg"],
                          exp / "fold_03" / ".ser-lock",
                          lambda: (fold_scores(exp) == fold_scores(ref / "exp")
                                   and (exp / "fold_03" / "train.log").read_text().count("fold 03: test accuracy") == 1,
                                   "every scores.tsv byte-identical, fold 03 trained once")),
        "export": (["export", str(tmp / "exp"), str(tmp / "m.ser")], exp / "all_speakers" / ".ser-lock",
                   lambda: (same_bundle(tmp / "m.ser", ref / "model.ser"), "bundle arrays identical")),
    }


def _second_writer(tmp: Path, name: str, _case: Any) -> Result:
    if name == "compute_cmvn":
        big = copy("big", tmp)
        for gone in ("cmvn.ark", "cmvn.scp"):
            (big / gone).unlink()
    if name in ("evaluate_fold", "export"):
        copy("func", tmp)
    if name == "export":
        shutil.copytree(reference() / "exp", tmp / "exp", ignore=shutil.ignore_patterns("all_speakers"))
    argv, lock, check = _writers(tmp)[name]
    first = start(argv, tmp / "err")
    try:
        wait_for(lambda: held_by(lock, first.pid) or first.poll() is not None, 180)
        if first.poll() is not None:
            return False, f"the first writer finished (rc {first.returncode}) before its lock was seen"
        os.killpg(first.pid, signal.SIGSTOP)  # hold it there, lock taken, while the second one tries
        second = run(argv)
        os.killpg(first.pid, signal.SIGCONT)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            kill_group(first)
    err = second.stderr.strip()
    named = all(s in err for s in (f"pid {first.pid} ", f"on {socket.gethostname()} ", "since ")) and len(err.splitlines()) == 1
    intact, how = check()
    ok = second.returncode == 2 and named and "being written by another ser process" in err and first.returncode == 0 and intact
    return verdict(ok, f"second refused naming pid/host/start; the first finished: {how}",
                   f"second rc {second.returncode} ({err[-250:]!r}), first rc {first.returncode}, {how}")


family("second_writer", {k: None for k in ("extract", "compute_cmvn", "score_csv", "evaluate_fold", "export")}, _second_writer)


# --- a lock left by a process that is gone ---------------------------------------------------------------------------
def _stale_lock(tmp: Path, name: str, _case: Any) -> Result:
    ref = reference()
    if name == "compute_cmvn":
        func = copy("func", tmp)
        (func / "cmvn.scp").unlink()
        argv, lock, check = ["compute-cmvn", str(func)], func / ".ser-lock", lambda: same_matrices(func / "cmvn.scp", ref / "func" / "cmvn.scp")
    elif name == "export":
        copy("func", tmp)
        shutil.copytree(ref / "exp", tmp / "exp", ignore=shutil.ignore_patterns("all_speakers"))
        argv, lock, check = _writers(tmp)["export"]
    else:
        if name == "evaluate_fold":
            copy("func", tmp)
        argv, lock, check = _writers(tmp)[name]
    lock.parent.mkdir(parents=True, exist_ok=True)
    pid = dead_pid()
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": "2001-01-01 00:00:00", "command": "ser (killed)"}))
    rc, _, err = cli(*argv)
    intact, how = check()
    return verdict(rc == 0 and intact and not lock.exists() and clean(err), f"lock of dead pid {pid} taken over; {how}",
                   f"rc {rc}, lock left {lock.exists()}, {how}: {err[-250:]}")


family("stale_lock", {k: None for k in ("extract", "compute_cmvn", "score_csv", "evaluate_fold", "export")}, _stale_lock)


# --- a full disk (RLIMIT_FSIZE): writes fail with EFBIG ---------------------------------------------------------------
def file_limit(nbytes: int) -> Callable[[], None]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


def _one_line(err: str, file: Path) -> bool:
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return clean(err) and "File too large" in last and str(file) in last


def _entries_match(scp: Path, ref_scp: Path) -> bool:
    """Every entry `scp` lists (after a failed run, before any rerun) reads back and equals the reference's."""
    import numpy as np

    want = load_scp(ref_scp)
    return all(k in want and np.array_equal(v, want[k]) for k, v in load_scp(scp).items())


def _full_extract(tmp: Path) -> Result:
    ref = reference()
    argv = ["extract", "--features", "egemaps88", "--nj", "1", "--no-progress", str(ref / "data"), str(tmp / "f")]
    starved = run(argv, file_limit(8000))  # feats.yaml (3 KB) fits, the ark (18 KB) does not
    kept = lines(tmp / "f" / "feats.scp")
    entries_good = kept > 0 and _entries_match(tmp / "f" / "feats.scp", ref / "func" / "feats.scp")
    again = run(argv)
    same, how = same_matrices(tmp / "f" / "feats.scp", ref / "func" / "feats.scp")
    ok = starved.returncode == 2 and _one_line(starved.stderr, tmp / "f" / "feats.ark") and entries_good and again.returncode == 0 and same
    return verdict(ok, f"one line naming feats.ark, {kept} whole entries kept; the rerun: {how}",
                   f"rc {starved.returncode} ({starved.stderr.strip()[-250:]!r}), kept {kept}, rerun rc {again.returncode}, {how}")


def _full_cmvn(tmp: Path) -> Result:
    ref = reference()
    func = copy("func", tmp)  # holds a complete cmvn.ark/scp from before: a failed rewrite must not lose it
    starved = run(["compute-cmvn", str(func)], file_limit(2000))
    before, _ = same_matrices(func / "cmvn.scp", ref / "func" / "cmvn.scp")
    temps = [p.name for p in func.iterdir() if p.name.startswith(".") and p.name != ".ser-lock"]
    again = run(["compute-cmvn", str(func)])
    same, how = same_matrices(func / "cmvn.scp", ref / "func" / "cmvn.scp")
    ok = starved.returncode == 2 and _one_line(starved.stderr, func / "cmvn.ark") and before and not temps and again.returncode == 0 and same
    return verdict(ok, f"one line naming cmvn.ark, the earlier cmvn intact, no temp file; the rerun: {how}",
                   f"rc {starved.returncode} ({starved.stderr.strip()[-250:]!r}), earlier intact {before}, temps {temps}, rerun {again.returncode}, {how}")


def _full_score(tmp: Path) -> Result:
    ref = reference()
    argv = ["score", "--quiet", "--nj", "1", "--csv", str(tmp / "s.csv"), str(ref / "data")]
    starved = run(argv, file_limit(3000))  # the whole CSV is 7 KB
    kept = (tmp / "s.csv").read_bytes() if (tmp / "s.csv").is_file() else b""
    want = (ref / "scores.csv").read_bytes()
    whole = kept.endswith(b"\n") and want.startswith(kept) and kept.count(b"\n") >= 2
    again = run(argv)
    same = (tmp / "s.csv").read_bytes() == want
    ok = starved.returncode == 2 and _one_line(starved.stderr, tmp / "s.csv") and whole and again.returncode == 0 and same
    return verdict(ok, f"one line naming the CSV, {rows_of(kept)} whole rows kept; the rerun's CSV byte-identical",
                   f"rc {starved.returncode} ({starved.stderr.strip()[-250:]!r}), kept whole {whole} ({len(kept)} B, ends {kept[-40:]!r}), rerun {again.returncode}, identical {same}")


def _full_export(tmp: Path) -> Result:
    ref = reference()
    copy("func", tmp)
    shutil.copytree(ref / "exp", tmp / "exp", ignore=shutil.ignore_patterns("all_speakers"))
    folds_before = fold_scores(tmp / "exp")
    argv = ["export", str(tmp / "exp"), str(tmp / "m.ser")]
    starved = run(argv, file_limit(6000))  # a model file is 13 KB
    model = tmp / "exp" / "all_speakers" / "model.ser"
    trusted = (tmp / "exp" / "all_speakers" / ".done").exists() or (tmp / "m.ser").exists()
    torn = model.exists() and not same_bundle(model, ref / "exp" / "all_speakers" / "model.ser")
    again = run(argv)
    same = same_bundle(tmp / "m.ser", ref / "model.ser") and fold_scores(tmp / "exp") == folds_before
    ok = starved.returncode == 2 and _one_line(starved.stderr, model) and not trusted and not torn and again.returncode == 0 and same
    return verdict(ok, "one line naming model.ser, nothing marked done, folds intact; the rerun's bundle identical",
                   f"rc {starved.returncode} ({starved.stderr.strip()[-250:]!r}), done/out left {trusted}, torn {torn}, rerun {again.returncode}, same {same}")


FULL_DISK_CASES: dict[str, Callable[[Path], Result]] = {
    "extract": _full_extract, "compute_cmvn": _full_cmvn, "score_csv": _full_score, "export": _full_export,
}
family("full_disk", FULL_DISK_CASES, lambda tmp, name, case: case(tmp))


# --- a model of one feature set scored on another's features --------------------------------------------------------
def _other_features(tmp: Path, name: str, _case: Any) -> Result:
    """An egemaps88 logreg fold model against mfcc13: features extracted with mfcc13 (the library's feature-dir
    scorer), or a bundle whose metadata was resealed to say mfcc13 (`ser score`, `ser info`)."""
    import yaml

    from tests.hostile import reseal_bundle, tone_datadir

    ref = reference()
    model = ref / "exp" / "fold_03" / "model.ser"
    feats = tmp / "mfcc"
    rc, _, err = cli("extract", "--features", "mfcc13", "--nj", "1", "--no-progress", str(tone_datadir(tmp, ["s1-a", "s1-b"])), str(feats))
    if rc != 0:
        return False, f"mfcc13 extract failed: {err[-200:]}"
    if name == "feature_dir_of_another_set":
        from ser.bundle import BundleError, load_bundle
        from ser.score import Scorer, score_feature_dir

        try:
            run_ = score_feature_dir(Scorer(load_bundle(model)), feats)
            return False, f"scored {len(run_.results)} utterances of mfcc13 features with an egemaps88 model"
        except BundleError as exc:
            msg = str(exc)
        ok = str(feats) in msg and "'mfcc13'" in msg and "'egemaps88'" in msg and str(model) in msg
        return verdict(ok, msg[:150], msg[-250:])
    mfcc = yaml.safe_load((feats / "feats.yaml").read_text())

    def relabel(meta: dict, arrays: dict) -> None:
        meta["features"].update(feature_set=mfcc["feature_set"], dim=mfcc["dim"], names=mfcc["names"])

    reseal_bundle(model, tmp / "m.ser", relabel)
    results = [cli("score", "--quiet", "--model", str(tmp / "m.ser"), str(ref / "data")), cli("info", str(tmp / "m.ser"))]
    ok = all(rc == 2 and "another feature set" in err and str(tmp / "m.ser") in err and clean(err) and not out.strip()
             for rc, out, err in results)
    return verdict(ok, "score and info refuse it: " + results[0][2].strip().splitlines()[-1][-110:],
                   " / ".join(f"rc {rc}: {err.strip()[-150:]!r} {out[-80:]!r}" for rc, out, err in results))


family("bundle_feature_set", {"feature_dir_of_another_set": None, "bundle_says_another_set": None}, _other_features)

__all__ = ["FULL_DISK_CASES", "KILL_CASES", "big_feats", "reference"]
