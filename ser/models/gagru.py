"""``gagru``: graph attentive bidirectional GRU (paper 002, GA-GRU) and its ``bigru_att`` baseline.

Paper settings: Emobase 78-d LLDs, per-speaker z-norm, 5-frame averaging (front end, not here); two BiGRU
layers of 256, dropout 0.1, attention with 16 units, graph epsilon 1e-15, one linear output layer.
Training (not here; recorded for the trainer config): Adam, learning rate 2e-4, batch size 64,
cross-entropy, early stopping, leave-one-person-out.

Pieces and how we read the flattened equations:

1. BiGRU (Eqs. 1-2): ``h_t = h_t(forward) + h_t(backward)``, "in order to reduce the dimension ... we sum
   the two vectors". We stack two bidirectional GRU layers the usual way (the second layer reads the
   concatenated 512-d output of the first) and sum the two directions of the LAST layer, so h_t is 256-d.
   The backward GRU starts at each utterance's real last frame (``PaddedBiRNN``: same result as packing).
2. Attention (Eqs. 3-4): ``s(h_t) = tanh(Linear(h_t))`` (16 units, with bias), ``alpha_t = softmax_t(u^T
   s(h_t))`` over the real frames. ``u`` "is also a normal distribution with mean equals to zero": we draw
   it from N(0, ``u_init_std``^2) with std 1 (as ``torch.randn`` would; the std is not given).
3. Graph (Eq. 5): ``G_ij = ||ReLU(h_i h_j^T)||_2 / (sum ||ReLU(h_i' h_j^T)||_2 + eps)``.
   *Edge strength.* With h_i as a row vector (the paper's tensors are B x T x dims), ``h_i h_j^T`` is the
   scalar dot product, and the prose says the graph "encodes the distances (dot products) between hidden
   dimensions of every time frame"; the 2-norm of a scalar is its absolute value, so the edge is
   ``r_ij = ReLU(h_i . h_j)`` (``edge: dot``, default). The other reading - the outer product matrix
   ``h_i h_j^T`` with ReLU applied element-wise and its Frobenius norm taken - is ``edge: outer``; it has a
   closed form ``sqrt(|h_i+|^2 |h_j+|^2 + |h_i-|^2 |h_j-|^2)`` (h+ = ReLU(h), h- = ReLU(-h)), computed
   without the T x T x H x H tensor.
   *Normalisation.* The denominator as printed sums over the first index i', but the prose says "we sum it
   over the entire row to make sure i-th time step relates to all other time steps has sum equals to 1".
   We follow the prose: ``G_ij = r_ij / (sum_j' r_ij' + eps)``, so every ROW of G sums to 1 over the real
   frames (r is symmetric, so this is the printed formula with i and j swapped). Padded frames are
   removed from the graph: their rows and columns are 0.
4. Graph-modulated attention (Eq. 6): ``H = sum_t G h_t alpha_t``. We read ``G h`` as graph propagation
   (as in a GCN, inspired by which the graph is built): ``(G h)_i = sum_j G_ij h_j`` is a convex
   combination of the frames related to frame i, and ``H = sum_i alpha_i (G h)_i``. Equivalently
   ``H = sum_j beta_j h_j`` with the graph-modulated attention ``beta = G^T alpha``: each frame passes its
   attention mass along its row of G, so beta is again a distribution over the real frames (sums to 1) -
   the "graph modulated attention profile" the paper compares with alpha in its Fig. 3. (Had we kept the
   printed column normalisation, ``sum_t (G (alpha h))_t`` would collapse to plain attention, since every
   column would sum to 1; the row reading is the one in which the graph changes anything.)
5. Output (Eq. 7): ``softmax(Linear(H))`` - the default head is a single linear layer.

The paper's single "0.1 dropout rate" is applied between the two GRU layers and to the embedding H
before the output layer. ``graph: false`` gives the paper's "BiGRU+ATT" baseline (also registered as
``bigru_att``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ser.models.masking import PaddedBiRNN, check_lengths, lengths_to_mask
from ser.models.pooling import AttentionPooling
from ser.models.registry import ConfigError, register_encoder


@dataclass
class GAGRUConfig:
    """Defaults: the paper's settings (two BiGRU layers of 256, dropout 0.1, 16 attention units, eps 1e-15)."""

    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    attention_dim: int = 16
    u_init_std: float = 1.0
    graph: bool = True
    edge: str = "dot"
    graph_eps: float = 1e-15

    def __post_init__(self) -> None:
        if self.edge not in ("dot", "outer"):
            raise ConfigError(f"gagru: edge must be 'dot' or 'outer', not '{self.edge}'")
        if self.hidden_size < 1 or self.num_layers < 1 or self.attention_dim < 1:
            raise ConfigError("gagru: hidden_size, num_layers and attention_dim must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("gagru: dropout must be in [0, 1)")
        if self.graph_eps < 0:
            raise ConfigError("gagru: graph_eps must be >= 0")


@dataclass
class BiGRUAttConfig(GAGRUConfig):
    """The paper's BiGRU+ATT baseline: GA-GRU without the graph."""

    graph: bool = False


def _safe_sqrt(x: Tensor) -> Tensor:
    """sqrt with a zero (not infinite) gradient at 0."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))


def frame_graph(h: Tensor, mask: Tensor, edge: str = "dot", eps: float = 1e-15) -> Tensor:
    """Row-normalised within-utterance graph G (B, T, T) of Eq. 5 (see the module docstring).

    ``G[b, i, :]`` sums to 1 over the real frames of item b for every real frame i; rows and columns of
    padded frames are 0.
    """
    if edge == "dot":
        relation = torch.relu(torch.bmm(h, h.transpose(1, 2)))
    elif edge == "outer":
        pos = torch.relu(h).pow(2).sum(-1)
        neg = torch.relu(-h).pow(2).sum(-1)
        relation = _safe_sqrt(pos.unsqueeze(2) * pos.unsqueeze(1) + neg.unsqueeze(2) * neg.unsqueeze(1))
    else:
        raise ConfigError(f"gagru: edge must be 'dot' or 'outer', not '{edge}'")
    pair = mask.unsqueeze(2) & mask.unsqueeze(1)
    relation = relation.masked_fill(~pair, 0.0)
    denominator = relation.sum(dim=2, keepdim=True) + eps
    # a row with no relation at all (a padded frame, or eps = 0 and h_i = 0) stays 0 instead of 0/0
    return relation / torch.where(denominator > 0, denominator, torch.ones_like(denominator))


@register_encoder("gagru", config=GAGRUConfig, input_kind="frames", default_heads={"hidden": [], "dropout": 0.0})
class GAGRUEncoder(nn.Module):
    """GA-GRU (paper 002): summed 2-layer BiGRU, tanh attention, row-normalised frame graph; embedding = H."""

    def __init__(self, input_dim: int, config: GAGRUConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = PaddedBiRNN("gru", input_dim, config.hidden_size, config.num_layers, config.dropout)
        self.attention = AttentionPooling(
            config.hidden_size, hidden_dim=config.attention_dim, activation="tanh", bias=True,
            u_init_std=config.u_init_std,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output_dim = config.hidden_size

    def hidden_states(self, x: Tensor, lengths: Tensor) -> Tensor:
        """h (B, T, hidden_size): forward + backward outputs of the last BiGRU layer; 0 on padding."""
        out = self.rnn(x, lengths)
        forward, backward = out.chunk(2, dim=-1)
        return forward + backward

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        lengths = check_lengths(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1])
        h = self.hidden_states(x, lengths)
        pooled, alpha = self.attention(h, mask)
        aux = {"attention": alpha}
        if self.config.graph:
            graph = frame_graph(h, mask, self.config.edge, self.config.graph_eps)
            beta = torch.bmm(alpha.unsqueeze(1), graph)  # (B, 1, T): beta_j = sum_i alpha_i G_ij
            pooled = torch.bmm(beta, h).squeeze(1)  # = sum_i alpha_i (G h)_i
            aux.update(graph=graph, graph_attention=beta.squeeze(1))
        return self.dropout(pooled), aux


register_encoder(
    "bigru_att",
    config=BiGRUAttConfig,
    input_kind="frames",
    default_heads={"hidden": [], "dropout": 0.0},
    description="BiGRU+ATT baseline of paper 002: GA-GRU without the graph (graph: false).",
)(GAGRUEncoder)


__all__ = ["BiGRUAttConfig", "GAGRUConfig", "GAGRUEncoder", "frame_graph"]
