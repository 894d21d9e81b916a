"""Late fusion of experiments: average the per-fold posteriors of several `ser evaluate` runs.

Why: with one validation speaker per fold, which epoch (and which model) wins is noisy; averaging the
posteriors of runs that differ only in their seed, or of different systems, cancels part of that noise.
Every member must score the same test utterances of the same folds with the same classes; the fused
experiment dir is laid out like any other (`fold_<name>/scores.tsv`, protocol.yaml), so `ser report` reads it.
No test label is used: the weights are equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from ser.errors import SerError
from ser.experiment import PROTOCOL_FILE, read_protocol
from ser.fileio import atomic_write, write_text_atomic
from ser.metrics import compute_metrics
from ser.report import find_fold_scores, read_scores, write_scores


def fuse_experiments(members: Sequence[str | Path], out_dir: str | Path) -> list[str]:
    """Write the mean posteriors of `members` fold by fold into `out_dir`; returns the fold names."""
    if len(members) < 2:
        raise SerError("fusion needs at least two experiment dirs")
    members = [Path(m) for m in members]
    folds = [find_fold_scores(m) for m in members]
    for member, found in zip(members, folds):
        if not found:
            raise SerError(f"{member}: no fold_*/scores.tsv (run `ser evaluate` first)")
    names = sorted(folds[0])
    for member, found in zip(members[1:], folds[1:]):
        if sorted(found) != names:
            raise SerError(f"{member}: folds {sorted(found)} differ from {members[0]}'s {names}")
    out_dir = Path(out_dir)
    member_uars: list[list[float]] = [[] for _ in members]  # each member's own UAR, fold by fold
    for name in names:
        classes, utts, truth, pred, post = read_scores(folds[0][name])
        member_uars[0].append(compute_metrics(truth, pred, classes).uar)
        order = {u: i for i, u in enumerate(utts)}
        total = post.copy()
        for k, (member, found) in enumerate(zip(members[1:], folds[1:]), start=1):
            m_classes, m_utts, m_truth, m_pred, m_post = read_scores(found[name])
            if m_classes != classes:
                raise SerError(f"{found[name]}: classes {m_classes} differ from {classes}")
            if sorted(m_utts) != sorted(utts):
                raise SerError(f"{found[name]}: fold {name} scores other utterances than {folds[0][name]}")
            index = [order[u] for u in m_utts]
            if [truth[i] for i in index] != m_truth:
                raise SerError(f"{found[name]}: reference labels differ from {folds[0][name]}")
            total[index] += m_post
            member_uars[k].append(compute_metrics(m_truth, m_pred, classes).uar)
        fold_dir = out_dir / f"fold_{name}"
        write_scores(fold_dir / "scores.tsv", utts, truth, total / len(members), classes)
        write_text_atomic(fold_dir / ".done", "")
    protocol = merged_protocol([read_protocol(m) for m in members])
    protocol["fusion"] = f"mean of the posteriors of {len(members)} experiments: " + ", ".join(str(m) for m in members)
    protocol["fusion_members_uar"] = members_spread([float(np.mean(u)) for u in member_uars])
    with atomic_write(out_dir / PROTOCOL_FILE) as out:
        yaml.safe_dump(protocol, out, sort_keys=False)
    return names


def members_spread(uars: Sequence[float]) -> str:
    """Each member's own fold-mean UAR and their mean ± sample std: what one member (one seed) alone would have
    reported, so a fused row is read beside the noise of a single run."""
    values = ", ".join(f"{100 * u:.2f}" for u in uars)
    std = float(np.std(uars, ddof=1)) if len(uars) > 1 else 0.0
    return f"{values} (fold-mean UAR of each member alone, %; mean {100 * float(np.mean(uars)):.2f} ± {100 * std:.2f})"


#: where a report finds utt2spk and the fold plan: the first member's (every member scored the same test utterances)
FIRST_MEMBER_KEYS = ("feat_dir", "folds_dir")


def merged_protocol(protocols: Sequence[dict]) -> dict:
    """One protocol record for a fusion: what the members share is kept; what differs (the encoder and features of
    a fusion of systems, their selection rules ...) reads ``a + b + c`` in member order, so a report does not show a
    fusion of three systems under the first member's encoder."""
    merged: dict = {}
    for key in protocols[0]:
        if key == "commands":
            continue
        values = [p.get(key) for p in protocols]
        if key in FIRST_MEMBER_KEYS or all(v == values[0] for v in values):
            merged[key] = values[0]
        elif all(isinstance(v, (str, int, float)) for v in values):
            merged[key] = " + ".join(str(v) for v in values)
        else:
            merged[key] = values
    return merged


__all__ = ["fuse_experiments", "merged_protocol"]
