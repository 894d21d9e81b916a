"""Benchmark: `ser score` cold start, warm per-clip latency, batch throughput, long-recording memory.

All numbers come from this one run on this machine (shared and noisy: only ratios mean something):
  * cold start: `ser score --model M one_3s_clip.wav` as a fresh process vs a bare `python -c "import torch"`
    (fastest of `--repeats`);
  * warm latency: one 3 s clip scored again and again by an already loaded Scorer (median), and its
    real-time factor;
  * throughput: `ser score --nj N` over every EmoDB clip (535), in x real time, with peak RSS of the tree;
  * floor (openSMILE models): a bare opensmile.Smile loop of the model's feature set over the same clips in N
    processes (no ser), just before the batch: its wall time, and the CPU-seconds openSMILE alone spends per audio
    second, which caps any scorer of this feature set at N / that x real time on N cores;
  * with `--long-minutes M`: `ser score --segment vad` on an M-minute synthetic recording (EmoDB clips and
    pauses) and on one a quarter as long: peak RSS of both (memory must stay flat) and x real time.

Without `--model` the built-in default model is timed (what `ser score clip.wav` runs); `--tiny-gagru`
trains a small GA-GRU bundle on 3 EmoDB speakers first (a few seconds) to time a frame-level model instead.

  * with `--memory`: peak RSS in file length (issue 14): `ser score` (long files scored as windows) and
    `ser extract` with emobase78 (LLDs in blocks), egemaps88, emobase988 and egemaps88_level (functionals: their
    contours in blocks, ser.frontend.long_functionals) on 10 s, 10 min and 60 min recordings made of EmoDB
    clips (temp WAVs, deleted), each ratio to the 10 s run printed (flat: <= 1.2). `--memory-only` skips the rest.

    .venv/bin/python benchmarks/score.py [--model M.ser | --tiny-gagru] [--emodb-dir ../shared/data/emodb] [--nj 2] [--long-minutes 60]
    .venv/bin/python benchmarks/score.py --memory-only
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmon import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def quiet(cmd: list[str], out: Path) -> list[str]:
    """`cmd` with stdout to a file: run_measured reads its pipes only at the end, and 535 rows fill a pipe."""
    return ["sh", "-c", 'out="$1"; shift; exec "$@" > "$out"', "sh", str(out), *cmd]


#: the floor: opensmile.Smile over the clips in N forked processes; prints the CPU-seconds of openSMILE calls alone
BARE_SMILE = """
import sys, time, multiprocessing as mp
def work(args):
    files, feature_set, level = args
    import opensmile, soundfile as sf
    smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                            feature_level=getattr(opensmile.FeatureLevel, level))
    cpu = 0.0
    for path in files:
        x, rate = sf.read(path, dtype="float32")
        tick = time.process_time()
        smile(x.reshape(1, -1), rate)
        cpu += time.process_time() - tick
    return cpu
if __name__ == "__main__":
    files, nj = open(sys.argv[1]).read().split(), int(sys.argv[2])
    with mp.get_context("fork").Pool(nj) as pool:
        print(sum(pool.map(work, [(files[i::nj], sys.argv[3], sys.argv[4]) for i in range(nj)])))
"""
SMILE_LEVELS = {"functionals": "Functionals", "lld": "LowLevelDescriptors"}


def bare_floor(model: Path, files: list[str], nj: int, work: Path) -> tuple[float, float, str] | None:
    """(wall s, openSMILE CPU s, name) of BARE_SMILE for the model's openSMILE feature set; None for other front ends."""
    from ser.bundle import load_bundle

    fs = load_bundle(model).feature_set_dict
    options = fs.get("options") or {}
    if fs.get("kind") != "opensmile" or options.get("feature_level", "lld") not in SMILE_LEVELS:
        return None
    name, level = options.get("feature_set", "emobase"), options.get("feature_level", "lld")
    listing = work / "floor.txt"
    listing.write_text("\n".join(files))
    wall, _, proc = run_measured([sys.executable, "-c", BARE_SMILE, str(listing), str(nj), name, SMILE_LEVELS[level]])
    assert proc.returncode == 0, proc.stderr
    return wall, float(proc.stdout.split()[-1]), f"{name} {level}"


