"""`ser prepare`: turn a corpus on disk into a Kaldi-style data dir (wraps ser.corpora.prepare)."""

from __future__ import annotations

import argparse

NAME = "prepare"
HELP = (
    "Make a data dir (wav.scp, utt2spk, utt2emo, ...) from emodb, ravdess, iemocap, msp_improv, tess, savee, "
    "crema_d, emovo or any folder of audio (wavdir)."
)
EXAMPLES = [
    "ser prepare emodb ../shared/data/emodb data/emodb",
    "ser prepare ravdess ~/corpora/ravdess data/ravdess",
    "ser prepare iemocap ~/corpora/IEMOCAP_full_release data/iemocap            # 4 classes (exc merged into happy)",
    "ser prepare iemocap --classes all ~/corpora/IEMOCAP_full_release data/iemocap_all",
    "ser prepare wavdir my_clips data/my_clips                                      # unlabelled; speaker = folder",
    "ser prepare wavdir --labels labels.csv my_clips data/my_clips                  # CSV columns file,label",
    "ser prepare wavdir --label-regex '_(?P<emo>[a-z]+)\\.wav$' --speaker-regex '^(?P<spk>[^_]+)_' clips data/clips",
    "ser prepare wavdir --label-regex '_(?P<emo>[a-z]+)\\d\\d\\.wav$' --label-map codes.yaml clips data/clips  "
    "# codes.yaml: {a: anger, sa: sadness, ps: surprise}",
    "ser prepare crema_d ~/corpora/CREMA-D data/crema_d          # genders from VideoDemographics.csv",
]

#: Same names as ser.corpora.PREPARERS (kept here so `ser --help` does not import the corpus modules).
CORPORA = ("emodb", "ravdess", "iemocap", "msp_improv", "tess", "savee", "crema_d", "emovo", "wavdir")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", choices=CORPORA, help="which corpus layout to read")
    parser.add_argument("corpus_dir", help="the corpus folder on disk")
    parser.add_argument("data_dir", help="the data dir to write (created; stale map files in it are removed)")
    parser.add_argument(
        "--classes",
        choices=("4", "6", "all"),
        default=None,
        help="iemocap: label set; 4 = neutral/happy(+excited)/sad/angry (default), 6 adds excited and "
        "frustrated as classes, all keeps every labelled turn",
    )
    parser.add_argument("--include-song", action="store_true", default=None, help="ravdess: keep the sung files too")
    parser.add_argument(
        "--labels",
        metavar="CSV",
        default=None,
        help="wavdir: CSV with a header row, columns file (or path) and label (or emotion)",
    )
    parser.add_argument(
        "--label-regex",
        metavar="RE",
        default=None,
        help="wavdir: regex with a group (?P<emo>...), searched in the file name "
        "(in the relative path if it has a '/')",
    )
    parser.add_argument(
        "--speaker-regex",
        metavar="RE",
        default=None,
        help="wavdir: regex with a group (?P<spk>...), as --label-regex; default speaker = the parent folder's name",
    )
    parser.add_argument(
        "--label-map",
        metavar="FILE_OR_NAME",
        default=None,
        help="wavdir: YAML mapping raw label codes to names (e.g. {a: anger, sa: sadness}), or a shipped map's "
        "name (ser/labelmaps: emodb, ravdess, tess, ...); null drops a code; a code not in the map is reported "
        "and its file skipped (map a code to itself to keep it)",
    )


def run(args: argparse.Namespace) -> int:
    from ser.corpora import prepare

    data = prepare(
        args.corpus,
        args.corpus_dir,
        args.data_dir,
        classes=args.classes,
        include_song=args.include_song,
        labels=args.labels,
        label_regex=args.label_regex,
        speaker_regex=args.speaker_regex,
        label_map=args.label_map,
    )
    print(f"{args.data_dir}: {len(data.utts)} utterances, {len(data.speakers)} speakers")
    return 0


__all__ = ["CORPORA", "EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
