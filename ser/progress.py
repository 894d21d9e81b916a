"""Progress of long verbs (`ser evaluate`): units done, elapsed time and an ETA.

Why both forms: on a terminal a tqdm bar (folds done, the running fold's epoch, ETA) redraws in place; in a log
or under `make demo` (stderr is a file or a pipe) a bar's carriage returns are noise, so each finished unit
prints one plain line instead. Recipes run `ser evaluate --quiet`, so these lines are what shows training moving.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    """`42s`, `3m07s`, `1h02m`: short enough for a progress line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts finished units of `total`; `tty` None: a bar when `stream` is a terminal."""

    def __init__(self, total: int, unit: str = "fold", stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.bar = None
        if (self.stream.isatty() if tty is None else tty) and total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="evaluate", unit=unit, file=self.stream, dynamic_ncols=True)

    def eta(self) -> float | None:
        """Seconds left at the mean pace so far (None before the first unit)."""
        if not self.done:
            return None
        return (time.perf_counter() - self.started) / self.done * (self.total - self.done)

    def status(self, text: str) -> None:
        """What the running unit is at (e.g. its epoch): shown on the bar; plain logs get only finished units."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def write(self, line: str) -> None:
        """A log line that must not tear the bar."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def finished(self, name: str, note: str = "") -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        eta = self.eta()
        print(f"{self.unit} {name} done{': ' + note if note else ''} ({self.done}/{self.total} {self.unit}s, "
              f"{format_seconds(time.perf_counter() - self.started)} elapsed"
              + (f", ETA {format_seconds(eta)})" if self.done < self.total and eta is not None else ")"),
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


__all__ = ["Progress", "format_seconds"]
