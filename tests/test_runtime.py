"""The runtime install (`pip install ser`, no torch, librosa, matplotlib, scikit-learn or scipy): scoring with the
built-in model and any non-torch model file works with those packages made unimportable; what needs them says how
to get them. (ONNX bundles scored this way: tests/test_bundle.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

BLOCK = "import sys\nfor name in ('torch', 'torchaudio', 'librosa', 'matplotlib', 'sklearn', 'scipy'):\n    sys.modules[name] = None\n"


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True)


def test_scoring_with_torch_unimportable(emodb_dir, tmp_path):
    clips = [str(p) for p in sorted(emodb_dir.glob("14*.wav"))[:12]]
    proc = run(f"from ser.cli import main\nraise SystemExit(main(['score', '--json', '--quiet', '--speaker', '14', *{clips!r}]))")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 12 and all(r["label"] for r in rows)
    api = run(f"import ser\nprint(ser.load_model().predict({clips[:2]!r}))\nprint('pandas' in sys.modules)")
    assert api.returncode == 0 and api.stdout.startswith("['"), api.stderr[-2000:]
    # openSMILE runs through its C library (ser.frontend.smile_native): no pandas/pyarrow import at start-up
    assert api.stdout.splitlines()[-1] == "False"


def test_what_needs_the_train_extra_says_so(tmp_path):
    proc = run("from ser.cli import main\nraise SystemExit(main(['list-encoders', 'gagru']))")
    assert proc.returncode == 2 and "pip install 'ser[train]'" in proc.stderr and "Traceback" not in proc.stderr
