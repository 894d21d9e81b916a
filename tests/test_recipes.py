"""Recipes end to end: each recipe's run.sh, copied into a tmp dir, on a miniature corpus tree in the
real release's layout (built by tests/corpus_builders.py from real EmoDB audio).

The runs use tiny models (conf/gagru_tiny.yaml: one BiGRU layer of 16, 3 epochs) and the SVM baseline,
one thread each, so that every stage runs in seconds; the paper configs are the same files with other numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from corpus_builders import build_mini_iemocap, build_mini_ravdess
from ser_on_path import with_checkout
from test_corpora_msp import build_mini_msp_improv

REPO = Path(__file__).resolve().parents[1]
CORPUS_VARS = ("EMODB", "IEMOCAP", "RAVDESS", "MSP_IMPROV")


@pytest.fixture(scope="module")
def short_wavs(emodb_dir: Path) -> list[Path]:
    """The 12 shortest EmoDB recordings (about 1.2-1.5 s each): real speech, quick to extract."""
    return sorted(sorted(emodb_dir.glob("*.wav")), key=lambda p: sf.info(str(p)).frames)[:12]


def recipe_copy(tmp: Path, name: str) -> Path:
    """recipes/<name> and recipes/tools copied under tmp (without outputs of earlier runs); returns the copy."""
    ignore = shutil.ignore_patterns("data", "feats", "folds", "exp", "downloads")
    for part in (name, "tools"):
        shutil.copytree(REPO / "recipes" / part, tmp / "recipes" / part, ignore=ignore)
    return tmp / "recipes" / name


def recipe_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CORPUS_VARS}
    with_checkout(env)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.update(extra)
    return env


def run_recipe(recipe: Path, *args: str, check: bool = True, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bash", str(recipe / "run.sh"), *args], env=recipe_env(**env), capture_output=True, text=True, timeout=300, cwd=cwd
    )
    if check and proc.returncode != 0:
        pytest.fail(f"run.sh {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def fold_dirs(exp: Path) -> list[Path]:
    return sorted(p for p in exp.glob("fold_*") if p.is_dir())


def assert_complete(exp: Path, folds: list[str], report: bool = True) -> dict:
    """Every fold done with scores, and (with `report`) the report says so; returns results.json."""
    assert [p.name for p in fold_dirs(exp)] == [f"fold_{f}" for f in folds]
    for fold in fold_dirs(exp):
        assert (fold / ".done").is_file() and (fold / "scores.tsv").is_file(), fold
        assert not (fold / "checkpoint.pt").exists(), fold
    if not report:
        return {}
    results = json.loads((exp / "results.json").read_text())
    assert results["num_folds"] == len(folds)
    assert 0.0 <= results["mean"]["uar"] <= 1.0
    assert "INCOMPLETE" not in (exp / "RESULTS.md").read_text()
    return results


def scores_of(exp: Path) -> dict[str, str]:
    return {p.name: (p / "scores.tsv").read_text() for p in fold_dirs(exp)}


# --- IEMOCAP --------------------------------------------------------------------------------------

IEMOCAP_SPEAKERS = ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]


def test_iemocap_recipe_end_to_end(short_wavs, tmp_path):
    """All stages on a 2-session IEMOCAP tree; a rerun from stage 4 skips finished folds; a run killed in
    stage 4 resumes (finished folds kept, the killed one from its last epoch checkpoint if it wrote one)
    to the same scores as the uninterrupted run."""
    release = build_mini_iemocap(tmp_path / "corpus", short_wavs, sessions=2, dialogs_per_session=2, turns_per_speaker=6)
    recipe = recipe_copy(tmp_path, "iemocap")
    configs = ("--configs", "svm gagru_tiny")

    proc = run_recipe(recipe, "--iemocap-dir", str(release), *configs)
    for stage in range(7):
        assert f"Stage {stage}:" in proc.stderr
    exp = recipe / "exp" / "loso"
    svm, gagru = exp / "svm_egemaps88", exp / "gagru_tiny_emobase78_avg5"
    for d in (svm, gagru):
        results = assert_complete(d, IEMOCAP_SPEAKERS)
        assert results["classes"] == ["angry", "happy", "neutral", "sad"]
    table = (exp / "RESULTS.md").read_text()
    assert "svm_egemaps88" in table and "gagru_tiny_emobase78_avg5" in table
    plan = yaml.safe_load((recipe / "folds" / "loso" / "plan.yaml").read_text())
    partner = {f["name"]: f["valid_speakers"] for f in plan["folds"]}
    assert partner == {"Ses01F": ["Ses01M"], "Ses01M": ["Ses01F"], "Ses02F": ["Ses02M"], "Ses02M": ["Ses02F"]}
    reference = scores_of(gagru)

    # Rerun from stage 4: nothing is retrained (models, logs and scores untouched); stage 5 finds every fold.
    before = {p: p.stat().st_mtime_ns for d in (svm, gagru) for p in d.glob("fold_*/*") if p.is_file()}
    proc = run_recipe(recipe, "--stage", "4", "--stop-stage", "5", *configs)
    assert "Stage 3:" not in proc.stderr and "Stage 5:" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # Kill the run inside stage 4 (while the second fold trains), rerun: the folds complete, same scores.
    # --nj 1: folds one after another, so "the second fold trains" means the first one is done
    tagged = ("--stage", "4", "--stop-stage", "5", "--configs", "gagru_tiny", "--tag", "resume", "--nj", "1")
    resumed = exp / "gagru_tiny_emobase78_avg5_resume"
    second = resumed / "fold_Ses01M" / "train.log"
    job = subprocess.Popen(["bash", str(recipe / "run.sh"), *tagged], env=recipe_env(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not second.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        os.killpg(job.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished first: the assertion below says so
        pass
    job.wait()
    done = [p.name for p in fold_dirs(resumed) if (p / ".done").is_file()]
    assert "fold_Ses01F" in done and len(done) < len(IEMOCAP_SPEAKERS), done
    first_model = resumed / "fold_Ses01F" / "model.ser"
    kept = first_model.stat().st_mtime_ns
    run_recipe(recipe, *tagged)
    assert first_model.stat().st_mtime_ns == kept  # the fold finished before the kill is not retrained
    assert_complete(resumed, IEMOCAP_SPEAKERS, report=False)
    assert scores_of(resumed) == reference


def test_iemocap_recipe_leave_one_session_out(short_wavs, tmp_path):
    """--protocol loso-session: one fold per session, validation = the next session (stages 0 and 2; the
    other stages are the same commands as for loso, on folds/loso-session)."""
    release = build_mini_iemocap(tmp_path / "corpus", short_wavs, sessions=3, dialogs_per_session=1, turns_per_speaker=6)
    recipe = recipe_copy(tmp_path, "iemocap")
    run_recipe(recipe, "--configs", "svm", "--stop-stage", "0", IEMOCAP=str(release))
    proc = run_recipe(recipe, "--protocol", "loso-session", "--configs", "svm", "--stage", "2", "--stop-stage", "2")
    assert "Stage 2: loso-session folds" in proc.stderr and "Stage 1:" not in proc.stderr
    plan = yaml.safe_load((recipe / "folds" / "loso-session" / "plan.yaml").read_text())
    assert plan["kind"] == "loso-session"
    tested = {f["name"]: (f["test_speakers"], f["valid_speakers"]) for f in plan["folds"]}
    assert tested == {
        "Ses01": (["Ses01F", "Ses01M"], ["Ses02F", "Ses02M"]),
        "Ses02": (["Ses02F", "Ses02M"], ["Ses03F", "Ses03M"]),
        "Ses03": (["Ses03F", "Ses03M"], ["Ses01F", "Ses01M"]),
    }


def test_iemocap_recipe_errors_say_what_to_do(tmp_path):
    recipe = recipe_copy(tmp_path, "iemocap")
    proc = run_recipe(recipe, "--configs", "svm", check=False, IEMOCAP=str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert "IEMOCAP=" in proc.stderr and "--iemocap-dir" in proc.stderr and "sail.usc.edu" in proc.stderr
    proc = run_recipe(recipe, "--protocol", "kfold", check=False)
    assert proc.returncode != 0 and "loso-session" in proc.stderr
    proc = run_recipe(recipe, "--configs", "nope", check=False)
    assert proc.returncode != 0 and "gagru" in proc.stderr
    proc = run_recipe(recipe, "--help", cwd=tmp_path)
    assert "protocol=loso" in proc.stderr and "iemocap_dir=" in proc.stderr


# --- RAVDESS --------------------------------------------------------------------------------------


def test_ravdess_recipe_end_to_end(short_wavs, tmp_path):
    """Six actors, all 8 emotions: the 6 speaker-disjoint folds (here one actor each) with the SVM, every stage;
    then the leave-one-speaker-out plan from the same data dir."""
    root = build_mini_ravdess(tmp_path / "corpus", short_wavs, actors=range(1, 7))
    recipe = recipe_copy(tmp_path, "ravdess")
    proc = run_recipe(recipe, "--protocol", "kfold6", "--configs", "svm", RAVDESS=str(root))
    for stage in range(7):
        assert f"Stage {stage}:" in proc.stderr
    exp = recipe / "exp" / "kfold6" / "svm_egemaps88"
    plan = yaml.safe_load((recipe / "folds" / "kfold6" / "plan.yaml").read_text())
    assert len(plan["folds"]) == 6
    results = assert_complete(exp, [f["name"] for f in plan["folds"]])
    assert results["classes"] == ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
    assert results["num_utterances"] == 6 * 15
    assert (recipe / "exp" / "kfold6" / "RESULTS.md").is_file()

    run_recipe(recipe, "--protocol", "loso", "--configs", "svm", "--stage", "2", "--stop-stage", "2")
    plan = yaml.safe_load((recipe / "folds" / "loso" / "plan.yaml").read_text())
    assert [f["test_speakers"] for f in plan["folds"]] == [[f"Actor_{a:02d}"] for a in range(1, 7)]
    assert plan["folds"][0]["valid_speakers"] == ["Actor_02"]

    # --seeds: each seed trains its own member (train.seed), stage 4 fuses them, stage 6 reports the ensemble
    proc = run_recipe(recipe, "--protocol", "kfold6", "--configs", "gagru_tiny", "--seeds", "0 1", "--stage", "1",
                      "--stop-stage", "6")
    members = [exp.parent / f"gagru_tiny_emobase78_avg5_s{s}" for s in (0, 1)]
    fused = exp.parent / "gagru_tiny_emobase78_avg5_seeds"
    for d in members:
        assert yaml.safe_load((d / "config.yaml").read_text())["train"]["seed"] == int(d.name[-1])
    def posteriors(d: Path) -> dict[str, list[float]]:
        rows = [line.split("\t") for p in fold_dirs(d) for line in (p / "scores.tsv").read_text().splitlines()[1:]]
        return {r[0]: [float(v) for v in r[3:]] for r in rows}

    a, b, f = (posteriors(d) for d in (*members, fused))
    assert a != b and set(f) == set(a) and len(f) == 6 * 15
    for utt, post in f.items():
        assert post == pytest.approx([(x + y) / 2 for x, y in zip(a[utt], b[utt])], abs=2e-6)
    assert "gagru_tiny_emobase78_avg5_seeds" in (exp.parent / "RESULTS.md").read_text()
    proc = run_recipe(recipe, "--protocol", "kfold6", "--configs", "gagru_tiny", "--seeds", "0 1", "--stage", "7",
                      "--stop-stage", "7")
    assert (members[0] / "model.ser").is_file() and not (members[1] / "model.ser").exists()
    assert "exports its first member" in proc.stderr


def test_ravdess_recipe_errors_say_what_to_do(tmp_path):
    recipe = recipe_copy(tmp_path, "ravdess")
    proc = run_recipe(recipe, "--configs", "svm", check=False, RAVDESS=str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert "RAVDESS=" in proc.stderr and "--ravdess-dir" in proc.stderr and "zenodo.org" in proc.stderr
    proc = run_recipe(recipe, "--protocol", "loso-session", check=False)
    assert proc.returncode != 0 and "kfold6" in proc.stderr


# --- MSP-IMPROV -----------------------------------------------------------------------------------


def test_msp_improv_recipe_end_to_end(short_wavs, tmp_path):
    """Six sessions, neutral twice as frequent as the other classes: leave-one-session-out with the tiny GA-GRU
    and minority up-sampling, every stage; then the leave-one-speaker-out plan (validation = session partner)."""
    root = build_mini_msp_improv(tmp_path / "corpus", short_wavs, sessions=6, label_cycle=("N", "H", "N", "S", "A", "X"))
    recipe = recipe_copy(tmp_path, "msp_improv")
    # A relative corpus path is taken relative to the caller's directory (run.sh itself works in the recipe dir).
    proc = run_recipe(recipe, "--protocol", "loso-session", "--configs", "gagru_tiny", "--msp-improv-dir", "corpus",
                      cwd=tmp_path)
    for stage in range(7):
        assert f"Stage {stage}:" in proc.stderr
    exp = recipe / "exp" / "loso-session" / "gagru_tiny_emobase78_avg5"
    results = assert_complete(exp, [f"session{n}" for n in range(1, 7)])
    assert results["num_utterances"] == 12 * 5
    assert yaml.safe_load((exp / "protocol.yaml").read_text())["balance"] == "upsample"
    for name in ("svm", "dnn", "gagru", "bigru_att", "blstm_attention", "alstm"):
        conf = yaml.safe_load((recipe / "conf" / f"{name}.yaml").read_text())
        assert conf["classes"] == ["angry", "happy", "neutral", "sad"]
        if name != "svm":
            assert conf["train"]["balance"] == "upsample", name

    run_recipe(recipe, "--configs", "gagru_tiny", "--stage", "2", "--stop-stage", "2")
    plan = yaml.safe_load((recipe / "folds" / "loso" / "plan.yaml").read_text())
    partner = {f["name"]: f["valid_speakers"] for f in plan["folds"]}
    assert len(partner) == 12 and partner["F03"] == ["M03"] and partner["M06"] == ["F06"]


def test_msp_improv_recipe_errors_say_what_to_do(tmp_path):
    recipe = recipe_copy(tmp_path, "msp_improv")
    proc = run_recipe(recipe, "--configs", "svm", check=False, MSP_IMPROV=str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert "MSP_IMPROV=" in proc.stderr and "--msp-improv-dir" in proc.stderr and "utdallas" in proc.stderr


def test_cross_corpus_recipe(emodb_dir, tmp_path):
    """recipes/cross_corpus on a small EmoDB + RAVDESS pair: combine, loco and loso folds, per-corpus report, and
    each held-out corpus scored with `ser score` alone, as one source and grouped."""
    emodb = tmp_path / "emodb"
    emodb.mkdir()
    for spk in ("03", "08", "10"):
        for wav in [p for p in sorted(emodb_dir.glob(f"{spk}*.wav")) if p.stem[5] != "L"][:12]:
            shutil.copyfile(wav, emodb / wav.name)
    ravdess = build_mini_ravdess(tmp_path / "ravdess", sorted(emodb_dir.glob("03*.wav"))[:6], actors=(1, 2, 3))
    recipe = recipe_copy(tmp_path, "cross_corpus")
    run_recipe(recipe, "--emodb-dir", str(emodb), "--ravdess-dir", str(ravdess), "--configs", "logreg", "--nj", "1")
    loco = recipe / "exp" / "loco" / "logreg_egemaps88"
    per_corpus = json.loads((loco / "results.json").read_text())["per_corpus"]
    assert set(per_corpus) == {"emodb", "ravdess"}
    for corpus in ("emodb", "ravdess"):
        alone = json.loads((loco / f"held_out_{corpus}_alone.json").read_text())
        grouped = json.loads((loco / f"held_out_{corpus}_grouped.json").read_text())
        source = json.loads((loco / f"held_out_{corpus}_source.json").read_text())  # all clips as one speaker
        assert source["shared"]["n"] == grouped["shared"]["n"]
        six = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
        assert len(alone["shared_classes"]) >= 4 and set(alone["shared_classes"]) <= set(six)
        assert alone["shared"]["n"] == grouped["shared"]["n"] == per_corpus[corpus]["n"]
        # grouped scoring of the held-out corpus is what `ser evaluate` scored for that fold (arg-max over every class)
        assert grouped["unrestricted"]["uar"] == pytest.approx(per_corpus[corpus]["uar"], abs=1e-9)
    table = (recipe / "exp" / "cross_corpus.md").read_text()
    assert "| logreg_egemaps88 | ravdess -> emodb |" in table and "Selection score" in table and "one-source UAR" in table
    assert "UAR emodb" in (recipe / "exp" / "loso" / "RESULTS.md").read_text()
    # stage 7 from the extracted features (--score-from feats) measures what `ser score` measured from the audio
    audio = {f.name: json.loads(f.read_text()) for f in loco.glob("held_out_*.json")}
    run_recipe(recipe, "--emodb-dir", str(emodb), "--ravdess-dir", str(ravdess), "--configs", "logreg", "--nj", "1",
               "--protocols", "loco", "--stage", "7", "--score-from", "feats")
    for name, before in audio.items():
        after = json.loads((loco / name).read_text())
        assert after["from_features"] and after["shared"]["confusion"] == before["shared"]["confusion"], name
        assert after["shared"]["uar"] == pytest.approx(before["shared"]["uar"], abs=1e-9), name
        assert (loco / name.replace(".json", ".tsv")).is_file()


def test_emodb_recipe_stage_8_nested_tuning(emodb_dir, tmp_path):
    """recipes/emodb stage 8 (`ser tune` of conf/space/logreg.yaml) on four EmoDB speakers: a report per config
    with every fold's chosen C, in exp/tuned/<config>_<features>/."""
    emodb = tmp_path / "emodb"
    emodb.mkdir()
    for spk in ("03", "08", "09", "10"):
        for wav in sorted(emodb_dir.glob(f"{spk}*.wav"))[::5][:10]:
            shutil.copyfile(wav, emodb / wav.name)
    recipe = recipe_copy(tmp_path, "emodb")
    common = ("--emodb-dir", str(emodb), "--configs", "logreg", "--features", "egemaps88", "--nj", "1")
    run_recipe(recipe, *common, "--stop-stage", "3")
    proc = run_recipe(recipe, *common, "--stage", "8", "--stop-stage", "8", "--trials", "2")
    assert "Stage 8:" in proc.stderr
    tuned = recipe / "exp" / "tuned" / "logreg_egemaps88"
    results = assert_complete(tuned, ["03", "08", "09", "10"])
    assert set(results["tuning"]["folds"]) == {"03", "08", "09", "10"} and results["tuning"]["trials"] == 2
    assert "## Nested search" in (tuned / "RESULTS.md").read_text()
