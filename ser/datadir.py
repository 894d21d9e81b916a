"""Kaldi-style data directories: plain sorted `utt-id value` text files.

A data dir is the hand-off format between every stage (prepare -> extract -> folds -> train), so
tools from Kaldi, ESPnet and Lhotse can read ours. `spk2utt` is always derived from `utt2spk`.
Validation follows Kaldi's validate_data_dir.sh: sorted (C locale), unique ids, every utterance
present in every per-utterance map, speaker ids prefixing utterance ids, audio files present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ser.errors import DataDirError, InputFileError
from ser.fileio import atomic_write

#: Per-utterance maps a data dir may hold, beside the required `wav.scp` and `utt2spk`.
OPTIONAL_UTT_MAPS = (
    "utt2emo",
    "utt2emo_full",
    "utt2gender",
    "utt2session",
    "utt2dialog",
    "utt2turn",
    "utt2corpus",
    "utt2orig",  # augmented copies (ser.frontend.perturb): copy -> original utterance
    "utt2perturb",  # augmented copies: the perturbation that made each
    "text",
    "utt2num_frames",
    "feats.scp",
)
REQUIRED_MAPS = ("wav.scp", "utt2spk")
#: the class set of a data dir and how each corpus's labels were mapped into it (written by `ser combine`;
#: carried into feature dirs, experiments and model files)
LABELS_FILE = "labels.yaml"


def read_map(path: str | Path, problems: list[str] | None = None) -> dict[str, str]:
    """Read `key value...` lines; a duplicate key is an error naming file and line.

    With a `problems` list, duplicates and unreadable lines (not UTF-8, a NUL byte) are recorded there
    instead (first occurrence kept, bad line left out), so a batch tool can report them and go on.
    """
    from ser.limits import MAX_LINE_CHARS, bounded_byte_lines, decode_line

    path = Path(path)
    mapping: dict[str, str] = {}
    with open(path, "rb") as handle:
        for lineno, data in bounded_byte_lines(handle):
            try:
                if data is None:  # read in bounded pieces and dropped: never held whole
                    raise InputFileError(path, f"line {lineno} is longer than {MAX_LINE_CHARS} bytes; left out")
                line = decode_line(data, path, lineno).rstrip("\r\n")
                if lineno == 1:  # a byte-order mark (Windows editors) would become part of the first id
                    line = line.removeprefix("\ufeff")
                if path.name != "text" and len(line.split(maxsplit=1)) == 1:  # only `text` may hold an empty value
                    raise InputFileError(f"{path}:{lineno}", f"'{line.strip()}' has no value (expected 'id value')")
            except InputFileError as exc:
                if problems is None:
                    raise DataDirError(str(exc)) from None
                problems.append(str(exc))
                continue
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            key = parts[0]
            value = parts[1].strip() if len(parts) > 1 else ""
            if key in mapping:
                message = f"{path}:{lineno}: duplicate id '{key}' (first occurrence kept)"
                if problems is None:
                    raise DataDirError(message)
                problems.append(message)
                continue
            mapping[key] = value
    return mapping


def _spk2utt_problems(path: Path, derived: Mapping[str, list[str]]) -> list[str]:
    """spk2utt is derived from utt2spk, but Kaldi tools read the file: one that disagrees is reported."""
    problems: list[str] = []
    on_disk = {spk: sorted(utts.split()) for spk, utts in read_map(path, problems).items()}
    if on_disk != {spk: sorted(utts) for spk, utts in derived.items()}:
        differ = sorted(s for s in set(on_disk) | set(derived) if on_disk.get(s) != sorted(derived.get(s, [])))
        problems.append(f"{path}: does not match utt2spk (e.g. speaker '{differ[0]}'); ser derives it from utt2spk, "
                        "Kaldi tools read it: regenerate it (utils/utt2spk_to_spk2utt.pl) or delete it")
    return problems


def write_map(path: str | Path, mapping: Mapping[str, object]) -> None:
    """Write a map sorted by key (C-locale order), atomically; a key or value holding a line break would
    split its line (and unsort the file), so it is refused before anything is written."""
    broken = next((k for k, v in mapping.items() if any(c in f"{k}{v}" for c in "\n\r")), None)
    if broken is not None:
        raise DataDirError(f"{path}: entry {broken!r} holds a line break, which a one-line-per-entry file cannot hold")
    with atomic_write(path) as handle:
        for key in sorted(mapping):
            handle.write(f"{key} {mapping[key]}\n")


def is_sorted_file(path: str | Path) -> bool:
    """True when the file's keys appear in C-locale sorted order (what Kaldi tools require)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace").removeprefix("\ufeff")  # bad bytes: read_map
    keys = [line.split(maxsplit=1)[0] for line in text.splitlines() if line.strip()]
    return keys == sorted(keys)


