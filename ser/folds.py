"""Speaker-independent fold plans: `folds/<fold>/{train,valid,test}` plus `folds/plan.yaml`.

Each fold file holds one utterance id per line, sorted (C locale). `plan.yaml` says how the plan
was made (kind, validation rule, speakers per fold, classes missing from a fold's test set).

Kinds and their validation rules (train = every utterance not in test or valid):

- `loso` (leave one speaker out): one fold per speaker, named after the speaker; test = that speaker.
  Validation speaker, per fold:
    * `session-partner`: when `utt2session` exists, all of the test speaker's utterances lie in one
      session and that session has exactly one other speaker, the validation speaker is that other
      speaker (IEMOCAP protocol of the attention-BLSTM paper: train on the four other sessions,
      validate on one speaker of the held-out session, test on the other);
    * `next-speaker` otherwise: the next speaker after the test speaker in sorted (C-locale) order,
      wrapping around (EmoDB: test 03 -> valid 08, ..., test 16 -> valid 03). Every speaker is then
      the validation speaker of exactly one fold.
    * `next-N-speakers` (`valid_speakers=N`, N >= 2; replaces both rules above): the N speakers after the
      test speaker in sorted order, wrapping around; when `utt2gender` gives every speaker one gender and
      the N picks share one, the last pick is swapped for the first speaker of another gender after them.
      Early stopping on one speaker picks an epoch from ~50 utterances of one voice; two speakers of both
      genders make that choice less noisy, at the cost of one training speaker.
- `loso-session` (leave one session out; needs `utt2session`): one fold per session, named after
  it; test = that session; validation = the next session in sorted order, wrapping around.
  Sessions must not share speakers.
- `kfold-speakers` (k speaker-disjoint groups; needs `groups=K`): speakers in sorted order are cut
  into K contiguous groups whose sizes differ by at most one (the first `n % K` groups get one more;
  24 RAVDESS actors with K=6 -> 01-04, 05-08, ...). Folds are named g1..gK (zero-padded when K >= 10);
  test = one group, validation = the next group, wrapping around.
- `loco` (leave one corpus out; needs `utt2corpus`, as `ser combine` writes it, and at least 2 corpora):
  one fold per corpus, named after the corpus; test = every utterance of that corpus. Validation
  (`spread-per-corpus`) comes from the OTHER corpora only, so no test corpus can steer early stopping:
  of each other corpus with n speakers, k = min(n - 1, ceil(n / 5)) speakers (about one in five, at
  least one, never all of them; a one-speaker corpus gives none), taken evenly spread over its sorted
  speakers (positions (2i + 1) * n // (2k), i = 0..k-1). When k >= 2, `utt2gender` gives every speaker
  of that corpus one gender, the corpus has more than one gender and the picks all share one, the last
  pick is swapped for the nearest speaker (in sorted order, ties to the earlier) of another gender.
  A corpus's validation speakers are thus the same in every fold where it is not tested
  (EmoDB + RAVDESS: test emodb -> valid Actor_03, 08, 13, 17, 22; test ravdess -> valid 09, 15).
  Train = the remaining speakers of the other corpora. A fold whose other corpora give no validation
  speaker (all have one speaker) is refused.

`loso` over a combined data dir (speaker ids carry the corpus prefix, `emodb.03`) needs nothing more:
`next-speaker` then wraps across corpora, so the last speaker of one corpus is validated on the first
speaker of the next (test emodb.16 -> valid ravdess.Actor_01, test ravdess.Actor_24 -> valid emodb.03).

Speaker-disjointness of train/valid/test is checked (raising FoldError, not `assert`, so it holds
under `python -O`) when a plan is built and again when `read_plan` reads it back against utt2spk.
For `loco`, corpus-disjointness (the test corpus in neither train nor valid) is checked the same way,
against the data dir's `utt2corpus`.
A fold whose test set lacks a class is allowed; plan.yaml lists it under the fold and in `notes`.
A data dir holding augmented copies (`utt2orig`) is refused: folds are built from originals only.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ser.datadir import DataDir
from ser.errors import SerError
from ser.fileio import atomic_write, write_text_atomic

KINDS = ("loso", "loso-session", "kfold-speakers", "loco")
PARTS = ("train", "valid", "test")
PLAN_FILE = "plan.yaml"
DONE_FILE = ".done"
PLAN_VERSION = 1

VALIDATION_RULES = {
    "loso": (
        "valid = the test speaker's session partner when utt2session puts the test speaker in one session "
        "with exactly one other speaker (session-partner); otherwise the next speaker in sorted order, "
        "wrapping around (next-speaker); train = all other speakers"
    ),
    "loso-session": "valid = the next session in sorted order, wrapping around; train = all other sessions",
    "kfold-speakers": (
        "speakers in sorted order cut into K contiguous groups (sizes differ by at most one); "
        "valid = the next group, wrapping around; train = all other groups"
    ),
    "loco": (
        "test = one corpus (utt2corpus); valid = from each OTHER corpus of n speakers, min(n - 1, ceil(n / 5)) "
        "speakers evenly spread over its sorted speakers (positions (2i + 1) * n // (2k)), the last pick swapped "
        "for the nearest speaker of another gender when k >= 2 and utt2gender shows all picks of a corpus share one "
        "(spread-per-corpus); train = the remaining speakers of the other corpora"
    ),
}
#: loso with valid_speakers=N >= 2 (next-N-speakers).
VALID_N_RULE = (
    "valid = the {n} speakers after the test speaker in sorted order, wrapping around, the last swapped for the "
    "first later speaker of another gender when utt2gender shows all picks share one (next-{n}-speakers); "
    "train = all other speakers"
)
#: loco: about one speaker in VALID_SHARE of each other corpus validates.
VALID_SHARE = 5
#: Corpus names that may name a fold (as `ser combine` allows them).
_CORPUS_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class FoldError(SerError):
    """A fold plan is impossible (too few speakers or corpora, sessions sharing speakers) or violates disjointness."""


@dataclass
class Fold:
    """One fold: sorted utterance lists and the speakers behind them."""

    name: str
    train: list[str]
    valid: list[str]
    test: list[str]
    train_speakers: list[str]
    valid_speakers: list[str]
    test_speakers: list[str]
    validation: str = ""  # which rule picked the validation set (session-partner, next-speaker, ...)
    test_sessions: list[str] = field(default_factory=list)
    valid_sessions: list[str] = field(default_factory=list)
    test_class_counts: dict[str, int] = field(default_factory=dict)
    missing_test_classes: list[str] = field(default_factory=list)
    dropped: int = 0  # utterances in the fold files but not in the data dir (read_plan with allow_missing)
    test_corpus: str = ""  # loco: the held-out corpus
    valid_speakers_by_corpus: dict[str, list[str]] = field(default_factory=dict)  # loco

    def part(self, name: str) -> list[str]:
        if name not in PARTS:
            raise KeyError(name)
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "test_speakers": list(self.test_speakers),
            "valid_speakers": list(self.valid_speakers),
            "train_speakers": list(self.train_speakers),
            "validation": self.validation,
        }
        if self.test_sessions:
            out["test_sessions"] = list(self.test_sessions)
        if self.valid_sessions:
            out["valid_sessions"] = list(self.valid_sessions)
        if self.test_corpus:
            out["test_corpus"] = self.test_corpus
        if self.valid_speakers_by_corpus:
            out["valid_speakers_by_corpus"] = {c: list(s) for c, s in self.valid_speakers_by_corpus.items()}
        out["counts"] = {p: len(self.part(p)) for p in PARTS}
        if self.test_class_counts:
            out["test_class_counts"] = dict(self.test_class_counts)
        out["missing_test_classes"] = list(self.missing_test_classes)
        return out


@dataclass
class FoldPlan:
    """A set of folds plus the protocol that made them."""

    kind: str
    validation_rule: str
    folds: list[Fold]
    speakers: list[str]
    classes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.folds]

    def fold(self, name: str) -> Fold:
        for f in self.folds:
            if f.name == name:
                return f
        raise FoldError(f"{self.path or 'fold plan'}: no fold named '{name}' (folds: {', '.join(self.names)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "kind": self.kind,
            "validation_rule": self.validation_rule,
            "options": dict(self.options),
            "num_folds": len(self.folds),
            "num_utterances": len({u for f in self.folds for p in PARTS for u in f.part(p)}),
            "speakers": list(self.speakers),
            "classes": list(self.classes),
            "notes": list(self.notes),
            "folds": [f.to_dict() for f in self.folds],
        }


_NUMBER_LIKE = re.compile(r"^[-+]?[0-9][0-9_.:eE+-]*$")


class _PlanDumper(yaml.SafeDumper):
    """Quotes number-like strings ('08', '1.5'), so YAML 1.2 readers also see speaker ids as strings."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if _NUMBER_LIKE.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_PlanDumper.add_representer(str, _represent_str)


