"""`ser train`: train (and test) one fold of a plan; `ser evaluate` runs them all."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "Train one fold of a fold plan with a model config (early stopping on validation UAR, resumable)."
EXAMPLES = [
    "ser train --config recipes/emodb/conf/gagru.yaml --fold 03 feats/emodb_emobase78 folds/emodb exp/gagru_emobase78",
    "ser train --config recipes/emodb/conf/gagru.yaml --print-config train.lr=1e-3",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ser.commands.evaluate import add_common

    add_common(parser)
    parser.add_argument("--fold", help="fold name (a speaker for loso plans)")


def run(args: argparse.Namespace) -> int:
    import sys

    from ser.commands.evaluate import load
    from ser.errors import SerError
    from ser.evaluate import evaluate

    cfg = load(args)
    if cfg is None:
        return 0
    if not args.fold:
        raise SerError("--fold is required (or use `ser evaluate` for every fold)")
    exp = evaluate(cfg, args.feat_dir, args.folds_dir, args.exp_dir, only_folds=[args.fold], quiet=args.quiet)
    print(f"{exp}/fold_{args.fold}: done", file=sys.stderr)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
