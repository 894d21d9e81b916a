"""Benchmark: the runtime install (`pip install '.[onnx]'`: no torch, scikit-learn or librosa) against the full one.

Creates a fresh venv in a temporary folder, installs this checkout into it, and prints, measured in this run:
  * the install's wall time and the venv's size next to the full venv's (`.venv`, `make install`), as a ratio;
  * cold start: a fresh Python process of the light venv scoring one 3 s clip with the built-in model
    (`import ser; ser.load_model().predict(clip)`), against a bare `python -c "import torch"` of the full venv
    (fastest of `--repeats` each; the machine is shared and noisy, so only the ratio means something);
  * that `import torch` fails in the light venv (nothing pulled torch in).

    python3 benchmarks/runtime_install.py [--full-venv .venv] [--emodb-dir ../shared/data/emodb] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def fastest(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def three_second_clip(emodb_dir: Path, out: Path) -> Path:
    """The EmoDB clip closest to 3 s (read, not copied into the repo; stdlib only: this runs outside any venv)."""
    import wave

    def seconds(path: Path) -> float:
        with wave.open(str(path)) as w:
            return w.getnframes() / w.getframerate()

    return min(sorted(emodb_dir.glob("*.wav")), key=lambda p: abs(seconds(p) - 3.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-venv", default=str(REPO / ".venv"))
    parser.add_argument("--emodb-dir", default=str(REPO.parent / "shared" / "data" / "emodb"))
    parser.add_argument("--extras", default="onnx", help="extras of the light install ('' for none)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="create the light venv here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    full = Path(args.full_venv)
    with tempfile.TemporaryDirectory() as tmp:
        light = Path(args.keep) if args.keep else Path(tmp) / "light"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(light)], check=True)
        target = f"{REPO}[{args.extras}]" if args.extras else str(REPO)
        subprocess.run([str(light / "bin" / "python"), "-m", "pip", "install", "-q", target], check=True)
        install_s = time.perf_counter() - start
        light_bytes, full_bytes = du(light), du(full)
        print(f"light install ('{target}'): {install_s:.0f} s, {light_bytes / 2**20:.0f} MiB; full venv {full}: "
              f"{full_bytes / 2**20:.0f} MiB; light/full = {light_bytes / full_bytes:.1%}")
        has_torch = subprocess.run([str(light / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode == 0
        print(f"torch importable in the light venv: {has_torch}")
        clip = three_second_clip(Path(args.emodb_dir), Path(tmp))
        score = [str(light / "bin" / "python"), "-c", f"import ser; print(ser.load_model().predict({str(clip)!r}))"]
        fastest(score, 1)  # first run writes .pyc files: not a cold start anyone sees twice
        cold = fastest(score, args.repeats)
        bare = fastest([str(full / "bin" / "python"), "-c", "import torch"], args.repeats)
        print(f"cold start: light venv scores {clip.name} in {cold:.2f} s; full venv `import torch` {bare:.2f} s; "
              f"ratio {cold / bare:.2f}")


if __name__ == "__main__":
    main()