def spk2utt_from(utt2spk: Mapping[str, str]) -> dict[str, list[str]]:
    """Invert utt2spk into speaker -> sorted utterance list."""
    out: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        out.setdefault(utt2spk[utt], []).append(utt)
    return out


@dataclass
class DataDir:
    """In-memory view of a data dir: a dict of per-utterance maps keyed by file name."""

    maps: dict[str, dict[str, str]] = field(default_factory=dict)
    segments: dict[str, tuple[str, float, float]] | None = None
    path: Path | None = None

    # --- accessors -------------------------------------------------------------------------
    @property
    def wav_scp(self) -> dict[str, str]:
        return self.maps["wav.scp"]

    @property
    def utt2spk(self) -> dict[str, str]:
        return self.maps["utt2spk"]

    @property
    def utt2emo(self) -> dict[str, str]:
        if "utt2emo" not in self.maps:
            raise DataDirError(f"{self.path or 'data dir'}: no utt2emo (labels); this step needs labelled data")
        return self.maps["utt2emo"]

    @property
    def utts(self) -> list[str]:
        """Sorted utterance ids (from `segments` when present, else from wav.scp)."""
        if self.segments is not None:
            return sorted(self.segments)
        return sorted(self.wav_scp)

    @property
    def speakers(self) -> list[str]:
        return sorted(set(self.utt2spk.values()))

    def spk2utt(self) -> dict[str, list[str]]:
        return spk2utt_from(self.utt2spk)

    def get(self, name: str) -> dict[str, str] | None:
        return self.maps.get(name)

    def audio_source(self, utt: str) -> tuple[str, float | None, float | None]:
        """(audio path, start s, end s) for an utterance; start/end are None without segments."""
        if self.segments is not None:
            reco, start, end = self.segments[utt]
            if reco not in self.wav_scp:
                raise InputFileError(f"{self.path or 'data dir'}/segments",
                                     f"utterance {utt} names recording '{reco}', which wav.scp lacks")
            return self.wav_scp[reco], start, end
        return self.wav_scp[utt], None, None

    # --- I/O ---------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, problems: list[str] | None = None) -> "DataDir":
        """Read a data dir; with `problems`, duplicate ids are collected there rather than raised."""
        path = Path(path)
        if not path.is_dir():
            raise DataDirError(f"{path}: not a directory")
        maps: dict[str, dict[str, str]] = {}
        for name in REQUIRED_MAPS:
            if not (path / name).is_file():
                raise DataDirError(f"{path}: missing required file '{name}' (a data dir needs wav.scp and utt2spk)")
            maps[name] = read_map(path / name, problems)
        for name in OPTIONAL_UTT_MAPS:
            if (path / name).is_file():
                maps[name] = read_map(path / name, problems)
        segments = None
        if (path / "segments").is_file():
            segments = {}
            for utt, value in read_map(path / "segments").items():
                parts = value.split()
                try:
                    if len(parts) != 3:
                        raise ValueError
                    segments[utt] = (parts[0], float(parts[1]), float(parts[2]))
                except ValueError:
                    raise DataDirError(f"{path / 'segments'}: '{utt}' needs 'reco start end' (times in seconds), "
                                       f"got '{value}'") from None
        return cls(maps=maps, segments=segments, path=path)

    def write(self, path: str | Path) -> None:
        """Write every map (sorted, atomically) plus the derived spk2utt."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name, mapping in self.maps.items():
            write_map(path / name, mapping)
        write_map(path / "spk2utt", {spk: " ".join(utts) for spk, utts in self.spk2utt().items()})
        if self.segments is not None:
            write_map(path / "segments", {u: f"{r} {s:.4f} {e:.4f}" for u, (r, s, e) in self.segments.items()})
        self.path = path

    # --- checks ------------------------------------------------------------------------------
    def problems(self, check_files: bool = True) -> list[str]:
        """Every violation of the data-dir rules, as messages; empty when the dir is valid."""
        where = str(self.path or "data dir")
        found: list[str] = []
        utts = set(self.utts)
        for name, mapping in self.maps.items():
            if name == "wav.scp" and self.segments is not None:
                continue
            missing = utts - set(mapping)
            extra = set(mapping) - utts
            if missing:
                found.append(f"{where}/{name}: {len(missing)} utterances missing, e.g. {sorted(missing)[0]}")
            if extra:
                found.append(f"{where}/{name}: {len(extra)} ids not in wav.scp, e.g. {sorted(extra)[0]}")
        if self.path is not None:
            for name in list(self.maps) + ["spk2utt"] + (["segments"] if self.segments is not None else []):
                file = self.path / name
                if file.is_file() and not is_sorted_file(file):
                    found.append(f"{file}: not sorted (Kaldi tools need C-locale order)")
        if self.segments is not None:
            unknown = sorted(u for u, (reco, _, _) in self.segments.items() if reco not in self.wav_scp)
            if unknown:
                found.append(f"{where}/segments: {len(unknown)} utterances name recordings wav.scp lacks, e.g. "
                             f"{unknown[0]} -> {self.segments[unknown[0]][0]}")
            bad = sorted(u for u, (_, start, end) in self.segments.items() if start < 0 or (end > 0 and end <= start))
            if bad:
                found.append(f"{where}/segments: {len(bad)} utterances with an empty or negative span, e.g. {bad[0]}")
        if self.path is not None and (self.path / "spk2utt").is_file():
            found += _spk2utt_problems(self.path / "spk2utt", self.spk2utt())
        for utt, spk in self.utt2spk.items():
            if not utt.startswith(spk):
                found.append(f"{where}/utt2spk: utterance '{utt}' does not start with its speaker id '{spk}'")
                break
        if check_files:
            for key, wav in self.wav_scp.items():
                if wav.endswith("|"):
                    found.append(f"{where}/wav.scp: '{key}' is a piped command; ser reads plain file paths only")
                elif not Path(wav).is_file():
                    found.append(f"{where}/wav.scp: '{key}' points to a missing file {wav}")
        return found

    def validate(self, check_files: bool = True) -> None:
        """Raise DataDirError listing every problem (not just the first)."""
        found = self.problems(check_files=check_files)
        if found:
            raise DataDirError("invalid data dir:\n  " + "\n  ".join(found))

    # --- subsets -----------------------------------------------------------------------------
    def subset_utts(self, keep: Iterable[str]) -> "DataDir":
        keep_set = set(keep)
        maps = {name: {u: v for u, v in m.items() if u in keep_set} for name, m in self.maps.items()}
        segments = None
        if self.segments is not None:
            segments = {u: v for u, v in self.segments.items() if u in keep_set}
            recos = {r for r, _, _ in segments.values()}
            maps["wav.scp"] = {r: w for r, w in self.wav_scp.items() if r in recos}
        return DataDir(maps=maps, segments=segments)

    def subset_speakers(self, speakers: Iterable[str]) -> "DataDir":
        """Only the utterances of the given speakers (used to build speaker-disjoint folds)."""
        wanted = set(speakers)
        unknown = wanted - set(self.speakers)
        if unknown:
            raise DataDirError(f"{self.path or 'data dir'}: unknown speakers {sorted(unknown)}")
        return self.subset_utts(u for u, s in self.utt2spk.items() if s in wanted)


__all__ = [
    "DataDir",
    "LABELS_FILE",
    "OPTIONAL_UTT_MAPS",
    "REQUIRED_MAPS",
    "is_sorted_file",
    "read_map",
    "spk2utt_from",
    "write_map",
]