# --- helpers -------------------------------------------------------------------------------------
def _speakers_of(utts: Sequence[str], utt2spk: Mapping[str, str]) -> list[str]:
    return sorted({utt2spk[u] for u in utts})


def _class_info(test: Sequence[str], utt2emo: Mapping[str, str] | None, classes: list[str]) -> tuple[dict, list]:
    if utt2emo is None:
        return {}, []
    counts = {c: 0 for c in classes}
    for u in test:
        counts[utt2emo[u]] += 1
    return counts, [c for c in classes if counts[c] == 0]


def check_fold(fold: Fold, utt2spk: Mapping[str, str], where: str = "fold plan") -> None:
    """Raise FoldError unless train/valid/test are non-empty (train, test), utterance- and speaker-disjoint."""
    label = f"{where}: fold {fold.name}"
    for part in ("train", "test"):
        if not fold.part(part):
            raise FoldError(f"{label}: {part} set is empty")
    speakers = {}
    for part in PARTS:
        utts = fold.part(part)
        if len(set(utts)) != len(utts):
            dup = sorted({u for u in utts if utts.count(u) > 1})[0]
            raise FoldError(f"{label}: utterance '{dup}' listed twice in {part}")
        speakers[part] = {utt2spk[u] for u in utts}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared_utts = set(fold.part(a)) & set(fold.part(b))
        if shared_utts:
            raise FoldError(f"{label}: utterance '{sorted(shared_utts)[0]}' is in both {a} and {b}")
        shared = speakers[a] & speakers[b]
        if shared:
            raise FoldError(
                f"{label}: speaker(s) {sorted(shared)} in both {a} and {b}; folds must be speaker-disjoint"
            )


