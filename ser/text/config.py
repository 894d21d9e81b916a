"""Text experiment configs: YAML like the audio configs (``ser.config``), with `key=value` overrides.

::

    description: "AGHMN BiF-AGRU (paper Table 3), BiGRU reader"
    model: aghmn                       # aghmn | sclstm
    model_conf: {memory: bif, summary: agru, window: 10}   # ser.text.model.TextModelConfig fields
    train: {lr: 5.0e-4, patience: 10}  # TextTrainConfig fields
    seeds: [0, 1, 2, 3, 4]

`model: sclstm` reads utterances with the CNN reader unless `model_conf.reader` says otherwise (the paper's
scLSTM); every other field defaults to the paper's setting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ser.config import make_dataclass, read_config_dict
from ser.errors import SerError

SENTENCE_DIM = 384  # all-MiniLM-L6-v2 (ser.text.sentence_encoder.DIM; not imported: that module is optional)


@dataclass
class TextModelConfig:
    model: str = "aghmn"  # aghmn | sclstm
    reader: str = "bigru"  # bigru | bilstm | cnn | minilm
    memory: str = "bif"  # unif | bif   (aghmn)
    summary: str = "agru"  # soft | agru | biagru   (aghmn)
    hidden: int = 100
    window: int = 40  # K: memory bank size (40 IEMOCAP, 10 MELD)
    dropout: float = 0.3
    embed_dim: int = 100  # taken from the embedding file when one is given; 384 (the sentence vector) for minilm
    trainable_embeddings: bool = True
    cnn_widths: tuple = (3, 4, 5)
    cnn_maps: int = 64

    def check(self) -> "TextModelConfig":
        choices = {"model": ("aghmn", "sclstm"), "reader": ("bigru", "bilstm", "cnn", "minilm"),
                   "memory": ("unif", "bif"), "summary": ("soft", "agru", "biagru")}  # fmt: skip
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise SerError(f"{key}: '{getattr(self, key)}' is not one of {', '.join(allowed)}")
        if self.window < 1 or self.hidden < 1:
            raise SerError("window and hidden must be positive")
        self.cnn_widths = tuple(int(w) for w in self.cnn_widths)
        if self.reader == "minilm":  # the input is MiniLM's frozen sentence vector, whatever was asked for words
            self.embed_dim, self.trainable_embeddings = SENTENCE_DIM, False
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TextModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SerError(f"unknown text model options: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data).check()

    @property
    def tag(self) -> str:
        if self.model == "sclstm":
            return f"sclstm-{self.reader}"
        return f"{self.memory}-{self.summary}-{self.reader}"


@dataclass
class TextTrainConfig:
    """The paper's protocol: Adam, clipping at 5, LR x 0.95 after an epoch without a dev macro-F1 gain."""

    lr: float = 5e-4
    lr_decay: float = 0.95
    clip: float = 5.0
    patience: int = 10
    max_epochs: int = 100
    batch_size: int = 4  # dialogues per batch
    class_weights: bool = False  # loss weights (min count / count)^0.5
    embeddings: str | None = None  # word2vec (binary/text) or GloVe file; random vectors without one
    min_count: int = 1
    max_train_dialogues: int = 0  # > 0: a training subset (smoke runs)
    max_eval_dialogues: int = 0  # > 0: a dev/test subset (smoke runs)
    device: str = "cpu"  # cpu | cuda | auto
    threads: int = 0  # torch CPU threads (0: torch's default)


@dataclass
class TextExperimentConfig:
    model: str = "aghmn"
    model_conf: dict[str, Any] = field(default_factory=dict)
    train: TextTrainConfig = field(default_factory=TextTrainConfig)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    classes: list[str] = field(default_factory=list)  # empty: DATA/classes.txt, else the training labels
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.train, dict):
            self.train = make_dataclass(TextTrainConfig, self.train, "train")
        if isinstance(self.seeds, int):
            self.seeds = [self.seeds]
        self.seeds = [int(s) for s in self.seeds]
        self.model_config()  # unknown or invalid model options fail here, naming them

    def model_config(self) -> TextModelConfig:
        conf = dict(self.model_conf)
        if "model" in conf:
            raise SerError("model_conf: 'model' is the top-level key `model:` (aghmn or sclstm)")
        if self.model == "sclstm":
            conf.setdefault("reader", "cnn")
        return TextModelConfig.from_dict({"model": self.model, **conf})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_text_config(path: str | Path | None, overrides: list[str] | None = None) -> TextExperimentConfig:
    """Read a text experiment's YAML config (None: all defaults) and apply `key=value` overrides."""
    data = read_config_dict(path, overrides)
    train = data.pop("train", {}) or {}
    cfg = make_dataclass(TextExperimentConfig, data, str(path or "config"))
    cfg.train = make_dataclass(TextTrainConfig, train, f"{path or 'config'}: train")
    return cfg


__all__ = ["SENTENCE_DIM", "TextExperimentConfig", "TextModelConfig", "TextTrainConfig", "load_text_config"]
