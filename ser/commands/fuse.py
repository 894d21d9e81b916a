"""`ser fuse`: average the per-fold posteriors of several experiments (seeds or systems) into a new one."""

from __future__ import annotations

import argparse

NAME = "fuse"
HELP = "Late fusion: mean posteriors of several `ser evaluate` experiment dirs, fold by fold (then `ser report` it)."
EXAMPLES = [
    "ser fuse exp/dnn_seeds exp/dnn_s0 exp/dnn_s1 exp/dnn_s2 exp/dnn_s3 exp/dnn_s4 && ser report exp/dnn_seeds",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", help="the fused experiment dir to write")
    parser.add_argument("members", nargs="+", help="experiment dirs with the same folds, test utterances and classes")


def run(args: argparse.Namespace) -> int:
    import sys

    from ser.fusion import fuse_experiments

    names = fuse_experiments(args.members, args.out_dir)
    print(f"{args.out_dir}: {len(names)} folds, mean of {len(args.members)} experiments; next: ser report {args.out_dir}",
          file=sys.stderr)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
