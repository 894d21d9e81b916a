"""``dnn``: a feed-forward network on utterance-level functionals (the DNN baseline of paper 002).

Paper 002 describes its baseline only as "3 dense layers with ReLU activation function (input features
are also eGemaps). Early stopping scheme is also utilized." The layer sizes and dropout are not given;
we use three hidden layers 256-128-64 (ReLU, dropout 0.3 after each) followed by the classifier head
(one linear layer), i.e. "3 dense layers" are read as three hidden layers. The embedding is the output
of the last hidden layer (64-d).

This encoder takes ``x: (B, D)`` - one functional vector per utterance (e.g. eGeMAPS 88) - and is
registered with ``input_kind = "utterance"`` so the trainer feeds it utterance-level features; any
``lengths`` argument is ignored. For the multitask DNN of paper 004 (shared 2 x 4096 ReLU, a 2048 ReLU
branch per task, dropout 0.5, IS10 input) use ``encoder_conf: {hidden: [4096, 4096], dropout: 0.5}`` with
``heads_conf: {hidden: [2048], dropout: 0.5, tasks: [emotion, speaker, gender]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ser.errors import SerError
from ser.models.registry import ConfigError, register_encoder


@dataclass
class DNNConfig:
    """Hidden layer sizes (ReLU, dropout after each); our choice, the paper gives no sizes."""

    hidden: list[int] = field(default_factory=lambda: [256, 128, 64])
    dropout: float = 0.3

    def __post_init__(self) -> None:
        if isinstance(self.hidden, int):
            self.hidden = [self.hidden]
        self.hidden = [int(h) for h in self.hidden]
        if not self.hidden or min(self.hidden) < 1:
            raise ConfigError(f"dnn: hidden must be a non-empty list of positive sizes, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dnn: dropout must be in [0, 1)")


@register_encoder("dnn", config=DNNConfig, input_kind="utterance", default_heads={"hidden": [], "dropout": 0.0})
class DNNEncoder(nn.Module):
    """Dense ReLU layers on utterance-level functionals (DNN baseline of paper 002); input (B, D)."""

    def __init__(self, input_dim: int, config: DNNConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        size = input_dim
        for width in config.hidden:
            layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(config.dropout)]
            size = width
        self.net = nn.Sequential(*layers)
        self.output_dim = size

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        if x.dim() != 2:
            raise SerError(f"the dnn encoder takes one vector per utterance (batch, dims), got shape {tuple(x.shape)}")
        return self.net(x), {}


__all__ = ["DNNConfig", "DNNEncoder"]
