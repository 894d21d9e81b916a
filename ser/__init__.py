"""ser: a speech emotion recognition toolkit.

Front end (openSMILE, librosa, torchaudio Kaldi features) -> Kaldi-style data dirs ->
pluggable encoders -> speaker-independent evaluation -> scoring of new audio.
"""

__version__ = "0.1.0"
