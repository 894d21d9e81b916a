"""Test-retest reliability of each feature under changes nobody can hear, measured on the training corpora only.

Each chosen utterance of the data dir is featurised again with its first 3 ms and 7 ms cut off (`--shifts-ms`):
the 10 ms analysis frames then fall elsewhere in the same speech. The original's features come from the extracted
feature dir. After each speaker's z-normalisation (the statistics of the speaker's original clips, as training
normalises), the one-way intraclass correlation ICC(1,1) of every feature over the (original + shifted) versions
says how much of its spread between clips is the clip and how much is where the frames fell. Features below
`--min-icc` (0.9, "excellent" by the usual convention) are written as the `drop:` list of a new feature set.

    python3 local/feature_reliability.py DATA_DIR FEAT_DIR BASE_SET OUT_YAML [--every 2] [--nj 2] [--min-icc 0.9]
    (also writes OUT_YAML with .tsv instead of .yaml: every feature's ICC, lowest first)
"""

from __future__ import annotations

import argparse
import datetime
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import kaldiio
import numpy as np
import yaml

import ser
from ser.audio import load_audio
from ser.datadir import DataDir
from ser.frontend.featureset import load_feature_set


def shifted_features(job: tuple[list[str], str, int, list[int]]) -> np.ndarray:
    """(clips, shifts, dim) features of each wav with its first `cut` samples removed, for each cut."""
    paths, base_set, rate, cuts = job
    out = []
    for path in paths:
        x = load_audio(path, rate)
        out.append(np.concatenate(ser.extract([x[c:] for c in cuts], features=base_set, sr=rate)))
    return np.stack(out)


def icc_one_way(versions: np.ndarray) -> np.ndarray:
    """ICC(1,1) per feature of a (clips, versions, features) array (Shrout & Fleiss' one-way random model)."""
    n, k, _ = versions.shape
    clip_means = versions.mean(1)
    msb = k * ((clip_means - clip_means.mean(0)) ** 2).sum(0) / (n - 1)
    msw = ((versions - clip_means[:, None]) ** 2).sum((0, 1)) / (n * (k - 1))
    return (msb - msw) / np.maximum(msb + (k - 1) * msw, 1e-12)


def speaker_normalised(feats: np.ndarray, speakers: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """z-normalise (clips, versions, features) with each speaker's statistics over `reference` (their originals)."""
    out = np.empty_like(feats)
    for spk in np.unique(speakers):
        rows = speakers == spk
        mean, std = reference[rows].mean(0), reference[rows].std(0)
        out[rows] = (feats[rows] - mean) / np.where(std > 1e-8, std, 1.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("feat_dir", type=Path, help="the extracted BASE_SET features of DATA_DIR (the originals)")
    ap.add_argument("base_set")
    ap.add_argument("out_yaml", type=Path)
    ap.add_argument("--shifts-ms", type=float, nargs="+", default=[3.0, 7.0])
    ap.add_argument("--every", type=int, default=2, help="use every Nth utterance (sorted ids); all speakers keep clips")
    ap.add_argument("--min-icc", type=float, default=0.9)
    ap.add_argument("--nj", type=int, default=2)
    args = ap.parse_args()

    base = load_feature_set(args.base_set)
    data = DataDir.read(args.data_dir)
    utts = sorted(data.wav_scp)[:: args.every]
    originals = kaldiio.load_scp(str(args.feat_dir / "feats.scp"))
    speakers = np.array([data.utt2spk[u] for u in utts])
    orig = np.stack([np.asarray(originals[u]).reshape(-1) for u in utts])
    cuts = [round(ms * base.sample_rate / 1000) for ms in args.shifts_ms]
    chunks = [utts[i: i + 25] for i in range(0, len(utts), 25)]
    jobs = [([data.wav_scp[u] for u in chunk], args.base_set, base.sample_rate, cuts) for chunk in chunks]
    with ProcessPoolExecutor(args.nj) as pool:
        shifted = np.concatenate(list(pool.map(shifted_features, jobs)))
    versions = speaker_normalised(np.concatenate([orig[:, None], shifted], 1), speakers, orig)
    icc = icc_one_way(versions)
    names = base.build().names
    drop = [n for n, r in zip(names, icc) if r < args.min_icc]
    order = np.argsort(icc)
    args.out_yaml.with_suffix(".tsv").write_text("feature\ticc\n" + "".join(f"{names[i]}\t{icc[i]:.4f}\n" for i in order))
    spec = base.to_dict()
    spec.update(name=args.out_yaml.stem, drop=drop,
                description=f"{base.name} without its {len(drop)} features of ICC < {args.min_icc} under 3/7 ms frame shifts "
                            f"({len(names) - len(drop)}-d; recipes/cross_corpus/local/feature_reliability.py)")
    header = (f"# written by recipes/cross_corpus/local/feature_reliability.py on {datetime.date.today()}: {len(utts)} clips of "
              f"{args.data_dir} (every {args.every}th), shifts {args.shifts_ms} ms, min ICC {args.min_icc}\n")
    args.out_yaml.write_text(header + yaml.safe_dump(spec, sort_keys=False, width=200))
    print(f"{len(utts)} clips x {1 + len(cuts)} versions: {len(drop)} of {len(names)} features below ICC {args.min_icc}; "
          f"median ICC {np.median(icc):.3f}; wrote {args.out_yaml}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
