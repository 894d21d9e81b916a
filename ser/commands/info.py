"""`ser info`: the model card of a model file (wraps ser.model_card.format_card); no torch for a torch-free model."""

from __future__ import annotations

import argparse

NAME = "info"
HELP = "Describe a model file: encoder, features, classes, output, normalisation, training, results, versions, card."
EXAMPLES = [
    "ser info                      # the built-in model",
    "ser info exp/gagru/model.ser",
    "ser info --json model.ser     # the metadata as JSON",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model file (default: the model shipped with ser)")
    parser.add_argument("--json", action="store_true", help="print the model file's metadata as JSON")


def run(args: argparse.Namespace) -> int:
    import sys

    from ser.bundle import load_bundle, resolve_model_path

    bundle = load_bundle(resolve_model_path(args.model))
    from ser.classifier import load_classifier
    from ser.errors import SerError

    try:  # rebuild it as scoring would: an archive that loads but cannot score is refused here too
        load_classifier(bundle.meta["spec"], bundle.classes, bundle.model_state, bundle.onnx_graph)
    except SerError as exc:
        raise SerError(f"{bundle.path}: {exc}") from None
    if args.json:
        import json

        json.dump(bundle.meta, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    from ser.model_card import format_card

    sys.stdout.write(format_card(bundle))
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
