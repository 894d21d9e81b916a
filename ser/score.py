"""Scoring new audio with a model bundle: clips -> features -> normalisation -> posteriors.

Inputs are audio files, folders (searched recursively), list files (one path per line) or data dirs
(wav.scp + utt2spk, segments honoured). Each clip gives one row (`ClipResult`): the label and the
posterior of every class, which statistics normalised it, or the reason it could not be scored.

Normalisation is the bundle's fitted normaliser (``ser.normalization``, the same object training used).
Per-speaker modes adapt to the run: clips with a known speaker (`--speaker`, `--utt2spk`, a data dir's
utt2spk, or the recording a VAD segment comes from) are normalised with that speaker's own statistics
pooled over all of the speaker's clips in the run (unlabelled audio: the training protocol); a clip without
a speaker falls back to the training speakers' pooled statistics. Features come from the same function as
`ser extract` (``ser.frontend.featurise``); the model is any classifier (``ser.classifier``), and a
non-torch one scores without importing torch.

Long recordings (`segment="vad"`) are cut by the streaming VAD of `ser.segment`; each segment
is one row (a timeline) and only the segment being featurised is held as audio. Without VAD, a file longer than
`max_clip` seconds is cut into equal windows (`window_long_clips`), a row each, so memory stays flat in file
length and no hour-long file gets a single label from a model that learnt from utterances.

A data dir's utt2emo gives each clip a reference label (`Clip.reference`, a column of the rows);
``ser.score_metrics`` compares the labels with it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TextIO

import numpy as np

from ser.errors import InputFileError, SerError


@dataclass
class Clip:
    id: str
    path: str
    speaker: str | None = None
    start: float | None = None
    end: float | None = None
    error: str | None = None  # known before extraction (missing file, no speech)
    reference: str | None = None  # the data's label (a data dir's utt2emo), when known


@dataclass
class ClipResult:
    clip: Clip
    posteriors: np.ndarray | None = None
    label: str | None = None
    normalization: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ScoreRun:
    classes: list[str]
    results: list[ClipResult] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def labelled(self) -> bool:
        """True when some clip carries a reference label (the rows then get a reference column)."""
        return any(r.clip.reference is not None for r in self.results)


# --- inputs ------------------------------------------------------------------------------------------
def _audio_extensions() -> tuple[str, ...]:
    from ser.corpora.wavdir import AUDIO_EXTENSIONS

    return AUDIO_EXTENSIONS


def _walk_audio(folder: Path) -> list[Path]:
    exts = _audio_extensions()
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in exts]
    return sorted(found)


def collect_clips(inputs: Sequence[str | Path], speaker: str | None = None, utt2spk: dict[str, str] | None = None,
                  _lists: tuple[Path, ...] = ()) -> list[Clip]:
    """Expand inputs into clips (order kept; folders sorted); a missing path becomes an error row, and so does
    a list file that lists itself or a list that lists it (`_lists`: the list files being expanded)."""
    from ser.datadir import DataDir
    from ser.listfile import list_entries

    clips: list[Clip] = []
    exts = _audio_extensions()

    def add_file(path: Path, shown: str) -> None:
        clips.append(Clip(id=shown, path=str(path)))

    for item in inputs:
        path = Path(item)
        if path.is_dir() and (path / "wav.scp").is_file() and (path / "utt2spk").is_file():
            data = DataDir.read(path)
            utt2emo = data.get("utt2emo") or {}
            for utt in data.utts:
                try:
                    wav, start, end = data.audio_source(utt)
                except InputFileError as exc:  # a segments line naming a recording wav.scp lacks
                    clips.append(Clip(id=utt, path=exc.path, speaker=data.utt2spk.get(utt), error=exc.reason))
                    continue
                clips.append(Clip(id=utt, path=wav, speaker=data.utt2spk.get(utt), start=start, end=end,
                                  reference=utt2emo.get(utt)))
        elif path.is_dir():
            files = _walk_audio(path)
            if not files:
                clips.append(Clip(id=str(path), path=str(path), error="folder holds no audio files"))
            for f in files:
                add_file(f, str(f))
        elif path.is_file() and path.suffix.lower() not in exts and _is_text(path):
            if path.resolve() in _lists:
                clips.append(Clip(id=str(item), path=str(item), error=f"list file {item} lists itself (a cycle of list files)"))
                continue
            for line, refused in list_entries(path):
                if line is None:
                    clips.append(Clip(id=str(item), path=str(item), error=refused))
                    continue
                entry = Path(line)
                if not entry.is_absolute() and not entry.exists() and (path.parent / entry).exists():
                    entry = path.parent / entry
                sub = collect_clips([entry], _lists=_lists + (path.resolve(),))
                clips.extend(sub)
        elif path.exists():
            add_file(path, str(item))
        else:
            from ser.audio import not_a_readable_file

            clips.append(Clip(id=str(item), path=str(item), error=not_a_readable_file(path) or "file does not exist"))
    for clip in clips:
        if speaker is not None:
            clip.speaker = speaker
        elif utt2spk:
            for key in (clip.id, clip.path, Path(clip.path).name, Path(clip.path).stem):
                if key in utt2spk:
                    clip.speaker = utt2spk[key]
                    break
    return clips


def _is_text(path: Path) -> bool:
    with open(path, "rb") as handle:  # the head only: a large file is never read whole to decide
        head = handle.read(4096)
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_utt2spk(path: str | Path) -> dict[str, str]:
    """`key speaker` lines; the key is a clip id, a path, a file name or a file stem."""
    from ser.limits import check_file_size
    from ser.listfile import MAX_LIST_BYTES

    check_file_size(path, MAX_LIST_BYTES, "clip-to-speaker file")
    out = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise SerError(f"{path}:{lineno}: expected 'clip speaker', got '{line}'")
        out[parts[0]] = parts[1]
    return out


def segment_clips(clips: list[Clip], vad_cfg=None, method: str = "energy") -> list[Clip]:
    """Replace each whole-file clip by its VAD segments; the recording is the speaker unless one was given."""
    from ser.segment import vad_segments

    out: list[Clip] = []
    for clip in clips:
        if clip.error or clip.start is not None:
            out.append(clip)
            continue
        try:
            segments = vad_segments(clip.path, vad_cfg, method)
        except InputFileError as exc:
            out.append(Clip(id=clip.id, path=clip.path, speaker=clip.speaker, error=exc.reason))
            continue
        if not segments:
            out.append(Clip(id=clip.id, path=clip.path, speaker=clip.speaker, error="no speech found by the VAD"))
            continue
        spk = clip.speaker if clip.speaker is not None else clip.id
        out.extend(Clip(id=clip.id, path=clip.path, speaker=spk, start=s, end=e) for s, e in segments)
    return out


def window_long_clips(clips: list[Clip], max_clip: float, window: float) -> list[Clip]:
    """Whole files longer than `max_clip` s become consecutive windows of about `window` s, one row each, the
    recording their speaker (as VAD segments are). Why: the models learnt from utterances of a few seconds, one
    label for an hour says nothing, and a whole-file pass (functionals need one) would hold the hour's audio."""
    from ser.audio import open_audio

    out: list[Clip] = []
    for clip in clips:
        if clip.error or clip.start is not None or max_clip <= 0:
            out.append(clip)
            continue
        try:
            duration = open_audio(clip.path).duration
        except InputFileError as exc:
            out.append(Clip(id=clip.id, path=clip.path, speaker=clip.speaker, error=exc.reason, reference=clip.reference))
            continue
        if duration <= max_clip:
            out.append(clip)
            continue
        parts = int(np.ceil(duration / window))
        step = duration / parts
        spk = clip.speaker if clip.speaker is not None else clip.id
        out.extend(Clip(id=clip.id, path=clip.path, speaker=spk, start=round(i * step, 3),
                        end=round(min(duration, (i + 1) * step), 3)) for i in range(parts))
    return out


