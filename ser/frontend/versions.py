"""Package versions recorded beside every artefact (feats.yaml, model bundles) for reproducibility."""

from __future__ import annotations

from importlib import metadata

TRACKED = ("ser", "numpy", "opensmile", "librosa", "torch", "torchaudio", "soundfile", "kaldiio", "scikit-learn")


def package_versions(names: tuple[str, ...] = TRACKED) -> dict[str, str]:
    """{package: version} for installed packages (missing ones are left out)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


__all__ = ["TRACKED", "package_versions"]
