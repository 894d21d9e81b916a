"""`ser score`: label new audio with a model bundle (files, folders, list files, data dirs, long recordings)."""

from __future__ import annotations

import argparse

NAME = "score"
HELP = "Label audio clips with a model bundle: one row per clip (label + posterior of every class)."
EXAMPLES = [
    "ser score --model gagru_emodb.ser clips/                          # table on stdout",
    "ser score --model m.ser --speaker anna anna/*.wav --json          # anna's own normalisation statistics",
    "ser score --model m.ser --utt2spk utt2spk --csv scores.csv list.txt",
    "ser score --model m.ser --segment vad --plot timeline.png meeting.wav",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="audio files, folders (recursive), list files (one path a line) or data dirs")
    parser.add_argument("--model", help="bundle from `ser export` (default: the model shipped with ser)")
    parser.add_argument("--speaker", help="all clips are this speaker: normalise with their pooled statistics")
    parser.add_argument("--utt2spk", help="file of 'clip speaker' lines (clip = id, path, file name or stem)")
    parser.add_argument("--segment", choices=["none", "vad"], default="none",
                        help="vad: cut each file into speech segments (see --vad) and print a timeline of their labels")
    parser.add_argument("--vad", choices=["auto", "silero", "energy"], default="auto",
                        help="detector for --segment vad: silero (silero-vad's packaged model; `pip install "
                             "'ser[vad]'`), energy (built in, for clean recordings), auto: silero when installed")
    parser.add_argument("--max-segment", type=float, default=10.0, help="with --segment vad: split longer speech (s)")
    parser.add_argument("--plot", help="with --segment vad: draw the emotion timeline to this PNG")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout instead of the table")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--nj", type=int, default=1, help="parallel feature-extraction processes")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (0: library default)")
    parser.add_argument("--quiet", action="store_true", help="no model summary or failure notes on stderr")


def run(args: argparse.Namespace) -> int:
    import sys

    from ser.bundle import load_bundle, resolve_model_path
    from ser.errors import SerError
    from ser.score import Scorer, collect_clips, format_table, read_utt2spk, segment_clips, write_csv, write_jsonl

    if args.plot and args.segment != "vad":
        raise SerError("--plot draws a timeline: use it with --segment vad")
    if args.speaker and args.utt2spk:
        raise SerError("give --speaker or --utt2spk, not both")
    bundle = load_bundle(resolve_model_path(args.model))
    if not args.quiet:
        print(bundle.summary(), file=sys.stderr)
        for note in bundle.version_notes():
            print(f"note: {note}; features may differ slightly from training", file=sys.stderr)
    utt2spk = read_utt2spk(args.utt2spk) if args.utt2spk else None
    clips = collect_clips(args.inputs, speaker=args.speaker, utt2spk=utt2spk)
    if args.segment == "vad":
        from ser.segment import VADConfig

        method = args.vad
        if method == "auto":
            import importlib.util

            method = "silero" if importlib.util.find_spec("silero_vad") is not None else "energy"
        if not args.quiet:
            print(f"segments: {method} VAD" + (" (silero-vad is not installed: pip install 'ser[vad]')"
                                               if args.vad == "auto" and method == "energy" else ""), file=sys.stderr)
        clips = segment_clips(clips, VADConfig(max_segment=args.max_segment), method)
    scorer = Scorer(bundle, threads=args.threads)
    result = scorer.score(clips, nj=args.nj, threads=args.threads)
    if args.json:
        write_jsonl(result, sys.stdout)
    else:
        sys.stdout.write(format_table(result))
    if args.csv:
        from ser.fileio import atomic_write

        with atomic_write(args.csv) as out:
            write_csv(result, out)
    if args.plot:
        from ser.score import plot_timeline

        plot_timeline(result, args.plot)
    from ser.normalization import TRAINING_SPEAKERS

    if not args.quiet and any(r.normalization.startswith(TRAINING_SPEAKERS) for r in result.results):
        print("note: clips without a speaker, or of a speaker with too little audio for statistics of their own, were "
              "normalised with the training speakers' pooled statistics (give --speaker or --utt2spk, with enough "
              "clips of each speaker, to use a speaker's own)", file=sys.stderr)
    if result.failures:
        if not args.quiet:
            for r in result.results:
                if not r.ok:
                    print(f"ser score: {r.clip.path}: {r.error}", file=sys.stderr)
        print(f"ser score: {result.failures} of {len(result.results)} clips could not be scored", file=sys.stderr)
        return 1
    return 0
