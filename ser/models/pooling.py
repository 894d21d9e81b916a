"""Pooling of a padded frame sequence ``h: (B, T, E)`` into an utterance vector ``(B, E)``.

Every pooling returns ``(pooled, weights)`` where ``weights: (B, T)`` are the per-frame weights actually
used (uniform 1/len for mean pooling), exactly 0 on padding and summing to 1 over the real frames.

* :class:`MeanPooling` - the "uniform attention" baseline of the attention-BLSTM paper (003).
* :class:`AttentionPooling` - content-based attention. Two score functions:

  - ``hidden_dim == 0`` ("linear"):  ``alpha_t = softmax_t(w^T h_t)``  - Eq. 9 of paper 003 and the
    weighted pooling of the A-LSTM paper (004, Eq. 2, ``A_T = exp(W.h_T) / sum exp(W.h_T)``).
  - ``hidden_dim > 0`` ("mlp"):  ``alpha_t = softmax_t(u^T act(W h_t [+ b]))`` - Eq. 8 of paper 003
    (act = sigma_a, no bias written) and Eqs. 3-4 of the GA-GRU paper (002, ``tanh(Linear(h))`` with bias,
    16 units).

  A bias on the final score is never used: it cancels in the softmax.
  ``dropout`` is applied to the scaled vectors ``alpha_t h_t`` before the sum (paper 003, Sec. 4); in eval
  mode this is the plain weighted sum.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ser.errors import SerError
from ser.models.masking import masked_softmax, masked_weighted_sum

_ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


class MeanPooling(nn.Module):
    """Uniform attention: the mean of the real frames (dropout, if any, on the terms h_t / len)."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        weights = mask.to(h.dtype) / mask.sum(dim=1, keepdim=True).clamp_min(1).to(h.dtype)
        if self.training and self.dropout.p > 0:
            terms = torch.where(mask.unsqueeze(-1), h * weights.unsqueeze(-1), h.new_zeros(()))
            return self.dropout(terms).sum(dim=1), weights
        return masked_weighted_sum(h, weights, mask), weights


class AttentionPooling(nn.Module):
    """Content-based attention pooling; see the module docstring for the two score functions."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 0,
        activation: str = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
        u_init_std: float | None = None,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise SerError(f"attention activation must be one of {sorted(_ACTIVATIONS)}, not '{activation}'")
        self.hidden_dim = int(hidden_dim)
        self.activation = activation
        if self.hidden_dim > 0:
            self.proj: nn.Linear | None = nn.Linear(input_dim, self.hidden_dim, bias=bias)
            score_dim = self.hidden_dim
        else:
            self.proj = None
            score_dim = input_dim
        self.u = nn.Parameter(torch.empty(score_dim))
        if u_init_std is None:
            bound = 1.0 / math.sqrt(score_dim)
            nn.init.uniform_(self.u, -bound, bound)
        else:
            nn.init.normal_(self.u, 0.0, u_init_std)
        self.dropout = nn.Dropout(dropout)

    def scores(self, h: Tensor) -> Tensor:
        """Unnormalised scores (B, T)."""
        s = _ACTIVATIONS[self.activation](self.proj(h)) if self.proj is not None else h
        return s @ self.u

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        alpha = masked_softmax(self.scores(h), mask)
        if self.training and self.dropout.p > 0:
            terms = torch.where(mask.unsqueeze(-1), h * alpha.unsqueeze(-1), h.new_zeros(()))
            return self.dropout(terms).sum(dim=1), alpha
        return masked_weighted_sum(h, alpha, mask), alpha


def make_pooling(kind: str, input_dim: int, dropout: float = 0.0, **attention_options) -> nn.Module:
    """``kind``: ``mean`` | ``attention`` (options go to :class:`AttentionPooling`)."""
    if kind == "mean":
        return MeanPooling(dropout=dropout)
    if kind == "attention":
        return AttentionPooling(input_dim, dropout=dropout, **attention_options)
    raise SerError(f"pooling must be 'mean' or 'attention', not '{kind}'")


__all__ = ["AttentionPooling", "MeanPooling", "make_pooling"]