def check_corpora(fold: Fold, utt2corpus: Mapping[str, str], where: str = "fold plan") -> None:
    """Raise FoldError unless a leave-one-corpus-out fold tests one corpus that is in neither train nor valid."""
    label = f"{where}: fold {fold.name}"
    corpora: dict[str, set[str]] = {}
    for part in PARTS:
        unknown = [u for u in fold.part(part) if u not in utt2corpus]
        if unknown:
            raise FoldError(
                f"{label}: {len(unknown)} {part} utterance(s) have no corpus in utt2corpus, e.g. {unknown[0]}"
            )
        corpora[part] = {utt2corpus[u] for u in fold.part(part)}
    if len(corpora["test"]) != 1:
        raise FoldError(f"{label}: test set spans corpora {sorted(corpora['test'])}; a loco fold tests one corpus")
    test_corpus = next(iter(corpora["test"]))
    for part in ("train", "valid"):
        if test_corpus in corpora[part]:
            raise FoldError(
                f"{label}: corpus '{test_corpus}' is in both {part} and test; "
                "leave-one-corpus-out folds must be corpus-disjoint"
            )


def _make_fold(
    name: str,
    test_spk: Sequence[str],
    valid_spk: Sequence[str],
    spk2utt: Mapping[str, list[str]],
    utt2emo: Mapping[str, str] | None,
    classes: list[str],
    validation: str,
) -> Fold:
    test_set, valid_set = set(test_spk), set(valid_spk)
    train_spk = sorted(s for s in spk2utt if s not in test_set and s not in valid_set)
    test = sorted(u for s in test_set for u in spk2utt[s])
    valid = sorted(u for s in valid_set for u in spk2utt[s])
    train = sorted(u for s in train_spk for u in spk2utt[s])
    counts, missing = _class_info(test, utt2emo, classes)
    return Fold(
        name=name,
        train=train,
        valid=valid,
        test=test,
        train_speakers=train_spk,
        valid_speakers=sorted(valid_set),
        test_speakers=sorted(test_set),
        validation=validation,
        test_class_counts=counts,
        missing_test_classes=missing,
    )


