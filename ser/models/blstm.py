"""``blstm``: attention-based BLSTM (paper 003, "Attention-based BLSTM for speech emotion recognition").

Architecture: frames -> BLSTM -> pooling (mean = the paper's "uniform attention" baseline, or attention)
-> decoder DNN (the classifier head, see ``default_heads``).

Attention (``pooling: attention``), content based:

* ``attention: eq8``: ``alpha_t = softmax_t(w_a^T sigma_a(W_ah h_t))`` (Eq. 8). Neither the activation
  ``sigma_a`` nor the size of ``W_ah`` is given; we use tanh (as in the cited Chorowski/Bahdanau attention)
  and ``attention_dim`` = 128 units, without biases (none are written in Eq. 8).
* ``attention: eq9`` (default): ``alpha_t = softmax_t(w_a^T h_t)`` (Eq. 9), the paper's simplification
  "to prevent over-fitting"; in the text only the Eq. 9 variant improved on the baseline without the extra
  regularisation, so it is our default.

``dropout`` (0.5) is applied "to the scaled hidden vectors (alpha_t h_t) before the summation"; with
mean pooling it is applied to the terms h_t / len. Padded frames get weight exactly 0.

Interpretation of the sizes. The baseline "had two LSTM layers (128 forward and 128 backward)": we read
this as ONE bidirectional layer whose two LSTMs (one per direction) have 128 cells each, so h_t is 256-d.
The final model "consisted of an encoder BLSTM with a cell size of 256, a dropout with a probability of
0.5 and a hidden layer of size 128 in the decoder". The paper trains greedily - "we extracted the hidden
vectors h_t from the baseline model, and then introduced the modifications step by step" - so the final
encoder is the baseline BLSTM, and "cell size of 256" is the size of h_t = 128 forward + 128 backward.
Defaults: ``hidden_size`` 128 per direction, ``num_layers`` 1 (set ``num_layers: 2`` for the other
reading, or ``hidden_size: 256`` for 256 per direction). The decoder's hidden layer of 128 (ReLU; the
activation is not given) is the default head (``heads_conf: {hidden: [128]}``); ``hidden: []`` gives the
baseline's plain softmax layer.

The defaults are the final model's. The paper's baseline ("the context vector c then passed through a softmax
layer"; dropout and the decoder's hidden layer were added later, step by step) is ``pooling: mean,
dropout: 0`` with ``heads_conf: {hidden: []}`` - recipes' ``blstm_mean.yaml``. The paper names no loss
weighting and no gradient clipping, so its recipe configs train with plain cross-entropy and no clipping.

Greedy training (BLSTM first with mean pooling, then attention on top of the frozen BLSTM) is a training
procedure: load the baseline's ``encoder.rnn`` weights and set ``freeze_rnn: true``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ser.models.masking import PaddedBiRNN, check_lengths, lengths_to_mask
from ser.models.pooling import make_pooling
from ser.models.registry import ConfigError, register_encoder


@dataclass
class BLSTMConfig:
    """Defaults: the paper's final model (see the module docstring for the reading of the sizes)."""

    hidden_size: int = 128
    num_layers: int = 1
    pooling: str = "attention"
    attention: str = "eq9"
    attention_dim: int = 128
    attention_activation: str = "tanh"
    dropout: float = 0.5
    rnn_dropout: float = 0.0
    freeze_rnn: bool = False

    def __post_init__(self) -> None:
        if self.pooling not in ("mean", "attention"):
            raise ConfigError(f"blstm: pooling must be 'mean' or 'attention', not '{self.pooling}'")
        if self.attention not in ("eq8", "eq9"):
            raise ConfigError(f"blstm: attention must be 'eq8' or 'eq9', not '{self.attention}'")
        if self.hidden_size < 1 or self.num_layers < 1 or self.attention_dim < 1:
            raise ConfigError("blstm: hidden_size, num_layers and attention_dim must be >= 1")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.rnn_dropout < 1.0):
            raise ConfigError("blstm: dropout and rnn_dropout must be in [0, 1)")


@register_encoder("blstm", config=BLSTMConfig, input_kind="frames", default_heads={"hidden": [128], "dropout": 0.0})
class BLSTMEncoder(nn.Module):
    """Attention-based BLSTM (paper 003): BLSTM, mean or Eq. 8/9 attention pooling, dropout on alpha_t h_t."""

    def __init__(self, input_dim: int, config: BLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = PaddedBiRNN("lstm", input_dim, config.hidden_size, config.num_layers, config.rnn_dropout)
        self.output_dim = 2 * config.hidden_size
        self.pool = make_pooling(
            config.pooling,
            self.output_dim,
            dropout=config.dropout,
            **(
                {}
                if config.pooling == "mean"
                else {
                    "hidden_dim": config.attention_dim if config.attention == "eq8" else 0,
                    "activation": config.attention_activation,
                    "bias": False,
                }
            ),
        )
        if config.freeze_rnn:
            for p in self.rnn.parameters():
                p.requires_grad_(False)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        lengths = check_lengths(x, lengths)
        h = self.rnn(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1])
        pooled, alpha = self.pool(h, mask)
        return pooled, {"attention": alpha}


__all__ = ["BLSTMConfig", "BLSTMEncoder"]