def tiny_bundle(emodb: Path, work: Path) -> Path:
    from ser.cli import main
    from ser.datadir import DataDir

    letters = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}
    ids = [p.stem for spk in ("03", "08", "09") for p in sorted(emodb.glob(f"{spk}*.wav"))[:10]]
    DataDir(maps={"wav.scp": {u: str(emodb / f"{u}.wav") for u in ids}, "utt2spk": {u: u[:2] for u in ids},
                  "utt2emo": {u: letters[u[5]] for u in ids}}).write(work / "data")
    steps = [["extract", "--features", "emobase78_avg5", "--nj", "2", "--no-progress", str(work / "data"), str(work / "feats")],
             ["compute-cmvn", str(work / "feats")], ["make-folds", str(work / "data"), str(work / "folds")],
             ["evaluate", "--quiet", "--folds", "03", str(work / "feats"), str(work / "folds"), str(work / "exp"), "encoder=gagru",
              "encoder_conf.hidden_size=32", "encoder_conf.num_layers=1", "train.max_epochs=2", "train.threads=1"],
             ["export", "--fold", "03", str(work / "exp"), str(work / "tiny.ser")]]
    for step in steps:
        if main(step) != 0:
            raise SystemExit(f"building the tiny bundle failed at: ser {' '.join(step)}")
    return work / "tiny.ser"


def long_recording(files: list[str], path: Path, minutes: float) -> float:
    """Write EmoDB clips separated by 1 s pauses until `minutes`, block by block (never all in memory)."""
    rng = np.random.default_rng(0)
    target, written = minutes * 60 * 16000, 0
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=1, subtype="PCM_16") as out:
        i = 0
        while written < target:
            x, _ = sf.read(files[i % len(files)], dtype="float32")
            pause = (1e-4 * rng.standard_normal(16000)).astype(np.float32)
            out.write(x)
            out.write(pause)
            written += x.size + pause.size
            i += 1
    return written / 16000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="bundle to time (default: the built-in default model)")
    parser.add_argument("--tiny-gagru", action="store_true", help="time a tiny GA-GRU bundle trained first on 3 speakers")
    parser.add_argument("--emodb-dir", default=str(REPO.parent / "shared" / "data" / "emodb"))
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=10)
    parser.add_argument("--long-minutes", type=float, default=0.0, help="also time --segment vad on a recording this long")
    parser.add_argument("--memory", action="store_true", help="also peak RSS of score and extract on 10 s / 10 min / 60 min files")
    parser.add_argument("--memory-only", action="store_true", help="only the --memory part")
    parser.add_argument("--sets", default=",".join(EXTRACT_SETS),
                        help="feature sets whose extract memory --memory measures (comma-separated; e.g. compare6373,is09_384)")
    parser.add_argument("--no-score", action="store_true", help="--memory without the `ser score` runs")
    args = parser.parse_args()
    emodb = Path(args.emodb_dir)
    files = sorted(str(p) for p in emodb.glob("*.wav"))
    if not files:
        print(f"no wav files in {emodb}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ser-bench-score-"))
    try:
        return run(args, emodb, files, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, emodb: Path, files: list[str], work: Path) -> int:
    from ser.bundle import DEFAULT_MODEL

    model = tiny_bundle(emodb, work) if args.tiny_gagru else Path(args.model) if args.model else DEFAULT_MODEL
    print(f"model: {model}")
    if args.memory or args.memory_only:
        memory_in_length(model, files, work, sets=tuple(args.sets.split(",")), score=not args.no_score)
    if args.memory_only:
        return 0
    clip = min(files, key=lambda f: abs(sf.info(f).duration - 3.0))
    clip_s = sf.info(clip).duration
    ser = [sys.executable, "-m", "ser", "score", "--model", str(model), "--quiet"]

    # cold start
    bare, cold = [], []
    for _ in range(args.repeats):
        bare.append(run_measured([sys.executable, "-c", "import torch"])[0])
        wall, _, proc = run_measured(quiet(ser + [clip], work / "one.txt"))
        assert proc.returncode == 0, proc.stderr
        cold.append(wall)
    print(f"cold start: ser score on one {clip_s:.2f} s clip {min(cold):.2f} s; bare `import torch` {min(bare):.2f} s; "
          f"ratio {min(cold) / min(bare):.2f}x")

    # warm latency
    import torch

    from ser.bundle import load_bundle
    from ser.score import Scorer, collect_clips

    torch.set_num_threads(1)
    scorer = Scorer(load_bundle(model), threads=1)
    clips = collect_clips([clip])
    scorer.score(clips)
    times = []
    for _ in range(args.warm_runs):
        tick = time.perf_counter()
        scorer.score(clips)
        times.append(time.perf_counter() - tick)
    warm = statistics.median(times)
    print(f"warm latency: {warm * 1000:.1f} ms per {clip_s:.2f} s clip (median of {args.warm_runs}); "
          f"real-time factor {warm / clip_s:.4f} ({clip_s / warm:.0f}x real time)")

    # batch throughput, beside the floor of the model's feature set
    audio_s = sum(sf.info(f).duration for f in files)
    floor = bare_floor(model, files, args.nj, work)
    wall, peak, proc = run_measured(quiet(ser + ["--nj", str(args.nj), "--csv", str(work / "all.csv"), str(emodb)], work / "all.txt"))
    assert proc.returncode == 0, proc.stderr
    print(f"batch: {len(files)} clips, {audio_s:.0f} s of audio in {wall:.1f} s with --nj {args.nj}: "
          f"{audio_s / wall:.1f}x real time, {len(files) / wall:.1f} clips/s; peak RSS {peak / 2**20:.0f} MiB; "
          f"vs cold start x{len(files)}: {min(cold) * len(files) / wall:.1f}x faster")
    if floor is not None:
        bare_wall, smile_cpu, name = floor
        print(f"floor: bare opensmile.Smile {name} loop in {args.nj} processes: {bare_wall:.1f} s "
              f"({audio_s / bare_wall:.1f}x real time); ser score --nj {args.nj} runs at {bare_wall / wall:.2f}x its speed; "
              f"openSMILE alone: {smile_cpu:.1f} CPU-s = {smile_cpu / audio_s * 1000:.1f} ms per audio s, so at most "
              f"{args.nj * audio_s / smile_cpu:.0f}x real time on {args.nj} idle cores")

    if args.long_minutes > 0:
        peaks = {}
        for minutes in (args.long_minutes / 4, args.long_minutes):
            rec = work / f"long_{minutes:g}.wav"
            seconds = long_recording(files, rec, minutes)
            wall, peak, proc = run_measured(quiet(ser + ["--segment", "vad", "--csv", str(work / "long.csv"), str(rec)], work / "long.txt"))
            assert proc.returncode == 0, proc.stderr
            peaks[minutes] = peak
            print(f"long recording {seconds / 60:.1f} min: {wall:.1f} s ({seconds / wall:.1f}x real time), peak RSS {peak / 2**20:.0f} MiB")
            rec.unlink()
        small, large = peaks.values()
        print(f"memory: peak RSS ratio {args.long_minutes:g} min / {args.long_minutes / 4:g} min = {large / small:.2f} (flat = ~1)")
    return 0


