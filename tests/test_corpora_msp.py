"""MSP-IMPROV preparation (ser.corpora.msp_improv) on a miniature release tree built here.

The builder writes the release's documented layout and label file format (``session1/S01A/P/MSP-IMPROV-
S01A-F01-P-FM01.wav`` and ``Evaluation.txt`` header + rater lines); the audio is real EmoDB speech copied
under MSP-IMPROV names. Nothing here is a copy of MSP-IMPROV itself (it is licence-gated).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

import pytest

from ser.corpora import msp_improv
from ser.datadir import DataDir
from ser.errors import SerError

#: Consensus letters given, in turn, to each speaker's clips: the four classes, then a no-agreement clip.
MSP_LABEL_CYCLE = ("N", "H", "S", "A", "X")
_RATER_WORDS = {"A": "Angry", "H": "Happy", "S": "Sad", "N": "Neutral", "O": "Other", "X": "Neutral"}


def msp_name(scenario: str, speaker: str, kind: str, turn: str) -> str:
    return f"MSP-IMPROV-{scenario}-{speaker}-{kind}-{turn}"


def build_mini_msp_improv(
    root: str | Path,
    audio_source_files: Sequence[str | Path],
    sessions: int = 6,
    label_cycle: Sequence[str] = MSP_LABEL_CYCLE,
    clips_per_speaker: int | None = None,
) -> Path:
    """Write ``root/session<n>/<S..>/<type>/MSP-IMPROV-*.wav`` and ``root/Evaluation.txt``; return root.

    Per session two speakers (F<nn>, M<nn>); speaker clip k gets consensus letter label_cycle[k % len],
    scenario ``S<k+1><target>`` (target letter cycling A H S N), type cycling P R S T and turn
    ``FM<k+1>`` / ``MF<k+1>``. Evaluation.txt: a header line per clip (``UTD-IMPROV-<name>.avi; L; A:..;
    V:..; D:.. ; N:..;``) followed by two rater lines and a blank line; the first clip's D is ``NaN``.
    Decoys a preparer must report and skip: a labelled clip without audio, a wav without a label line,
    a wav whose name does not parse; and an ``.avi`` next to each speaker's first wav (not audio).
    """
    if not audio_source_files:
        raise ValueError("build_mini_msp_improv needs at least one audio file to copy")
    root = Path(root)
    n_clips = clips_per_speaker or len(label_cycle)
    lines = []
    copied = 0
    for session in range(1, sessions + 1):
        for gender, other in (("F", "M"), ("M", "F")):
            speaker = f"{gender}{session:02d}"
            for k in range(n_clips):
                letter = label_cycle[k % len(label_cycle)]
                scenario = f"S{k + 1:02d}{'AHSN'[k % 4]}"
                kind = "PRST"[k % 4]
                stem = msp_name(scenario, speaker, kind, f"{gender}{other}{k + 1:02d}")
                folder = root / f"session{session}" / scenario / kind
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(audio_source_files[copied % len(audio_source_files)], folder / f"{stem}.wav")
                copied += 1
                if k == 0:
                    (folder / f"{stem}.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI not a real video")
                d = "NaN" if not lines else f"{1 + (copied % 4) * 0.5:.6f}"
                lines.append(f"UTD-IMPROV-{stem[len('MSP-IMPROV-'):]}.avi; {letter}; A:{2 + k % 3:.6f}; "
                             f"V:{3 - k % 2:.6f}; D:{d} ; N:3.000000;")
                word = _RATER_WORDS[letter]
                lines.append(f"rater_{k}a; {word}; {word},Frustrated; A:2.0; V:3.0; D:2.0; N:3.0;")
                lines.append(f"rater_{k}b; {'Other' if letter == 'X' else word}; ; A:3.0; V:2.0; D:3.0; N:4.0;")
                lines.append("")
    # Decoys: label without audio, audio without label, an audio name that does not parse.
    lines.append("UTD-IMPROV-S20A-F01-T-FM99.avi; A; A:3.000000; V:2.000000; D:3.000000 ; N:3.000000;")
    stray = root / "session1" / "S20N" / "T"
    stray.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(audio_source_files[0], stray / f"{msp_name('S20N', 'F01', 'T', 'FM98')}.wav")
    shutil.copyfile(audio_source_files[0], stray / "notes.wav")
    (root / "Evaluation.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def emodb_wavs(emodb_dir: Path) -> list[Path]:
    return sorted(emodb_dir.glob("*.wav"))[:6]


def test_msp_improv_four_classes(emodb_wavs, tmp_path, capsys):
    root = build_mini_msp_improv(tmp_path / "msp", emodb_wavs, sessions=2)
    data = msp_improv.prepare(root, tmp_path / "data")
    err = capsys.readouterr().err
    on_disk = DataDir.read(tmp_path / "data")
    on_disk.validate(check_files=True)
    assert on_disk.utts == data.utts and len(data.utts) == 4 * 4  # 4 speakers x (N H S A), the X clips dropped
    assert sorted(data.speakers) == ["F01", "F02", "M01", "M02"]
    for spk, utts in on_disk.spk2utt().items():
        assert Counter(on_disk.utt2emo[u] for u in utts) == {"neutral": 1, "happy": 1, "sad": 1, "angry": 1}, spk
        assert all(u.startswith(f"{spk}-MSP-IMPROV-") for u in utts)
    utt = "F01-MSP-IMPROV-S01A-F01-P-FM01"
    assert data.utt2emo[utt] == "neutral" and data.maps["utt2gender"][utt] == "f"
    assert data.maps["utt2session"][utt] == "session1" and data.maps["utt2session"]["M02-MSP-IMPROV-S02H-M02-R-MF02"] == "session2"
    assert data.maps["utt2scenario"][utt] == "S01A" and data.maps["utt2type"][utt] == "P"
    assert data.maps["utt2vad"][utt] == "3.0000 2.0000 nan"
    assert (tmp_path / "data" / "utt2vad").is_file()
    assert "no-agreement 4" in err
    assert "labelled clip has no audio file" in err and "FM99" in err
    assert "no label line in Evaluation.txt" in err and "FM98" in err
    assert "notes.wav" in err


def test_msp_improv_misspelt_label_file_and_errors(emodb_wavs, tmp_path):
    root = build_mini_msp_improv(tmp_path / "msp", emodb_wavs, sessions=1)
    (root / "Evaluation.txt").rename(root / "Evalution.txt")
    assert len(msp_improv.prepare(root, tmp_path / "data").utts) == 8
    (root / "Evalution.txt").unlink()
    with pytest.raises(SerError, match="Evaluation.txt"):
        msp_improv.prepare(root, tmp_path / "data2")
    with pytest.raises(SerError, match="utdallas"):
        msp_improv.prepare(tmp_path / "nowhere", tmp_path / "data3")


def test_msp_improv_module_entry_point(emodb_wavs, tmp_path):
    root = build_mini_msp_improv(tmp_path / "msp", emodb_wavs, sessions=1)
    proc = subprocess.run([sys.executable, "-m", "ser.corpora.msp_improv", str(root), str(tmp_path / "data")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "8 utterances, 2 speakers" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "ser.corpora.msp_improv", str(tmp_path / "nowhere"), str(tmp_path / "d")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "MSP-IMPROV release folder" in proc.stderr
