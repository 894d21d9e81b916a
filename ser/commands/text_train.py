"""`ser text-train`: train AGHMN / scLSTM on conversation-JSON splits over N seeds; RESULTS.md with mean ± std."""

from __future__ import annotations

import argparse

NAME = "text-train"
HELP = ("Train a text conversation model (AGHMN variants, scLSTM) from a YAML config on DATA/{train,dev,test}.json "
        "for its seeds and write EXP/seed_*/model.pt, EXP/results.json and EXP/RESULTS.md (finished seeds are kept).")  # fmt: skip
EXAMPLES = [
    "ser text-train --config recipes/iemocap_text/conf/bif_agru.yaml data/iemocap6 exp/bif_agru",
    "ser text-train --config recipes/meld/conf/unif_biagru.yaml --seeds 0,1,2 data/meld exp/meld_unif_biagru",
    "ser text-train --config recipes/meld/conf/sclstm.yaml data/meld exp/sclstm train.embeddings=glove.840B.300d.txt",
    "ser text-train data/meld exp/quick model_conf.window=10 train.max_epochs=5 --seeds 0   # defaults: BiF-AGRU, BiGRU reader",
    "ser text-train --config recipes/meld/conf/bif_agru.yaml --print-config model_conf.hidden=50",
]


def _seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="text model config YAML (model, model_conf, train, seeds; see recipes/meld/conf)")
    parser.add_argument("--print-config", action="store_true", help="print the merged config and exit")
    parser.add_argument("--seeds", type=_seeds, help="comma-separated seeds (overrides the config's seeds)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides train.device")
    parser.add_argument("--threads", type=int, help="overrides train.threads (torch CPU threads)")
    parser.add_argument("--classes", help="comma-separated class list (default: DATA/classes.txt or the training labels)")
    parser.add_argument("data", nargs="?", help="folder with train.json, dev.json, test.json (from `ser prepare-text`)")
    parser.add_argument("exp", nargs="?", help="experiment folder")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. model_conf.window=10 train.lr=1e-3 train.class_weights=true")


def _overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.overrides)
    if args.seeds is not None:
        out.append(f"seeds=[{','.join(map(str, args.seeds))}]")
    if args.device:
        out.append(f"train.device={args.device}")
    if args.threads is not None:
        out.append(f"train.threads={args.threads}")
    if args.classes:
        out.append(f"classes=[{args.classes}]")
    return out


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys
    from pathlib import Path

    import yaml

    from ser.errors import SerError
    from ser.text.config import load_text_config

    cfg = load_text_config(args.config, _overrides(args))
    if args.print_config:
        yaml.safe_dump(cfg.to_dict(), sys.stdout, sort_keys=False)
        return 0
    if not (args.data and args.exp):
        raise SerError("data and exp are required (see --help)")
    from ser.text.data import default_classes, read_conversation_dir
    from ser.text.train import run_seeds

    data, exp = Path(args.data), Path(args.exp)
    splits = read_conversation_dir(data)
    if cfg.classes:
        classes = list(cfg.classes)
    elif (data / "classes.txt").is_file():
        classes = (data / "classes.txt").read_text(encoding="utf-8").split()
    else:
        classes = default_classes(splits["train"])
    mc = cfg.model_config()
    if mc.reader == "minilm":
        given = [f"model_conf.{k}" for k in ("embed_dim", "trainable_embeddings") if k in cfg.model_conf]
        given += ["train.embeddings"] if cfg.train.embeddings else []
        if given:
            print(f"ser text-train: {', '.join(given)} ignored: reader minilm has no vocabulary or word vectors "
                  "(it reads frozen 384-d MiniLM sentence vectors)", file=sys.stderr)  # fmt: skip
    _record_config(exp, cfg)
    words = ["ser", NAME, *(["--config", args.config] if args.config else []), args.data, args.exp, *_overrides(args)]
    command = " ".join(shlex.quote(w) for w in words)
    s = run_seeds(splits, classes, mc, cfg.train, exp, cfg.seeds, command=command, log=lambda m: print(m, file=sys.stderr))
    print(f"{exp}/RESULTS.md: {s['tag']} over {len(s['seeds'])} seeds: mF1 {100 * s['macro_f1'][0]:.1f}, "
          f"weighted F1 {100 * s['weighted_f1'][0]:.1f}, acc {100 * s['acc'][0]:.1f}")  # fmt: skip
    return 0


def _record_config(exp, cfg) -> None:
    """EXP/config.yaml: the merged config (seeds aside); seeds of another config are refused in the same dir."""
    import yaml

    from ser.errors import SerError
    from ser.fileio import atomic_write

    mine = {k: v for k, v in cfg.to_dict().items() if k != "seeds"}
    path = exp / "config.yaml"
    if path.is_file():
        from ser.text.config import load_text_config

        theirs = {k: v for k, v in load_text_config(path).to_dict().items() if k != "seeds"}
        if theirs != mine:
            raise SerError(f"{exp} holds seeds of a different config; use another experiment folder or remove it")
    exp.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        yaml.safe_dump(cfg.to_dict(), out, sort_keys=False)


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
