"""ser: a speech emotion recognition toolkit.

Front end (openSMILE, librosa, torchaudio Kaldi features) -> Kaldi-style data dirs ->
pluggable encoders -> speaker-independent evaluation -> scoring of new audio.
"""

import os as _os

# OpenMP threads that spin while waiting make two torch processes on the same cores (extraction
# workers beside training, or two recipes) run up to 100x slower; passive waiting costs little.
# Set before torch is imported; a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

#: the public API (``ser.api``): imported on first use, so `import ser` stays light
__all__ = ["Model", "extract", "load_model", "__version__"]


def __getattr__(name: str):
    if name in ("Model", "extract", "load_model"):
        from ser import api

        return getattr(api, name)
    raise AttributeError(f"module 'ser' has no attribute '{name}'")
