"""The `ser` command: one sub-command per verb, each a thin wrapper over one public function.

Verb modules live in `ser.commands` and import only argparse at module level, so `ser --help`
and every `ser VERB --help` answer without loading torch, librosa or openSMILE.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from ser import __version__
from ser.commands import COMMAND_MODULES
from ser.errors import SerError

#: packages of the `train` extra: `pip install ser` (the runtime) scores non-torch models without them
TRAIN_ONLY = ("torch", "torchaudio", "librosa", "matplotlib", "sklearn", "scipy", "onnx")


def _load_commands() -> list[ModuleType]:
    return [importlib.import_module(f"ser.commands.{name}") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    commands = _load_commands()
    parser = argparse.ArgumentParser(
        prog="ser",
        description="ser: speech emotion recognition toolkit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'ser VERB --help' for a verb's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"ser {__version__}")
    parser.add_argument("--allow-pipes", action="store_true",
                        help="run `cmd |` entries of feats.scp/cmvn.scp through a shell, as Kaldi does (off: such entries "
                             "are refused, so a data dir from elsewhere cannot execute commands)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    for module in commands:
        verb = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.HELP,
            epilog="example:\n  " + "\n  ".join(module.EXAMPLES),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(verb)
        verb.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE overrides after an option (`ser evaluate ... --seeds 0 train.lr=1e-3`): argparse leaves them over
    if extra and isinstance(getattr(args, "overrides", None), list) and all("=" in w and not w.startswith("-") for w in extra):
        args.overrides += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.allow_pipes:
        import os

        from ser.frontend.arkio import ALLOW_PIPES_ENV

        os.environ[ALLOW_PIPES_ENV] = "1"
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    from ser.parallel import Terminated, stop_workers_on_sigterm

    try:
        with stop_workers_on_sigterm():
            return int(args._run(args) or 0)
    except Terminated:
        print(f"ser {args.verb}: terminated (SIGTERM); workers stopped, finished results kept", file=sys.stderr)
        return 143
    except SerError as exc:
        print(f"ser {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in TRAIN_ONLY:
            print(f"ser {args.verb}: error: this needs {exc.name}, which the runtime install leaves out: "
                  "pip install 'ser[train]'", file=sys.stderr)
            return 2
        raise
    except OSError as exc:  # full disk, permissions, a vanished folder: one line naming the file, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ser {args.verb}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ser {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["TRAIN_ONLY", "build_parser", "main"]
