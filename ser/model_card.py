"""The model card of a model file: what a user should know before trusting its labels (`ser info`).

Why: a bundle records everything about its model (``ser.bundle``), but as JSON meant for programs. Before
scoring their own audio a user wants to read, in a page, what the model was trained on, which classes it
can say, what its scores are (probabilities or SVM vote shares), how a lone clip is normalised, how well it
did under which protocol, and, once the exporter records them (``meta["card"]``), which corpora and licences
it inherits, what was measured on audio it never saw, what it is not for, and how it was calibrated.

Only metadata is read (``load_bundle`` needs numpy alone), so describing a torch-free model imports no torch.
A card section of the wrong shape is an error naming the file and the key, never a half-printed card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ser.bundle import Bundle
from ser.errors import SerError

#: meta["card"] keys, in print order, and the fields of each list entry / dict.
CARD_TABLES = {"training_corpora": ("name", "licence", "utterances", "speakers"),
               "measured": ("protocol", "corpus", "uar", "wa", "note")}
#: metrics printed as percentages in the cards' tables
_FRACTIONS = ("uar", "wa", "ece_before", "ece_after")
_HEADERS = {"uar": "UAR", "wa": "WA"}


def format_card(bundle: Bundle) -> str:
    """The card as text: model file, model, features, classes, output, normalisation, training, protocol,
    cross-validated results, versions, then the sections of ``meta["card"]`` when present."""
    meta = bundle.meta
    lines = _model_lines(bundle) + _training_lines(meta) + _results_lines(meta) + _version_lines(bundle)
    card = meta.get("card")
    if meta.get("calibration") and (card is None or isinstance(card, dict)):  # `ser export --calibrate` keeps it here
        card = {**(card or {}), "calibration": (card or {}).get("calibration") or meta["calibration"]}
    if card is not None:
        lines += _card_lines(card, bundle.path)
    return "\n".join(lines) + "\n"


#: how a card's `measured` entries name the three ways of scoring clips of a corpus the model never heard
SCORING_MODES = {"alone": "alone", "source": "pooled as one source", "grouped": "grouped"}


def scoring_mode_uar(meta: dict[str, Any]) -> dict[str, tuple[float, float]] | None:
    """(lowest, highest) UAR the model card measured per way of scoring (`SCORING_MODES`: clips alone, a corpus's
    clips pooled as one source, grouped by speaker) on the corpora it measured clips alone on; None unless the
    card has both alone and grouped figures. Why: `ser score` shows a user who scored lone clips what pooling a
    source or grouping by speaker was worth for this model."""
    measured = [e for e in ((meta.get("card") or {}).get("measured") or []) if isinstance(e, dict) and "uar" in e]
    alone = {e.get("corpus") for e in measured if SCORING_MODES["alone"] in str(e.get("protocol", ""))}
    ranges = {}
    for mode, words in SCORING_MODES.items():
        uars = [float(e["uar"]) for e in measured if words in str(e.get("protocol", "")) and e.get("corpus") in alone]
        if uars:
            ranges[mode] = (min(uars), max(uars))
    return ranges if "alone" in ranges and "grouped" in ranges else None


def _field(name: str, value: str) -> str:
    return f"{name:<14}{value}"


def _conf(conf: dict[str, Any] | None) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted((conf or {}).items()))


def _model_lines(bundle: Bundle) -> list[str]:
    from ser.classifier import POSTERIORS
    from ser.normalization import describe, normalization_class

    meta = bundle.meta
    path = Path(bundle.path)
    size = f"{path.stat().st_size:,} bytes, " if path.is_file() else ""
    fs = bundle.feature_set_dict
    spec = meta["spec"]
    kind = bundle.output_kind
    output = ("posteriors: class probabilities" if kind == POSTERIORS else
              f"{kind}: scores are not probabilities (their arg-max is the label)")
    lines = [_field("model file", f"{bundle.path} ({size}format {meta.get('format_version', 1)}, written by ser "
                                  f"{meta.get('ser_version') or (meta.get('versions') or {}).get('ser', '?')})")]
    description = (meta.get("config") or {}).get("description")
    if description:
        lines.append(_field("description", description))
    lines.append(_field("encoder", f"{bundle.encoder} {_conf(spec.get('encoder_conf'))}".rstrip()))
    if spec.get("heads"):
        lines.append(_field("heads", _conf(spec["heads"]) if isinstance(spec["heads"], dict) else str(spec["heads"])))
    lines += [
        _field("features", f"{fs.get('name')} ({fs.get('kind')}, {fs.get('level', 'frame')} level, "
                           f"{meta['features'].get('dim')}-d, {fs.get('sample_rate', '?')} Hz)"
                           + (f": {fs['description']}" if fs.get("description") else "")),
        _field("classes", f"{len(bundle.classes)}: {', '.join(bundle.classes)}"),
        _field("output", output),
        _field("normalisation", f"{bundle.normalization}: {describe(bundle.normalization)}"
                                + (f", clipped to +-{float(bundle.norm_state['clip'][0]):g}" if "clip" in bundle.norm_state else "")),
    ]
    alone = normalization_class(bundle.normalization).lone_fallback
    if alone:
        lines.append(_field("", "ser score pools a speaker's clips (--speaker, --utt2spk, a data dir's utt2spk); "
                                f"a clip alone gets {alone}"))
    return lines


def _training_lines(meta: dict[str, Any]) -> list[str]:
    training = meta.get("training") or {}
    speakers = training.get("train_speakers") or []
    lines = [_field("trained on", f"{training.get('source', '?')}"
                    + (f"; {len(speakers)} speaker{'s' * (len(speakers) != 1)}: {' '.join(map(str, speakers))}"
                       if speakers else ""))]
    extra = {k: v for k, v in training.items() if k not in ("source", "train_speakers") and not isinstance(v, (dict, list))}
    if extra:
        lines.append(_field("", _conf(extra)))
    if "best_epoch" in training and (meta.get("config") or {}).get("train"):
        lines.append(_field("train config", _conf(meta["config"]["train"])))
    if meta.get("experiment"):
        lines.append(_field("experiment", str(meta["experiment"])))
    protocol = meta.get("protocol") or {}
    if protocol:
        lines.append("protocol")
        for key in sorted(protocol):
            value = protocol[key]
            shown = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
            lines.append(f"  {key}: {shown}")
    return lines


def _pct(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{100 * value:.1f}%"


def _mean_std(mean: Any, std: Any) -> str:
    if not isinstance(mean, (int, float)):
        return "-"
    return f"{100 * mean:.1f} ± {100 * std:.1f}%" if isinstance(std, (int, float)) else _pct(mean)


def _results_lines(meta: dict[str, Any]) -> list[str]:
    results = meta.get("results") or {}
    if not results:
        return [_field("results", "none recorded (a fold model, or exported without an experiment)")]
    mean, std, pooled = results.get("mean") or {}, results.get("std") or {}, results.get("pooled") or {}
    names = (("uar", "UAR"), ("wa", "WA"), ("macro_f1", "macro-F1"))
    scores = "  ".join(f"{label} {_mean_std(mean.get(key), std.get(key))}" for key, label in names if key in mean)
    head = (f"cross-validated results ({results.get('num_folds', '?')} folds, {results.get('num_utterances', '?')} "
            "utterances; mean ± sample std over folds, pooled over every test utterance)")
    lines = [head, f"  mean: {scores}"]
    if pooled:
        lines.append("  pooled: " + "  ".join(f"{label} {_pct(pooled.get(key))}" for key, label in names if key in pooled))
    return lines


def _version_lines(bundle: Bundle) -> list[str]:
    versions = bundle.meta.get("versions") or {}
    lines = [_field("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "not recorded")]
    lines += [_field("", f"note: {note}") for note in bundle.version_notes()]
    return lines


# --- meta["card"] ------------------------------------------------------------------------------------
def _card_lines(card: Any, path: str) -> list[str]:
    if not isinstance(card, dict):
        raise SerError(f"{path}: the model card (meta 'card') is a {type(card).__name__}, not a mapping")
    lines: list[str] = []
    titles = {"training_corpora": "training corpora", "measured": "measured"}
    for key, fields in CARD_TABLES.items():
        if card.get(key) is not None:
            lines += [titles[key]] + _table(_entries(card[key], key, path), fields)
    if card.get("not_for") is not None:
        items = card["not_for"]
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise SerError(f"{path}: model card 'not_for' must be a list of sentences")
        lines += ["not for"] + [f"  - {x}" for x in items]
    if card.get("calibration") is not None:
        cal = card["calibration"]
        if not isinstance(cal, dict):
            raise SerError(f"{path}: model card 'calibration' must be a mapping (method, temperature, ece_before, ece_after)")
        ece = (f"; ECE {_cell(cal, 'ece_before')} -> {_cell(cal, 'ece_after')}"
               if "ece_before" in cal or "ece_after" in cal else "")
        temp = f", temperature {cal['temperature']}" if cal.get("temperature") is not None else ""
        lines.append(_field("calibration", f"{cal.get('method', '?')}{temp}{ece}"))
    return lines


def _entries(value: Any, key: str, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise SerError(f"{path}: model card '{key}' must be a list of mappings")
    return value


def _cell(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None:
        return "-"
    if name in _FRACTIONS and isinstance(value, (int, float)):
        return _pct(value)
    return str(value)


def _table(entries: Sequence[dict[str, Any]], fields: Sequence[str]) -> list[str]:
    rows = [[_HEADERS.get(f, f) for f in fields]] + [[_cell(e, f) for f in fields] for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(fields))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


__all__ = ["format_card"]
