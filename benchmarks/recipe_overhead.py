"""Benchmark: recipe overhead of the EmoDB recipe (the `make demo` run), as a share of its own wall time.

Overhead = the wall time during which neither extraction (stage 1) nor any fold's training and scoring was
running: preparation, folds, CMVN, process start-ups, checks and the report. Fold intervals come from each
fold's `train.log` ("test accuracy ... in Xs") ending at its `.done`; stage 1 from the recipe's log stamps.
Target (issue: recipes): under 5 % of the run.

    .venv/bin/python benchmarks/recipe_overhead.py                       # svm + gagru_demo, as make demo
    .venv/bin/python benchmarks/recipe_overhead.py --configs svm --nj 1

Experiments go to a temporary exp dir; extracted features are shared with the recipe (recipes/emodb/feats),
so a second run measures no extraction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^(\d\d:\d\d:\d\d) \[emodb\] Stage (\d)")
FOLD_TIME = re.compile(r"test accuracy \d+/\d+ in ([\d.]+)s")


def merged_length(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of [start, end] intervals."""
    total, current = 0.0, None
    for start, end in sorted(intervals):
        if current and start <= current[1]:
            current = (current[0], max(current[1], end))
        else:
            total += current[1] - current[0] if current else 0.0
            current = (start, end)
    return total + (current[1] - current[0] if current else 0.0)


def stage_stamps(log: str, day: dt.date) -> list[tuple[int, float]]:
    out = []
    for line in log.splitlines():
        m = STAMP.match(line)
        if m:
            out.append((int(m.group(2)), dt.datetime.combine(day, dt.time.fromisoformat(m.group(1))).timestamp()))
    return out


def fold_intervals(exp: Path) -> list[tuple[float, float]]:
    out = []
    for log in exp.glob("*/*/fold_*/train.log"):
        match = FOLD_TIME.search(log.read_text())
        done = log.parent / ".done"
        if match and done.exists():
            end = done.stat().st_mtime
            out.append((end - float(match.group(1)), end))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="svm gagru_demo")
    parser.add_argument("--nj", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "exp"
        # the recipe calls `ser`: the one installed beside this interpreter
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        start = time.time()
        proc = subprocess.run(["bash", str(REPO / "recipes" / "emodb" / "run.sh"), "--configs", args.configs,
                               "--nj", str(args.nj), "--exp", str(exp)], capture_output=True, text=True, env=env)
        end = time.time()
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        stamps = stage_stamps(proc.stderr, dt.date.fromtimestamp(start))
        extraction = (min(t for s, t in stamps if s == 1), min(t for s, t in stamps if s > 1))
        folds = fold_intervals(exp)
        busy = merged_length([extraction, *folds])
    wall = end - start
    print(f"recipe: bash recipes/emodb/run.sh --configs '{args.configs}' --nj {args.nj}")
    print(f"wall {wall:.1f} s; extraction {extraction[1] - extraction[0]:.0f} s (1 s log stamps); "
          f"{len(folds)} folds, {sum(b - a for a, b in folds):.1f} s of fold work")
    print(f"overhead {wall - busy:.1f} s = {(wall - busy) / wall:.1%} of the run (target < 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
