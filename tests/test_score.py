"""`ser score`: inputs of every kind, speaker-grouped normalisation vs the fallback, bad-input rows,
CSV/JSON/table output, and the VAD timeline of a long recording."""

from __future__ import annotations

import csv
import json
from collections import Counter
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


# --- labelled data dirs: metrics on the shared classes, label maps, --alone --------------------------------
LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


def labelled_dir(emodb_dir: Path, path: Path, names: dict[str, str], speakers=("10", "11"), per_speaker: int = 8) -> list[str]:
    """A data dir of EmoDB clips of `speakers` whose emotion letter is in `names`, labelled by `names`."""
    from ser.datadir import DataDir

    ids = []
    for spk in speakers:
        ids += [p.stem for p in sorted(emodb_dir.glob(f"{spk}*.wav")) if p.stem[5] in names][:per_speaker]
    DataDir(maps={"wav.scp": {u: str(emodb_dir / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: names[u[5]] for u in ids}}).write(path)
    return ids


def hand_metrics(truth: list[str], pred: list[str], classes: list[str]) -> tuple[float, float, dict, list]:
    """Accuracy, UAR (classes present in truth), recall per class, confusion: counted by hand."""
    recall = {}
    for c in classes:
        mine = [p for t, p in zip(truth, pred) if t == c]
        recall[c] = sum(p == c for p in mine) / len(mine) if mine else None
    present = [r for r in recall.values() if r is not None]
    confusion = [[sum(t == a and p == b for t, p in zip(truth, pred)) for b in classes] for a in classes]
    return sum(t == p for t, p in zip(truth, pred)) / len(truth), sum(present) / len(present), recall, confusion


def test_labelled_data_dir_metrics(model, emodb_dir, tmp_path, capsys):
    """Scoring a data dir with utt2emo reports accuracy/UAR/recall/confusion on the shared classes, as counted by
    hand from the JSON rows: the main numbers take the arg-max over the shared classes only."""
    names = {k: v for k, v in LETTERS.items() if k != "W"}  # the model knows anger; this data has none
    ids = labelled_dir(emodb_dir, tmp_path / "data", names)
    rc, rows, err = score(capsys, ["--model", str(model), "--metrics", str(tmp_path / "m.json"), str(tmp_path / "data")])
    assert rc == 0 and [r["clip"] for r in rows] == ids
    assert [r["reference"] for r in rows] == [names[u[5]] for u in ids]
    classes = load_bundle(model).classes
    assert "anger" in classes
    shared = [c for c in classes if c in {r["reference"] for r in rows}]
    truth = [r["reference"] for r in rows]
    restricted = [max(shared, key=lambda c: r["posteriors"][c]) for r in rows]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["shared_classes"] == shared and "anger" not in shared
    assert metrics["chance_uar"] == pytest.approx(1 / len(shared))
    acc, uar, recall, confusion = hand_metrics(truth, restricted, shared)
    main_block = metrics["shared"]
    assert main_block["accuracy"] == pytest.approx(acc) and main_block["uar"] == pytest.approx(uar)
    assert main_block["per_class_recall"] == pytest.approx(recall) and main_block["confusion"] == confusion
    assert main_block["n"] == len(ids) and main_block["classes"] == shared
    # the unrestricted numbers use the rows' own labels (anger may win there)
    acc_u, _, recall_u, _ = hand_metrics(truth, [r["label"] for r in rows], classes)
    assert metrics["unrestricted"]["accuracy"] == pytest.approx(acc_u)
    assert metrics["unrestricted"]["uar"] == pytest.approx(np.mean([recall_u[c] for c in shared]))
    assert metrics["not_counted"] == {"not_model_classes": {}, "null_in_label_map": {}, "unlabelled": 0, "failed": 0}
    assert f"accuracy {100 * acc:.1f}%  UAR {100 * uar:.1f}% (chance {100 / len(shared):.1f}%)" in err
    assert "arg-max over the shared classes only" in err and "arg-max over every class of the model" in err
    # the CSV rows carry the reference column too; a run of loose files has none
    capsys.readouterr()
    assert main(["score", "--model", str(model), "--quiet", "--csv", str(tmp_path / "o.csv"), str(tmp_path / "data")]) == 0
    with open(tmp_path / "o.csv", newline="") as handle:
        assert [r["reference"] for r in csv.DictReader(handle)] == truth
    rc, plain, err = score(capsys, ["--model", str(model), str(emodb_dir / f"{ids[0]}.wav")])
    assert "reference" not in plain[0] and "metrics" not in err
    assert main(["score", "--model", str(model), "--metrics", str(tmp_path / "x.json"), str(emodb_dir / f"{ids[0]}.wav")]) == 2
    assert "needs reference labels" in capsys.readouterr().err


def test_label_map_renames_and_counts(model, emodb_dir, tmp_path, capsys):
    """EmoDB clips labelled with RAVDESS names: compared as they are, only 'disgust' is shared; --label-map ravdess
    renames them, and 'surprised' (surprise, no class of the model) is left out and counted."""
    ravdess_names = {"W": "angry", "T": "sad", "N": "calm", "F": "surprised", "A": "fearful", "E": "disgust"}
    ids = labelled_dir(emodb_dir, tmp_path / "data", ravdess_names, per_speaker=10)
    given = Counter(ravdess_names[u[5]] for u in ids)
    assert given["surprised"] and given["calm"] and given["disgust"]
    classes = load_bundle(model).classes
    rc, rows, err = score(capsys, ["--model", str(model), "--metrics", str(tmp_path / "raw.json"), str(tmp_path / "data")])
    raw = json.loads((tmp_path / "raw.json").read_text())
    assert raw["shared_classes"] == [c for c in classes if c == "disgust"]
    assert raw["not_counted"]["not_model_classes"] == {k: v for k, v in given.items() if k not in classes}
    assert f"{given['angry']} clips labelled angry are not classes of the model: not counted" in err

    rc, rows, err = score(capsys, ["--model", str(model), "--label-map", "ravdess", "--metrics", str(tmp_path / "m.json"),
                                   str(tmp_path / "data")])
    assert rc == 0
    ravdess = {"angry": "anger", "sad": "sadness", "calm": "neutral", "surprised": "surprise", "fearful": "fear",
               "disgust": "disgust"}
    assert [r["reference"] for r in rows] == [ravdess[ravdess_names[u[5]]] for u in ids]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["label_map"].endswith("ravdess.yaml")
    assert metrics["renamed_by_label_map"] == {k: v for k, v in ravdess.items() if k != v and k in given}
    left_out = Counter(ravdess[k] for k in given.elements() if ravdess[k] not in classes)
    assert metrics["not_counted"]["not_model_classes"] == dict(left_out) and left_out["surprise"] == given["surprised"]
    assert metrics["shared"]["n"] == len(ids) - sum(left_out.values())
    assert metrics["shared_classes"] == [c for c in classes if c in {ravdess[k] for k in given}]
    n = given["surprised"]
    verb = "are not classes" if n > 1 else "is not a class"
    assert f"{n} clip{'s' * (n > 1)} labelled surprise (surprised in the data) {verb} of the model: not counted" in err

    # a map file of one's own: null leaves calm out; a label the map lacks, or an unknown target, is refused
    mine = tmp_path / "mine.yaml"
    mine.write_text("angry: anger\nsad: sadness\ncalm: null\nsurprised: surprise\nfearful: fear\ndisgust: disgust\n")
    rc, rows, err = score(capsys, ["--model", str(model), "--label-map", str(mine), "--metrics", str(tmp_path / "n.json"),
                                   str(tmp_path / "data")])
    nulled = json.loads((tmp_path / "n.json").read_text())["not_counted"]
    assert nulled["null_in_label_map"] == {"calm": given["calm"]} and nulled["unlabelled"] == 0
    assert [r["reference"] for r in rows if r["clip"][5] == "N"] == [None] * given["calm"]
    assert f"{given['calm']} clips labelled calm are left out by the label map (null)" in err
    mine.write_text("angry: anger\ncalm: neutral\n")
    assert main(["score", "--model", str(model), "--label-map", str(mine), str(tmp_path / "data")]) == 2
    out = capsys.readouterr()
    assert str(mine) in out.err and "sad (" in out.err and "not in the label map" in out.err and out.out == ""
    mine.write_text("angry: angr\n")
    assert main(["score", "--model", str(model), "--label-map", str(mine), str(tmp_path / "data")]) == 2
    assert "unknown target label(s) angr" in capsys.readouterr().err


def test_alone_scores_each_clip_as_a_lone_clip(model, emodb_dir, tmp_path, capsys):
    """--alone ignores the data dir's utt2spk: every clip gets the training speakers' statistics, exactly as the
    same files scored one by one with no speaker information."""
    ids = labelled_dir(emodb_dir, tmp_path / "data", LETTERS, per_speaker=3)
    rc, grouped, _ = score(capsys, ["--model", str(model), str(tmp_path / "data")])
    assert [r["normalization"] for r in grouped] == ["speaker:10(3)"] * 3 + ["speaker:11(3)"] * 3
    rc, alone, err = score(capsys, ["--model", str(model), "--alone", str(tmp_path / "data")])
    assert rc == 0 and [r["normalization"] for r in alone] == ["training-speakers"] * len(ids)
    assert [r["speaker"] for r in alone] == [None] * len(ids) and "--alone" in err
    assert [r["reference"] for r in alone] == [LETTERS[u[5]] for u in ids]
    for i, utt in enumerate(ids[:2]):
        rc, lone, _ = score(capsys, ["--model", str(model), str(emodb_dir / f"{utt}.wav")])
        np.testing.assert_allclose(post(alone[i]), post(lone[0]), atol=1e-6)
    assert not np.allclose(post(alone[0]), post(grouped[0]), atol=1e-4)
    assert main(["score", "--model", str(model), "--alone", "--speaker", "x", str(tmp_path / "data")]) == 2


def test_info_of_a_torch_model(model, capsys):
    """`ser info` on a fold's GA-GRU: encoder, classes, the trained epoch, training settings, no results recorded."""
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    bundle = load_bundle(model)
    assert "gagru" in out and f"{len(bundle.classes)}: {', '.join(bundle.classes)}" in out
    assert f"best_epoch={bundle.meta['training']['best_epoch']}" in out and "train config" in out
    assert "fold 03; 1 speaker: 09" in out and "emobase78_avg5" in out


def test_confidence_is_the_labels_posterior(model, emodb_dir, tmp_path, capsys):
    clips = [str(p) for p in sorted(emodb_dir.glob("09*.wav"))[:3]]
    rc, rows, _ = score(capsys, ["--model", str(model), "--speaker", "09", *clips])
    assert rc == 0
    for row in rows:
        assert row["confidence"] == max(row["posteriors"].values()) and row["posteriors"][row["label"]] == row["confidence"]
    assert main(["score", "--quiet", "--model", str(model), "--speaker", "09", "--csv", str(tmp_path / "c.csv"), *clips]) == 0
    with open(tmp_path / "c.csv", newline="") as handle:
        got = [float(r["confidence"]) for r in csv.DictReader(handle)]
    np.testing.assert_allclose(got, [r["confidence"] for r in rows], atol=1e-4)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["clip", "label", "conf"]
