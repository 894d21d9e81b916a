"""`ser list-features`: the named feature sets `ser extract --features` accepts."""

from __future__ import annotations

import argparse

NAME = "list-features"
HELP = "List the named feature sets (features/*.yaml) with their descriptions."
EXAMPLES = ["ser list-features", "ser list-features --show emobase78"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--show", metavar="NAME", help="print one feature set's full YAML")


def run(args: argparse.Namespace) -> int:
    from ser.frontend.featureset import find_feature_file, list_feature_sets

    if args.show:
        print(find_feature_file(args.show).read_text(encoding="utf-8"), end="")
        return 0
    for name, description in list_feature_sets():
        print(f"{name:16s} {description}")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
