"""One writer per output: a lock file beside what a verb writes, naming its holder.

Why: two `ser extract` runs into one folder both append to feats.ark/feats.scp and leave utterances pointing at
other utterances' features; two `ser evaluate` runs train the same fold twice. A verb that writes a folder (or
a file) holds `.ser-lock` (or `<file>.ser-lock`) while it writes: created atomically (O_EXCL), holding the pid,
host, start time and command; a second writer gets an error naming them. A lock left by a process that is gone
(same host, pid no longer alive) is stale and is taken over, so a kill -9 never blocks the rerun.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from ser.errors import SerError

LOCK_NAME = ".ser-lock"


def _alive(pid: int) -> bool:
    """True while `pid` runs. A zombie (killed, not yet reaped) counts as gone: when a kill -9 takes a recipe's
    shell with it, its `ser` child is left to the first process of the machine, which in a container may never
    reap it, so `kill(pid, 0)` would keep finding it and the rerun would be refused."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux) or gone meanwhile: kill said it was there
        return True
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces and ')'
    return not fields or fields[0] not in ("Z", "X")


class OutputLock:
    """`with OutputLock(folder):` (or `OutputLock(file, of_file=True)`) around the writing of an output."""

    def __init__(self, target: str | Path, of_file: bool = False) -> None:
        target = Path(target)
        self.path = target.with_name(target.name + LOCK_NAME) if of_file else target / LOCK_NAME
        self.target = target
        self.held = False

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              "command": " ".join(sys.argv)}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # being written this instant, or left empty by a crash: look again
                    time.sleep(0.2)
                    holder = self._holder()
                    if holder is None and time.time() - self._mtime() < 2.0:
                        holder = {"pid": "?", "host": "?", "started": "just now", "command": "?"}
                if holder is not None and not self._stale(holder):
                    raise SerError(f"{self.target} is being written by another ser process (pid {holder.get('pid')} on "
                                   f"{holder.get('host')} since {holder.get('started')}: {holder.get('command')}); wait for it, "
                                   f"or remove {self.path} if that process is gone") from None
                self.path.unlink(missing_ok=True)  # stale (or unreadable) lock of a process that is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(me, handle)
            self.held = True
            return self
        raise SerError(f"{self.path}: could not take the lock")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    @staticmethod
    def _stale(holder: dict) -> bool:
        pid = holder.get("pid")
        return holder.get("host") == socket.gethostname() and isinstance(pid, int) and pid > 0 and not _alive(pid)

    def __exit__(self, *exc: object) -> None:
        if self.held:
            holder = self._holder()
            if holder is not None and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False


__all__ = ["LOCK_NAME", "OutputLock"]
