"""Read a list file given to `ser score` (one clip path per line) with its size, line count and line length
bounded before or while reading: a list is user input, and a huge or binary file must cost one error row,
not gigabytes (issue 14, item 5). The numbers are in README's limits table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ser.limits import bounded_lines

#: a list file's size on disk: a million paths of 64 characters
MAX_LIST_BYTES = 64 * 1024**2
#: entries (non-blank, non-comment lines) of one list file
MAX_LIST_ENTRIES = 1_000_000
#: one line of a list file: Linux's PATH_MAX
MAX_LIST_LINE_CHARS = 4096


def list_entries(path: Path) -> Iterator[tuple[str | None, str | None]]:
    """(entry, None) for each path the list names, or (None, reason) for a line or a file refused by a limit;
    reading stops at the first refusal of the whole file (too large, too many entries)."""
    size = path.stat().st_size
    if size > MAX_LIST_BYTES:
        yield None, f"list file {path} is {size} bytes, more than a list file may hold ({MAX_LIST_BYTES}); not read"
        return
    entries = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in bounded_lines(handle, MAX_LIST_LINE_CHARS):
            if line is None:
                yield None, f"{path}:{lineno}: line longer than {MAX_LIST_LINE_CHARS} characters (a path's limit); left out"
                continue
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entries += 1
            if entries > MAX_LIST_ENTRIES:
                yield None, f"{path}:{lineno}: more than {MAX_LIST_ENTRIES} entries in one list file; the rest not read"
                return
            yield line, None


__all__ = ["MAX_LIST_BYTES", "MAX_LIST_ENTRIES", "MAX_LIST_LINE_CHARS", "list_entries"]
