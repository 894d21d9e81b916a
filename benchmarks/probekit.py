"""What every probe of `make probe` shares: the registry, an in-process CLI runner, and the verdict helper.

A probe builds its bad input in a temp folder, runs the verb and returns (handled, reason); `family` registers
one probe per case of a table (each case a different input or path, never the same one with another constant).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
SER = [sys.executable, "-m", "ser"]
DATA = Path(os.environ.get("SER_SHARED_DATA", REPO.parent / "shared" / "data"))
Result = tuple[bool, str]
PROBES: list[Callable[[Path], Result]] = []


def probe(fn: Callable[[Path], Result]) -> Callable[[Path], Result]:
    PROBES.append(fn)
    return fn


def family(prefix: str, cases: dict[str, Any], run: Callable[[Path, str, Any], Result]) -> None:
    """Register `prefix[case]` for each case: `run(tmp, name, case)`."""
    for name, case in cases.items():
        def one(tmp: Path, _name: str = name, _case: Any = case) -> Result:
            return run(tmp, _name, _case)

        one.__name__ = f"{prefix}[{name}]"
        PROBES.append(one)


def read(path: Path) -> str:
    """A file's text, or "" when it is not there (a probe's expectations read outputs that may be missing)."""
    return path.read_text(errors="replace") if path.is_file() else ""


def cli(*argv: str) -> tuple[int, str, str]:
    """Run a verb in this process (no interpreter start-up): exit status, stdout, stderr."""
    from ser.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:
            rc = int(exc.code or 0)
        except BaseException as exc:  # a traceback is what a probe must not see: report it as text
            import traceback

            rc, err = 99, io.StringIO("Traceback " + "".join(traceback.format_exception(exc)))
    return rc, out.getvalue(), err.getvalue()


def clean(err: str) -> bool:
    return "Traceback" not in err


def extract(data: Path, out: Path) -> tuple[int, str, str]:
    return cli("extract", "--features", "mfcc13", "--nj", "1", "--no-progress", str(data), str(out))


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def default_model() -> Path:
    from ser.bundle import DEFAULT_MODEL

    return DEFAULT_MODEL


def verdict(ok: bool, good: str, bad: str) -> Result:
    return (True, good) if ok else (False, bad)



__all__ = ["DATA", "PROBES", "REPO", "SER", "Result", "cli", "clean", "default_model", "extract", "family", "lines",
           "probe", "read", "verdict"]
