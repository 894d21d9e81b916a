"""Benchmark: the cost model behind README "Scale on paper", checked on a simulated larger corpus.

1. Per feature set, single-process CPU seconds per audio hour and bytes of features per audio hour, from
   `ser extract --nj 1` over the first `--sample` EmoDB files.
2. Linearity and flat memory: `ser extract --features egemaps88 --nj 2` over EmoDB once (535 clips) and repeated
   `--times` times (5350 clips with the default 10): wall time per clip and peak RSS of the process tree, as ratios
   measured in this one run (the machine is shared and noisy: only ratios mean something).

    .venv/bin/python benchmarks/scale.py [--emodb-dir ../shared/data/emodb] [--times 10] [--sample 60]
                                         [--sets egemaps88,compare6373] [--cost-only]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmon import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SETS = ("egemaps88", "emobase988", "compare6373", "is09_384", "emobase78", "emobase78_avg5", "mfcc_pitch28", "alstm36",
        "fbank40")


def write_data(files: list[Path], times: int, out: Path) -> None:
    from ser.datadir import DataDir

    wav, spk = {}, {}
    for k in range(times):
        for f in files:
            utt = f"{f.stem[:2]}-{f.stem}-r{k:02d}"
            wav[utt], spk[utt] = str(f), f.stem[:2]
    DataDir(maps={"wav.scp": wav, "utt2spk": spk}).write(out)


def extract(data: Path, out: Path, features: str, nj: int) -> tuple[float, int]:
    wall, peak, proc = run_measured([sys.executable, "-m", "ser", "extract", "--features", features, "--nj", str(nj),
                                     "--no-progress", str(data), str(out)], cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return wall, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emodb-dir", default=str(REPO.parent / "shared" / "data" / "emodb"))
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--sets", default=",".join(SETS), help="feature sets whose cost per audio hour is measured")
    parser.add_argument("--cost-only", action="store_true", help="skip the 10x-corpus linearity check")
    args = parser.parse_args()
    files = sorted(Path(args.emodb_dir).glob("*.wav"))
    if not files:
        print(f"no wav files in {args.emodb_dir}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ser-bench-scale-"))
    try:
        sample = files[: args.sample]
        hours = sum(sf.info(str(f)).duration for f in sample) / 3600
        write_data(sample, 1, work / "sample")
        print(f"cost per audio hour, one process (`ser extract --nj 1`, {len(sample)} EmoDB clips, {hours * 3600:.0f} s):")
        for name in args.sets.split(","):
            wall, _ = extract(work / "sample", work / f"f_{name}", name, 1)
            size = (work / f"f_{name}" / "feats.ark").stat().st_size
            print(f"  {name:15s} {wall / hours:8.0f} CPU-s per audio hour (incl. start)  {size / hours / 2**20:9.1f} MiB per audio hour")
        if args.cost_only:
            return 0
        total_hours = sum(sf.info(str(f)).duration for f in files) / 3600
        write_data(files, 1, work / "once")
        write_data(files, args.times, work / "many")
        t1, m1 = extract(work / "once", work / "f_once", "egemaps88", 2)
        tn, mn = extract(work / "many", work / "f_many", "egemaps88", 2)
        n1, nn = len(files), len(files) * args.times
        print(f"egemaps88 --nj 2: {n1} clips ({total_hours * 60:.1f} min of audio) in {t1:.1f} s, peak {m1 / 2**20:.0f} MiB; "
              f"{nn} clips in {tn:.1f} s, peak {mn / 2**20:.0f} MiB")
        print(f"time per clip, {args.times}x corpus / 1x: {(tn / nn) / (t1 / n1):.2f} (linear: 1.0; start-up is paid once)")
        print(f"peak RSS, {args.times}x corpus / 1x: {mn / m1:.2f} (flat: 1.0; target within 1.1)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
