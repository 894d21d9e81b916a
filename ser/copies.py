"""Which augmented copies a fold may train on, and their normalised, labelled inputs.

The rule (speaker safety): a copy enters training only when its original utterance is a training utterance
of the fold, never when the original is a validation or test utterance, and copies are never validated or
tested on (folds are built from the feature dir itself, whose ``augment/`` sub-dir they never read). A copy
also counts as its original's speaker (auxiliary speaker head, the model file's training speakers), and
`check_copies` refuses any copy whose original speaker is held out, in case a data dir mixes them up.

Normalisation: the fold's normaliser is fitted on original training utterances only; for per-speaker modes
each copy kind of each speaker (``sp0.9-03``) is normalised by its own statistics, as a test speaker is by
theirs (Kaldi likewise treats ``sp0.9-`` copies as speakers of their own for CMVN).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Sequence

from ser.augment_config import AugmentConfig
from ser.errors import SerError
from ser.features_table import FeatureTable, LabelledSet
from ser.frontend.cmvn import pool_by_speaker
from ser.frontend.perturb import AUGMENT_DIR
from ser.normalization import Normalization

ALL = "all"


class CopyTable:
    """The copies in a feature dir's augment/ folder: features, their originals and their kinds."""

    def __init__(self, feat_dir: str | Path) -> None:
        folder = Path(feat_dir) / AUGMENT_DIR
        if not (folder / "feats.scp").is_file():
            raise SerError(f"{folder}/feats.scp is missing: the config trains on augmented copies; make them with "
                           "`ser extract --speed-perturb 0.9,1.1` (or --noise-snr / --gain-db / --reverb-rt60 / --telephone) "
                           "into that feature dir")
        self.table = FeatureTable(folder)
        utt2orig = self.table.data.get("utt2orig")
        if utt2orig is None:
            raise SerError(f"{folder}/utt2orig is missing: cannot tell which utterance each copy was made from")
        self.utt2orig = {u: o for u, o in utt2orig.items() if u in self.table.raw}
        #: copy -> its kind, the id prefix before `-<original>` (sp0.9, snr10, gain-6)
        self.kind = {u: u[: -len(o) - 1] for u, o in self.utt2orig.items()}

    @property
    def kinds(self) -> list[str]:
        return sorted(set(self.kind.values()))

    def select(self, kinds: Sequence[str], train_utts: Sequence[str], held_out: Sequence[str]) -> list[str]:
        """Copies of the wanted kinds whose original is a training utterance and not held out (sorted)."""
        wanted = set(self.kinds) if ALL in kinds else set(kinds)
        missing = sorted(wanted - set(self.kinds))
        if missing:
            raise SerError(f"augment.copies asks for {missing}, but {self.table.feat_dir} holds copies of kinds "
                           f"{self.kinds or 'none'}")
        train, out = set(train_utts), set(held_out)
        return sorted(u for u, o in self.utt2orig.items() if self.kind[u] in wanted and o in train and o not in out)

    def labelled(self, utts: Sequence[str], classes: Sequence[str], norm: Normalization, original: FeatureTable,
                 warn: Callable[[str], None]) -> LabelledSet:
        """Normalised inputs of copies, labelled as their originals and spoken by their originals' speakers."""
        if norm.uses_speaker_stats:
            norm = copy.deepcopy(norm)
            groups = {self.table.data.utt2spk[u] for u in utts}  # pseudo-speakers such as sp0.9-03
            utt2spk = self.table.data.utt2spk
            norm.adapt(pool_by_speaker((utt2spk[u], m) for u, m in self.table.raw.items() if utt2spk[u] in groups))
        out = self.table.labelled(utts, classes, norm, warn)
        out.speakers = [original.data.utt2spk[self.utt2orig[u]] for u in out.utts]
        return out


def check_copies(copies: Sequence[str], utt2orig: dict[str, str], utt2spk: dict[str, str], held_out: Sequence[str]) -> None:
    """Raise when a training copy comes from a held-out utterance or a held-out speaker (speaker safety)."""
    held = set(held_out)
    held_speakers = {utt2spk[u] for u in held if u in utt2spk}
    for u in copies:
        orig = utt2orig[u]
        if orig in held or utt2spk.get(orig) in held_speakers:
            raise SerError(f"augmented copy {u} of {orig} (speaker {utt2spk.get(orig)}) is held out for validation "
                           "or test: it must not be trained on")


def training_copies(aug: AugmentConfig, table: FeatureTable, train_utts: Sequence[str], held_out: Sequence[str],
                    classes: Sequence[str], norm: Normalization, warn: Callable[[str], None]) -> LabelledSet | None:
    """The labelled copies a fold trains on (None when the config asks for none)."""
    if not aug.copies:
        return None
    copies = table.copy_table()
    chosen = copies.select(aug.copies, train_utts, held_out)
    check_copies(chosen, copies.utt2orig, table.data.utt2spk, held_out)
    out = copies.labelled(chosen, classes, norm, table, warn)
    warn(f"augment: + {len(out.utts)} copies ({', '.join(sorted({copies.kind[u] for u in out.utts}))}) of "
         f"{len({copies.utt2orig[u] for u in out.utts})} training utterances")
    return out


__all__ = ["ALL", "CopyTable", "check_copies", "training_copies"]
