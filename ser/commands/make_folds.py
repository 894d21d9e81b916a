"""`ser make-folds`: speaker-disjoint fold plans (leave-one-speaker-out, leave-one-session-out, k speaker groups)."""

from __future__ import annotations

import argparse

NAME = "make-folds"
HELP = "Write speaker-disjoint folds (<folds-dir>/<fold>/{train,valid,test} and plan.yaml) for a data dir."
EXAMPLES = [
    "ser make-folds data/emodb data/emodb/folds                      # leave-one-speaker-out, 10 folds",
    "ser make-folds data/iemocap data/iemocap/folds --kind loso        # valid = the session partner",
    "ser make-folds data/iemocap data/iemocap/folds_sess --kind loso-session",
    "ser make-folds data/ravdess data/ravdess/folds --kind kfold-speakers --groups 6",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", help="data dir with utt2spk (utt2emo, utt2session, utt2gender optional)")
    parser.add_argument("folds_dir", help="where to write <fold>/{train,valid,test} and plan.yaml")
    parser.add_argument(
        "--kind",
        choices=["loso", "loso-session", "kfold-speakers"],
        default="loso",
        help="loso: one fold per speaker, valid = session partner (utt2session) or the next speaker in sorted "
        "order; loso-session: one fold per session, valid = next session; kfold-speakers: K contiguous "
        "speaker groups, valid = next group (default: %(default)s)",
    )
    parser.add_argument(
        "--groups", type=int, default=None, metavar="K", help="number of speaker groups (kfold-speakers only)"
    )


def run(args: argparse.Namespace) -> int:
    from ser.datadir import DataDir
    from ser.errors import SerError
    from ser.folds import make_folds

    if args.groups is not None and args.kind != "kfold-speakers":
        raise SerError(f"--groups applies to --kind kfold-speakers only, not {args.kind}")
    data = DataDir.read(args.data_dir)
    opts = {"groups": args.groups} if args.kind == "kfold-speakers" else {}
    plan = make_folds(data, args.kind, args.folds_dir, **opts)
    print(f"{args.folds_dir}: {len(plan.folds)} {plan.kind} folds over {len(plan.speakers)} speakers")
    print(f"validation: {plan.validation_rule}")
    for fold in plan.folds:
        print(
            f"  {fold.name}: test {','.join(fold.test_speakers)} ({len(fold.test)})  "
            f"valid {','.join(fold.valid_speakers)} ({len(fold.valid)})  train {len(fold.train)}"
        )
    for note in plan.notes:
        print(f"note: {note}")
    return 0
