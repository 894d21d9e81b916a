"""The public Python API on real EmoDB clips: paths and arrays give `ser score`'s numbers; extract equals ser extract."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
import soundfile as sf

import ser
from ser.cli import main
from ser.errors import SerError


def test_import_ser_exposes_the_api_and_stays_light():
    code = "import sys, ser; print(sorted(ser.__all__), 'torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['Model', '__version__', 'extract', 'load_model'] False False"


def test_predict_paths_and_arrays_like_ser_score(emodb_dir, capsys):
    files = [str(p) for p in sorted(emodb_dir.glob("12*.wav"))[:12]]
    model = ser.load_model()
    proba = model.predict_proba(files, speaker="12")
    capsys.readouterr()
    assert main(["score", "--json", "--quiet", "--speaker", "12", *files]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    np.testing.assert_allclose(proba, [[r["posteriors"][c] for c in model.classes] for r in rows], atol=1e-5)
    assert model.predict(files, speaker="12") == [r["label"] for r in rows]
    # an array with its rate (here resampled from 44.1 kHz) scores like the file it came from
    samples, rate = sf.read(files[0], dtype="float32")
    import soxr

    up = soxr.resample(samples, rate, 44100)
    alone = model.predict_proba(files[0])
    np.testing.assert_allclose(model.predict_proba(samples, sr=rate), alone, atol=1e-6)
    assert model.predict(up, sr=44100) == model.predict(files[0])
    assert model.info["card"]["training_corpora"] and model.classes[0] == "anger"
    with pytest.raises(SerError, match="sample rate"):
        model.predict_proba(samples)


def test_extract_equals_ser_extract(emodb_dir, tmp_path):
    from ser.datadir import DataDir

    wavs = sorted(emodb_dir.glob("09*.wav"))[:3]
    DataDir(maps={"wav.scp": {p.stem: str(p) for p in wavs}, "utt2spk": {p.stem: "09" for p in wavs}}).write(tmp_path / "d")
    assert main(["extract", "--features", "mfcc_pitch28", "--no-progress", str(tmp_path / "d"), str(tmp_path / "f")]) == 0
    reader = kaldiio.load_scp(str(tmp_path / "f" / "feats.scp"))
    for p, feats in zip(wavs, ser.extract([str(p) for p in wavs], "mfcc_pitch28")):
        np.testing.assert_array_equal(feats, reader[p.stem])


def test_readme_python_examples_run_as_written(emodb_dir, monkeypatch):
    """The README's "From Python" block is a doctest: every example runs and prints what the README shows."""
    import doctest
    import re

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## From Python") : text.index("## Quick start")]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    block = block.replace("../shared/data/emodb", str(emodb_dir))  # $SER_SHARED_DATA may point elsewhere
    test = doctest.DocTestParser().get_doctest(block, {}, "README.md From Python", "README.md", 0)
    assert len(test.examples) >= 8
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    monkeypatch.chdir(repo)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
