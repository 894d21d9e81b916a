"""How good a model is on labelled audio it scored: metrics of a `ser score` run on the classes it shares
with the data.

Why a module of its own: a model meets data nobody trained it on (another corpus, a user's own labelled
clips), and the two rarely name the same emotions. Before comparing, the data's labels may be renamed into
the model's label space by a label map (``ser.labels``: ``--label-map ravdess`` turns angry into anger, calm
into neutral). Then only the *shared classes* count, the model's classes that the data's labels use:

- a clip whose (mapped) label is not a class of the model is left out and counted per label (EmoDB's
  boredom for a model without boredom); a clip the label map maps to null is left out and counted too;
- the main numbers take the arg-max over the shared classes only (posteriors renormalised over them), so a
  model class the data lacks cannot win: the question is "which of these emotions", as the data poses it;
- the unrestricted numbers take the model's own label (arg-max over every class), what a user sees in the
  rows; both are reported and named.

Accuracy, UAR (mean recall over the shared classes present among the scored clips), per-class recall and
the confusion matrix come from ``ser.metrics.compute_metrics``. Chance level for UAR is 1 / number of
shared classes. A label that the label map does not list is an error (as in ``ser combine``): an
incomplete map should be completed, never silently shrink the test set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ser.errors import SerError
from ser.metrics import Metrics, compute_metrics

if TYPE_CHECKING:
    from ser.score import Clip, ScoreRun

#: What the two sets of numbers are, as the output and the JSON say.
SHARED_DESCRIPTION = ("arg-max over the shared classes only (posteriors renormalised over them): a model class "
                      "the data lacks cannot win")
UNRESTRICTED_DESCRIPTION = "arg-max over every class of the model (the label in the rows)"


@dataclass
class MappedReferences:
    """What a label map did to the clips' reference labels."""

    source: str  # the map's file
    to_null: Counter[str] = field(default_factory=Counter)  # source label -> clips the map drops
    renamed: dict[str, str] = field(default_factory=dict)  # source label -> model-space label, for labels seen


def map_references(clips: Iterable["Clip"], label_map: str, model_classes: Sequence[str]) -> MappedReferences:
    """Rename each clip's reference label by a label map (a shipped map's name or a YAML file), in place.

    Targets must be shared nouns (``ser.labels.SHARED_CLASSES``) or classes of the model. A label the map
    maps to null loses its reference (counted); a label the map does not list is an error naming the map."""
    from ser.labels import SHARED_CLASSES, apply_label_map, label_map_path, load_label_map, validate_label_map

    source = str(label_map_path(label_map))
    mapping = load_label_map(label_map, classes=None)
    validate_label_map(mapping, source, list(dict.fromkeys([*SHARED_CLASSES, *model_classes])))
    clips = [c for c in clips if c.reference is not None]
    mapped = apply_label_map({str(i): c.reference for i, c in enumerate(clips)}, mapping)  # type: ignore[misc]
    if mapped.unmapped:
        listed = ", ".join(f"{label} ({_clips(n)})" for label, n in sorted(mapped.unmapped.items()))
        raise SerError(f"label(s) {listed} of the scored data are not in the label map {source}; "
                       "add them (null leaves a label out) and pass the file with --label-map")
    out = MappedReferences(source=source, to_null=Counter(mapped.dropped))
    for i, clip in enumerate(clips):
        new = mapped.utt2emo.get(str(i))
        if new is not None and new != clip.reference:
            out.renamed[clip.reference] = new  # type: ignore[index]
        clip.reference = new
    return out


def shared_posteriors(posteriors: np.ndarray, index: Sequence[int]) -> np.ndarray:
    """The scores of the shared classes, renormalised to sum to 1 (uniform where they sum to 0)."""
    sub = np.asarray(posteriors, dtype=np.float64)[..., list(index)]
    total = sub.sum(axis=-1, keepdims=True)
    return np.divide(sub, total, out=np.full_like(sub, 1.0 / sub.shape[-1]), where=total > 0)