def _session_map(data: DataDir, where: str) -> dict[str, str]:
    utt2session = data.get("utt2session")
    if utt2session is None:
        raise FoldError(f"{where}: kind 'loso-session' needs utt2session")
    missing = sorted(set(data.utt2spk) - set(utt2session))
    if missing:
        raise FoldError(f"{where}/utt2session: {len(missing)} utterances have no session, e.g. {missing[0]}")
    return utt2session


def _next_speakers(speakers: list[str], i: int, n: int, spk2gender: Mapping[str, str]) -> list[str]:
    """The n speakers after speakers[i] (wrapping), the last swapped for another gender if all share one."""
    after = [speakers[(i + k) % len(speakers)] for k in range(1, len(speakers))]
    picks = after[:n]
    genders = {spk2gender.get(s) for s in picks}
    if n >= 2 and len(genders) == 1 and None not in genders:
        other = next((s for s in after[n:] if spk2gender.get(s) not in (None, *genders)), None)
        if other is not None:
            picks[-1] = other
    return picks


def _loso(data, spk2utt, utt2emo, classes, where, valid_speakers: int = 1) -> list[Fold]:
    speakers = sorted(spk2utt)
    if len(speakers) < 3:
        raise FoldError(f"{where}: 'loso' needs at least 3 speakers (test, validation, train); found {len(speakers)}")
    if valid_speakers > 1:
        if valid_speakers > len(speakers) - 2:
            raise FoldError(f"{where}: {valid_speakers} validation speakers leave no training speaker "
                            f"({len(speakers)} speakers; at most {len(speakers) - 2})")
        spk2gender = _speaker_genders(data)
        return [_make_fold(spk, [spk], _next_speakers(speakers, i, valid_speakers, spk2gender), spk2utt, utt2emo,
                           classes, f"next-{valid_speakers}-speakers") for i, spk in enumerate(speakers)]
    utt2session = data.get("utt2session")
    spk2sessions: dict[str, set[str]] = {}
    session2spk: dict[str, set[str]] = {}
    if utt2session is not None:
        for utt, spk in data.utt2spk.items():
            if utt in utt2session:
                spk2sessions.setdefault(spk, set()).add(utt2session[utt])
                session2spk.setdefault(utt2session[utt], set()).add(spk)
    folds = []
    for i, spk in enumerate(speakers):
        valid, rule = None, "next-speaker"
        sessions = spk2sessions.get(spk, set())
        if len(sessions) == 1:
            others = session2spk[next(iter(sessions))] - {spk}
            if len(others) == 1:
                valid, rule = next(iter(others)), "session-partner"
        if valid is None:
            valid = speakers[(i + 1) % len(speakers)]
        fold = _make_fold(spk, [spk], [valid], spk2utt, utt2emo, classes, rule)
        if rule == "session-partner":
            fold.test_sessions = sorted(sessions)
            fold.valid_sessions = sorted(sessions)
        folds.append(fold)
    return folds


def _loso_session(data, spk2utt, utt2emo, classes, where) -> list[Fold]:
    utt2session = _session_map(data, where)
    session2spk: dict[str, set[str]] = {}
    spk2session: dict[str, str] = {}
    for utt, spk in data.utt2spk.items():
        sess = utt2session[utt]
        if spk2session.setdefault(spk, sess) != sess:
            raise FoldError(
                f"{where}: speaker '{spk}' appears in sessions '{spk2session[spk]}' and '{sess}'; "
                "leave-one-session-out folds would not be speaker-disjoint"
            )
        session2spk.setdefault(sess, set()).add(spk)
    sessions = sorted(session2spk)
    if len(sessions) < 3:
        raise FoldError(f"{where}: 'loso-session' needs at least 3 sessions; found {len(sessions)}")
    folds = []
    for i, sess in enumerate(sessions):
        vsess = sessions[(i + 1) % len(sessions)]
        fold = _make_fold(
            sess, sorted(session2spk[sess]), sorted(session2spk[vsess]), spk2utt, utt2emo, classes, "next-session"
        )
        fold.test_sessions, fold.valid_sessions = [sess], [vsess]
        folds.append(fold)
    return folds


