"""`ser extract` end to end on real EmoDB audio: format, frame counts, bad input, resume, CMVN."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import yaml

from ser.cli import main
from ser.datadir import DataDir, read_map
from ser.errors import SerError
from ser.frontend.cmvn import mean_std, read_cmvn, stats_of
from ser.normalization import load_normalization, make_normalization
from ser.frontend.deltas import delta
from tests.bad_audio import tone, write_bad_files, write_good_variants

REPO = Path(__file__).resolve().parents[1]
# two speakers, a handful of files each: enough for per-speaker statistics, fast enough for a unit test
SUBSET = ["03a01Fa", "03a01Nc", "03a01Wa", "03a02Ta", "03b10Ec", "08a01Ab", "08a01Fd", "08a01Lc", "08a02Na", "08b01Fe"]


def make_datadir(emodb_dir: Path, folder: Path, ids: list[str] = SUBSET) -> Path:
    wavs = {u: str(emodb_dir / f"{u}.wav") for u in ids}
    DataDir(maps={"wav.scp": wavs, "utt2spk": {u: u[:2] for u in ids}, "utt2emo": {u: u[5] for u in ids}}).write(folder)
    return folder


def test_emobase78_features_on_real_audio(emodb_dir, tmp_path):
    data = make_datadir(emodb_dir, tmp_path / "data")
    out = tmp_path / "feats"
    assert main(["extract", "--features", "emobase78", "--nj", "2", "--no-progress", str(data), str(out)]) == 0
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    assert sorted(feats) == sorted(SUBSET)
    frames = read_map(out / "utt2num_frames")
    for utt in SUBSET:
        mat = feats[utt]
        assert mat.shape[1] == 78 and mat.dtype == np.float32 and np.isfinite(mat).all()
        duration = sf.info(str(emodb_dir / f"{utt}.wav")).duration
        assert abs(mat.shape[0] - duration / 0.01) <= 3, utt
        assert int(frames[utt]) == mat.shape[0]
        # columns 26..51 are regression deltas of the 26 LLDs; 52..77 deltas of those
        np.testing.assert_allclose(mat[:, 26:52], delta(mat[:, :26]), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(mat[:, 52:], delta(mat[:, 26:52]), rtol=1e-5, atol=1e-4)
    header = yaml.safe_load((out / "feats.yaml").read_text())
    assert header["dim"] == 78 and len(header["names"]) == 78 and header["feature_set"]["name"] == "emobase78"
    assert "opensmile" in header["versions"]
    assert (out / "failed.txt").read_text() == ""
    # the feature dir is itself a valid data dir with labels carried over
    copied = DataDir.read(out)
    copied.validate()
    assert copied.utt2emo["03a01Fa"] == "F"


def test_our_deltas_equal_opensmiles_own(emodb_dir):
    """Interior frames of our regression deltas match openSMILE's LLD_Deltas level exactly."""
    import opensmile

    samples, rate = sf.read(str(emodb_dir / "03a01Fa.wav"), dtype="float32")
    lld = opensmile.Smile(opensmile.FeatureSet.emobase, opensmile.FeatureLevel.LowLevelDescriptors)
    lld_d = opensmile.Smile(opensmile.FeatureSet.emobase, opensmile.FeatureLevel.LowLevelDescriptors_Deltas)
    ours = delta(np.asarray(lld(samples[None], rate))[0].T)
    theirs = np.asarray(lld_d(samples[None], rate))[0].T
    assert theirs.shape[0] == ours.shape[0] + 2  # openSMILE pads its delta level by two frames at the end
    np.testing.assert_allclose(ours[5:-5], theirs[5 : ours.shape[0] - 5], atol=1e-4)


