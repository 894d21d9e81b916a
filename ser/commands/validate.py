"""`ser validate-data-dir`: Kaldi-style checks on a data dir."""

from __future__ import annotations

import argparse

NAME = "validate-data-dir"
HELP = "Check a data dir: sorted files, unique ids, every utterance in every map, audio files present."
EXAMPLES = ["ser validate-data-dir data/emodb", "ser validate-data-dir --no-check-files feats/emodb"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", help="the data dir to check")
    parser.add_argument("--no-check-files", action="store_true", help="skip checking that audio files exist")


def run(args: argparse.Namespace) -> int:
    from ser.datadir import DataDir

    problems: list[str] = []  # unreadable lines and duplicates first, then the rules: every problem, not the first
    data = DataDir.read(args.data_dir, problems=problems)
    problems += data.problems(check_files=not args.no_check_files)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{args.data_dir}: OK ({len(data.utts)} utterances, {len(data.speakers)} speakers)")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
