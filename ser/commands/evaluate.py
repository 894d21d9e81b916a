"""`ser evaluate`: train and test every fold of a plan for one config (speaker-independent)."""

from __future__ import annotations

import argparse

from ser.commands.argtypes import positive_int

NAME = "evaluate"
HELP = "Run every fold of a fold plan for a model config; writes exp/<tag>/fold_*/scores.tsv."
EXAMPLES = [
    "ser evaluate --config recipes/emodb/conf/gagru.yaml feats/emodb_emobase78 folds/emodb exp/gagru_emobase78",
    "ser evaluate --config recipes/emodb/conf/blstm_attention.yaml feats/emodb_mfcc28 folds/emodb exp/blstm train.lr=5e-4 train.max_epochs=30",
    "ser evaluate --nj 2 --config recipes/emodb/conf/gagru.yaml feats/emodb_emobase78 folds/emodb exp/gagru_emobase78",
    "ser evaluate --config recipes/emodb/conf/gagru.yaml --print-config",
]


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="model config YAML (encoder, encoder_conf, heads_conf, normalization, train: ...)")
    parser.add_argument("--print-config", action="store_true", help="print the merged config and exit")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides train.device")
    parser.add_argument("--quiet", action="store_true", help="per-epoch lines go to train.log only")
    parser.add_argument("feat_dir", nargs="?", help="feature dir from `ser extract` (+ `ser compute-cmvn`)")
    parser.add_argument("folds_dir", nargs="?", help="fold plan dir from `ser make-folds`")
    parser.add_argument("exp_dir", nargs="?", help="experiment dir to write, e.g. exp/<config>_<features>")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.lr=1e-3 encoder_conf.pooling=mean")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--folds", help="comma-separated fold names to run (default: all)")
    parser.add_argument("--nj", type=positive_int, default=1,
                        help="folds trained at once, in separate processes, each with cores/nj torch threads (default 1)")
    from ser.commands.extract import add_cluster

    add_cluster(parser)


def load(args: argparse.Namespace):
    """Merged config, or None after printing it (--print-config)."""
    import sys

    import yaml

    from ser.config import load_config
    from ser.errors import SerError

    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = load_config(args.config, overrides)
    if args.print_config:
        yaml.safe_dump(cfg.to_dict(), sys.stdout, sort_keys=False)
        return None
    if not (args.feat_dir and args.folds_dir and args.exp_dir):
        raise SerError("feat_dir, folds_dir and exp_dir are required (see --help)")
    return cfg


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from ser.evaluate import evaluate

    cfg = load(args)
    if cfg is None:
        return 0
    only = [f.strip() for f in args.folds.split(",")] if args.folds else None
    command = "ser " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv and sys.argv[0].endswith("ser") else ""
    exp = evaluate(cfg, args.feat_dir, args.folds_dir, args.exp_dir, only_folds=only, commands=[command] if command else [], quiet=args.quiet,
                   nj=args.nj, cluster=args.cluster)
    print(f"{exp}: folds done; next: ser report {exp}", file=sys.stderr)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "add_common", "load", "run"]
