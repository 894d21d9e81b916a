"""Do m4a/mp3 clips score like the WAV they were made from? (issue 16)

EmoDB clips are re-encoded with PyAV (AAC in .m4a and MP3, `--bitrate`, default 128 kbit/s) into a temp dir,
and every version is scored with the built-in model by the code `ser.load_model().predict_proba` runs (features
extracted once per version, then scored alone, and grouped by speaker as `ser score --speaker` does; a speaker's
statistics need 10+ clips). As a reference measured in the same run, the WAV is also scored under changes nobody
can hear: -0.5 dB gain, 1 ms of leading silence, re-quantised to 16 bits with TPDF dither.
If labels flip under those about as often as under the codecs, disagreement is the model's small margins, not
our decoding. Per version it prints: label agreement with the WAV, mean |posterior difference| (over clips and
classes), the WAV's median top-2 margin on the flipped clips, and the decoded signal against the WAV (length
difference, offset at the cross-correlation peak, least-squares gain).

`--no-delay-info` also encodes AAC as a muxer does when given no timestamps: the MP4 edit list then declares no
encoder delay, so the 1024 priming samples stay at the start of the decoded audio (how such files score).

    python benchmarks/codecs.py [--limit N] [--bitrate 128000] [--emodb-dir ../shared/data/emodb] [--no-delay-info]
                                [--model FILE ...] [--with-builtin]   # other bundles (candidates to replace the
                                                                      # built-in model), each scored on the same files
Models whose feature sets differ only by `drop:` share one extraction (the kept columns are selected per model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ser.audio import load_audio


def pick(emodb: Path, limit: int | None) -> list[Path]:
    """Every clip, or `limit` evenly spaced over the sorted names (deterministic, all speakers kept)."""
    wavs = sorted(emodb.glob("*.wav"))
    if limit is None or limit >= len(wavs):
        return wavs
    return [wavs[int(i)] for i in np.linspace(0, len(wavs) - 1, limit).round()]


def encode(wav: Path, out: Path, codec: str, bitrate: int, timestamps: bool = True) -> None:
    """The WAV's 16-bit samples through ``ser.codec.encode_pcm`` (with timestamps: the priming delay declared in the
    MP4 edit list, as ffmpeg's command line and phones write it; without: none declared)."""
    from ser.codec import encode_pcm

    x, rate = sf.read(str(wav), dtype="int16", always_2d=True)
    encode_pcm(x, rate, out, codec, bitrate, timestamps)


