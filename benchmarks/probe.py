"""Try each fault class of issue 14 end to end and say whether ser handled it: `make probe`.

Inventory (issue item -> probes and tests): benchmarks/PROBES.md.

A probe is a small function that builds its bad input in a temp folder, runs the verb, and returns
(handled, reason). Handled means: a clear error naming the file and the reason (no traceback), the
rest of the batch done, nothing already written lost. Prints one line per probe, then
`tried N / handled H / failed F`; exit status 1 when any probe failed.

    python benchmarks/probe.py [-k SUBSTRING]     # SER_SHARED_DATA: the real corpora (EmoDB for the audio probes)
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from tests.bad_audio import tone, write_bad_files  # noqa: E402
from tests.hostile import (  # noqa: E402
    segments_naming_unknown_recording,
    tone_datadir,
    tone_wavs,
    child_peak_rss_mib, deep_json, hostile_torch_file, reseal_bundle, sparse_file, tiny_text_model, zip_bomb,
)

from benchmarks.probekit import (  # noqa: E402
    DATA, PROBES, SER, Result, cli, clean, default_model, extract, lines, probe, verdict,
)

# --- already fixed: locks, pipes, bundles, audio ----------------------------------------------------------------
@probe
def second_writer_is_refused(tmp: Path) -> Result:
    from ser.lock import OutputLock

    data = tone_datadir(tmp, ["s1-a", "s1-b"])
    with OutputLock(tmp / "f"):
        rc, _, err = extract(data, tmp / "f")
    return verdict(rc == 2 and "being written by another ser process" in err and clean(err), "refused, holder named", f"rc {rc}: {err[-300:]}")


@probe
def pipe_entries_are_not_run(tmp: Path) -> Result:
    data = tone_datadir(tmp, ["s1-a", "s1-b"])
    extract(data, tmp / "f")
    marker = tmp / "pwned"
    scp = (tmp / "f" / "feats.scp").read_text().splitlines()
    scp[0] = scp[0].split()[0] + f" touch {marker} |"
    (tmp / "f" / "feats.scp").write_text("\n".join(scp) + "\n")
    rc, _, err = cli("compute-cmvn", str(tmp / "f"))
    return verdict(rc == 2 and "shell command" in err and not marker.exists(), "refused, nothing run", f"rc {rc}, ran: {marker.exists()}")


@probe
def flipped_byte_in_bundle(tmp: Path) -> Result:
    raw = bytearray(default_model().read_bytes())
    raw[len(raw) // 2] ^= 1
    (tmp / "m.ser").write_bytes(bytes(raw))
    rc, _, err = cli("info", str(tmp / "m.ser"))
    return verdict(rc == 2 and "checksum mismatch" in err and str(tmp / "m.ser") in err, "seal caught it", f"rc {rc}: {err[-300:]}")


@probe
def edited_and_resealed_bundle(tmp: Path) -> Result:
    good = default_model()
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    reseal_bundle(good, tmp / "m.ser", lambda meta, arrays: meta.update(classes=list(reversed(meta["classes"]))))
    rc, _, err = cli("verify", str(tmp / "m.ser"), "--sha256", digest)
    return verdict(rc == 2 and "not the published/trusted one" in err, "published hash caught it", f"rc {rc}: {err[-300:]}")


@probe
def nan_weights(tmp: Path) -> Result:
    def poison(meta, arrays):
        name = next(k for k in arrays if k.startswith("model/") and arrays[k].dtype.kind == "f")
        arrays[name] = arrays[name] * np.nan

    reseal_bundle(default_model(), tmp / "m.ser", poison)
    rc, _, err = cli("info", str(tmp / "m.ser"))
    return verdict(rc == 2 and "NaN or Inf" in err, "refused", f"rc {rc}: {err[-300:]}")


@probe
def broken_audio_in_a_batch(tmp: Path) -> Result:
    bad = write_bad_files(tmp / "bad")
    one_hz = tmp / "bad" / "one_hz.wav"
    sf.write(one_hz, np.ones(8, dtype=np.float32) * 0.1, 1)
    loud = tmp / "bad" / "int_scaled_float.wav"
    sf.write(loud, tone(0.5) * 30000, 16000, subtype="FLOAT")
    good = tone_wavs(tmp / "good", ["ok"])["ok"]
    names = [p for p, _ in bad.values()] + [one_hz, loud]
    rc, out, err = cli("score", "--csv", str(tmp / "s.csv"), str(good), *map(str, names))
    table = (tmp / "s.csv").read_text() if (tmp / "s.csv").is_file() else ""
    scored = any(row.split(",")[0] == str(good) and row.split(",")[5] for row in table.splitlines())
    named = all(p.name in err + table for p in names)
    return verdict(rc != 0 and scored and named and clean(err) and "sample rate 1 Hz" in err + table and "peak" in err + table,
                   f"{len(names)} bad files named (truncated, header-only, 1 Hz, peak>8, ...), the good one scored",
                   f"rc {rc}, good scored {scored}, all named {named}: {err[-300:]}")


@probe
def killed_extract_resumes(tmp: Path) -> Result:
    emodb = DATA / "emodb"
    if not emodb.is_dir():
        return False, f"no EmoDB at {emodb} (set SER_SHARED_DATA)"
    from ser.datadir import DataDir

    files = sorted(emodb.glob("*.wav"))[:30]
    DataDir(maps={"wav.scp": {p.stem: str(p) for p in files}, "utt2spk": {p.stem: p.stem[:2] for p in files}}).write(tmp / "data")
    cmd = SER + ["extract", "--features", "mfcc13", "--nj", "1", "--no-progress", str(tmp / "data"), str(tmp / "f")]
    job = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and lines(tmp / "f" / "feats.scp") < 5 and job.poll() is None:
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    kept = lines(tmp / "f" / "feats.scp")
    again = subprocess.run(cmd, capture_output=True, text=True)
    ids = [line.split()[0] for line in (tmp / "f" / "feats.scp").read_text().splitlines()]
    return verdict(again.returncode == 0 and len(ids) == len(set(ids)) == 30, f"kill -9 after {kept} utterances; the rerun finished 30, each once",
                   f"rerun rc {again.returncode}, {len(ids)} entries ({len(set(ids))} distinct)")


@probe
def demo_data_offline(tmp: Path) -> Result:
    start = time.monotonic()
    proc = subprocess.run(["make", "-s", "demo-data", f"EMODB_DIR={tmp}/none", "EMODB_URL=http://127.0.0.1:9/x.zip"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    return verdict(proc.returncode != 0 and "EMODB=/path/to/emodb" in proc.stdout + proc.stderr and took < 20,
                   f"one-line refusal in {took:.1f} s", f"rc {proc.returncode} in {took:.1f} s: {proc.stdout[-200:]}")


# --- input sizes ------------------------------------------------------------------------------------------------
@probe
def converse_10mb_line(tmp: Path) -> Result:
    model = tiny_text_model(tmp / "m.pt")
    start = time.monotonic()
    proc, peak = child_peak_rss_mib(SER + ["converse", str(model)], input="A\t" + "w1 " * (10 * 1024**2 // 3) + "\nB\tw2\n", timeout=120)
    took = time.monotonic() - start
    ok = proc.returncode == 2 and "<stdin>:1" in proc.stderr and len(proc.stdout.splitlines()) == 2 and clean(proc.stderr)
    return verdict(ok and took < 60 and peak < 1500, f"refused in {took:.1f} s, peak {peak:.0f} MiB, next turn answered",
                   f"rc {proc.returncode}, {took:.1f} s, {peak:.0f} MiB: {proc.stderr[-200:]}")


@probe
def zip_bomb_bundle(tmp: Path) -> Result:
    bomb = zip_bomb(tmp / "bomb.ser", 1536 * 1024**2)
    proc, peak = child_peak_rss_mib(SER + ["info", str(bomb)], timeout=120)
    return verdict(proc.returncode == 2 and "zip bomb" in proc.stderr and peak < 600,
                   f"{bomb.stat().st_size / 1e6:.1f} MB file unpacking to 1.5 GiB refused, peak {peak:.0f} MiB",
                   f"rc {proc.returncode}, {peak:.0f} MiB: {proc.stderr[-200:]}")


@probe
def three_gb_models(tmp: Path) -> Result:
    big = sparse_file(tmp / "big.ser", 3 * 1024**3)
    results = [child_peak_rss_mib(SER + verb + [str(big)], input="", timeout=120) for verb in (["info"], ["converse"])]
    ok = all(p.returncode == 2 and "more than a" in p.stderr for p, _ in results) and max(m for _, m in results) < 1000
    return verdict(ok, f"refused by size (bundle and text model), peak {max(m for _, m in results):.0f} MiB",
                   "; ".join(f"rc {p.returncode} {m:.0f} MiB {p.stderr[-120:]}" for p, m in results))


@probe
def pinned_download_mismatch(tmp: Path) -> Result:
    (tmp / "download.zip").write_bytes(b"not emodb")
    script = f'. "{REPO}/recipes/tools/checksum.sh"; verify_sha256 "$1" "$2"'
    proc = subprocess.run(["bash", "-c", script, "-", str(tmp / "download.zip"), "0" * 64], capture_output=True, text=True)
    return verdict(proc.returncode == 1 and "SHA-256 mismatch" in proc.stderr, "mismatch refused", f"rc {proc.returncode}: {proc.stderr}")


# --- clear errors instead of tracebacks ---------------------------------------------------------------------------
@probe
def segments_unknown_recording(tmp: Path) -> Result:
    d = segments_naming_unknown_recording(tmp)
    rc_v, out_v, _ = cli("validate-data-dir", str(d))
    rc_e, _, err_e = extract(d, tmp / "f")
    rc_s, out_s, err_s = cli("score", "--json", str(d))
    ok = (rc_v != 0 and "recX" in out_v and rc_e == 1 and "recX" in err_e and lines(tmp / "f" / "feats.scp") == 2
          and "recX" in out_s + err_s and out_s.count('"error": null') == 2)
    return verdict(ok, "validate, extract and score name it; the rest done", f"validate {rc_v}, extract {rc_e}, score {rc_s}: {err_e[-200:]}")


@probe
def non_utf8_and_missing_speaker(tmp: Path) -> Result:
    data = tone_datadir(tmp, ["s1-a", "s1-b", "s2-a", "s2-b"])
    (data / "utt2spk").write_bytes(b"s1-a s1\ns1-b s\xff1\ns2-a s2\n")  # a bad byte; s2-b lacks its line
    rc, _, err = extract(data, tmp / "f")
    failed = (tmp / "f" / "failed.txt").read_text() if (tmp / "f" / "failed.txt").is_file() else ""
    ok = rc == 1 and "utt2spk:2" in err and "s2-b" in failed and lines(tmp / "f" / "feats.scp") == 2 and clean(err)
    return verdict(ok, "both named, the other two extracted, exit 1", f"rc {rc}: {err[-300:]}")


@probe
def labels_csv_bad_bytes_and_nul(tmp: Path) -> Result:
    tone_wavs(tmp / "clips" / "spk1", ["a", "b", "c"])
    (tmp / "l.csv").write_bytes(b"file,label\nspk1/a,angry\nspk1/b,ha\xffppy\nspk1/c,sa\x00d\n")
    rc, _, err = cli("prepare", "wavdir", str(tmp / "clips"), str(tmp / "data"), "--labels", str(tmp / "l.csv"))
    utt2emo = (tmp / "data" / "utt2emo").read_text() if (tmp / "data" / "utt2emo").is_file() else ""
    return verdict(rc == 0 and "l.csv:3" in err and "NUL" in err and utt2emo == "spk1-spk1-a angry\n",
                   "both rows named and skipped", f"rc {rc}: {err[-300:]}")


@probe
def meld_csv_bad_bytes(tmp: Path) -> Result:
    src = tmp / "meld"
    src.mkdir()
    header = b"Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\r\n"
    row = b"1,Hi there,Joey,joy,positive,0,0,1,1,0,1\r\n"
    for name in ("train", "dev", "test"):
        (src / f"{name}_sent_emo.csv").write_bytes(header + (row.replace(b"Hi", b"H\xe9") if name == "dev" else row))
    rc, _, err = cli("prepare-text", "meld", str(src), str(tmp / "out"))
    return verdict(rc == 2 and "dev_sent_emo.csv" in err and "not UTF-8" in err and clean(err), "named by file and row", f"rc {rc}: {err[-300:]}")


@probe
def unlabelled_text_split(tmp: Path) -> Result:
    src = tmp / "conv"
    src.mkdir()
    for split in ("train", "dev", "test"):
        turn = {"speaker": "A", "utterance": "hi"} | ({} if split == "test" else {"emotion": "happy"})
        (src / f"{split}.json").write_text(f"[[{__import__('json').dumps(turn)}]]")
    rc, _, err = cli("prepare-text", "conv-json", str(src), str(tmp / "out"))
    return verdict(rc == 2 and "test.json" in err and "no labelled turn" in err, "refused naming the split's file", f"rc {rc}: {err[-300:]}")


@probe
def list_file_lists_itself(tmp: Path) -> Result:
    good = tone_wavs(tmp, ["a"])["a"]
    listing = tmp / "clips.txt"
    listing.write_text(f"{good}\n{listing}\n")
    rc, out, err = cli("score", "--json", str(listing))
    return verdict(rc != 0 and "lists itself" in out + err and out.count('"error": null') == 1 and clean(err),
                   "the cycle named, the clip scored", f"rc {rc}: {err[-300:]}")


@probe
def deeply_nested_json_and_yaml(tmp: Path) -> Result:
    (tmp / "deep.json").write_text(deep_json())
    (tmp / "deep.yaml").write_text(deep_json())
    rc1, _, err1 = cli("converse", str(tiny_text_model(tmp / "m.pt")), str(tmp / "deep.json"))
    rc2, _, err2 = cli("train", "--config", str(tmp / "deep.yaml"), "--print-config", str(tmp), str(tmp), str(tmp))
    return verdict(rc1 == rc2 == 2 and "nested too deeply" in err1 and "nested too deeply" in err2,
                   "conversation JSON and config refused by name", f"rc {rc1}/{rc2}: {err1[-150:]} {err2[-150:]}")


@probe
def full_disk(tmp: Path) -> Result:
    import ser.fileio

    tone_wavs(tmp / "clips" / "spk1", ["a", "b"])

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    real, ser.fileio.os.fsync = ser.fileio.os.fsync, no_space
    try:
        rc, _, err = cli("prepare", "wavdir", str(tmp / "clips"), str(tmp / "data"))
    finally:
        ser.fileio.os.fsync = real
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return verdict(rc == 2 and "No space left on device" in last and str(tmp / "data") in last and clean(err),
                   "one line naming the file", f"rc {rc}: {err[-300:]}")


@probe
def hostile_model_files(tmp: Path) -> Result:
    marker = tmp / "pwned"
    (tmp / "exp" / "fold_03").mkdir(parents=True)
    hostile_torch_file(tmp / "exp" / "fold_03" / "model.ser", marker)
    hostile_torch_file(tmp / "m.pt", marker)
    rc1, _, err1 = cli("export", str(tmp / "exp"), str(tmp / "o.ser"), "--fold", "03")
    rc2, _, err2 = cli("converse", str(tmp / "m.pt"))
    ok = rc1 == rc2 == 2 and "posix.system" in err1 + err2 and not marker.exists()
    return verdict(ok, "export --fold and converse refuse, weights_only=True named, nothing run", f"rc {rc1}/{rc2}, ran {marker.exists()}")


@probe
def newline_in_a_file_name(tmp: Path) -> Result:
    tone_wavs(tmp / "clips" / "spk1", ["good1", "good2", "bad\nname"])
    rc, _, err = extract(tmp / "clips", tmp / "f")
    rc_v, _, _ = cli("validate-data-dir", str(tmp / "f"))
    ok = rc == 1 and "bad\\nname" in err and lines(tmp / "f" / "feats.scp") == 2 and rc_v == 0
    return verdict(ok, "that file named, the rest extracted, a valid data dir", f"rc {rc}, validate {rc_v}: {err[-300:]}")


def load_families() -> None:
    """The probe families beyond the original 22 (each module registers its probes on import)."""
    import benchmarks.probes_audio  # noqa: F401
    import benchmarks.probes_bundles  # noqa: F401
    import benchmarks.probes_cli  # noqa: F401
    import benchmarks.probes_datadir  # noqa: F401
    import benchmarks.probes_faults  # noqa: F401
    import benchmarks.probes_text  # noqa: F401


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="run only probes whose name contains this")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load_families()
    tried = handled = 0
    for fn in PROBES:
        if args.k not in fn.__name__:
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"probe-{fn.__name__}-"))
        start = time.monotonic()
        try:
            ok, reason = fn(tmp)
        except Exception as exc:  # a probe that crashes is a failed probe, not a crashed run
            ok, reason = False, f"probe raised {type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        tried += 1
        handled += ok
        print(f"{'handled' if ok else 'FAILED '}  {fn.__name__:<32} {time.monotonic() - start:5.1f}s  {reason}", flush=True)
    print(f"tried {tried} / handled {handled} / failed {tried - handled}")
    return 0 if handled == tried else 1


if __name__ == "__main__":
    sys.exit(main())
