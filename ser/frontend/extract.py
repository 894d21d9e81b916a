"""The `ser extract` driver: data dir -> feats.ark/feats.scp, in parallel, resumable and atomic.

Why it looks like this:
- Workers (`nj` processes, ``ser.parallel``) each build the extractor once and featurise utterances
  (``ser.frontend.featurise``, the same path `ser score` uses) in sorted id order; results come back in
  that order, so the ark streams to disk in id order while at most a few feature matrices are in flight
  (memory stays flat with corpus size). A long utterance comes back as a spilled file, written block by
  block, which the parent copies into the ark in chunks (``ser.frontend.spill``): memory stays flat with
  file length too (except on a remote Dask cluster, see `shares_filesystem`).
- Every matrix is flushed to the ark before its scp line is written (see arkio), so a crash or a
  kill leaves a consistent prefix; a rerun recovers it, skips finished utterances and redoes a
  partial one. `feats.yaml` pins the configuration: a rerun with another feature set is refused.
- A bad file is reported (stderr and failed.txt: id, path, reason) and the batch goes on; the
  caller turns a non-empty failure list into a non-zero exit status.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ser.datadir import LABELS_FILE, DataDir, write_map
from ser.errors import InputFileError, SerError
from ser.fileio import atomic_write, write_text_atomic
from ser.frontend.arkio import ArkAppender, recover, sort_scp
from ser.frontend.featureset import FeatureSet
from ser.frontend.featurise import lost_task
from ser.frontend.spill import (
    SpilledMatrix,
    extract_task,
    fresh_spill_dir,
    init_extract_worker,
    write_spilled,
)
from ser.frontend.versions import package_versions
from ser.limits import load_yaml_file
from ser.lock import OutputLock
from ser.parallel import ordered_map

#: maps copied from the input data dir so the feature dir is a complete data dir of its own
PASSTHROUGH_EXCLUDE = {"feats.scp", "utt2num_frames"}


@dataclass
class Failure:
    utt: str
    path: str
    reason: str


@dataclass
class ExtractResult:
    out_dir: Path
    extracted: int = 0
    reused: int = 0
    failures: list[Failure] = field(default_factory=list)
    dim: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


# --- driver --------------------------------------------------------------------------------------
def _feature_header(fs: FeatureSet) -> dict[str, Any]:
    extractor = fs.build()
    shift = extractor.frame_shift * fs.average_frames if extractor.frame_shift else None
    return {
        "feature_set": fs.to_dict(),
        "dim": extractor.dim,
        "names": list(extractor.names),
        "frame_shift": shift,
        "versions": package_versions(),
    }


def _check_same_config(feats_yaml: Path, header: dict[str, Any]) -> None:
    old = load_yaml_file(feats_yaml, "feature header") or {}
    if old.get("feature_set") != header["feature_set"]:
        raise SerError(
            f"{feats_yaml.parent} already holds features made with another configuration "
            f"('{old.get('feature_set', {}).get('name')}'); use another output dir or --overwrite"
        )


def extract(
    data: DataDir,
    out_dir: str | Path,
    fs: FeatureSet,
    nj: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
    input_problems: list[str] | None = None,
    cluster: str | None = None,
) -> ExtractResult:
    """Extract `fs` for every utterance of `data` into `out_dir` (a data dir with feats.scp); one writer at a time."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(out_dir):
        return _extract(data, out_dir, fs, nj, overwrite, progress, input_problems, cluster)


