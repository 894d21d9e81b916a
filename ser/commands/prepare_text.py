"""`ser prepare-text`: conversations with emotion labels -> conversation-JSON splits (train/dev/test)."""

from __future__ import annotations

import argparse

NAME = "prepare-text"
HELP = ("Read MELD CSVs, an IEMOCAP release or conversation-JSON files and write OUT/{train,dev,test}.json "
        "(conversation JSON) and OUT/classes.txt for `ser text-train`.")  # fmt: skip
EXAMPLES = [
    "ser prepare-text meld ../shared/data/meld data/meld",
    "ser prepare-text iemocap-text /corpora/IEMOCAP_full_release data/iemocap6 --seed 0",
    "ser prepare-text conv-json ../shared/data/iemocap-text data/iemocap6",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=["meld", "iemocap-text", "conv-json"], help="what SRC holds")
    parser.add_argument("src", help="MELD CSV folder, IEMOCAP_full_release (or its parent), or a folder of "
                        "*train.json/*dev.json/*test.json")  # fmt: skip
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="iemocap-text: seed of the 80:20 train/dev split by dialogue")
    parser.add_argument("--dev-fraction", type=float, default=0.2, help="iemocap-text: share of sessions 1-4 for dev")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ser.fileio import write_text_atomic
    from ser.text.data import SPLITS, count, default_classes, read_source, write_conversation_json

    options = {"seed": args.seed, "dev_fraction": args.dev_fraction} if args.source == "iemocap-text" else {}
    splits = read_source(args.source, args.src, **options)
    out = Path(args.out)
    for split in SPLITS:
        write_conversation_json(out / f"{split}.json", splits[split])
    classes = default_classes(splits["train"])
    write_text_atomic(out / "classes.txt", "\n".join(classes) + "\n")
    for split in SPLITS:
        n_dia, n_turns = count(splits[split])
        print(f"{out / (split + '.json')}: {n_dia} dialogues, {n_turns} turns")
    print(f"classes: {' '.join(classes)}")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
