"""`ser report`: RESULTS.md, results.json and confusion.png from per-fold scores; optional comparison table."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "Summarise exp/<tag>/fold_*/scores.tsv into RESULTS.md, results.json and confusion.png; compare experiments."
EXAMPLES = [
    "ser report exp/blstm_mfcc_pitch28 --folds-dir data/emodb/folds --protocol normalisation=per-speaker-znorm",
    "ser report exp/blstm_mfcc_pitch28 exp/gagru_emobase78 --compare exp/COMPARISON.md",
]


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exp_dirs", nargs="+", metavar="exp-dir", help="experiment dir(s) holding fold_*/scores.tsv")
    parser.add_argument("--compare", metavar="OUT.md", help="also write one comparison table over all exp dirs")
    parser.add_argument("--folds-dir", help="fold plan dir (plan.yaml) for the protocol block and fold speakers")
    parser.add_argument(
        "--protocol",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="protocol entry (normalisation, features, encoder, config...); overrides exp/<tag>/protocol.yaml",
    )
    parser.add_argument(
        "--command",
        action="append",
        default=None,
        metavar="CMD",
        help="a command that produced the results (repeatable); overrides `commands:` in protocol.yaml",
    )


def run(args: argparse.Namespace) -> int:
    from ser.report import write_comparison, write_report

    protocol = dict(args.protocol)
    for exp in args.exp_dirs:
        res = write_report(exp, protocol=protocol or None, commands=args.command, folds_dir=args.folds_dir)
        mean, std, pooled = res["mean"], res["std"], res["pooled"]

        def pct(v):
            return "n/a" if v is None else f"{100 * v:.2f}"

        print(
            f"{exp}: UAR {pct(mean['uar'])} ± {pct(std['uar'])}  WA {pct(mean['wa'])} ± {pct(std['wa'])}  "
            f"(pooled UAR {pct(pooled['uar'])}, WA {pct(pooled['wa'])}; {res['num_folds']} folds) -> {exp}/RESULTS.md"
        )
        for note in res["notes"]:
            print(f"  note: {note}")
    if args.compare:
        write_comparison(args.exp_dirs, args.compare)
        print(f"comparison of {len(args.exp_dirs)} experiments -> {args.compare}")
    return 0