def _extract(data: DataDir, out_dir: Path, fs: FeatureSet, nj: int, overwrite: bool, progress: bool | None,
             input_problems: list[str] | None, cluster: str | None) -> ExtractResult:
    ark, scp, feats_yaml = out_dir / "feats.ark", out_dir / "feats.scp", out_dir / "feats.yaml"
    header = _feature_header(fs)
    if overwrite:
        for path in (ark, scp, feats_yaml, out_dir / "utt2num_frames", out_dir / "failed.txt"):
            if path.exists():
                path.unlink()
    elif feats_yaml.exists():
        _check_same_config(feats_yaml, header)
    with atomic_write(feats_yaml) as handle:
        yaml.safe_dump(header, handle, sort_keys=False)

    done = recover(ark, scp)
    result = ExtractResult(out_dir=out_dir, reused=len([u for u in data.utts if u in done]), dim=header["dim"])
    for problem in input_problems or []:
        print(f"ser extract: {problem}", file=sys.stderr)
        result.failures.append(Failure(utt="-", path=problem.split(":", 1)[0], reason=problem.split(": ", 1)[-1]))
    utts, tasks = [], []
    perturb = data.get("utt2perturb") or {}  # augmented copies (ser.frontend.perturb) carry their perturbation
    for utt in data.utts:
        if utt in done:
            continue
        if utt not in data.utt2spk:  # features without a speaker would leave an invalid data dir behind
            where = f"{data.path or 'data dir'}/utt2spk"
            print(f"ser extract: {where}: no entry for utterance {utt} (skipped; add its speaker)", file=sys.stderr)
            result.failures.append(Failure(utt=utt, path=where, reason="no utt2spk entry (speaker unknown)"))
            continue
        try:
            tasks.append(data.audio_source(utt) + ((perturb[utt],) if utt in perturb else ()))
            utts.append(utt)
        except InputFileError as exc:  # e.g. a segments line naming a recording wav.scp lacks: the rest goes on
            print(f"ser extract: {exc} (utterance {utt} skipped)", file=sys.stderr)
            result.failures.append(Failure(utt=utt, path=exc.path, reason=exc.reason))

    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="extract", unit="utt", file=sys.stderr, disable=not show)
    spill_dir = fresh_spill_dir(out_dir) if shares_filesystem(cluster) else None
    try:
        with ArkAppender(ark, scp) as writer:
            results = ordered_map(extract_task, tasks, nj, initializer=init_extract_worker,
                                  initargs=(fs.to_dict(), 1, spill_dir and str(spill_dir)), cluster=cluster,
                                  on_lost=lost_task)
            for utt, task, (feats, error) in zip(utts, tasks, results):
                bar.update(1)
                if error is not None:
                    print(f"ser extract: {task[0]}: {error} (utterance {utt} skipped)", file=sys.stderr)
                    result.failures.append(Failure(utt=utt, path=task[0], reason=error))
                    continue
                if isinstance(feats, SpilledMatrix):
                    write_spilled(writer, utt, feats)
                else:
                    writer.append(utt, feats)
                result.extracted += 1
    finally:
        if spill_dir is not None:
            shutil.rmtree(spill_dir, ignore_errors=True)
    bar.close()

    sort_scp(scp)
    frames = _num_frames(scp)
    # the feature dir is a data dir of its own (labels, speakers...) holding only extracted utterances
    inputs = DataDir(maps={k: v for k, v in data.maps.items() if k not in PASSTHROUGH_EXCLUDE}, segments=data.segments)
    inputs.subset_utts(frames).write(out_dir)
    if data.path is not None and (Path(data.path) / LABELS_FILE).is_file():
        write_text_atomic(out_dir / LABELS_FILE, (Path(data.path) / LABELS_FILE).read_text(encoding="utf-8"))
    write_map(out_dir / "utt2num_frames", frames)
    _write_failures(out_dir / "failed.txt", result.failures)
    return result


def shares_filesystem(cluster: str | None) -> bool:
    """True when the workers see this machine's files (local processes, a `local:N` Dask cluster), so long
    utterances travel through the spill folder (``ser.frontend.spill``); a remote cluster's workers send every
    matrix back whole, so there a worker's memory grows with its longest file's feature matrix."""
    return not cluster or cluster.startswith("local:")


def _num_frames(scp: Path) -> dict[str, int]:
    """Rows of every matrix, read from the ark headers only (no feature data is loaded)."""
    from ser.frontend.arkio import parse_scp_line, read_matrix_shape

    frames: dict[str, int] = {}
    handles: dict[str, Any] = {}
    try:
        with open(scp, encoding="utf-8") as lines:
            for line in lines:
                parsed = parse_scp_line(line)
                if parsed is None:
                    continue
                utt, ark, offset = parsed
                handle = handles.get(ark) or handles.setdefault(ark, open(ark, "rb"))
                frames[utt] = read_matrix_shape(handle, offset)[0]
    finally:
        for handle in handles.values():
            handle.close()
    return frames


def _write_failures(path: Path, failures: list[Failure]) -> None:
    write_text_atomic(path, "".join(f"{f.utt}\t{f.path}\t{f.reason}\n" for f in failures))


def extract_copies(data: DataDir, out_dir: str | Path, fs: FeatureSet, kinds: list, nj: int = 1, overwrite: bool = False,
                   progress: bool | None = None, cluster: str | None = None) -> ExtractResult:
    """Features of augmented copies (``ser.frontend.perturb``) of `data` into `out_dir`/augment, a data dir of its
    own beside the originals: folds, statistics and tests built from `out_dir` never see a copy."""
    from ser.frontend.perturb import AUGMENT_DIR, augment_datadir

    copies = augment_datadir(data, kinds)
    return extract(copies, Path(out_dir) / AUGMENT_DIR, fs, nj=nj, overwrite=overwrite, progress=progress,
                   cluster=cluster)


__all__ = ["PASSTHROUGH_EXCLUDE", "ExtractResult", "Failure", "extract", "extract_copies", "shares_filesystem"]