#: the feature sets `ser extract` is measured with: frame-level LLDs (written in blocks) and functionals (one pass
#: over the whole file, its audio streamed into openSMILE)
EXTRACT_SETS = ("emobase78", "egemaps88", "emobase988", "egemaps88_level")


def memory_in_length(model: Path, files: list[str], work: Path, minutes: tuple[float, ...] = (10 / 60, 10, 60),
                     sets: tuple[str, ...] = EXTRACT_SETS, score: bool = True) -> None:
    """Peak RSS (whole process tree) of `ser score` and of `ser extract` for each of `sets` on recordings of
    each length, and the ratio of each to the shortest: flat in file length means <= 1.2."""
    from ser.datadir import DataDir

    peaks: dict[str, list[float]] = {**({"score": []} if score else {}), **{f"extract {name}": [] for name in sets}}
    for m in minutes:
        rec = work / f"rec_{m:g}.wav"
        seconds = long_recording(files, rec, m)
        data = work / f"data_{m:g}"
        DataDir(maps={"wav.scp": {"rec": str(rec)}, "utt2spk": {"rec": "rec"}}).write(data)
        runs = {"score": quiet([sys.executable, "-m", "ser", "score", "--model", str(model), "--quiet", "--csv",
                                str(work / "rows.csv"), str(rec)], work / "rows.txt")} if score else {}
        for name in sets:
            runs[f"extract {name}"] = [sys.executable, "-m", "ser", "extract", "--features", name, "--no-progress",
                                       "--overwrite", str(data), str(work / f"feats_{m:g}")]
        for verb, cmd in runs.items():
            wall, peak, proc = run_measured(cmd)
            assert proc.returncode == 0, proc.stderr
            peaks[verb].append(peak)
            print(f"{verb:<20} {seconds / 60:6.2f} min: peak RSS {peak / 2**20:6.0f} MiB, {wall:6.1f} s ({seconds / wall:.0f}x real time)")
            shutil.rmtree(work / f"feats_{m:g}", ignore_errors=True)
        rec.unlink()
    for verb, values in peaks.items():
        ratios = ", ".join(f"{m:.3g} min {v / values[0]:.2f}" for m, v in zip(minutes, values))
        print(f"memory {verb}: peak RSS ratio to the {minutes[0] * 60:g} s file: {ratios} (flat: <= 1.2)")


if __name__ == "__main__":
    sys.exit(main())
