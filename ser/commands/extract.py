"""`ser extract`: a data dir (or a plain folder of audio) -> frame-level features in kaldiio ark/scp."""

from __future__ import annotations

import argparse
import os
import sys

from ser.commands.argtypes import positive_int

NAME = "extract"
HELP = "Extract a named feature set for every utterance into feats.ark/feats.scp (parallel, resumable)."
EXAMPLES = [
    "ser extract --features emobase78 --nj 2 data/emodb feats/emodb_emobase78",
    "ser extract --features mfcc_pitch28 path/to/wav_folder feats/my_clips   # a plain folder, no labels needed",
    "ser extract --features emobase78 --set average_frames=5 data/iemocap feats/iemocap_avg5",
    "ser extract --features emobase78_avg5 --speed-perturb 0.9,1.1 data/emodb feats/emodb   # + feats/emodb/augment/sp0.9-*, sp1.1-*",
    "ser extract --features emobase78_avg5 --noise-snr 10,20 --noise-dir my_noises data/emodb feats/emodb",
    "ser extract --features egemaps88 --reverb-rt60 0.3,0.6 --telephone data/emodb feats/emodb   # + rev0.3-*, rev0.6-*, tel-*",
]


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None


def _codec_list(text: str) -> list[tuple[str, float]]:
    """`mp3:64,aac:64` -> [("mp3", 64.0), ("aac", 64.0)]."""
    pairs = []
    for item in (v.strip() for v in text.split(",") if v.strip()):
        codec, _, kbps = item.partition(":")
        try:
            pairs.append((codec.strip().lower(), float(kbps)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected CODEC:KBPS pairs such as mp3:64,aac:64, got '{item}'") from None
    return pairs


def add_cluster(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", help="run the work on a Dask cluster: local:N (start N workers here), "
                        "tcp://HOST:8786 (a running scheduler) or a scheduler file (.json); default: --nj local processes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_cluster(parser)
    parser.add_argument("input", help="a data dir (with wav.scp and utt2spk) or a folder of audio files")
    parser.add_argument("out_dir", help="output dir: a data dir with feats.scp, utt2num_frames, feats.yaml, failed.txt")
    parser.add_argument("--features", default="emobase78", help="feature set name (see `ser list-features`) or a YAML path")
    parser.add_argument("--nj", type=positive_int, default=min(4, os.cpu_count() or 1), help="parallel worker processes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a feature-set field, e.g. average_frames=5 (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="discard features already in out_dir instead of resuming")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    aug = parser.add_argument_group("augmented copies (training only; written to OUT_DIR/augment, see `augment.copies` in a config)")
    aug.add_argument("--speed-perturb", type=_numbers, default=[], metavar="F,F",
                     help="speed factors, e.g. 0.9,1.1: copies sp0.9-<utt> ... lasting 1/F as long (1.0 = the original, skipped)")
    aug.add_argument("--noise-snr", type=_numbers, default=[], metavar="DB,DB",
                     help="additive noise at these SNRs in dB: copies snr10-<utt> ...")
    aug.add_argument("--noise-dir", help="folder of noise recordings for --noise-snr (default: white noise)")
    aug.add_argument("--gain-db", type=_numbers, default=[], metavar="DB,DB", help="gain copies gain-6-<utt> ...")
    aug.add_argument("--reverb-rt60", type=_numbers, default=[], metavar="S,S",
                     help="synthetic reverberation with these RT60s in seconds (a seeded decaying-noise room per copy): "
                          "copies rev0.3-<utt> ...")
    aug.add_argument("--shift-ms", type=_numbers, default=[], metavar="MS,MS",
                     help="framing copies shift3-<utt>: the clip without its first MS milliseconds (frames fall elsewhere)")
    aug.add_argument("--codec", type=_codec_list, default=[], metavar="CODEC:KBPS,...",
                     help="lossy-codec copies, e.g. mp3:64,aac:64: copies mp364k-<utt>, aac64k-<utt> encoded at KBPS kbit/s "
                          "and decoded as `ser` reads such files (AAC in .m4a as phones record it)")
    aug.add_argument("--telephone", action="store_true",
                     help="telephone-channel copies tel-<utt>: to 8 kHz, G.711 mu-law, 300-3400 Hz, and back")
    aug.add_argument("--telephone-linear", action="store_true",
                     help="telephone-channel copies tellin-<utt> without the mu-law companding")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ser.config import parse_overrides
    from ser.datadir import DataDir
    from ser.frontend.extract import extract
    from ser.frontend.featureset import load_feature_set

    fs = load_feature_set(args.features, dict(parse_overrides(args.overrides)))
    source = Path(args.input)
    problems: list[str] = []
    if (source / "wav.scp").is_file():
        data = DataDir.read(source, problems=problems)
        if not data.utts and not problems:  # an empty run would exit 0 having made nothing
            from ser.errors import SerError

            raise SerError(f"{source / 'wav.scp'}: no utterances; nothing to extract")
    elif source.is_dir():
        from ser.corpora import prepare

        from ser.corpora.wavdir import unusable_files

        data = prepare("wavdir", source, Path(args.out_dir))
        problems += unusable_files(source)  # left out by name (a newline...): failures of this run, not silence
    else:
        from ser.errors import SerError

        raise SerError(f"{source}: neither a data dir (no wav.scp) nor a folder of audio")
    result = extract(data, args.out_dir, fs, nj=args.nj, overwrite=args.overwrite,
                     progress=False if args.no_progress else None, input_problems=problems, cluster=args.cluster)
    print(
        f"{args.out_dir}: {result.extracted} extracted, {result.reused} already done, "
        f"{len(result.failures)} failed; {result.dim}-d '{fs.name}'",
        file=sys.stderr,
    )
    failed = bool(result.failures)
    if failed:
        print(f"failures are listed in {Path(args.out_dir) / 'failed.txt'}", file=sys.stderr)
    if args.speed_perturb or args.noise_snr or args.gain_db or args.reverb_rt60 or args.telephone \
            or args.telephone_linear or args.shift_ms or args.codec:
        from ser.frontend.extract import extract_copies
        from ser.frontend.perturb import plan_perturbations

        if args.noise_dir and not args.noise_snr:
            from ser.errors import SerError

            raise SerError("--noise-dir needs --noise-snr (the SNRs to add its noise at)")
        kinds = plan_perturbations(args.speed_perturb, args.noise_snr, args.gain_db, args.noise_dir, args.reverb_rt60,
                                   ["mulaw"] * args.telephone + ["linear"] * args.telephone_linear, args.shift_ms,
                                   args.codec)
        done = DataDir.read(Path(args.out_dir))  # copies only of utterances whose features exist
        copies = extract_copies(done, args.out_dir, fs, kinds, nj=args.nj, overwrite=args.overwrite,
                                progress=False if args.no_progress else None, cluster=args.cluster)
        print(f"{copies.out_dir}: {copies.extracted} copies extracted ({', '.join(k for k, _ in kinds)}), "
              f"{copies.reused} already done, {len(copies.failures)} failed", file=sys.stderr)
        if copies.failures:
            print(f"failures are listed in {copies.out_dir / 'failed.txt'}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "add_cluster", "run"]
