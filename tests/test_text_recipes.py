"""recipes/meld and recipes/iemocap_text end to end on tiny subsets (1 epoch, small model)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ser_on_path import with_checkout

REPO = Path(__file__).resolve().parents[1]
SMOKE = ("model_conf.hidden=8 model_conf.embed_dim=8 train.max_epochs=1 train.max_train_dialogues=6 "
         "train.max_eval_dialogues=2 train.threads=1")


def recipe_copy(tmp: Path, name: str) -> Path:
    ignore = shutil.ignore_patterns("data", "exp")
    for part in (name, "tools"):
        shutil.copytree(REPO / "recipes" / part, tmp / "recipes" / part, ignore=ignore)
    return tmp / "recipes" / name


def run_recipe(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MELD", "IEMOCAP", "IEMOCAP_JSON")}
    with_checkout(env)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(["bash", str(recipe / "run.sh"), *args], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"run.sh {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def test_meld_recipe(meld_dir, tmp_path):
    recipe = recipe_copy(tmp_path, "meld")
    proc = run_recipe(recipe, "--meld-dir", str(meld_dir), "--configs", "bif_agru sclstm", "--seeds", "0",
                      "--overrides", SMOKE)  # fmt: skip
    assert "repaired mojibake in 0 strings" in proc.stderr
    table = (recipe / "exp" / "RESULTS.md").read_text()
    assert "| Model | neutral Acc | neutral F1 | surprise Acc |" in table
    assert "| bif-agru-bigru |" in table and "| sclstm-cnn |" in table
    command = (recipe / "exp" / "bif_agru" / "RESULTS.md").read_text()
    assert "ser text-train --config conf/bif_agru.yaml data/meld exp/bif_agru" in command
    assert '"memory": "bif", "summary": "agru"' in command and '"window": 10' in command


def test_iemocap_text_recipe(iemocap_text_dir, tmp_path):
    recipe = recipe_copy(tmp_path, "iemocap_text")
    proc = run_recipe(recipe, "--iemocap-json-dir", str(iemocap_text_dir), "--configs", "unif_biagru", "--seeds", "0",
                      "--stop-stage", "1", "--overrides", SMOKE)  # fmt: skip
    assert "train.json: 108 dialogues, 5163 turns" in proc.stdout
    text = (recipe / "exp" / "unif_biagru" / "RESULTS.md").read_text()
    assert '"memory": "unif", "summary": "biagru"' in text and '"window": 40' in text


def test_iemocap_text_recipe_from_the_release(emodb_dir, tmp_path):
    """--source iemocap-text: transcripts + EmoEvaluation of a miniature release, kept apart from the JSON copy."""
    from corpus_builders import build_mini_iemocap

    release = build_mini_iemocap(tmp_path / "corpus", sorted(emodb_dir.glob("*.wav"))[:2], sessions=5,
                                 dialogs_per_session=2, turns_per_speaker=8)  # fmt: skip
    recipe = recipe_copy(tmp_path, "iemocap_text")
    proc = run_recipe(recipe, "--source", "iemocap-text", "--iemocap-dir", str(release), "--configs", "bif_agru",
                      "--seeds", "0", "--overrides", SMOKE)  # fmt: skip
    assert "test.json: 2 dialogues, 28 turns" in proc.stdout
    assert (recipe / "data" / "iemocap6_release" / "train.json").is_file() and not (recipe / "data" / "iemocap6").exists()
    table = (recipe / "exp_release" / "RESULTS.md").read_text()
    assert "| bif-agru-bigru |" in table
