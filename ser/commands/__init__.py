"""CLI verb modules. Each defines NAME, HELP, EXAMPLES, add_arguments(parser) and run(args) -> exit code,
and imports only the standard library at module level (heavy imports go inside run)."""

#: Module names under ser.commands, in the order `ser --help` lists them.
COMMAND_MODULES: list[str] = [
    "prepare",
    "combine",
    "validate",
    "extract",
    "compute_cmvn",
    "list_features",
    "list_encoders",
    "make_folds",
    "train",
    "evaluate",
    "tune",
    "report",
    "fuse",
    "export",
    "score",
    "verify",
    "info",
    "prepare_text",
    "text_train",
    "text_report",
    "converse",
]