# --- features ----------------------------------------------------------------------------------------
def extract_features(clips: Sequence[Clip], feature_dict: dict[str, Any], nj: int = 1, threads: int = 1,
                     cluster: str | None = None) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """Features of each clip in order (workers in parallel with `nj` > 1), by `ser extract`'s own function."""
    from ser.frontend.featurise import featurise_task, init_featuriser, lost_task
    from ser.parallel import ordered_map

    tasks = [(c.path, c.start, c.end) for c in clips]
    yield from ordered_map(featurise_task, tasks, nj if len(tasks) > 1 else 1, initializer=init_featuriser,
                           initargs=(feature_dict, threads if nj <= 1 and not cluster else 1), cluster=cluster,
                           on_lost=lost_task, in_flight=SCORE_IN_FLIGHT * max(1, nj) if not cluster else 0)


#: clips submitted ahead per local worker. Rows come back in input order, so with the pool's default 2 a worker
#: that finished the short clips behind a long one idles until the long one is done; a clip's features are small
#: (one vector, or a window of at most --max-clip s of frames), so 8 a worker cost little memory
SCORE_IN_FLIGHT = 8


# --- scoring -----------------------------------------------------------------------------------------
class Scorer:
    """A loaded bundle ready to score: classifier and normaliser are built once and reused."""

    def __init__(self, bundle, threads: int = 0) -> None:
        from ser.classifier import load_classifier
        from ser.normalization import load_normalization

        self.bundle = bundle
        try:
            self.classifier = load_classifier(bundle.meta["spec"], bundle.classes, bundle.model_state, bundle.onnx_graph)
        except SerError as exc:
            raise SerError(f"{bundle.path}: {exc}") from None
        self.normalization = load_normalization(bundle.normalization, bundle.norm_state)
        self.temperature = float((bundle.meta.get("calibration") or {}).get("temperature") or 1.0)
        self.classes = bundle.classes
        if threads and sys.modules.get("torch") is not None:
            sys.modules["torch"].set_num_threads(threads)

    def posteriors(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        if not inputs:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        post = self.classifier.posteriors(inputs)
        if self.temperature != 1.0:  # the bundle's calibration (ser.calibration): the arg-max is unchanged
            from ser.calibration import apply_temperature

            post = apply_temperature(post, self.temperature)
        return post

    def normalise(self, clips: Sequence[Clip], feats: Sequence[np.ndarray | None]) -> tuple[list[np.ndarray | None], list[str]]:
        """Normalised inputs and, per clip, which statistics were used (a speaker's: with their clip count)."""
        from ser.frontend.cmvn import pool_by_speaker

        norm = self.normalization
        grouped = [(clip.speaker, f) for clip, f in zip(clips, feats) if f is not None and clip.speaker is not None]
        counts = Counter(spk for spk, _ in grouped)
        if norm.uses_speaker_stats:
            norm.adapt(pool_by_speaker(grouped))
        out: list[np.ndarray | None] = [None] * len(clips)
        used = [""] * len(clips)
        for i, (clip, f) in enumerate(zip(clips, feats)):
            if f is None:
                continue
            out[i], used[i] = norm.apply(f, clip.speaker)
            if used[i] == f"speaker:{clip.speaker}":
                used[i] += f"({counts[clip.speaker]})"
        return out, used

    def score_features(self, clips: Sequence[Clip], feats: Sequence[np.ndarray | None], errors: Sequence[str | None]) -> ScoreRun:
        run = ScoreRun(classes=self.classes)
        inputs, used = self.normalise(clips, feats)
        good = [i for i, x in enumerate(inputs) if x is not None]
        post = self.posteriors([inputs[i] for i in good])
        by_index = dict(zip(good, post))
        for i, clip in enumerate(clips):
            if i in by_index:
                p = by_index[i]
                run.results.append(ClipResult(clip, p, self.classes[int(np.argmax(p))], used[i]))
            else:
                run.results.append(ClipResult(clip, error=errors[i] or clip.error or "not scored"))
        return run

    def score(self, clips: Sequence[Clip], nj: int = 1, threads: int = 1, cluster: str | None = None) -> ScoreRun:
        return ScoreRun(classes=self.classes, results=list(self.stream(clips, nj, threads, cluster)))

    def stream(self, clips: Sequence[Clip], nj: int = 1, threads: int = 1, cluster: str | None = None) -> Iterator[ClipResult]:
        """Rows in input order, each as soon as it is final, so writers can put it on disk before the run ends.

        A row is final when its clip is featurised, except under per-speaker normalisation: a speaker's statistics
        pool all of the speaker's clips in the run, so their rows wait for the speaker's last clip (a data dir
        sorted by speaker streams speaker by speaker; one `--speaker` for every clip streams nothing until the end).
        """
        for rows in self.stream_groups(clips, nj, threads, cluster):
            yield from rows

    def stream_groups(self, clips: Sequence[Clip], nj: int = 1, threads: int = 1,
                      cluster: str | None = None) -> Iterator[list[ClipResult]]:
        """`stream`'s rows in lists of those that became final together (a speaker's clips, at their last one), so a
        writer that syncs each write to disk (`ser score --csv`) syncs once a group, not once a row."""
        grouped = self.normalization.uses_speaker_stats
        left = Counter(c.speaker for c in clips if grouped and c.error is None and c.speaker is not None)
        feats: dict[int, np.ndarray | None] = {}
        errors: dict[int, str | None] = {}
        waiting: dict[str, list[int]] = {}
        ready: dict[int, ClipResult] = {}
        next_row = 0
        for i, f, err in self._features_in_order(clips, nj, threads, cluster):
            feats[i], errors[i] = f, err
            speaker = clips[i].speaker
            if clips[i].error is None and speaker in left:  # a clip known bad beforehand was never counted
                waiting.setdefault(speaker, []).append(i)
                left[speaker] -= 1
                group = waiting.pop(speaker) if left[speaker] == 0 else []
            else:
                group = [i]
            if group:
                run = self.score_features([clips[j] for j in group], [feats.pop(j) for j in group], [errors.pop(j) for j in group])
                ready.update(zip(group, run.results))
            rows = []
            while next_row in ready:
                rows.append(ready.pop(next_row))
                next_row += 1
            if rows:
                yield rows

    def _features_in_order(self, clips: Sequence[Clip], nj: int, threads: int,
                           cluster: str | None) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
        """(index, features or None, error or None) of every clip in order; clips known bad are not extracted."""
        extracted = extract_features([c for c in clips if c.error is None], self.bundle.feature_set_dict, nj, threads, cluster)
        for i, clip in enumerate(clips):
            f, err = next(extracted) if clip.error is None else (None, clip.error)
            yield i, f, err


def score_feature_dir(scorer: Scorer, feat_dir: str | Path, utts: Sequence[str] | None = None,
                      alone: bool = False, group: str | None = None) -> ScoreRun:
    """Score the matrices of an extracted feature dir (refused if made with another feature set): every utterance
    or `utts`, grouped by their speakers or, with `alone`, each with the training speakers' statistics, or with
    `group`, all as that one speaker (what `ser score --speaker GROUP` does with the same clips)."""
    if alone and group:
        raise SerError("score_feature_dir: alone or group, not both")
    from ser.datadir import DataDir
    from ser.frontend.arkio import open_scp
    from ser.limits import load_yaml_file

    feat_dir = Path(feat_dir)
    header = load_yaml_file(feat_dir / "feats.yaml", "feature header") if (feat_dir / "feats.yaml").is_file() else {}
    scorer.bundle.check_features(header, str(feat_dir))
    data = DataDir.read(feat_dir)
    reader = open_scp(feat_dir / "feats.scp")
    utts = sorted(reader) if utts is None else list(utts)
    utt2emo = data.get("utt2emo") or {}
    clips = [Clip(id=u, path=data.wav_scp.get(u, ""), speaker=None if alone else group or data.utt2spk.get(u),
                  reference=utt2emo.get(u)) for u in utts]
    feats = [np.asarray(reader[u], dtype=np.float32) for u in utts]
    return scorer.score_features(clips, feats, [None] * len(clips))


# --- output ------------------------------------------------------------------------------------------
def _row(r: ClipResult, classes: Sequence[str], digits: int = 4, reference: bool = False) -> dict[str, Any]:
    row = {"clip": r.clip.id, "path": r.clip.path, "speaker": r.clip.speaker, "start": r.clip.start, "end": r.clip.end,
           "label": r.label, "confidence": None if r.posteriors is None else round(float(np.max(r.posteriors)), digits),
           "posteriors": None if r.posteriors is None else
           {c: round(float(p), digits) for c, p in zip(classes, r.posteriors)},
           "normalization": r.normalization or None, "error": r.error}
    if reference:
        row["reference"] = r.clip.reference
    return row


def json_line(r: ClipResult, classes: Sequence[str], reference: bool = False) -> str:
    """One clip as a JSON line; a `reference` key when the inputs carry reference labels."""
    return json.dumps(_row(r, classes, 6, reference=reference)) + "\n"


def csv_header(classes: Sequence[str], reference: bool = False) -> list[str]:
    return ["clip", "path", "speaker", "start", "end", "label", "confidence", *(["reference"] if reference else []),
            *classes, "normalization", "error"]


def csv_cells(r: ClipResult, classes: Sequence[str], reference: bool = False) -> list[str]:
    """One clip's CSV cells; a `reference` column after `label` when the inputs carry reference labels."""
    post = ["" if r.posteriors is None else f"{p:.6f}" for p in (r.posteriors if r.posteriors is not None else classes)]
    return [r.clip.id, r.clip.path, r.clip.speaker or "", "" if r.clip.start is None else f"{r.clip.start:.3f}",
            "" if r.clip.end is None else f"{r.clip.end:.3f}", r.label or "",
            "" if r.posteriors is None else f"{np.max(r.posteriors):.6f}",
            *([r.clip.reference or ""] if reference else []), *post, r.normalization, r.error or ""]


def csv_line(cells: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(cells)
    return buf.getvalue()


def write_jsonl(run: ScoreRun, out: TextIO) -> None:
    """One JSON object a clip; a `reference` key when the inputs carry reference labels."""
    for r in run.results:
        out.write(json_line(r, run.classes, run.labelled))


def write_csv(run: ScoreRun, out: TextIO) -> None:
    """One line a clip; a `reference` column after `label` when the inputs carry reference labels."""
    out.write(csv_line(csv_header(run.classes, run.labelled)))
    for r in run.results:
        out.write(csv_line(csv_cells(r, run.classes, run.labelled)))


def format_table(run: ScoreRun) -> str:
    """A plain-text table: clip, [start end], label and its confidence (the label's posterior), one column per
    class, the statistics used, errors."""
    timed = any(r.clip.start is not None for r in run.results)
    head = ["clip"] + (["start", "end"] if timed else []) + ["label", "conf"] + [c[:9] for c in run.classes] + ["norm"]
    rows = []
    for r in run.results:
        cells = [r.clip.id]
        if timed:
            cells += ["" if r.clip.start is None else f"{r.clip.start:.2f}", "" if r.clip.end is None else f"{r.clip.end:.2f}"]
        if r.ok:
            cells += [r.label, f"{np.max(r.posteriors):.2f}"] + [f"{p:.3f}" for p in r.posteriors] + [r.normalization]
        else:
            cells += ["ERROR", ""] + [""] * len(run.classes) + [r.error]
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    widths[-1] = len(head[-1])
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(cells, widths)).rstrip() for cells in [head] + rows]
    return "\n".join(lines) + "\n"


