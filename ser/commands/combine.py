"""`ser combine`: several corpora's data dirs as one, with corpus tags and one label space (wraps ser.combine.combine)."""

from __future__ import annotations

import argparse

NAME = "combine"
HELP = (
    "Combine data dirs of several corpora into one (Kaldi's combine_data.sh): ids prefixed 'CORPUS.', "
    "utt2corpus, labels mapped into the shared classes, labels.yaml."
)
EXAMPLES = [
    "ser combine data/acted data/emodb data/ravdess                          # corpus names from the folder names",
    "ser combine --classes anger,disgust,fear,happiness,neutral,sadness data/acted6 data/emodb data/ravdess",
    "ser combine --label-map ravdess=my_ravdess.yaml data/acted emodb=data/emodb_v2 ravdess=data/ravdess",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", help="the combined data dir to write")
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="[NAME=]DATA",
        help="input data dirs; NAME (letters, digits, _) defaults to the folder name and picks the shipped label map",
    )
    parser.add_argument(
        "--label-map",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the label map for corpus NAME: a YAML 'corpus label: shared label' file (null drops) or a shipped "
        "map's name; default: the shipped map ser/labelmaps/NAME.yaml (repeat for several corpora)",
    )
    parser.add_argument(
        "--classes",
        default=None,
        metavar="A,B,...",
        help="keep only these shared classes (others are dropped and counted); default: every mapped class",
    )


def run(args: argparse.Namespace) -> int:
    from ser.combine import combine
    from ser.errors import SerError

    label_maps = {}
    for spec in args.label_map:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SerError(f"--label-map {spec}: give NAME=FILE (e.g. ravdess=my_ravdess.yaml)")
        if name in label_maps:
            raise SerError(f"--label-map: corpus {name} is given twice")
        label_maps[name] = path
    result = combine(args.out_dir, args.inputs, label_maps=label_maps, classes=args.classes)
    print(f"{args.out_dir}: {len(result.data.utts)} utterances, {len(result.data.speakers)} speakers, "
          f"{len(result.corpora)} corpora, classes {','.join(result.classes)}")
    print(result.summary())
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
