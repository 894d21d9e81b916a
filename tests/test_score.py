"""`ser score`: inputs of every kind, speaker-grouped normalisation vs the fallback, bad-input rows,
CSV/JSON/table output, and the VAD timeline of a long recording."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bad_audio import write_bad_files
from score_fixtures import build_experiment
from ser.bundle import load_bundle
from ser.cli import main
from ser.frontend.cmvn import mean_std


@pytest.fixture(scope="module")
def model(emodb_dir, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("score")
    build_experiment(emodb_dir, root, epochs=1)
    assert main(["export", "--fold", "03", str(root / "exp"), str(root / "m.ser")]) == 0
    return root / "m.ser"


def score(capsys, args: list[str]) -> tuple[int, list[dict], str]:
    capsys.readouterr()
    rc = main(["score", "--json", "--threads", "1", *args])
    out = capsys.readouterr()
    return rc, [json.loads(line) for line in out.out.splitlines()], out.err


def post(row: dict) -> np.ndarray:
    return np.array(list(row["posteriors"].values()))


def test_speaker_grouping_and_fallback(model, emodb_dir, tmp_path, capsys):
    a = [str(p) for p in sorted(emodb_dir.glob("10*.wav"))[:3]]
    b = [str(p) for p in sorted(emodb_dir.glob("11*.wav"))[:2]]
    # no speaker information: every clip uses the training speakers' pooled statistics, and says so
    rc, plain, err = score(capsys, ["--model", str(model), *a])
    assert rc == 0 and [r["normalization"] for r in plain] == ["training-speakers"] * 3
    assert "pooled statistics" in err
    # --speaker: the three clips' own pooled statistics
    rc, grouped, _ = score(capsys, ["--model", str(model), "--speaker", "x", *a])
    assert [r["normalization"] for r in grouped] == ["speaker:x(3)"] * 3
    assert not np.allclose(post(grouped[0]), post(plain[0]), atol=1e-4)
    # --utt2spk: two speakers, each normalised with its own clips only (= scoring each group alone)
    (tmp_path / "utt2spk").write_text("".join(f"{Path(f).stem} sa\n" for f in a) + f"{Path(b[0]).stem} sb\n{b[1]} sb\n")
    rc, mixed, _ = score(capsys, ["--model", str(model), "--utt2spk", str(tmp_path / "utt2spk"), *b, *a])
    assert [r["speaker"] for r in mixed] == ["sb", "sb", "sa", "sa", "sa"]
    rc, only_b, _ = score(capsys, ["--model", str(model), "--speaker", "sb", *b])
    for got, want in zip(mixed[2:] + mixed[:2], grouped + only_b):
        np.testing.assert_allclose(post(got), post(want), atol=1e-6)
    # the fallback statistics are the training speaker's (fold 03 trains on speaker 09)
    bundle = load_bundle(model)
    assert bundle.normalization == "speaker" and np.isfinite(mean_std(bundle.norm_state["fallback"])[1]).all()


def test_bad_inputs_are_rows_and_exit_status(model, emodb_dir, tmp_path, capsys):
    clips = tmp_path / "clips"
    bad = write_bad_files(clips / "bad")
    good = sorted(emodb_dir.glob("09*.wav"))[:3]
    for f in good:
        (clips / f.name).write_bytes(f.read_bytes())
    capsys.readouterr()
    rc = main(["score", "--model", str(model), "--csv", str(tmp_path / "out.csv"), "--threads", "1", str(clips),
               str(bad["missing"][0])])
    out = capsys.readouterr()
    assert rc == 1
    assert "could not be scored" in out.err
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {Path(r["path"]).name: r for r in rows}
    for f in good:
        row = by_name[f.name]
        assert row["error"] == "" and row["label"] in load_bundle(model).classes
        assert abs(sum(float(row[c]) for c in load_bundle(model).classes) - 1) < 1e-4
    for name, (path, fragment) in bad.items():
        row = by_name[path.name]
        assert fragment.lower() in row["error"].lower() and row["label"] == "", name
    # the table shows every row, errors included
    lines = out.out.splitlines()
    assert lines[0].split()[:2] == ["clip", "label"] and len(lines) == 1 + len(rows)
    assert sum("ERROR" in line for line in lines) == len(bad)


def test_input_kinds(model, emodb_dir, tmp_path, capsys):
    nested = tmp_path / "tree" / "spk" / "deeper"
    nested.mkdir(parents=True)
    files = sorted(emodb_dir.glob("08*.wav"))[:2]
    for f in files:
        (nested / f.name).write_bytes(f.read_bytes())
    (tmp_path / "list.txt").write_text(f"# two clips\n{files[0]}\n\n{files[1]}\n")
    rc, from_dir, _ = score(capsys, ["--model", str(model), str(tmp_path / "tree")])
    rc2, from_list, _ = score(capsys, ["--model", str(model), str(tmp_path / "list.txt")])
    assert rc == rc2 == 0 and len(from_dir) == len(from_list) == 2
    for x, y in zip(from_dir, from_list):
        np.testing.assert_allclose(post(x), post(y), atol=1e-6)


def make_recording(emodb_dir: Path, path: Path, pause: float = 1.5) -> list[tuple[float, float]]:
    """EmoDB clips of two speakers separated by low-noise pauses; returns the clips' true spans."""
    rng = np.random.default_rng(0)
    files = sorted(emodb_dir.glob("03*.wav"))[:3] + sorted(emodb_dir.glob("16*.wav"))[:2]
    parts = [1e-4 * rng.standard_normal(16000)]
    t, spans = 1.0, []
    for f in files:
        x, rate = sf.read(f, dtype="float32")
        assert rate == 16000
        spans.append((t, t + x.size / rate))
        parts += [x, 1e-4 * rng.standard_normal(int(pause * 16000))]
        t += x.size / rate + pause
    sf.write(path, np.concatenate(parts).astype(np.float32), 16000, subtype="PCM_16")
    return spans


