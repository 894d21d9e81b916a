"""`ser score`: label new audio with a model bundle (files, folders, list files, data dirs, long recordings);
on a labelled data dir, also how good the model is on it (``ser.score_metrics``)."""

from __future__ import annotations

import argparse

from ser.commands.argtypes import positive_int

NAME = "score"
HELP = "Label audio clips with a model bundle: one row per clip (label + posterior of every class)."
EXAMPLES = [
    "ser score --model gagru_emodb.ser clips/                          # table on stdout",
    "ser score --model m.ser --speaker anna anna/*.wav --json          # anna's own normalisation statistics",
    "ser score --speaker src recordings/                               # one source, no speaker labels: pooled",
    "ser score --model m.ser --utt2spk utt2spk --csv scores.csv list.txt",
    "ser score --model m.ser --segment vad --plot timeline.png meeting.wav",
    "ser score --label-map ravdess --alone --metrics ravdess.json data/ravdess   # accuracy/UAR on shared classes",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ser.commands.extract import add_cluster

    add_cluster(parser)
    parser.add_argument("inputs", nargs="+", help="audio files, folders (recursive), list files (one path a line) or data dirs")
    parser.add_argument("--model", help="bundle from `ser export` (default: the model shipped with ser)")
    parser.add_argument("--speaker", help="all clips are this speaker, or one source (a folder of mixed emotions "
                        "without speaker labels): normalise with their pooled statistics")
    parser.add_argument("--utt2spk", help="file of 'clip speaker' lines (clip = id, path, file name or stem)")
    parser.add_argument("--segment", choices=["none", "vad"], default="none",
                        help="vad: cut each file into speech segments (see --vad) and print a timeline of their labels")
    parser.add_argument("--vad", choices=["auto", "silero", "energy"], default="auto",
                        help="detector for --segment vad: silero (silero-vad's packaged model; `pip install "
                             "'ser[vad]'`), energy (built in, for clean recordings), auto: silero when installed")
    parser.add_argument("--max-segment", type=float, default=10.0,
                        help="with --segment vad: split longer speech (s); the window length for --max-clip")
    parser.add_argument("--max-clip", type=float, default=60.0,
                        help="without --segment vad: files longer than this (s) are scored as consecutive windows of "
                             "--max-segment s, a row each (memory flat in file length; 0: score whole files)")
    parser.add_argument("--plot", help="with --segment vad: draw the emotion timeline to this PNG")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout instead of the table")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--nj", type=positive_int, default=1, help="parallel feature-extraction processes")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (0: library default)")
    parser.add_argument("--label-map", metavar="NAME_OR_FILE",
                        help="labelled inputs: rename the data's labels into the model's classes before comparing "
                             "(a shipped map: ravdess, emodb, tess, ... or a YAML file 'label: class', null leaves out)")
    parser.add_argument("--alone", action="store_true",
                        help="score every clip alone, as a user's single clip: no speaker grouping (a data dir's "
                             "utt2spk is ignored), so per-speaker normalisation uses the training speakers' statistics")
    parser.add_argument("--metrics", metavar="FILE.json",
                        help="labelled inputs: write accuracy, UAR, per-class recall and confusion (shared classes) here")
    parser.add_argument("--quiet", action="store_true", help="no model summary, notes or metrics on stderr")


