"""Benchmark: `ser extract --features emobase78 --nj 2` vs a bare single-process opensmile-python loop.

Both run over the same EmoDB files in this one run (the machine is shared and noisy, so only the
ratio means something); each side runs `--repeats` times interleaved and the fastest run counts.
Prints throughput (files/s, audio s per s), real-time factor, the ratio, and the peak RSS of the
whole process tree at a quarter of the corpus and at the full corpus (memory must stay flat).

With `--cluster local:2` the same `ser extract` also runs on a Dask LocalCluster, interleaved; both sides are
whole commands (interpreter start, pool or cluster start and close included). `--cluster-only` skips the bare loop
and the memory pass (the cluster ratio needs neither).

    .venv/bin/python benchmarks/extract.py [--emodb-dir ../shared/data/emodb] [--repeats 2] [--cluster local:2 [--cluster-only]]
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
BARE_LOOP = """
import sys, opensmile
smile = opensmile.Smile(feature_set=opensmile.FeatureSet.emobase, feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
files = open(sys.argv[1]).read().split()
for path in files:
    smile.process_file(path)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emodb-dir", default=str(REPO.parent / "shared" / "data" / "emodb"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--cluster", help="also time `--cluster` (e.g. local:2, needs ser[cluster]) against --nj")
    parser.add_argument("--cluster-only", action="store_true", help="with --cluster: skip the bare loop and the memory pass")
    args = parser.parse_args()
    emodb = Path(args.emodb_dir)
    files = sorted(str(p) for p in emodb.glob("*.wav"))
    if not files:
        print(f"no wav files in {emodb}", file=sys.stderr)
        return 2
    audio_seconds = sum(sf.info(f).duration for f in files)
    work = Path(tempfile.mkdtemp(prefix="ser-bench-extract-"))
    try:
        listing = work / "files.txt"
        listing.write_text("\n".join(files))
        ser = [sys.executable, "-m", "ser"]
        prep = run_measured(ser + ["prepare", "emodb", str(emodb), str(work / "data")], cwd=REPO)[2]
        if prep.returncode != 0:
            print(prep.stderr, file=sys.stderr)
            return 2
        bare_times, ours_times, cluster_times, ours_peak = [], [], [], 0
        only = bool(args.cluster and args.cluster_only)
        for _ in range(args.repeats):
            if not only:
                wall, _, proc = run_measured([sys.executable, "-c", BARE_LOOP, str(listing)])
                assert proc.returncode == 0, proc.stderr
                bare_times.append(wall)
            out = work / "feats"
            shutil.rmtree(out, ignore_errors=True)
            wall, peak, proc = run_measured(ser + ["extract", "--features", "emobase78", "--nj", str(args.nj), "--no-progress", str(work / "data"), str(out)], cwd=REPO)
            assert proc.returncode == 0, proc.stderr
            ours_times.append(wall)
            ours_peak = max(ours_peak, peak)
            if args.cluster:
                shutil.rmtree(out, ignore_errors=True)
                wall, _, proc = run_measured(ser + ["extract", "--features", "emobase78", "--cluster", args.cluster, "--no-progress",
                                                    str(work / "data"), str(out)], cwd=REPO)
                assert proc.returncode == 0, proc.stderr
                cluster_times.append(wall)
        if only:
            return report_cluster(args, ours_times, cluster_times, len(files), audio_seconds)
        # memory at a quarter of the corpus, for the flatness check
        quarter = work / "data_quarter"
        quarter.mkdir()
        keep = sorted((work / "data" / "wav.scp").read_text().splitlines())[: len(files) // 4]
        from ser.datadir import DataDir

        DataDir.read(work / "data").subset_utts(line.split()[0] for line in keep).write(quarter)
        _, quarter_peak, proc = run_measured(ser + ["extract", "--features", "emobase78", "--nj", str(args.nj), "--no-progress", str(quarter), str(work / "feats_q")], cwd=REPO)
        assert proc.returncode == 0, proc.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare, ours = min(bare_times), min(ours_times)
    n = len(files)
    print(f"corpus: {n} EmoDB files, {audio_seconds:.1f} s of audio; best of {args.repeats} runs each")
    print(f"bare opensmile loop (1 process, process_file): {bare:7.2f} s  {n / bare:6.1f} files/s  {audio_seconds / bare:6.1f} x real time  RTF {bare / audio_seconds:.4f}")
    print(f"ser extract emobase78 --nj {args.nj}:            {ours:7.2f} s  {n / ours:6.1f} files/s  {audio_seconds / ours:6.1f} x real time  RTF {ours / audio_seconds:.4f}")
    print(f"ratio (bare time / ser time): {bare / ours:.2f}x   (target >= 1.9x on 2 cores)")
    if cluster_times:
        report_cluster(args, ours_times, cluster_times)
    print(f"peak RSS of ser extract process tree: {quarter_peak / 2**20:.0f} MiB at {len(keep)} files, {ours_peak / 2**20:.0f} MiB at {n} files (target < 1024 MiB, flat)")
    return 0


def report_cluster(args: argparse.Namespace, ours_times: list[float], cluster_times: list[float], n: int = 0,
                   audio_seconds: float = 0.0) -> int:
    ours, clu = min(ours_times), min(cluster_times)
    if n:
        print(f"corpus: {n} EmoDB files, {audio_seconds:.1f} s of audio; best of {args.repeats} runs each")
        print(f"ser extract emobase78 --nj {args.nj}: {ours:7.2f} s  {audio_seconds / ours:6.1f} x real time")
    print(f"ser extract --cluster {args.cluster}: {clu:7.2f} s; ratio (--nj time / cluster time): {ours / clu:.2f}x "
          "(target >= 0.9x; whole commands: both include starting and closing their workers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
