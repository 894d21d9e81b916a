"""Probes: malformed command lines. Each must end with exit status 2 and a message naming the bad argument (the
usage error of argparse, or ser's one line), never a traceback or a silent default."""

from __future__ import annotations

from pathlib import Path

from benchmarks.probekit import Result, clean, cli, family, verdict
from tests.hostile import tone_datadir, tone_wavs


def _clip(tmp: Path) -> str:
    return str(tone_wavs(tmp, ["a"])["a"])


def _data(tmp: Path) -> str:
    return str(tone_datadir(tmp, ["s1-a", "s1-b"]))


#: name -> (argv maker, fragment the error must hold)
CLI_CASES = {
    "unknown_verb": (lambda t: ["frobnicate"], "invalid choice: 'frobnicate'"),
    "unknown_option": (lambda t: ["score", "--no-such-option", _clip(t)], 'unrecognized arguments: --no-such-option'),
    "nj_zero": (lambda t: ["extract", "--nj", "0", _data(t), str(t / "f")], 'argument --nj: must be at least 1, not 0'),
    "nj_negative": (lambda t: ["extract", "--nj", "-3", _data(t), str(t / "f")], 'argument --nj: must be at least 1, not -3'),
    "nj_not_a_number": (lambda t: ["extract", "--nj", "two", _data(t), str(t / "f")], "argument --nj: invalid int value: 'two'"),
    "missing_positional": (lambda t: ["extract", _data(t)], 'the following arguments are required: out_dir'),
    "unknown_feature_set": (lambda t: ["extract", "--features", "nosuchset", _data(t), str(t / "f")], "unknown feature set 'nosuchset'"),
    "feature_file_missing": (lambda t: ["extract", "--features", str(t / "none.yaml"), _data(t), str(t / "f")], 'none.yaml: no such feature set file'),
    "override_without_equals": (lambda t: ["extract", "--features", "mfcc13", _data(t), str(t / "f"), "average_frames"], 'unrecognized arguments: average_frames'),
    "override_unknown_key": (lambda t: ["train", "--print-config", str(t), str(t), str(t), "train.no_such_key=3"], "unknown keys ['no_such_key']"),
    "segment_mode_bogus": (lambda t: ["score", "--segment", "bogus", _clip(t)], "argument --segment: invalid choice: 'bogus'"),
    "sha256_not_hex": (lambda t: ["verify", "--sha256", "xyz", str(Path("ser/default_model/acted6.ser").resolve())], "--sha256 'xyz' is not a SHA-256"),
    "model_is_a_folder": (lambda t: ["score", "--model", str(t), _clip(t)], 'model file not found'),
    "config_missing": (lambda t: ["train", "--config", str(t / "none.yaml"), "--print-config", str(t), str(t), str(t)], 'none.yaml: config file not found'),
    "extract_input_missing": (lambda t: ["extract", "--features", "mfcc13", str(t / "nothing"), str(t / "f")], 'neither a data dir (no wav.scp) nor a folder of audio'),
    "compute_cmvn_not_a_feature_dir": (lambda t: ["compute-cmvn", _data(t)], 'feats.scp is missing'),
    "labels_csv_missing": (lambda t: ["prepare", "wavdir", str(t), str(t / "d"), "--labels", str(t / "none.csv")], 'labels CSV does not exist'),
    "score_utt2spk_missing": (lambda t: ["score", "--utt2spk", str(t / "none"), _clip(t)], 'none: no such clip-to-speaker file'),
}


def run_case(tmp: Path, name: str, case) -> Result:
    argv, fragment = case
    rc, out, err = cli(*argv(tmp))
    ok = rc == 2 and fragment in err and clean(err) and err.strip().splitlines()[-1].count(fragment) == 1
    return verdict(ok, err.strip().splitlines()[-1][-130:] if err.strip() else "", f"rc {rc}: {err.strip()[-250:]!r} {out[-100:]!r}")


family("cli", CLI_CASES, run_case)

__all__ = ["CLI_CASES"]
