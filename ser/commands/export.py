"""`ser export`: an experiment -> one model bundle file that `ser score` loads."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "Write a model bundle (weights, classes, feature set, normalisation stats, protocol, results) for `ser score`."
EXAMPLES = [
    "ser export exp/gagru_emobase78_avg5 gagru_emodb.ser                 # final model on all speakers (median best epoch of the folds)",
    "ser export --fold 03 exp/gagru_emobase78_avg5 gagru_fold03.ser      # one fold's model as it was evaluated",
    "ser export --onnx exp/gagru_emobase78_avg5 gagru.ser                # + an ONNX graph: scores with onnxruntime, no torch",
    "ser export --retrain-all exp/svm_egemaps88 svm.ser train.threads=2  # train the all-speaker model again",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exp_dir", help="experiment dir of `ser evaluate` (fold_*/model.ser, config.yaml, protocol.yaml)")
    parser.add_argument("model_file", help="bundle file to write (e.g. model.ser)")
    parser.add_argument("--fold", help="export this fold's model instead of a model trained on all speakers")
    parser.add_argument("--retrain-all", action="store_true",
                        help="train the all-speaker model again even if EXP/all_speakers/model.ser exists")
    parser.add_argument("--feat-dir", help="the training feature dir (default: the one in EXP/protocol.yaml)")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit a temperature on the experiment's out-of-fold posteriors; `ser score` applies it")
    parser.add_argument("--onnx", action="store_true",
                        help="add the torch model's ONNX graph (checked against torch on the training features): the file "
                             "then scores with onnxruntime, without torch (`pip install 'ser[onnx]'`)")
    parser.add_argument("--card", help="YAML file with the model card's sections (training_corpora, measured, not_for)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides for the all-speaker training, e.g. train.threads=1 train.device=cpu")


def run(args: argparse.Namespace) -> int:
    from ser.errors import SerError
    from ser.export import export_bundle

    if args.fold and (args.retrain_all or args.overrides):
        raise SerError("--fold exports an existing fold model: --retrain-all and overrides do not apply")
    card = None
    if args.card:
        from ser.limits import load_yaml_file

        card = load_yaml_file(args.card, "model card file")
        if not isinstance(card, dict):
            raise SerError(f"{args.card}: a model card must be a YAML mapping")
    export_bundle(args.exp_dir, args.model_file, fold=args.fold, feat_dir=args.feat_dir,
                  overrides=args.overrides, force_retrain=args.retrain_all, calibrate=args.calibrate, card=card,
                  onnx=args.onnx)
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