def run(args: argparse.Namespace) -> int:
    import sys

    from ser.bundle import load_bundle, resolve_model_path
    from ser.errors import SerError
    from ser.score import Scorer, collect_clips, format_table, read_utt2spk, segment_clips

    if args.plot and args.segment != "vad":
        raise SerError("--plot draws a timeline: use it with --segment vad")
    if args.speaker and args.utt2spk:
        raise SerError("give --speaker or --utt2spk, not both")
    if args.alone and (args.speaker or args.utt2spk):
        raise SerError("--alone scores every clip without a speaker: give it or --speaker/--utt2spk, not both")
    if args.segment == "vad" and (args.metrics or args.label_map):
        raise SerError("--metrics and --label-map compare whole utterances with their labels: not with --segment vad")
    bundle = load_bundle(resolve_model_path(args.model))
    if not args.quiet:
        print(bundle.summary(), file=sys.stderr)
        for note in bundle.version_notes():
            print(f"note: {note}; features may differ slightly from training", file=sys.stderr)
    utt2spk = read_utt2spk(args.utt2spk) if args.utt2spk else None
    clips = collect_clips(args.inputs, speaker=args.speaker, utt2spk=utt2spk)
    if args.alone:
        for clip in clips:
            clip.speaker = None
    labelled = any(c.reference is not None for c in clips)
    if (args.metrics or args.label_map) and not labelled:
        raise SerError(f"--{'metrics' if args.metrics else 'label-map'} needs reference labels, and no input carries "
                       "them (give a data dir with utt2emo)")
    mapped = None
    if args.label_map:
        from ser.score_metrics import map_references

        mapped = map_references(clips, args.label_map, bundle.classes)
    if args.segment == "vad":
        if labelled and not args.quiet:
            print("note: reference labels are of whole utterances: no metrics for VAD segments", file=sys.stderr)
        from ser.segment import VADConfig

        method = args.vad
        if method == "auto":
            import importlib.util

            method = "silero" if importlib.util.find_spec("silero_vad") is not None else "energy"
        if not args.quiet:
            print(f"segments: {method} VAD" + (" (silero-vad is not installed: pip install 'ser[vad]')"
                                               if args.vad == "auto" and method == "energy" else ""), file=sys.stderr)
        clips = segment_clips(clips, VADConfig(max_segment=args.max_segment), method)
    else:
        from ser.score import window_long_clips

        count = len(clips)
        clips = window_long_clips(clips, args.max_clip, args.max_segment)
        if len(clips) > count and not args.quiet:
            print(f"note: files longer than {args.max_clip:g} s are scored as windows of about {args.max_segment:g} s "
                  "(--max-clip 0 scores them whole)", file=sys.stderr)
    scorer = Scorer(bundle, threads=args.threads)
    result = _write_rows(args, scorer, clips, any(c.reference is not None for c in clips))
    if not args.json:
        sys.stdout.write(format_table(result))
    if args.plot:
        from ser.score import plot_timeline

        plot_timeline(result, args.plot)
    from ser.normalization import TRAINING_SPEAKERS, normalization_class

    if not args.quiet and any(r.normalization.startswith(TRAINING_SPEAKERS) for r in result.results):
        whose = normalization_class(bundle.normalization).lone_fallback
        print(f"note: --alone: every clip was normalised with {whose}" if args.alone else
              "note: clips without a speaker, or of a speaker with too little audio for statistics of their own, were "
              f"normalised with {whose}; the output's `norm` column says which. Give --speaker or --utt2spk, with "
              "enough clips of each speaker, to use a speaker's own; a folder from one source without speaker labels "
              "can be pooled with --speaker SOURCE if its mix of emotions is not one-sided", file=sys.stderr)
        from ser.model_card import scoring_mode_uar

        measured = scoring_mode_uar(bundle.meta)
        if measured:
            wording = {"alone": "clips scored alone", "source": "a corpus pooled as one source (--speaker SOURCE)",
                       "grouped": "clips grouped by speaker"}
            print("note: this model's card measured, on the same corpora, a UAR of " + ", ".join(
                f"{100 * lo:.0f}-{100 * hi:.0f}% for {wording[how]}" for how, (lo, hi) in measured.items())
                + " (`ser info`)", file=sys.stderr)
    if labelled and args.segment != "vad":
        _report_metrics(args, result, mapped, bundle)
    if result.failures:
        if not args.quiet:
            for r in result.results:
                if not r.ok:
                    print(f"ser score: {r.clip.path}: {r.error}", file=sys.stderr)
        print(f"ser score: {result.failures} of {len(result.results)} clips could not be scored", file=sys.stderr)
        return 1
    return 0


def _write_rows(args: argparse.Namespace, scorer, clips, labelled: bool):  # labelled: a reference column
    """Score, putting each row on disk as soon as it is final (--csv: flushed and fsynced, once for rows that become
    final together; --json: flushed on stdout), so a run killed midway keeps the rows done; the table needs every
    row's width and comes at the end."""
    import sys
    from contextlib import ExitStack

    from ser.fileio import line_by_line
    from ser.lock import OutputLock
    from ser.score import ScoreRun, csv_cells, csv_header, csv_line, json_line

    result = ScoreRun(classes=scorer.classes)
    with ExitStack() as stack:
        write_csv = None
        if args.csv:
            stack.enter_context(OutputLock(args.csv, of_file=True))
            write_csv = stack.enter_context(line_by_line(args.csv))
            write_csv(csv_line(csv_header(scorer.classes, labelled)))
        for rows in scorer.stream_groups(clips, nj=args.nj, threads=args.threads, cluster=args.cluster):
            result.results.extend(rows)
            if write_csv is not None:  # one write and one fsync for rows final together (a speaker's clips)
                write_csv("".join(csv_line(csv_cells(row, scorer.classes, labelled)) for row in rows))
            if args.json:
                sys.stdout.write("".join(json_line(row, scorer.classes, labelled) for row in rows))
                sys.stdout.flush()
    return result


def _report_metrics(args: argparse.Namespace, result, mapped, bundle) -> None:
    """Metrics on the classes the model and the data share: on stderr, and in --metrics FILE.json."""
    import json
    import sys

    from ser.score_metrics import labelled_score

    scored = labelled_score(result, mapped)
    if not args.quiet:
        sys.stderr.write(scored.format())
    if args.metrics:
        from ser.fileio import atomic_write

        record = {"model": bundle.path, "inputs": list(args.inputs), "alone": bool(args.alone),
                  "normalization": bundle.normalization, **scored.to_dict()}
        with atomic_write(args.metrics) as out:
            json.dump(record, out, indent=1)
            out.write("\n")


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
