"""Pre-trained word vectors: word2vec binary, word2vec text (``N D`` header line) and GloVe text (no header).

``read_vectors(path)`` returns {word: float32 vector} (the format is detected: a first line of two integers
is a word2vec header; after it, a first record that parses as D numbers means text, else binary).
``embedding_matrix(vocab, path)`` gives the [V, D] matrix for a vocabulary: every row L2-normalised,
words missing from the file (OOV) drawn at random, the padding row zero; without a file every row is random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser.errors import InputFileError


def _is_int(text: bytes) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False


def read_vectors(path: str | Path, fmt: str = "auto") -> dict[str, np.ndarray]:
    """{word: vector}; `fmt` is auto, glove, word2vec-text or word2vec-binary."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read embedding file ({exc.strerror})") from None
    if not raw.strip():
        raise InputFileError(path, "empty embedding file")
    first_end = raw.find(b"\n")
    first = raw[: first_end if first_end >= 0 else len(raw)].split()
    header = len(first) == 2 and all(_is_int(x) for x in first)
    if fmt == "auto":
        if not header:
            fmt = "glove"
        else:
            dim = int(first[1])
            nxt = raw[first_end + 1 :].split(b"\n", 1)[0].split()
            try:
                ok = len(nxt) == dim + 1 and all(np.isfinite(float(x)) for x in nxt[1:])
            except ValueError:
                ok = False
            fmt = "word2vec-text" if ok else "word2vec-binary"
    if fmt == "word2vec-binary":
        if not header:
            raise InputFileError(path, "word2vec binary file without an 'N D' header line")
        return _read_binary(path, raw, first_end + 1, int(first[0]), int(first[1]))
    if fmt not in ("glove", "word2vec-text"):
        raise InputFileError(path, f"unknown embedding format '{fmt}'")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"text embedding file is not UTF-8 ({exc})") from None
    lines = text.splitlines()
    expected = None
    if fmt == "word2vec-text":
        if not header:
            raise InputFileError(path, "word2vec text file without an 'N D' header line")
        expected = int(first[0])
        dim = int(first[1])
        lines = lines[1:]
    else:
        dim = None
    vectors: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines, 2 if header and fmt == "word2vec-text" else 1):
        parts = line.rstrip().split(" ")
        if not line.strip():
            continue
        if dim is None:
            dim = len(parts) - 1
        if len(parts) != dim + 1:
            raise InputFileError(path, f"line {lineno}: {len(parts) - 1} values, expected {dim}")
        try:
            vec = np.array([float(x) for x in parts[1:]], dtype=np.float32)
        except ValueError:
            raise InputFileError(path, f"line {lineno}: a value is not a number") from None
        vectors.setdefault(parts[0], vec)
    if expected is not None and len(vectors) != expected:
        raise InputFileError(path, f"header says {expected} words but the file has {len(vectors)}")
    return vectors


def _read_binary(path: Path, raw: bytes, pos: int, n: int, dim: int) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    for i in range(n):
        while pos < len(raw) and raw[pos : pos + 1] in (b"\n", b" "):
            pos += 1
        end = raw.find(b" ", pos)
        if end < 0 or end + 4 * dim > len(raw):
            raise InputFileError(path, f"truncated word2vec binary file at word {i + 1} of {n}")
        word = raw[pos:end].decode("utf-8", errors="replace")
        vec = np.frombuffer(raw, dtype="<f4", count=dim, offset=end + 1).astype(np.float32)
        vectors.setdefault(word, vec)
        pos = end + 1 + 4 * dim
    return vectors


def write_word2vec_binary(path: str | Path, vectors: dict[str, np.ndarray]) -> None:
    """The word2vec C tool's binary format (header, then ``word<space><D float32>\\n`` per word)."""
    dim = len(next(iter(vectors.values())))
    with open(path, "wb") as handle:
        handle.write(f"{len(vectors)} {dim}\n".encode())
        for word, vec in vectors.items():
            handle.write(word.encode("utf-8") + b" " + np.asarray(vec, dtype="<f4").tobytes() + b"\n")


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def embedding_matrix(
    itos: list[str], path: str | Path | None = None, dim: int = 100, seed: int = 0
) -> tuple[np.ndarray, int]:
    """[len(itos), D] float32 matrix (row 0 = padding = zeros) and the number of words found in the file.

    Rows are L2-normalised; OOV rows are random (uniform, then normalised). D is the file's dimension,
    or `dim` without a file.
    """
    rng = np.random.default_rng(seed)
    vectors = read_vectors(path) if path else {}
    if vectors:
        dim = len(next(iter(vectors.values())))
    matrix = rng.uniform(-1.0, 1.0, size=(len(itos), dim)).astype(np.float32)
    found = 0
    for i, word in enumerate(itos):
        vec = vectors.get(word)
        if vec is not None and i > 0:
            matrix[i] = vec
            found += 1
    matrix = _normalise(matrix).astype(np.float32)
    matrix[0] = 0.0
    return matrix, found


__all__ = ["embedding_matrix", "read_vectors", "write_word2vec_binary"]