def test_vad_timeline(model, emodb_dir, tmp_path, capsys):
    from ser.segment import VADConfig, vad_segments

    spans = make_recording(emodb_dir, tmp_path / "long.wav")
    # streaming in small blocks gives the same segments as large ones
    assert vad_segments(tmp_path / "long.wav", VADConfig(block_seconds=0.37)) == vad_segments(tmp_path / "long.wav")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, dtype=np.float32), 16000)
    rc, rows, _ = score(capsys, ["--model", str(model), "--segment", "vad", "--vad", "energy", "--plot", str(tmp_path / "t.png"),
                                 str(tmp_path / "long.wav"), str(silent)])
    assert rc == 1, "the silent recording is a failed row"
    timeline = [r for r in rows if r["error"] is None]
    assert len(timeline) == len(spans)
    for row, (start, end) in zip(timeline, spans):
        assert start - 0.5 <= row["start"] < row["end"] <= end + 0.5
        assert row["normalization"] == f"speaker:{tmp_path / 'long.wav'}({len(spans)})"
        assert abs(sum(row["posteriors"].values()) - 1) < 1e-4
    assert rows[-1]["path"] == str(silent) and "no speech" in rows[-1]["error"]
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    # the table form carries start and end columns
    capsys.readouterr()
    main(["score", "--model", str(model), "--segment", "vad", "--vad", "energy", "--max-segment", "1.0", "--quiet", str(tmp_path / "long.wav")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["clip", "start", "end", "label"]
    starts = [float(line.split()[1]) for line in lines[1:]]
    ends = [float(line.split()[2]) for line in lines[1:]]
    assert len(lines) - 1 > len(spans) and all(e - s <= 1.0 + 1e-6 for s, e in zip(starts, ends)), "long speech is split"
    assert starts == sorted(starts)
    assert main(["score", "--model", str(model), "--plot", str(tmp_path / "x.png"), str(tmp_path / "long.wav")]) == 2


def test_silero_vad_when_installed(emodb_dir, tmp_path):
    """The optional silero-vad detector finds the same clips (skipped where the package is not installed)."""
    pytest.importorskip("silero_vad")
    from ser.segment import vad_segments

    spans = make_recording(emodb_dir, tmp_path / "long.wav", pause=1.0)
    segments = vad_segments(tmp_path / "long.wav", method="silero")
    assert len(segments) == len(spans)
    for (s, e), (start, end) in zip(segments, spans):
        assert start - 0.5 <= s < e <= end + 0.5


def test_vad_auto_uses_silero_when_installed(model, emodb_dir, tmp_path, capsys):
    pytest.importorskip("silero_vad")
    spans = make_recording(emodb_dir, tmp_path / "long.wav", pause=1.0)
    rc, rows, err = score(capsys, ["--model", str(model), "--segment", "vad", str(tmp_path / "long.wav")])
    assert rc == 0 and "segments: silero VAD" in err
    assert len(rows) == len(spans)


def test_too_little_audio_of_a_speaker_falls_back_and_says_so(model, emodb_dir, capsys):
    """One short clip is too little for statistics of its own: it gets the training speakers' statistics, as a lone
    clip does (same posteriors), and the row says why."""
    clip = str(sorted(emodb_dir.glob("10*.wav"))[0])
    rc, alone, _ = score(capsys, ["--model", str(model), clip])
    rc2, named, err = score(capsys, ["--model", str(model), "--speaker", "anna", clip])
    assert rc == rc2 == 0
    assert named[0]["normalization"].startswith("training-speakers (anna:") and "too little audio" in err
    np.testing.assert_allclose(post(named[0]), post(alone[0]), atol=1e-6)
