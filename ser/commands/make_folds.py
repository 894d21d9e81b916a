"""`ser make-folds`: speaker-disjoint fold plans (leave one speaker / session / corpus out, k speaker groups)."""

from __future__ import annotations

import argparse

NAME = "make-folds"
HELP = "Write speaker-disjoint folds (<folds-dir>/<fold>/{train,valid,test} and plan.yaml) for a data dir."
EXAMPLES = [
    "ser make-folds data/emodb data/emodb/folds                      # leave-one-speaker-out, 10 folds",
    "ser make-folds data/iemocap data/iemocap/folds --kind loso        # valid = the session partner",
    "ser make-folds data/emodb data/emodb/folds_v2 --valid-speakers 2  # validate on 2 speakers (both genders)",
    "ser make-folds data/iemocap data/iemocap/folds_sess --kind loso-session",
    "ser make-folds data/ravdess data/ravdess/folds --kind kfold-speakers --groups 6",
    "ser make-folds data/acted6 data/acted6/folds_loco --kind loco    # after `ser combine data/acted6 ...`",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data_dir", help="data dir with utt2spk (utt2emo, utt2session, utt2gender, utt2corpus optional)"
    )
    parser.add_argument("folds_dir", help="where to write <fold>/{train,valid,test} and plan.yaml")
    parser.add_argument(
        "--kind",
        choices=["loso", "loso-session", "kfold-speakers", "loco"],
        default="loso",
        help="loso: one fold per speaker, valid = session partner (utt2session) or the next speaker in sorted "
        "order; loso-session: one fold per session, valid = next session; kfold-speakers: K contiguous "
        "speaker groups, valid = next group; loco: one fold per corpus (utt2corpus from `ser combine`), "
        "valid = about one speaker in five of each other corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--groups", type=int, default=None, metavar="K", help="number of speaker groups (kfold-speakers only)"
    )
    parser.add_argument(
        "--valid-speakers", type=int, default=1, metavar="N",
        help="loso only: validate each fold on the N speakers after the test speaker (N >= 2; both genders "
        "when utt2gender allows) instead of one (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from ser.datadir import DataDir
    from ser.errors import SerError
    from ser.folds import make_folds

    if args.groups is not None and args.kind != "kfold-speakers":
        raise SerError(f"--groups applies to --kind kfold-speakers only, not {args.kind}")
    data = DataDir.read(args.data_dir)
    opts: dict = {"groups": args.groups} if args.kind == "kfold-speakers" else {}
    if args.valid_speakers != 1:
        opts["valid_speakers"] = args.valid_speakers
    plan = make_folds(data, args.kind, args.folds_dir, **opts)
    print(f"{args.folds_dir}: {len(plan.folds)} {plan.kind} folds over {len(plan.speakers)} speakers")
    print(f"validation: {plan.validation_rule}")
    for fold in plan.folds:
        if fold.test_corpus:
            test = f"test corpus {fold.test_corpus}: {len(fold.test_speakers)} speakers"
            train = f"train {len(fold.train_speakers)} speakers ({len(fold.train)})"
        else:
            test, train = f"test {','.join(fold.test_speakers)}", f"train {len(fold.train)}"
        print(
            f"  {fold.name}: {test} ({len(fold.test)})  "
            f"valid {','.join(fold.valid_speakers)} ({len(fold.valid)})  {train}"
        )
    for note in plan.notes:
        print(f"note: {note}")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