def perturb(wav: Path, out: Path, kind: str, rng: np.random.Generator) -> None:
    """Inaudible changes, written as float WAV (no extra quantisation) except `dither`, which is the re-quantisation."""
    x, rate = sf.read(str(wav), dtype="float64")
    if kind == "gain-0.5dB":
        sf.write(str(out), (x * 10 ** (-0.5 / 20)).astype(np.float32), rate, subtype="FLOAT")
    elif kind == "silence+1ms":
        sf.write(str(out), np.concatenate([np.zeros(rate // 1000), x]).astype(np.float32), rate, subtype="FLOAT")
    elif kind == "dither16":  # tiny gain so the samples leave the grid, then +-1 LSB TPDF dither back to 16 bits
        lsb = 1 / 32768
        y = x * 0.999 + (rng.random(x.size) - rng.random(x.size)) * lsb
        sf.write(str(out), np.clip(np.round(y / lsb), -32768, 32767).astype(np.int16), rate, subtype="PCM_16")
    else:
        raise ValueError(kind)


def alignment(ref: np.ndarray, y: np.ndarray) -> tuple[int, int, float]:
    """(length difference, lag of the cross-correlation peak within +-4096 samples, least-squares gain after the lag)."""
    lag_max = 4096
    n = min(ref.size, y.size)
    spec = np.fft.rfft(y[:n], 2 * n) * np.conj(np.fft.rfft(ref[:n], 2 * n))
    xc = np.fft.irfft(spec)
    lags = np.r_[np.arange(0, lag_max + 1), np.arange(-lag_max, 0)]
    lag = int(lags[np.argmax(np.r_[xc[: lag_max + 1], xc[-lag_max:]])])
    a, b = (ref[: n - lag], y[lag:n]) if lag >= 0 else (ref[-lag:n], y[: n + lag])
    return y.size - ref.size, lag, float(np.dot(a, b) / max(np.dot(a, a), 1e-12))


def score_versions(model: Any, versions: dict[str, list[Path]], speakers: list[str],
                   made: dict[tuple[str, str], tuple[list, list]]) -> dict[tuple[str, str], np.ndarray]:
    """Posteriors of every version, alone and grouped by speaker: what predict_proba(paths[, speaker=]) runs,
    with each version's features made once; `made` ((base feature set, version) -> (features, errors)) is shared
    by the models of one run, so models that differ only by `drop:` share one extraction."""
    from ser.api import _features
    from ser.score import Clip

    base, columns = split_drop(model.bundle.feature_set_dict)
    posts: dict[tuple[str, str], np.ndarray] = {}
    for name, paths in versions.items():
        key = (json.dumps(base, sort_keys=True), name)
        if key not in made:
            made[key] = _features(paths, base, None)
        feats, errors = made[key]
        feats = [f if f is None or columns is None else np.ascontiguousarray(f[:, columns]) for f in feats]
        for mode in ("alone", "grouped"):
            clips = [Clip(id=str(i), path=str(p), speaker=spk if mode == "grouped" else None)
                     for i, (p, spk) in enumerate(zip(paths, speakers))]
            run = model._scorer.score_features(clips, feats, errors)
            bad = [r for r in run.results if not r.ok]
            if bad:
                raise SystemExit(f"{bad[0].clip.path}: {bad[0].error}")
            posts[name, mode] = np.stack([r.posteriors for r in run.results])
    return posts


def split_drop(feature_dict: dict[str, Any]) -> tuple[dict[str, Any], list[int] | None]:
    """The feature set without its `drop:` and the columns that `drop:` keeps (None: all)."""
    from ser.frontend.featureset import FeatureSet

    fs = FeatureSet.from_dict(dict(feature_dict))
    if not fs.drop:
        return fs.to_dict(), None
    base = FeatureSet.from_dict({**fs.to_dict(), "drop": []})
    return base.to_dict(), fs.kept_columns(base.build().names)


def report(wavs: list[Path], speakers: list[str], bitrate: int, model: Path | None, versions: dict[str, list[Path]],
           posts: dict[tuple[str, str], np.ndarray], signal: dict[str, np.ndarray]) -> None:
    """One model's table: agreement with the WAV per version and mode."""
    print(f"{len(wavs)} EmoDB clips ({len(set(speakers))} speakers), codecs at {bitrate // 1000} kbit/s, "
          f"{'model ' + str(model) if model else 'built-in model'}")
    print(f"{'version':<24}{'mode':<9}{'same label':>16}{'mean |dp|':>11}{'flipped: WAV margin':>21}"
          f"{'len diff':>10}{'lag':>6}{'gain':>8}")
    for name in versions:
        if name == "wav":
            continue
        sig = signal[name]
        for mode in ("alone", "grouped"):
            ref, got = posts["wav", mode], posts[name, mode]
            same = ref.argmax(1) == got.argmax(1)
            top2 = np.sort(ref, axis=1)[:, -2:]
            margin = top2[:, 1] - top2[:, 0]
            flipped = f"{np.median(margin[~same]):.3f}" if (~same).any() else "-"
            print(f"{name:<24}{mode:<9}{f'{same.sum()}/{same.size} {100 * same.mean():.1f}%':>16}"
                  f"{np.abs(got - ref).mean():>11.4f}{flipped:>21}"
                  f"{int(np.median(sig[:, 0])):>10}{int(np.median(sig[:, 1])):>6}{np.median(sig[:, 2]):>8.3f}")
    for mode in ("alone", "grouped"):
        ref = posts["wav", mode]
        top2 = np.sort(ref, axis=1)[:, -2:]
        print(f"WAV top-2 margin ({mode}): median {np.median(top2[:, 1] - top2[:, 0]):.3f} over all clips")
    print("len diff, lag (samples at 16 kHz) and gain: medians over clips of the decoded version against the WAV")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emodb-dir", type=Path, default=REPO.parent / "shared" / "data" / "emodb")
    ap.add_argument("--limit", type=int, default=None, help="clips (evenly spaced over the sorted names); default all")
    ap.add_argument("--bitrate", type=int, default=128000)
    ap.add_argument("--model", type=Path, nargs="+", default=None, help="model files to score with (default: the built-in model)")
    ap.add_argument("--with-builtin", action="store_true", help="also the built-in model, beside --model's")
    ap.add_argument("--no-delay-info", action="store_true", help="also AAC muxed without timestamps (no edit list)")
    args = ap.parse_args()

    import ser

    wavs = pick(args.emodb_dir, args.limit)
    speakers = [w.name[:2] for w in wavs]
    model_paths: list[Path | None] = list(args.model or [None])
    if args.model and args.with_builtin:
        model_paths.insert(0, None)
    models = [ser.load_model(m) for m in model_paths]
    rng = np.random.default_rng(16)
    kinds = {"aac.m4a": ("aac", "m4a", True), "mp3": ("libmp3lame", "mp3", True)}
    if args.no_delay_info:
        kinds["aac.m4a, no edit list"] = ("aac", "m4a", False)
    with tempfile.TemporaryDirectory(prefix="ser-codecs-") as tmp:
        work = Path(tmp)
        versions: dict[str, list[Path]] = {"wav": wavs}
        for name, (codec, ext, stamps) in kinds.items():
            folder = work / name.replace(" ", "_").replace(",", "")
            folder.mkdir()
            versions[name] = [folder / f"{w.stem}.{ext}" for w in wavs]
            for w, out in zip(wavs, versions[name]):
                encode(w, out, codec, args.bitrate, stamps)
        for kind in ("gain-0.5dB", "silence+1ms", "dither16"):
            (work / kind).mkdir()
            versions[kind] = [work / kind / w.name for w in wavs]
            for w, out in zip(wavs, versions[kind]):
                perturb(w, out, kind, rng)
        made: dict[tuple[str, str], tuple[list, list]] = {}
        posts = [score_versions(model, versions, speakers, made) for model in models]
        signal = {}
        for name, paths in versions.items():
            rows = [alignment(load_audio(w), load_audio(p)) for w, p in zip(wavs, paths)]
            signal[name] = np.array(rows)

    for path, post in zip(model_paths, posts):
        report(wavs, speakers, args.bitrate, path, versions, post, signal)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