def speaker_groups(speakers: Sequence[str], k: int) -> list[list[str]]:
    """Sorted speakers cut into k contiguous groups; the first len % k groups get one extra speaker."""
    speakers = sorted(speakers)
    size, extra = divmod(len(speakers), k)
    groups, start = [], 0
    for g in range(k):
        end = start + size + (1 if g < extra else 0)
        groups.append(speakers[start:end])
        start = end
    return groups


def _kfold(data, spk2utt, utt2emo, classes, where, groups) -> list[Fold]:
    if groups is None:
        raise FoldError(f"{where}: kind 'kfold-speakers' needs the number of groups (--groups K)")
    k = int(groups)
    speakers = sorted(spk2utt)
    if k < 3:
        raise FoldError(f"{where}: 'kfold-speakers' needs at least 3 groups (test, validation, train); got {k}")
    if k > len(speakers):
        raise FoldError(f"{where}: {k} groups but only {len(speakers)} speakers")
    width = len(str(k)) if k >= 10 else 1
    parts = speaker_groups(speakers, k)
    folds = []
    for i, grp in enumerate(parts):
        name = f"g{i + 1:0{width}d}"
        folds.append(_make_fold(name, grp, parts[(i + 1) % k], spk2utt, utt2emo, classes, "next-group"))
    return folds


def _speaker_corpora(data: DataDir, where: str) -> dict[str, str]:
    """speaker -> corpus from utt2corpus; every utterance needs a corpus, every speaker exactly one."""
    utt2corpus = data.get("utt2corpus")
    if utt2corpus is None:
        raise FoldError(f"{where}: kind 'loco' needs utt2corpus (a data dir written by `ser combine`)")
    missing = sorted(set(data.utt2spk) - set(utt2corpus))
    if missing:
        raise FoldError(f"{where}/utt2corpus: {len(missing)} utterances have no corpus, e.g. {missing[0]}")
    spk2corpus: dict[str, str] = {}
    for utt, spk in sorted(data.utt2spk.items()):
        corpus = utt2corpus[utt]
        if not _CORPUS_NAME.match(corpus):
            raise FoldError(
                f"{where}/utt2corpus: corpus name '{corpus}' (of {utt}) may use only letters, digits and '_'"
            )
        if spk2corpus.setdefault(spk, corpus) != corpus:
            raise FoldError(
                f"{where}: speaker '{spk}' appears in corpora '{spk2corpus[spk]}' and '{corpus}'; "
                "leave-one-corpus-out folds would not be speaker-disjoint"
            )
    return spk2corpus


def _speaker_genders(data: DataDir) -> dict[str, str]:
    """speaker -> gender for the speakers whose utterances all carry one gender in utt2gender (none without it)."""
    utt2gender = data.get("utt2gender")
    if utt2gender is None:
        return {}
    seen: dict[str, set[str]] = {}
    for utt, spk in data.utt2spk.items():
        seen.setdefault(spk, set()).add(utt2gender.get(utt, ""))
    return {spk: next(iter(g)) for spk, g in seen.items() if len(g) == 1 and "" not in g}