def plot_timeline(run: ScoreRun, path: str | Path, max_recordings: int = 8) -> Path:
    """One panel per recording: posterior of each class over time, the winning label shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ser.fileio import atomic_write

    recordings: dict[str, list[ClipResult]] = {}
    for r in run.results:
        if r.ok and r.clip.start is not None:
            recordings.setdefault(r.clip.id, []).append(r)
    if not recordings:
        raise SerError("--plot needs segments with scores (use --segment vad on a recording with speech)")
    names = list(recordings)[:max_recordings]
    colors = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(run.classes)}
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        segs = recordings[name]
        for r in segs:
            ax.axvspan(r.clip.start, r.clip.end, color=colors[r.label], alpha=0.15, lw=0)
            for c, p in zip(run.classes, r.posteriors):
                ax.hlines(p, r.clip.start, r.clip.end, color=colors[c], lw=2)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, max(r.clip.end for r in segs))
        ax.set_ylabel("posterior")
        ax.set_title(Path(name).name, fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    handles = [plt.Line2D([], [], color=colors[c], lw=3) for c in run.classes]
    fig.legend(handles, run.classes, loc="upper right", ncol=min(len(run.classes), 7), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    with atomic_write(path, mode="wb") as out:
        out.write(buf.getvalue())
    return Path(path)


__all__ = [
    "SCORE_IN_FLIGHT",
    "Clip",
    "ClipResult",
    "ScoreRun",
    "Scorer",
    "collect_clips",
    "csv_cells",
    "csv_header",
    "csv_line",
    "extract_features",
    "format_table",
    "json_line",
    "plot_timeline",
    "read_utt2spk",
    "score_feature_dir",
    "segment_clips",
    "window_long_clips",
    "write_csv",
    "write_jsonl",
]
