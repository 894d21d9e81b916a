"""`ser text-train`: train AGHMN / scLSTM on conversation-JSON splits over N seeds; RESULTS.md with mean ± std."""

from __future__ import annotations

import argparse

NAME = "text-train"
HELP = ("Train a text conversation model (AGHMN variants, scLSTM) on DATA/{train,dev,test}.json for N seeds and "
        "write EXP/seed_*/model.pt, EXP/results.json and EXP/RESULTS.md (finished seeds are kept).")  # fmt: skip
EXAMPLES = [
    "ser text-train data/iemocap6 exp/bif_agru --memory bif --summary agru --window 40",
    "ser text-train data/meld exp/meld_unif_biagru --memory unif --summary biagru --window 10 --seeds 0,1,2",
    "ser text-train data/meld exp/meld_sclstm --model sclstm --reader cnn --window 10 --embeddings glove.840B.300d.txt",
    "ser text-train data/meld exp/meld_bif_agru_minilm --reader minilm --window 10   # pip install 'ser[minilm]'",
]


def _seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="folder with train.json, dev.json, test.json (from `ser prepare-text`)")
    parser.add_argument("exp", help="experiment folder")
    g = parser.add_argument_group("model")
    g.add_argument("--model", default="aghmn", choices=["aghmn", "sclstm"])
    g.add_argument("--reader", default=None, choices=["bigru", "bilstm", "cnn", "minilm"],
                   help="utterance reader (default: bigru for aghmn, cnn for sclstm); minilm: frozen "
                        "all-MiniLM-L6-v2 sentence vectors + a trained projection, no word vectors "
                        "(needs pip install 'ser[minilm]')")  # fmt: skip
    g.add_argument("--memory", default="bif", choices=["unif", "bif"], help="memory bank fusion (aghmn)")
    g.add_argument("--summary", default="agru", choices=["soft", "agru", "biagru"], help="memory summary (aghmn)")
    g.add_argument("--window", type=int, default=40, help="K: memory bank size (paper: 40 IEMOCAP, 10 MELD)")
    g.add_argument("--hidden", type=int, default=100)
    g.add_argument("--dropout", type=float, default=0.3)
    g.add_argument("--embeddings", help="word2vec (binary/text) or GloVe file; random vectors without one")
    g.add_argument("--embed-dim", type=int, default=100, help="word vector size without an embedding file")
    g.add_argument("--freeze-embeddings", action="store_true", help="keep word vectors fixed")
    t = parser.add_argument_group("training")
    t.add_argument("--seeds", type=_seeds, default=None, help="comma-separated seeds (default: 0..N-1)")
    t.add_argument("--num-seeds", type=int, default=5, help="N when --seeds is not given")
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--max-epochs", type=int, default=100)
    t.add_argument("--batch-size", type=int, default=4, help="dialogues per batch")
    t.add_argument("--class-weights", action="store_true", help="loss weights (min count / count)^0.5")
    t.add_argument("--classes", help="comma-separated class list (default: DATA/classes.txt or the training labels)")
    t.add_argument("--max-train-dialogues", type=int, default=0, help="train on the first N dialogues (smoke runs)")
    t.add_argument("--max-eval-dialogues", type=int, default=0, help="score the first N dev/test dialogues (smoke runs)")
    t.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")


def _command_line(args: argparse.Namespace) -> str:
    """`ser text-train ...` with the options that differ from their defaults (for RESULTS.md)."""
    import shlex

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = vars(parser.parse_args([args.data, args.exp]))
    words = ["ser", NAME, args.data, args.exp]
    for action in parser._actions:
        key = action.dest
        always = key in ("model", "reader", "memory", "summary", "window")  # the protocol, even at its defaults
        if not action.option_strings or key not in defaults or (getattr(args, key) == defaults[key] and not always):
            continue
        if getattr(args, key) is None:
            continue
        value = getattr(args, key)
        if value is True:
            words.append(action.option_strings[0])
        else:
            words += [action.option_strings[0], ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return " ".join(shlex.quote(w) for w in words)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import torch

    from ser.text.data import default_classes, read_conversation_dir
    from ser.text.model import TextModelConfig
    from ser.text.train import TextTrainConfig, run_seeds

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    splits = read_conversation_dir(data)
    if args.classes:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    elif (data / "classes.txt").is_file():
        classes = (data / "classes.txt").read_text(encoding="utf-8").split()
    else:
        classes = default_classes(splits["train"])
    reader = args.reader = args.reader or ("cnn" if args.model == "sclstm" else "bigru")
    if reader == "minilm":
        given = [flag for flag, on in (("--embeddings", args.embeddings), ("--embed-dim", args.embed_dim != 100),
                                       ("--freeze-embeddings", args.freeze_embeddings)) if on]  # fmt: skip
        if given:
            print(f"ser text-train: {', '.join(given)} ignored: reader minilm has no vocabulary or word vectors "
                  "(it reads frozen 384-d MiniLM sentence vectors)", file=sys.stderr)  # fmt: skip
    mc = TextModelConfig(model=args.model, reader=reader, memory=args.memory, summary=args.summary,
                         hidden=args.hidden, window=args.window, dropout=args.dropout, embed_dim=args.embed_dim,
                         trainable_embeddings=not args.freeze_embeddings).check()  # fmt: skip
    tc = TextTrainConfig(lr=args.lr, patience=args.patience, max_epochs=args.max_epochs, batch_size=args.batch_size,
                         class_weights=args.class_weights, embeddings=args.embeddings,
                         max_train_dialogues=args.max_train_dialogues, max_eval_dialogues=args.max_eval_dialogues,
                         device=args.device)  # fmt: skip
    seeds = args.seeds if args.seeds else list(range(args.num_seeds))
    command = _command_line(args)
    s = run_seeds(splits, classes, mc, tc, args.exp, seeds, command=command, log=lambda m: print(m, file=sys.stderr))
    print(f"{args.exp}/RESULTS.md: {s['tag']} over {len(s['seeds'])} seeds: mF1 {100 * s['macro_f1'][0]:.1f}, "
          f"weighted F1 {100 * s['weighted_f1'][0]:.1f}, acc {100 * s['acc'][0]:.1f}")  # fmt: skip
    return 0
