"""The report of a nested search (`ser tune`): the usual experiment report plus what the search chose.

Why a module apart from ``ser.report``: the outer test scores are an ordinary experiment (fold_*/scores.tsv),
so ``write_report`` gives per-fold and pooled UAR/WA, per-class recall, intervals and the confusion matrix
as for `ser evaluate`; this adds the search's part (space, trials, objective, per-fold chosen settings and
inner score) to RESULTS.md and results.json, without teaching the general report about searches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ser.fileio import write_text_atomic
from ser.report import FOLD_PREFIX, RESULTS_JSON, RESULTS_MD, write_report
from ser.search_space import SearchSpace

#: files of ser.tune (kept here too, so reading a report does not import the search)
TUNE_FILE = "tune.yaml"
SEARCH_FILE = "search.json"

SECTION = "## Nested search"


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def tuning_block(exp_dir: Path) -> dict[str, Any]:
    """results.json's `tuning`: tune.yaml's settings and, per searched outer fold, the chosen settings and inner score."""
    settings = yaml.safe_load((exp_dir / TUNE_FILE).read_text(encoding="utf-8"))
    folds = {}
    for path in sorted(exp_dir.glob(f"{FOLD_PREFIX}*/{SEARCH_FILE}")):
        found = json.loads(path.read_text(encoding="utf-8"))
        folds[path.parent.name[len(FOLD_PREFIX):]] = {
            "chosen": found["chosen"]["params"], "chosen_trial": found["chosen"]["trial"],
            "inner_uar": found["chosen"]["inner_uar"], "inner_folds": len(found["inner_folds"]),
            "train_speakers": found["train_speakers"], "trials": len(found["trials"])}
    described = SearchSpace.from_dict(settings["space"], str(exp_dir / TUNE_FILE)).describe()
    return {**settings, "space_described": described, "folds": folds}


def tuning_markdown(tuning: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    lines = [SECTION, ""]
    lines.append(f"Search space ({len(tuning['space'])} setting(s)), {tuning['trials']} trials per outer fold, "
                 f"{tuning['sampler']}, batches of {tuning['batch']}. Objective: {tuning['objective']}, over inner "
                 f"`{tuning['inner']}` folds built from the outer fold's training speakers only; the outer test "
                 "speaker(s) are never read by the search. Chosen settings = the best trial (ties: the earlier).")
    lines.append("")
    lines += [f"- {d}" for d in tuning["space_described"]]
    lines.append("")
    keys = list(tuning["space"])
    header = ["fold", *keys, "inner UAR", "inner folds", "test UAR", "test WA"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, info in tuning["folds"].items():
        outer = results["folds"].get(name, {})
        row = [name, *[_value(info["chosen"].get(k)) for k in keys], _pct(info["inner_uar"]), str(info["inner_folds"]),
               _pct(outer.get("uar")), _pct(outer.get("wa"))]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def add_tuning(exp_dir: str | Path, results: dict[str, Any]) -> dict[str, Any]:
    """Add the nested-search part to a report `write_report` just wrote; a dir without tune.yaml is left as it is
    (so `ser report` on a tuned experiment keeps the section)."""
    exp_dir = Path(exp_dir)
    if not (exp_dir / TUNE_FILE).is_file():
        return results
    results = {**results, "tuning": tuning_block(exp_dir)}
    write_text_atomic(exp_dir / RESULTS_JSON, json.dumps(results, indent=2, default=str) + "\n")
    text = (exp_dir / RESULTS_MD).read_text(encoding="utf-8")
    section = "\n".join(tuning_markdown(results["tuning"], results)) + "\n"
    if text.startswith("# Results: "):  # `ser report` gave its default title
        text = "# Nested-tuned results: " + text[len("# Results: "):]
    cut = text.find("## Protocol")
    text = text[:cut] + section + text[cut:] if cut >= 0 else text + "\n" + section
    write_text_atomic(exp_dir / RESULTS_MD, text)
    return results


def write_tune_report(exp_dir: str | Path, commands: Sequence[str] = ()) -> dict[str, Any]:
    """RESULTS.md, results.json and confusion.png of the outer test folds, with the nested-search section."""
    exp_dir = Path(exp_dir)
    results = write_report(exp_dir, commands=list(commands) or None, title=f"Nested-tuned results: {exp_dir.name}")
    return add_tuning(exp_dir, results)


__all__ = ["SEARCH_FILE", "SECTION", "TUNE_FILE", "add_tuning", "tuning_block", "tuning_markdown", "write_tune_report"]