def test_frame_averaging_override(emodb_dir, tmp_path):
    data = make_datadir(emodb_dir, tmp_path / "data", SUBSET[:2])
    plain, avg = tmp_path / "plain", tmp_path / "avg"
    assert main(["extract", "--features", "emobase78", "--nj", "1", "--no-progress", str(data), str(plain)]) == 0
    assert main(["extract", "--features", "emobase78", "--set", "average_frames=5", "--nj", "1", "--no-progress", str(data), str(avg)]) == 0
    a, b = kaldiio.load_scp(str(plain / "feats.scp"))[SUBSET[0]], kaldiio.load_scp(str(avg / "feats.scp"))[SUBSET[0]]
    assert b.shape[0] == -(-a.shape[0] // 5)
    np.testing.assert_allclose(b[1], a[5:10].mean(axis=0), rtol=1e-5, atol=1e-5)
    assert yaml.safe_load((avg / "feats.yaml").read_text())["frame_shift"] == pytest.approx(0.05)


def test_bad_input_batch_goes_on(emodb_dir, tmp_path):
    """Every broken file is reported and listed; every valid one (odd formats included) is extracted."""
    good = write_good_variants(tmp_path / "good", tone(1.0), 16000)
    bad = write_bad_files(tmp_path / "bad")
    wavs = {f"spk-good-{name}": str(path) for name, path in good.items()}
    wavs.update({f"spk-bad-{name}": str(path) for name, (path, _) in bad.items()})
    wavs["spk-real"] = str(emodb_dir / "03a01Fa.wav")
    data = tmp_path / "data"
    DataDir(maps={"wav.scp": wavs, "utt2spk": {u: "spk" for u in wavs}}).write(data)
    # a duplicate utterance id in wav.scp: reported, first occurrence kept
    with open(data / "wav.scp", "a") as handle:
        handle.write(f"spk-real {emodb_dir / '03a01Nc.wav'}\n")
    out = tmp_path / "feats"
    code = subprocess.run(
        [sys.executable, "-m", "ser", "extract", "--features", "emobase78", "--nj", "2", "--no-progress", str(data), str(out)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert code.returncode != 0
    extracted = kaldiio.load_scp(str(out / "feats.scp"))
    assert sorted(extracted) == sorted([f"spk-good-{n}" for n in good] + ["spk-real"])
    failed = (out / "failed.txt").read_text()
    for name, (path, fragment) in bad.items():
        assert str(path) in code.stderr, name
        line = next(line for line in failed.splitlines() if line.startswith(f"spk-bad-{name}\t"))
        assert fragment.lower() in line.lower(), line
    assert "duplicate id 'spk-real'" in code.stderr and "duplicate id 'spk-real'" in failed
    # the real file's features equal a direct extraction (the first wav.scp entry won)
    reference = kaldiio.load_scp(str(out / "feats.scp"))["spk-real"]
    assert reference.shape[0] == 187


def test_resume_after_torn_write_redoes_partial_utterance(emodb_dir, tmp_path):
    data = make_datadir(emodb_dir, tmp_path / "data", SUBSET[:4])
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    assert main(["extract", "--nj", "1", "--no-progress", str(data), str(clean)]) == 0
    assert main(["extract", "--nj", "1", "--no-progress", str(data), str(broken)]) == 0
    # simulate a crash in the middle of the last utterance: ark cut short, scp line torn
    ark = broken / "feats.ark"
    lines = (broken / "feats.scp").read_text().splitlines(keepends=True)
    last_offset = int(lines[-1].rsplit(":", 1)[1])
    with open(ark, "r+b") as handle:
        handle.truncate(last_offset + 100)
    (broken / "feats.scp").write_text("".join(lines[:-1]) + lines[-1][:-5])
    from ser.frontend.extract import extract
    from ser.frontend.featureset import load_feature_set

    result = extract(DataDir.read(data), broken, load_feature_set("emobase78"), nj=1, progress=False)
    assert result.reused == 3 and result.extracted == 1 and result.ok
    a, b = kaldiio.load_scp(str(clean / "feats.scp")), kaldiio.load_scp(str(broken / "feats.scp"))
    assert sorted(a) == sorted(b)
    for utt in a:
        np.testing.assert_array_equal(a[utt], b[utt])
    assert ark.stat().st_size == (clean / "feats.ark").stat().st_size


def test_resume_after_kill(emodb_dir, tmp_path):
    ids = sorted(p.stem for p in emodb_dir.glob("03*.wav"))[:30]
    data = make_datadir(emodb_dir, tmp_path / "data", ids)
    out = tmp_path / "feats"
    cmd = [sys.executable, "-m", "ser", "extract", "--nj", "1", "--no-progress", str(data), str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.DEVNULL, start_new_session=True)
    scp = out / "feats.scp"
    deadline = time.time() + 60
    while time.time() < deadline and (not scp.exists() or len(scp.read_text().splitlines()) < 5):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len([line for line in scp.read_text().splitlines() if line.endswith(tuple("0123456789"))])
    assert 5 <= done_before < len(ids), "the kill should land mid-run"
    assert subprocess.run(cmd, cwd=REPO, capture_output=True).returncode == 0
    feats = kaldiio.load_scp(str(scp))
    assert sorted(feats) == ids
    keys = [line.split()[0] for line in scp.read_text().splitlines()]
    assert keys == sorted(keys)
    for utt in ids[:3] + ids[-3:]:
        assert feats[utt].shape == (int(read_map(out / "utt2num_frames")[utt]), 78)


def test_rerun_with_other_features_is_refused(emodb_dir, tmp_path):
    data = make_datadir(emodb_dir, tmp_path / "data", SUBSET[:1])
    out = tmp_path / "feats"
    assert main(["extract", "--nj", "1", "--no-progress", str(data), str(out)]) == 0
    assert main(["extract", "--features", "egemaps88", "--nj", "1", "--no-progress", str(data), str(out)]) == 2
    assert main(["extract", "--features", "egemaps88", "--overwrite", "--nj", "1", "--no-progress", str(data), str(out)]) == 0
    assert kaldiio.load_scp(str(out / "feats.scp"))[SUBSET[0]].shape == (1, 88)


def test_per_speaker_cmvn_in_kaldi_format(emodb_dir, tmp_path):
    data = make_datadir(emodb_dir, tmp_path / "data")
    out = tmp_path / "feats"
    assert main(["extract", "--nj", "2", "--no-progress", str(data), str(out)]) == 0
    assert main(["compute-cmvn", str(out)]) == 0
    stats = read_cmvn(out)
    assert sorted(stats) == ["03", "08"]
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    utt2spk = read_map(out / "utt2spk")
    for spk, st in stats.items():
        mats = [feats[u] for u in SUBSET if utt2spk[u] == spk]
        assert st.shape == (2, 79)
        assert st[0, -1] == sum(m.shape[0] for m in mats) and st[1, -1] == 0
        np.testing.assert_allclose(st, sum(stats_of(m) for m in mats), rtol=1e-6)
        speaker = make_normalization("speaker")
        speaker.adapt(stats)
        normed = np.concatenate([speaker.apply(m, spk)[0] for m in mats])
        np.testing.assert_allclose(normed.mean(axis=0), 0, atol=1e-3)
        np.testing.assert_allclose(normed.std(axis=0), 1, atol=1e-3)
    one = feats[SUBSET[0]]
    u, used = make_normalization("utterance").apply(one)
    np.testing.assert_allclose(u.mean(axis=0), 0, atol=1e-4)
    assert used == "utterance"
    mean, std = mean_std(stats["03"])
    glob = load_normalization("global", {"stats": stats["03"]})
    np.testing.assert_allclose(glob.apply(one)[0], (one - mean) / std, rtol=1e-5, atol=1e-5)
    assert make_normalization("none").apply(one)[0] is one
    # a speaker without statistics of their own falls back to the fitted (training speakers') statistics, and says so
    fallback = load_normalization("speaker", {"fallback": stats["08"]})
    fallback.adapt({"03": stats["03"]})
    assert fallback.apply(one, "03")[1] == "speaker:03" and fallback.apply(one, "anna")[1] == "training-speakers"
    np.testing.assert_allclose(fallback.apply(one, "anna")[0], glob.apply(one)[0] * 0 + (one - mean_std(stats["08"])[0]) / mean_std(stats["08"])[1], rtol=1e-5, atol=1e-5)


def test_plain_folder_of_audio_without_labels(emodb_dir, tmp_path):
    """`ser extract` on a folder (no wav.scp): speakers from sub-folders, no utt2emo, features for every file."""
    import shutil

    for spk, utts in {"alice": SUBSET[:2], "bob": SUBSET[5:7]}.items():
        (tmp_path / "clips" / spk).mkdir(parents=True)
        for utt in utts:
            shutil.copy(emodb_dir / f"{utt}.wav", tmp_path / "clips" / spk / f"{utt}.wav")
    out = tmp_path / "feats"
    assert main(["extract", "--features", "mfcc_pitch28", "--nj", "1", "--no-progress", str(tmp_path / "clips"), str(out)]) == 0
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    assert len(feats) == 4 and all(m.shape[1] == 28 for m in feats.values())
    assert sorted(set(read_map(out / "utt2spk").values())) == ["alice", "bob"]
    assert not (out / "utt2emo").exists()
    DataDir.read(out).validate()


def test_atomic_write_gives_files_the_umask_mode(tmp_path):
    """Files written atomically get the mode a plain open() gives (mkstemp alone would make them 0600)."""
    from ser.fileio import write_text_atomic

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    write_text_atomic(tmp_path / "atomic.txt", "x")
    assert plain.stat().st_mode & 0o777 != 0o600, "this check needs a umask that lets others read"
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_scp_entries_that_are_shell_commands_are_refused(emodb_dir, tmp_path, capsys):
    """kaldiio would run `cmd |` entries through a shell: a data dir from elsewhere must not execute commands."""
    data = make_datadir(emodb_dir, tmp_path / "data")
    out = tmp_path / "feats"
    assert main(["extract", "--nj", "1", "--no-progress", str(data), str(out)]) == 0
    marker = tmp_path / "pwned"
    lines = (out / "feats.scp").read_text().splitlines()
    lines[0] = lines[0].split()[0] + f" touch {marker} |"
    (out / "feats.scp").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    for argv in (["compute-cmvn", str(out)], ["evaluate", "--quiet", str(out), str(tmp_path / "folds"), str(tmp_path / "exp")]):
        assert main(argv) == 2
        assert "is a shell command" in capsys.readouterr().err
    assert not marker.exists()


def test_a_killed_worker_is_reported_and_the_run_finishes_the_rest(emodb_dir, tmp_path):
    """kill -9 of one extraction worker (what the OOM killer does): no hang, a one-line note, the utterances it had in
    flight run again one at a time (``ser.parallel``) and every utterance is extracted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "data"
    wavs = sorted(emodb_dir.glob("*.wav"))[:120]
    DataDir(maps={"wav.scp": {p.stem: str(p) for p in wavs}, "utt2spk": {p.stem: p.stem[:2] for p in wavs}}).write(data)
    out = tmp_path / "feats"
    cmd = [sys.executable, "-m", "ser", "extract", "--features", "egemaps88", "--nj", "2", "--no-progress", str(data), str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not ((out / "feats.scp").exists() and (out / "feats.scp").read_text().count("\n") >= 5):
        time.sleep(0.05)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the workers should be running"
    os.kill(int(children[-1]), signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0 and "a worker process died" in err and "Traceback" not in err
    assert (out / "feats.scp").read_text().count("\n") == 120 and (out / "failed.txt").read_text() == ""


def test_one_writer_per_output_folder(emodb_dir, tmp_path):
    """A second `ser extract` into a folder being written is refused naming the holder; a lock left by a process
    that is gone is taken over."""
    import json
    import subprocess
    import sys
    import time

    data = tmp_path / "data"
    wavs = sorted(emodb_dir.glob("*.wav"))[:60]
    DataDir(maps={"wav.scp": {p.stem: str(p) for p in wavs}, "utt2spk": {p.stem: p.stem[:2] for p in wavs}}).write(data)
    out = tmp_path / "feats"
    cmd = [sys.executable, "-m", "ser", "extract", "--features", "egemaps88", "--nj", "1", "--no-progress", str(data), str(out)]
    first = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / ".ser-lock").exists():
        time.sleep(0.02)
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode == 2 and "is being written by another ser process" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=120) == 0 and not (out / ".ser-lock").exists()
    lines = (out / "feats.scp").read_text().splitlines()
    assert len(lines) == len({line.split()[0] for line in lines}) == 60  # every utterance once, written by one process
    # a stale lock (its process is gone) does not block a rerun
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (out / ".ser-lock").write_text(json.dumps({"pid": gone.pid, "host": __import__("socket").gethostname(),
                                               "started": "earlier", "command": "ser extract (killed)"}))
    assert subprocess.run(cmd, capture_output=True).returncode == 0


def test_a_lock_of_a_killed_unreaped_process_is_stale(tmp_path):
    """A holder killed but not yet reaped (a zombie: a kill -9 of a recipe leaves its `ser` child to a first process
    that may never reap it) no longer holds its lock; a live holder still does."""
    import json
    import socket

    from ser.lock import OutputLock

    def lock_of(pid: int) -> None:
        (tmp_path / ".ser-lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                        "started": "earlier", "command": "ser evaluate"}))

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # exits; not waited for, so a zombie until reaped
    deadline = time.time() + 30
    while time.time() < deadline and Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        time.sleep(0.01)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_of(live.pid)
        with pytest.raises(SerError, match=f"pid {live.pid}"):
            with OutputLock(tmp_path):
                pass
        lock_of(zombie.pid)
        with OutputLock(tmp_path):
            assert json.loads((tmp_path / ".ser-lock").read_text())["pid"] == os.getpid()
    finally:
        live.kill()
        live.wait()
        zombie.wait()


def test_segments_naming_an_unknown_recording(emodb_dir, tmp_path, capsys):
    """validate-data-dir reports it; extract and score skip that utterance with its reason and do the rest."""
    wavs = sorted(emodb_dir.glob("03*.wav"))[:3]
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("".join(f"rec{i} {w}\n" for i, w in enumerate(wavs)))
    segs = {f"03-{i}": f"rec{i} 0.0000 1.0000" for i in range(3)} | {"03-9": "recX 0.0000 1.0000"}
    (d / "segments").write_text("".join(f"{u} {v}\n" for u, v in sorted(segs.items())))
    (d / "utt2spk").write_text("".join(f"{u} 03\n" for u in sorted(segs)))
    capsys.readouterr()
    assert main(["validate-data-dir", str(d)]) != 0
    assert "name recordings wav.scp lacks" in capsys.readouterr().out
    assert main(["extract", "--no-progress", str(d), str(tmp_path / "f")]) == 1
    assert "recording 'recX'" in capsys.readouterr().err
    assert len((tmp_path / "f" / "feats.scp").read_text().splitlines()) == 3
    assert "03-9" in (tmp_path / "f" / "failed.txt").read_text()


def test_data_dir_map_faults_found_by_the_probes(tmp_path, capsys):
    """A UTF-8 byte-order mark is read past (it once made the first id unknown); a line with an id and no value is
    named by file and line (it once gave an utterance the empty speaker); a spk2utt that disagrees with utt2spk is
    reported; a non-numeric segments time is one line naming the file (it was a traceback); an empty wav.scp makes
    extract fail instead of exiting 0 having done nothing."""
    from ser.cli import main
    from tests.hostile import tone_datadir

    data = tone_datadir(tmp_path, ["s1-a", "s1-b", "s2-a"])
    (data / "utt2spk").write_bytes(b"\xef\xbb\xbfs1-a s1\ns1-b\ns2-a s2\n")
    (data / "spk2utt").write_text("s1 s1-a\ns2 s2-a s2-b\n")
    assert main(["validate-data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"{data}/utt2spk:2: 's1-b' has no value" in out and "spk2utt: does not match utt2spk" in out
    assert "\ufeff" not in out and "not sorted" not in out
    assert main(["extract", "--features", "mfcc13", "--nj", "1", "--no-progress", str(data), str(tmp_path / "f")]) == 1
    assert (tmp_path / "f" / "feats.scp").read_text().count("\n") == 2
    capsys.readouterr()
    (data / "segments").write_text("s1-a s1-a 0 x\n")
    assert main(["validate-data-dir", str(data)]) == 2
    assert "needs 'reco start end'" in capsys.readouterr().err
    (data / "segments").unlink()
    (data / "wav.scp").write_text("")
    (data / "utt2spk").write_text("")
    assert main(["extract", "--features", "mfcc13", "--no-progress", str(data), str(tmp_path / "g")]) == 2
    assert "wav.scp: no utterances" in capsys.readouterr().err
