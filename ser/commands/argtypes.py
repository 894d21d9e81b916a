"""Argument types shared by verbs: a count of workers must be a whole number of at least one, refused by argparse
with the usage line (`--nj 0` once ran silently with one worker, `--nj -3` too)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An int >= 1, or argparse's usage error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


__all__ = ["positive_int"]