@dataclass
class LabelledScore:
    """Metrics of one scoring run against its reference labels, and what was left out and why."""

    model_classes: list[str]
    shared: list[str]
    metrics: Metrics | None  # arg-max over the shared classes
    unrestricted: Metrics | None  # arg-max over every model class
    not_model_classes: Counter[str] = field(default_factory=Counter)  # label -> labelled clips left out
    unlabelled: int = 0  # inputs without a reference label (besides those the label map left out)
    failed: int = 0  # clips of a shared class that could not be scored
    mapped: MappedReferences | None = None

    @property
    def chance(self) -> float | None:
        """UAR of guessing: 1 / number of shared classes."""
        return 1.0 / len(self.shared) if self.shared else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_classes": self.model_classes,
            "shared_classes": self.shared,
            "chance_uar": self.chance,
            "label_map": None if self.mapped is None else self.mapped.source,
            "renamed_by_label_map": {} if self.mapped is None else dict(sorted(self.mapped.renamed.items())),
            "not_counted": {
                "not_model_classes": dict(sorted(self.not_model_classes.items())),
                "null_in_label_map": {} if self.mapped is None else dict(sorted(self.mapped.to_null.items())),
                "unlabelled": self.unlabelled,
                "failed": self.failed,
            },
            "shared": _block(self.metrics, SHARED_DESCRIPTION),
            "unrestricted": _block(self.unrestricted, UNRESTRICTED_DESCRIPTION),
        }

    def format(self) -> str:
        """The text `ser score` prints: what was counted, both sets of numbers, recall, confusion matrix."""
        lines = []
        mapped = self.mapped
        if mapped is not None:
            renamed = ", ".join(f"{a} -> {b}" for a, b in sorted(mapped.renamed.items())) or "no label renamed"
            lines.append(f"label map {mapped.source}: {renamed}")
            for label, n in sorted(mapped.to_null.items()):
                lines.append(f"{_clips(n)} labelled {label} {_are(n)} left out by the label map (null): not counted")
        for label, n in sorted(self.not_model_classes.items()):
            was = sorted(a for a, b in mapped.renamed.items() if b == label) if mapped else []
            shown = f"{label} ({', '.join(was)} in the data)" if was else label
            verb = "is not a class" if n == 1 else "are not classes"
            lines.append(f"{_clips(n)} labelled {shown} {verb} of the model: not counted")
        if self.unlabelled:
            lines.append(f"{_clips(self.unlabelled)} {'have' if self.unlabelled != 1 else 'has'} no reference label: not counted")
        if self.failed:
            lines.append(f"{_clips(self.failed)} of the shared classes could not be scored: not counted")
        m, u = self.metrics, self.unrestricted
        if m is None or u is None:
            lines.append("no metrics: no scored clip is labelled with a class of the model (model classes: "
                         f"{', '.join(self.model_classes)}); map the data's labels with --label-map")
            return "\n".join(lines) + "\n"
        kinds = f"{len(self.shared)} class{'es' * (len(self.shared) != 1)}"
        lines.append(f"metrics on {_clips(m.n)} of the {kinds} the model and the data share ({', '.join(self.shared)}):")
        lines.append(f"  {SHARED_DESCRIPTION}:")
        lines.append(f"    accuracy {_pct(m.wa)}  UAR {_pct(m.uar)} (chance {_pct(self.chance)})")
        lines.append("    recall  " + "  ".join(f"{c} {_pct(r)}" for c, r in zip(m.classes, m.recall)))
        lines += ["    " + line for line in _confusion_lines(m)]
        lines.append(f"  {UNRESTRICTED_DESCRIPTION}:")
        lines.append(f"    accuracy {_pct(u.wa)}  UAR {_pct(u.uar)}")
        others = {c: int(n) for c, n in zip(u.classes, u.predicted) if c not in self.shared and n}
        if others:
            listed = ", ".join(f"{c} {n}" for c, n in others.items())
            lines.append(f"    {_clips(sum(others.values()))} got a class the data lacks ({listed})")
        return "\n".join(lines) + "\n"


def _clips(n: int) -> str:
    return f"{n} clip" if n == 1 else f"{n} clips"


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _pct(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


def _confusion_lines(m: Metrics) -> list[str]:
    names = [c[:9] for c in m.classes]
    width = max(len(n) for n in names + ["reference"])
    cell = max(max(len(n) for n in names), len(str(int(m.confusion.max()))))
    out = ["confusion (rows: reference, columns: predicted)", " " * width + "  " + "  ".join(n.rjust(cell) for n in names)]
    for name, row in zip(names, m.confusion):
        out.append(name.ljust(width) + "  " + "  ".join(str(int(v)).rjust(cell) for v in row))
    return out


def _block(m: Metrics | None, description: str) -> dict[str, Any] | None:
    if m is None:
        return None
    full = m.to_dict()
    return {"description": description, "n": m.n, "accuracy": m.wa, "uar": m.uar,
            "per_class_recall": {c: full["per_class"][c]["recall"] for c in m.classes},
            "classes": full["classes"], "absent_classes": full["absent_classes"], "confusion": full["confusion"],
            "macro_f1": m.macro_f1}


def labelled_score(run: "ScoreRun", mapped: MappedReferences | None = None) -> LabelledScore:
    """Compare each scored clip's label with its reference on the classes the model and the data share.

    The shared classes are the model's classes (in the model's order) that some clip's reference names,
    scored or not, so a clip that failed cannot change which classes compete."""
    classes = list(run.classes)
    references = [r.clip.reference for r in run.results if r.clip.reference is not None]
    shared = [c for c in classes if c in set(references)]
    index = [classes.index(c) for c in shared]
    out = LabelledScore(model_classes=classes, shared=shared, metrics=None, unrestricted=None, mapped=mapped,
                        not_model_classes=Counter(ref for ref in references if ref not in classes))
    out.unlabelled = len(run.results) - len(references) - (sum(mapped.to_null.values()) if mapped else 0)
    truth, restricted, plain = [], [], []
    for r in run.results:
        ref = r.clip.reference
        if ref is None or ref not in classes:
            continue
        if not r.ok or r.posteriors is None:
            out.failed += 1
            continue
        truth.append(ref)
        restricted.append(shared[int(np.argmax(shared_posteriors(r.posteriors, index)))])
        plain.append(classes[int(np.argmax(r.posteriors))])
    if truth:
        out.metrics = compute_metrics(truth, restricted, shared)
        out.unrestricted = compute_metrics(truth, plain, classes)
    return out


__all__ = ["MappedReferences", "LabelledScore", "labelled_score", "map_references", "shared_posteriors"]
