"""`ser verify`: check a model file against a published SHA-256 (or a list of trusted ones) before using it."""

from __future__ import annotations

import argparse

NAME = "verify"
HELP = ("Check a model file: its internal seal (corruption), and, with --sha256 or --trusted, that it is exactly the "
        "file its publisher released (the seal alone cannot tell an edited file from a released one).")
EXAMPLES = [
    "ser verify model.ser --sha256 3f2a...                 # the hash published beside the model",
    "ser verify model.ser --trusted trusted_models.txt     # lines 'sha256  name', as sha256sum writes them",
    "ser verify                                            # the built-in model: prints its SHA-256",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model file (default: the built-in model)")
    parser.add_argument("--sha256", help="the expected SHA-256 of the whole file (hex)")
    parser.add_argument("--trusted", help="a file of trusted hashes, one 'sha256  name' per line (sha256sum format)")


def run(args: argparse.Namespace) -> int:
    import hashlib
    from pathlib import Path

    from ser.bundle import load_bundle, resolve_model_path
    from ser.errors import SerError

    path = resolve_model_path(args.model)
    bundle = load_bundle(path)  # the seal, the format and finite arrays
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    wanted: set[str] = set()
    if args.sha256:
        import re

        if not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256.strip()):
            raise SerError(f"--sha256 '{args.sha256}' is not a SHA-256 (64 hex digits)")
        wanted.add(args.sha256.strip().lower())
    if args.trusted:
        lines = Path(args.trusted).read_text(encoding="utf-8").splitlines()
        wanted |= {line.split()[0].lower() for line in lines if line.strip() and not line.startswith("#")}
    print(f"{path}: sha256 {digest}; seal intact; {bundle.encoder}, {len(bundle.classes)} classes")
    if wanted and digest not in wanted:
        raise SerError(f"{path}: its SHA-256 {digest} is not the published/trusted one: do not use this file")
    if wanted:
        print(f"{path}: matches a trusted SHA-256")
    return 0


__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]
