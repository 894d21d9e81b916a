"""`ser compute-cmvn`: per-speaker CMVN statistics in Kaldi's format."""

from __future__ import annotations

import argparse

NAME = "compute-cmvn"
HELP = "Compute per-speaker mean/variance statistics (Kaldi 2x(D+1) format) into cmvn.ark/cmvn.scp."
EXAMPLES = ["ser compute-cmvn feats/emodb_emobase78"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("feat_dir", help="a feature dir written by `ser extract` (feats.scp + utt2spk)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ser.datadir import read_map
    from ser.errors import SerError
    from ser.frontend.cmvn import speaker_stats, write_cmvn

    feat_dir = Path(args.feat_dir)
    for needed in ("feats.scp", "utt2spk"):
        if not (feat_dir / needed).is_file():
            raise SerError(f"{feat_dir / needed} is missing: run `ser extract` into {feat_dir} first")
    from ser.lock import OutputLock

    with OutputLock(feat_dir):  # not while an extraction is still writing feats.scp
        stats = speaker_stats(feat_dir / "feats.scp", read_map(feat_dir / "utt2spk"))
        write_cmvn(feat_dir, stats)
    frames = int(sum(s[0, -1] for s in stats.values()))
    print(f"{feat_dir}/cmvn.scp: {len(stats)} speakers, {frames} frames", file=sys.stderr)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
