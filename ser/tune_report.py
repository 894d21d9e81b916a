"""The report of a nested search (`ser tune`): the usual experiment report plus what the search chose.

Why a module apart from ``ser.report``: the outer test scores are an ordinary experiment (fold_*/scores.tsv),
so ``write_report`` gives per-fold and pooled UAR/WA, per-class recall, intervals and the confusion matrix
as for `ser evaluate`; this adds the search's part (space, trials, objective, per-fold chosen settings and
inner score) to RESULTS.md and results.json, without teaching the general report about searches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ser.fileio import write_text_atomic
from ser.report import RESULTS_JSON, RESULTS_MD, write_report

if TYPE_CHECKING:
    from ser.tune import SearchSettings

SECTION = "## Nested search"


def _value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def tuning_block(exp_dir: Path, settings: "SearchSettings", names: Sequence[str]) -> dict[str, Any]:
    """results.json's `tuning`: the search settings and, per outer fold, the chosen settings and inner score."""
    folds = {}
    for name in names:
        found = json.loads((exp_dir / f"fold_{name}" / "search.json").read_text(encoding="utf-8"))
        folds[name] = {"chosen": found["chosen"]["params"], "chosen_trial": found["chosen"]["trial"],
                       "inner_uar": found["chosen"]["inner_uar"], "inner_folds": len(found["inner_folds"]),
                       "train_speakers": found["train_speakers"], "trials": len(found["trials"])}
    return {**settings.to_dict(), "space_described": settings.space.describe(), "folds": folds}


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


def write_tune_report(exp_dir: str | Path, settings: "SearchSettings", names: Sequence[str],
                      commands: Sequence[str] = ()) -> dict[str, Any]:
    """RESULTS.md, results.json and confusion.png of the outer test folds, with the nested-search section."""
    exp_dir = Path(exp_dir)
    results = write_report(exp_dir, commands=list(commands) or None,
                           title=f"Nested-tuned results: {exp_dir.name}")
    results["tuning"] = tuning_block(exp_dir, settings, names)
    write_text_atomic(exp_dir / RESULTS_JSON, json.dumps(results, indent=2, default=str) + "\n")
    text = (exp_dir / RESULTS_MD).read_text(encoding="utf-8")
    section = "\n".join(tuning_markdown(results["tuning"], results)) + "\n"
    cut = text.find("## Protocol")
    text = text[:cut] + section + text[cut:] if cut >= 0 else text + "\n" + section
    write_text_atomic(exp_dir / RESULTS_MD, text)
    return results
