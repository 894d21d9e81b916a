"""`ser report`: RESULTS.md, results.json and confusion.png from per-fold scores; optional comparison table."""

from __future__ import annotations

import argparse

# ser.significance's defaults, repeated so that this module imports only argparse (tested to agree)
DEFAULT_N_BOOT = 1000
DEFAULT_N_PERM = 1000
DEFAULT_SEED = 0

NAME = "report"
HELP = "Summarise exp/<tag>/fold_*/scores.tsv into RESULTS.md, results.json and confusion.png; compare experiments."
EXAMPLES = [
    "ser report exp/blstm_mfcc_pitch28 --folds-dir data/emodb/folds --protocol normalization=per-speaker-znorm",
    "ser report exp/blstm_mfcc_pitch28 exp/gagru_emobase78 --compare exp/COMPARISON.md",
    "ser report exp/svm_egemaps88 exp/gagru_emobase78 --compare exp/CMP.md --reference gagru_emobase78 --n-boot 2000",
]


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return value


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
        help="protocol entry (normalization, features, encoder, config...); overrides exp/<tag>/protocol.yaml",
    )
    parser.add_argument(
        "--command",
        action="append",
        default=None,
        metavar="CMD",
        help="a command that produced the results (repeatable); overrides `commands:` in protocol.yaml",
    )
    parser.add_argument(
        "--reference",
        metavar="TAG",
        help="with --compare: the experiment (name or dir) the others are tested against (default: the first)",
    )
    parser.add_argument(
        "--n-boot", type=_positive, default=DEFAULT_N_BOOT, metavar="B",
        help=f"speaker-bootstrap replicates for the 95%% intervals (default {DEFAULT_N_BOOT})",
    )
    parser.add_argument(
        "--n-perm", type=_positive, default=DEFAULT_N_PERM, metavar="N",
        help=f"with --compare: random swaps in the paired permutation test (default {DEFAULT_N_PERM})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED,
        help=f"random seed of the bootstrap and the permutation test (default {DEFAULT_SEED})",
    )


def run(args: argparse.Namespace) -> int:
    from ser.report import ReportError, write_comparison, write_report
    from ser.tune_report import add_tuning

    if args.reference and not args.compare:
        raise ReportError("--reference only applies to a comparison: add --compare OUT.md")
    protocol = dict(args.protocol)
    for exp in args.exp_dirs:
        res = write_report(
            exp, protocol=protocol or None, commands=args.command, folds_dir=args.folds_dir,
            n_boot=args.n_boot, seed=args.seed,
        )
        res = add_tuning(exp, res)  # a `ser tune` experiment keeps its nested-search section
        mean, std, pooled = res["mean"], res["std"], res["pooled"]
        ci = res["bootstrap_ci"]["pooled"]

        def pct(v):
            return "n/a" if v is None else f"{100 * v:.2f}"

        print(
            f"{exp}: UAR {pct(mean['uar'])} ± {pct(std['uar'])}  WA {pct(mean['wa'])} ± {pct(std['wa'])}  "
            f"(pooled UAR {pct(pooled['uar'])} [95% CI {pct(ci['uar']['low'])}, {pct(ci['uar']['high'])}], "
            f"WA {pct(pooled['wa'])}; {res['num_folds']} folds) -> {exp}/RESULTS.md"
        )
        for corpus, e in (res.get("per_corpus") or {}).items():
            print(f"  {corpus}: UAR {pct(e['uar'])}  WA {pct(e['wa'])}  (pooled over its {e['n']} test utterances)")
        for note in res["notes"]:
            print(f"  note: {note}")
    if args.compare:
        rows = write_comparison(
            args.exp_dirs, args.compare, reference=args.reference, n_perm=args.n_perm, seed=args.seed
        )
        ref = next(r["experiment"] for r in rows if r["is_reference"])
        print(f"comparison of {len(args.exp_dirs)} experiments (significance against {ref}) -> {args.compare}")
    return 0


__all__ = ["DEFAULT_N_BOOT", "DEFAULT_N_PERM", "DEFAULT_SEED", "EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
