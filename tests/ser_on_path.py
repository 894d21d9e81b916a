"""What a recipe test puts in the environment so that the recipe's `ser` (and `python -m ser`, `import ser` in a
recipe's local/*.py) is this checkout's: PATH and PYTHONPATH.

The interpreter's own bin (a `make install` venv has `ser` there) and the checkout's .venv/bin; where neither holds
a `ser` script (an environment that imports ser from the source tree and installs no console scripts), a folder
with a two-line `ser` that runs this interpreter's `python -m ser` on this checkout."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SHIM: list[str] = []


def bin_dirs() -> list[str]:
    dirs = [str(Path(sys.executable).parent), str(REPO / ".venv" / "bin")]
    if any((Path(d) / "ser").is_file() for d in dirs):
        return dirs
    if not _SHIM:
        shim = Path(tempfile.mkdtemp(prefix="ser-shim-"))
        atexit.register(shutil.rmtree, shim, True)
        (shim / "ser").write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m ser "$@"\n')
        (shim / "ser").chmod(0o755)
        _SHIM.append(str(shim))
    return _SHIM + dirs


def with_checkout(env: dict[str, str]) -> dict[str, str]:
    """`env` with bin_dirs() first on PATH and this checkout first on PYTHONPATH."""
    env["PATH"] = ":".join([*bin_dirs(), env.get("PATH", "")])
    env["PYTHONPATH"] = ":".join([str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env
