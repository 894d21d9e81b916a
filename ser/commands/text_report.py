"""`ser text-report`: rewrite RESULTS.md of text experiments; one table over several experiments."""

from __future__ import annotations

import argparse

NAME = "text-report"
HELP = "Summarise EXP/seed_*/metrics.json of `ser text-train` runs (mean ± std over seeds); compare experiments."
EXAMPLES = ["ser text-report exp/unif_agru exp/bif_agru exp/sclstm --compare exp/RESULTS.md"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exp_dirs", nargs="+", metavar="exp-dir")
    parser.add_argument("--compare", metavar="OUT.md", help="write one table over all experiments (paper layout)")


def run(args: argparse.Namespace) -> int:
    from ser.report import compare_seed_experiments, write_seed_report

    for exp in args.exp_dirs:
        s = write_seed_report(exp)
        print(f"{exp}/RESULTS.md: {s['tag']}, {len(s['seeds'])} seeds, mF1 {100 * s['macro_f1'][0]:.1f}")
    if args.compare:
        text = compare_seed_experiments(args.exp_dirs, args.compare)
        print(text, end="")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
