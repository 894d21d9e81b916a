"""Shared fixtures: where the real corpora are, and the CI rule that missing data fails, never skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """$SER_SHARED_DATA, else ../shared/data beside the repository (how the project finds corpora), else beside the
    checkout this one was cloned from (a clone made elsewhere, e.g. `git clone -q . /tmp/ci`)."""
    if "SER_SHARED_DATA" in os.environ:
        return Path(os.environ["SER_SHARED_DATA"])
    beside = REPO.parent / "shared" / "data"
    if beside.exists():
        return beside
    import subprocess

    origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir() and (Path(origin).resolve().parent / "shared" / "data").exists():
        return Path(origin).resolve().parent / "shared" / "data"
    return beside


def require_data(relative: str) -> Path:
    """Path to a corpus under shared data; skip locally if absent, but fail under CI (CI=true)."""
    path = shared_data_dir() / relative
    if not path.exists():
        message = f"real data needed by this test is missing: {path} (set SER_SHARED_DATA)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    return require_data("emodb")


@pytest.fixture(scope="session")
def meld_dir() -> Path:
    return require_data("meld")


@pytest.fixture(scope="session")
def iemocap_text_dir() -> Path:
    return require_data("iemocap-text")


@pytest.fixture(scope="session")
def embeddings_dir() -> Path:
    return require_data("embeddings")
