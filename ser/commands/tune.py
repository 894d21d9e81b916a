"""`ser tune`: nested hyper-parameter search over a config's settings, then one test per outer fold."""

from __future__ import annotations

import argparse

from ser.commands.argtypes import positive_int

NAME = "tune"
HELP = ("Nested search (Optuna TPE) of a config's settings on inner speaker folds of each outer fold's training "
        "speakers; refit, test once per outer fold, report (RESULTS.md, results.json).")
EXAMPLES = [
    "ser tune --config recipes/emodb/conf/logreg.yaml --space recipes/emodb/conf/space/logreg.yaml --trials 20 "
    "feats/egemaps88 folds/loso exp/tuned/logreg_egemaps88 features=egemaps88",
    "ser tune --nj 2 --inner kfold:3 --config conf/svm.yaml --space space.yaml --trials 30 feats/egemaps88 folds/loso exp/tuned/svm",
    "ser tune --cluster local:4 --config conf/dnn.yaml --space space_dnn.yaml --trials 40 feats/egemaps88 folds/loso exp/tuned/dnn",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ser.commands.evaluate import add_common
    from ser.commands.extract import add_cluster

    add_common(parser)
    parser.add_argument("--space", help="search space YAML: setting -> distribution, e.g. `C: {log_uniform: [1e-3, 10]}`, "
                        "`hidden_size: {choice: [64, 128]}`, `train.lr: {log_uniform: [1e-4, 1e-2]}`, `num_layers: {int: [1, 3]}`")
    parser.add_argument("--trials", type=int, default=20, help="trials per outer fold (default 20)")
    parser.add_argument("--inner", default="loso",
                        help="inner folds over each outer fold's training speakers: loso (default) or kfold:K")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    parser.add_argument("--batch", type=int, default=4,
                        help="trials asked at once per outer fold and run in parallel (default 4); it, not --nj, "
                             "fixes the search, so --nj/--cluster change only the wall time")
    parser.add_argument("--folds", help="comma-separated outer fold names to run (default: all)")
    parser.add_argument("--nj", type=positive_int, default=1, help="trials (and refits) run at once in worker processes (default 1)")
    add_cluster(parser)


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from ser.commands.evaluate import load
    from ser.errors import SerError
    from ser.search_space import SearchSpace
    from ser.tune import SearchSettings, tune

    cfg = load(args)
    if cfg is None:
        return 0
    if not args.space:
        raise SerError("--space is required (a search space YAML; see --help)")
    settings = SearchSettings(SearchSpace.read(args.space), trials=args.trials, seed=args.seed, inner=args.inner,
                              batch=args.batch)
    only = [f.strip() for f in args.folds.split(",")] if args.folds else None
    from pathlib import Path

    called_as_ser = bool(sys.argv) and (Path(sys.argv[0]).name == "ser" or sys.argv[0].endswith("ser/__main__.py"))
    command = "ser " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if called_as_ser else ""
    exp = tune(cfg, settings, args.feat_dir, args.folds_dir, args.exp_dir, only_folds=only,
               commands=[command] if command else [], quiet=args.quiet, nj=args.nj, cluster=args.cluster)
    print(f"{exp}: nested search done; report in {exp}/RESULTS.md", file=sys.stderr)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