def corpus_validation_speakers(speakers: Sequence[str], spk2gender: Mapping[str, str] | None = None) -> list[str]:
    """The validation speakers one corpus gives a loco fold that does not test it (rule in the module doc)."""
    speakers = sorted(speakers)
    n = len(speakers)
    k = min(n - 1, math.ceil(n / VALID_SHARE))
    if k <= 0:
        return []
    picks = [speakers[(2 * i + 1) * n // (2 * k)] for i in range(k)]
    genders = dict(spk2gender or {})
    known = all(s in genders for s in speakers)
    if k >= 2 and known and len({genders[s] for s in speakers}) > 1 and len({genders[s] for s in picks}) == 1:
        last = speakers.index(picks[-1])
        others = [i for i, s in enumerate(speakers) if genders[s] != genders[picks[0]]]
        picks[-1] = speakers[min(others, key=lambda i: (abs(i - last), i))]
    return sorted(picks)


def _loco(data, spk2utt, utt2emo, classes, where) -> list[Fold]:
    spk2corpus = _speaker_corpora(data, where)
    corpus2spk: dict[str, list[str]] = {}
    for spk in sorted(spk2corpus):
        corpus2spk.setdefault(spk2corpus[spk], []).append(spk)
    corpora = sorted(corpus2spk)
    if len(corpora) < 2:
        raise FoldError(
            f"{where}: 'loco' needs at least 2 corpora in utt2corpus; found {len(corpora)} ({', '.join(corpora)})"
        )
    genders = _speaker_genders(data)
    valid_of = {c: corpus_validation_speakers(corpus2spk[c], genders) for c in corpora}
    folds = []
    for corpus in corpora:
        by_corpus = {c: valid_of[c] for c in corpora if c != corpus and valid_of[c]}
        valid = [s for spks in by_corpus.values() for s in spks]
        if not valid:
            raise FoldError(
                f"{where}: loco fold {corpus}: the other corpora ({', '.join(c for c in corpora if c != corpus)}) "
                "have one speaker each, so none is left for validation"
            )
        fold = _make_fold(corpus, corpus2spk[corpus], valid, spk2utt, utt2emo, classes, "spread-per-corpus")
        fold.test_corpus, fold.valid_speakers_by_corpus = corpus, by_corpus
        folds.append(fold)
    return folds


# --- public API ----------------------------------------------------------------------------------
def build_plan(data: DataDir, kind: str = "loso", groups: int | None = None, valid_speakers: int = 1) -> FoldPlan:
    """Build (in memory) and check a fold plan; `make_folds` also writes it."""
    where = str(data.path or "data dir")
    if kind not in KINDS:
        raise FoldError(f"unknown fold kind '{kind}' (known: {', '.join(KINDS)})")
    if valid_speakers != 1 and kind != "loso":
        raise FoldError(f"{where}: valid_speakers applies to kind 'loso' only, not '{kind}'")
    if not isinstance(valid_speakers, int) or valid_speakers < 1:
        raise FoldError(f"{where}: valid_speakers must be a whole number >= 1, not {valid_speakers!r}")
    utt2spk = data.utt2spk
    if not utt2spk:
        raise FoldError(f"{where}: no utterances")
    if data.get("utt2orig"):  # a copy as a speaker of its own would put a test speaker's voice in training
        raise FoldError(f"{where} holds augmented copies (utt2orig): build folds from the originals; copies join a "
                        "fold's training set through `augment.copies` (only those of its training utterances)")
    utt2emo = data.get("utt2emo")
    if utt2emo is not None:
        missing = sorted(set(utt2spk) - set(utt2emo))
        if missing:
            raise FoldError(f"{where}/utt2emo: {len(missing)} utterances have no label, e.g. {missing[0]}")
    classes = sorted(set(utt2emo[u] for u in utt2spk)) if utt2emo is not None else []
    spk2utt = data.spk2utt()
    options: dict[str, Any] = {}
    validation_rule = VALIDATION_RULES[kind]
    if kind == "loso":
        folds = _loso(data, spk2utt, utt2emo, classes, where, valid_speakers)
        if valid_speakers > 1:
            options["valid_speakers"] = valid_speakers
            validation_rule = VALID_N_RULE.format(n=valid_speakers)
    elif kind == "loso-session":
        folds = _loso_session(data, spk2utt, utt2emo, classes, where)
    elif kind == "loco":
        folds = _loco(data, spk2utt, utt2emo, classes, where)
        options["corpora"] = {f.test_corpus: len(f.test_speakers) for f in folds}
    else:
        folds = _kfold(data, spk2utt, utt2emo, classes, where, groups)
        options["groups"] = int(groups)  # type: ignore[arg-type]
        options["speaker_groups"] = {f.name: f.test_speakers for f in folds}
    for fold in folds:
        check_fold(fold, utt2spk, where)
        if kind == "loco":
            check_corpora(fold, data.maps["utt2corpus"], where)
        # every utterance is in exactly one part of each fold
        if len(fold.train) + len(fold.valid) + len(fold.test) != len(utt2spk):
            raise FoldError(f"{where}: fold {fold.name} does not cover every utterance")
    tested = sorted(u for f in folds for u in f.test)
    if tested != sorted(utt2spk):
        raise FoldError(f"{where}: test sets do not cover every utterance exactly once")
    notes = []
    for f in folds:
        if f.missing_test_classes:
            present = len(classes) - len(f.missing_test_classes)
            notes.append(
                f"fold {f.name}: no test utterances of class {', '.join(f.missing_test_classes)}; "
                f"its UAR averages the {present} classes present"
            )
    return FoldPlan(
        kind=kind,
        validation_rule=validation_rule,
        folds=folds,
        speakers=sorted(spk2utt),
        classes=classes,
        options=options,
        notes=notes,
    )


def _previous_fold_names(out_dir: Path) -> list[str]:
    try:
        old = yaml.safe_load((out_dir / PLAN_FILE).read_text(encoding="utf-8")) or {}
        return [str(f["name"]) for f in old.get("folds", [])]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError):
        return []


def write_plan(plan: FoldPlan, out_dir: str | Path, data_dir: str | Path | None = None) -> None:
    """Write fold files, then plan.yaml, then the `.done` marker (removed first, so a crash leaves none).

    Fold directories listed by a previous plan.yaml in `out_dir` but absent from this plan are removed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DONE_FILE).unlink(missing_ok=True)
    previous = _previous_fold_names(out_dir)
    for fold in plan.folds:
        for part in PARTS:
            with atomic_write(out_dir / fold.name / part) as handle:
                handle.writelines(f"{u}\n" for u in sorted(fold.part(part)))
    for name in previous:
        stale = out_dir / name
        if name not in plan.names and stale.is_dir() and "/" not in name and name not in ("", ".", ".."):
            shutil.rmtree(stale)
    content = plan.to_dict()
    if data_dir is not None:
        content = {"data_dir": str(data_dir), **content}
    header = (
        "# Fold plan written by `ser make-folds`; the fold files are the truth, this file describes them.\n"
        "# read_plan() re-checks speaker-disjointness of train/valid/test against utt2spk"
        + (" and corpus-disjointness against utt2corpus.\n" if plan.kind == "loco" else ".\n")
    )
    text = yaml.dump(content, Dumper=_PlanDumper, sort_keys=False, allow_unicode=True)
    write_text_atomic(out_dir / PLAN_FILE, header + text)
    write_text_atomic(out_dir / DONE_FILE, "")
    plan.path = out_dir


def make_folds(data: DataDir, kind: str = "loso", out_dir: str | Path = "folds", **opts: Any) -> FoldPlan:
    """Build a speaker-disjoint fold plan for `data` and write it under `out_dir`.

    kind: 'loso' | 'loso-session' | 'kfold-speakers' | 'loco'; opts: `groups=K` for 'kfold-speakers',
    `valid_speakers=N` for 'loso' (N >= 2: the next N speakers validate, see the module doc).
    """
    unknown = set(opts) - {"groups", "valid_speakers"}
    if unknown:
        raise FoldError(f"unknown make_folds options: {sorted(unknown)}")
    plan = build_plan(data, kind, groups=opts.get("groups"), valid_speakers=opts.get("valid_speakers", 1))
    write_plan(plan, out_dir, data_dir=data.path)
    return plan


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise FoldError(f"{path}: missing fold file")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _recheck_loco(folds: list[Fold], data: DataDir, where: str) -> None:
    """Corpus-disjointness of a loco plan read back, against the data dir's utt2corpus; fills the corpus fields."""
    utt2corpus = data.get("utt2corpus")
    if utt2corpus is None:
        raise FoldError(
            f"{where}: a loco plan, but {data.path or 'the data dir'} has no utt2corpus to check it against"
        )
    utt2spk = data.utt2spk
    for fold in folds:
        check_corpora(fold, utt2corpus, where)
        fold.test_corpus = utt2corpus[fold.test[0]]
        if fold.name != fold.test_corpus:
            raise FoldError(
                f"{where}: loco fold {fold.name} tests corpus '{fold.test_corpus}'; it must be named after it"
            )
        by_corpus: dict[str, set[str]] = {}
        for utt in fold.valid:
            by_corpus.setdefault(utt2corpus[utt], set()).add(utt2spk[utt])
        fold.valid_speakers_by_corpus = {c: sorted(by_corpus[c]) for c in sorted(by_corpus)}


def read_plan(folds_dir: str | Path, data: DataDir, allow_missing: bool = False) -> FoldPlan:
    """Read a plan written by make_folds and re-check it against `data`'s utt2spk (and utt2corpus for loco).

    Speakers come from utt2spk, not from plan.yaml, so an edited fold file that puts a speaker in two
    parts is caught. An utterance id unknown to `data` is an error, unless `allow_missing` (e.g. a
    features dir that lost a few failed files), in which case it is dropped and counted in `Fold.dropped`.
    """
    folds_dir = Path(folds_dir)
    plan_path = folds_dir / PLAN_FILE
    if not plan_path.is_file():
        raise FoldError(f"{plan_path}: no fold plan (run `ser make-folds` first)")
    try:
        meta = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FoldError(f"{plan_path}: not valid YAML ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("folds"), list) or not meta["folds"]:
        raise FoldError(f"{plan_path}: no 'folds' list")
    utt2spk = data.utt2spk
    utt2emo = data.get("utt2emo")
    classes = [str(c) for c in meta.get("classes") or []]
    if utt2emo is not None and not classes:
        classes = sorted(set(utt2emo.values()))
    folds = []
    for entry in meta["folds"]:
        name = str(entry["name"] if isinstance(entry, dict) else entry)
        parts: dict[str, list[str]] = {}
        dropped = 0
        for part in PARTS:
            path = folds_dir / name / part
            utts = _read_list(path)
            unknown = [u for u in utts if u not in utt2spk]
            if unknown and not allow_missing:
                raise FoldError(
                    f"{path}: {len(unknown)} utterance(s) not in {data.path or 'the data dir'}/utt2spk, "
                    f"e.g. '{unknown[0]}'"
                )
            dropped += len(unknown)
            parts[part] = sorted(u for u in utts if u in utt2spk)
        info = entry if isinstance(entry, dict) else {}
        fold = Fold(
            name=name,
            train=parts["train"],
            valid=parts["valid"],
            test=parts["test"],
            train_speakers=_speakers_of(parts["train"], utt2spk),
            valid_speakers=_speakers_of(parts["valid"], utt2spk),
            test_speakers=_speakers_of(parts["test"], utt2spk),
            validation=str(info.get("validation", "")),
            test_sessions=[str(s) for s in info.get("test_sessions", [])],
            valid_sessions=[str(s) for s in info.get("valid_sessions", [])],
            dropped=dropped,
        )
        if utt2emo is not None and classes:
            known = [u for u in fold.test if u in utt2emo]
            counts = {c: 0 for c in classes}
            for u in known:
                counts[utt2emo[u]] = counts.get(utt2emo[u], 0) + 1
            fold.test_class_counts = counts
            fold.missing_test_classes = [c for c in classes if counts.get(c, 0) == 0]
        check_fold(fold, utt2spk, str(folds_dir))
        folds.append(fold)
    kind = str(meta.get("kind", ""))
    if kind == "loco":
        _recheck_loco(folds, data, str(folds_dir))
    return FoldPlan(
        kind=kind,
        validation_rule=str(meta.get("validation_rule", "")),
        folds=folds,
        speakers=sorted({s for f in folds for s in f.test_speakers + f.valid_speakers + f.train_speakers}),
        classes=classes,
        options=dict(meta.get("options") or {}),
        notes=[str(n) for n in meta.get("notes") or []],
        path=folds_dir,
    )


__all__ = [
    "DONE_FILE",
    "Fold",
    "FoldError",
    "FoldPlan",
    "KINDS",
    "PARTS",
    "PLAN_FILE",
    "PLAN_VERSION",
    "VALIDATION_RULES",
    "VALID_SHARE",
    "build_plan",
    "check_corpora",
    "check_fold",
    "corpus_validation_speakers",
    "make_folds",
    "read_plan",
    "speaker_groups",
    "write_plan",
]
