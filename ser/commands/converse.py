"""`ser converse`: label each turn of a conversation as it arrives (real-time emotion recognition)."""

from __future__ import annotations

import argparse

NAME = "converse"
HELP = ("Read turns as 'speaker<TAB>text' lines on stdin (or from a file) and print each turn's emotion and "
        "posteriors as soon as it arrives, using only the turns before it; a blank line starts a new conversation.")  # fmt: skip
EXAMPLES = [
    "printf 'Joey\\tHey!\\nRoss\\tI got the job!\\n' | ser converse exp/meld_bif_agru/seed_0/model.pt",
    "ser converse exp/bif_agru/seed_0/model.pt data/iemocap6/test.json --json",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model.pt written by `ser text-train` (none ships with ser; without it, "
                                                 "`ser converse` says how to train one)")
    parser.add_argument("conversation", nargs="?", default="-",
                        help="'speaker<TAB>text' lines (a line without a TAB is text with speaker '-'), or a "
                             "conversation-JSON file (each dialogue streamed in turn); default '-': stdin")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON object per turn instead of TAB-separated text")


def _turns(source: str):
    """Yield (where, speaker, text) per turn and None where a new conversation starts; text is None for a turn
    longer than ser.limits.MAX_TURN_CHARS (read in bounded pieces and dropped, never held whole)."""
    import sys

    from ser.limits import MAX_TURN_CHARS, bounded_lines

    if source != "-" and source.endswith(".json"):
        from ser.text.data import read_conversation_json

        for i, dialogue in enumerate(read_conversation_json(source)):
            if i:
                yield None
            for j, turn in enumerate(dialogue.turns):
                long = len(turn.text) > MAX_TURN_CHARS
                yield f"{source}: dialogue {i} turn {j}", turn.speaker, None if long else turn.text
        return
    if source == "-":  # bad bytes become U+FFFD as in a file, not a UnicodeDecodeError traceback mid-conversation
        import io

        stdin = sys.stdin
        handle = io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="replace") if hasattr(stdin, "buffer") else stdin
    else:
        handle = open(source, encoding="utf-8", errors="replace")
    name = "<stdin>" if source == "-" else source
    try:
        for lineno, line in bounded_lines(handle, MAX_TURN_CHARS + 1024):  # a pipe's line comes as soon as complete
            if line is not None and not line.strip():
                yield None
                continue
            speaker, sep, text = (line or "").partition("\t")
            if line is None or len(text if sep else line) > MAX_TURN_CHARS:
                yield f"{name}:{lineno}", speaker[:64] if line else "-", None
                continue
            yield f"{name}:{lineno}", *((speaker, text) if sep else ("-", line))
    finally:
        if source != "-":
            handle.close()


#: what a user without a text model reads: no text model ships (MELD and IEMOCAP come under their own licences)
HOW_TO_GET_A_MODEL = (
    "ser converse needs a text model written by `ser text-train`; none ships with ser. The shortest way "
    "(one seed, 20 epochs; its measured cost is in the README's Text section):\n"
    "  ser prepare-text conv-json ../shared/data/iemocap-text data/iemocap6\n"
    "  ser text-train --config recipes/iemocap_text/conf/bif_agru.yaml --seeds 0 data/iemocap6 exp/bif_agru train.max_epochs=20\n"
    "  ser converse exp/bif_agru/seed_0/model.pt"
)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ser.errors import SerError

    if not args.model:
        raise SerError("no model given. " + HOW_TO_GET_A_MODEL)
    if not Path(args.model).is_file():
        raise SerError(f"{args.model}: no such text model file. " + HOW_TO_GET_A_MODEL)

    import torch

    from ser.text.model import Stream, load_model, text_encoder

    torch.set_num_threads(1)
    model, itos, classes = load_model(args.model)
    encode = text_encoder(model, itos)  # tokens, or for reader minilm a MiniLM vector per arriving turn
    stream = Stream(model, encode)
    if not args.json:
        print("#turn\tspeaker\temotion\t" + "\t".join(classes), flush=True)
    import sys

    from ser.limits import MAX_TURN_CHARS

    turn, refused = 0, 0
    for item in _turns(args.conversation):
        if item is None:
            if turn:
                stream = Stream(model, encode)
                turn = 0
            continue
        where, speaker, text = item
        if text is None:  # refused, not truncated: a cut turn would be labelled as if whole
            print(f"ser converse: error: {where}: turn longer than {MAX_TURN_CHARS} characters; skipped "
                  "(the conversation goes on without it)", file=sys.stderr, flush=True)
            refused += 1
            continue
        probs = stream.step(text)
        label = classes[int(probs.argmax())]
        if args.json:
            print(json.dumps({"turn": turn, "speaker": speaker, "utterance": text, "emotion": label,
                              "posteriors": {c: round(float(p), 4) for c, p in zip(classes, probs)}}), flush=True)  # fmt: skip
        else:
            print(f"{turn}\t{speaker}\t{label}\t" + "\t".join(f"{p:.4f}" for p in probs), flush=True)
        turn += 1
    return 2 if refused else 0


__all__ = ["EXAMPLES", "HELP", "HOW_TO_GET_A_MODEL", "NAME", "add_arguments", "run"]
