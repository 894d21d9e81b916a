"""`ser list-encoders`: the encoders `encoder:` in a model config accepts, with their config defaults."""

from __future__ import annotations

import argparse

NAME = "list-encoders"
HELP = "List the registered encoders (built-in and 'ser.encoders' plugins): input kind, config defaults, default heads."
EXAMPLES = ["ser list-encoders", "ser list-encoders gagru alstm", "ser list-encoders --names"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("encoders", nargs="*", metavar="NAME", help="only these encoders (default: all)")
    parser.add_argument("--names", action="store_true", help="print only the names, one per line")


def run(args: argparse.Namespace) -> int:
    from ser.models.registry import get_encoder, list_encoders

    entries = [get_encoder(name) for name in args.encoders] if args.encoders else list_encoders()
    for entry in entries:
        if args.names:
            print(entry.name)
            continue
        kind = "" if entry.kind == "torch" else ", not torch"
        print(f"{entry.name}  [{entry.input_kind}{kind}]  {entry.description}")
        if entry.source != "builtin":
            print(f"  from: {entry.source}")
        print("  encoder_conf:")
        for key, value in entry.defaults().items():
            print(f"    {key}: {_show(value)}")
        if entry.default_heads:
            print("  default heads_conf:")
            for key, value in entry.default_heads.items():
                print(f"    {key}: {_show(value)}")
    return 0


def _show(value: object) -> str:
    """YAML-like flow style for a default value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
