"""Padding masks and masked reductions shared by every frame encoder.

Convention: a batch is ``x: (B, T, D)`` right-padded to ``T`` with ``lengths: (B,)`` giving each item's
number of real frames. A mask is a BoolTensor ``(B, T)`` that is True on real frames. Padding must never
enter a pooling, an attention softmax or a graph; these helpers make that the default.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ser.errors import SerError


def check_lengths(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Validate a padded batch and return ``lengths`` as a LongTensor on ``x``'s device.

    ``lengths=None`` means every item uses all ``T`` frames. Lengths must lie in ``[1, T]``:
    an empty utterance has no embedding and is refused here with a clear message.
    """
    if x.dim() != 3:
        raise SerError(f"a frame encoder needs input of shape (batch, frames, dims), got {tuple(x.shape)}")
    batch, frames = x.shape[0], x.shape[1]
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.long, device=x.device)
    lengths = torch.as_tensor(lengths, device=x.device).long()
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise SerError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > frames):
        raise SerError(f"lengths must lie in [1, {frames}] (frames in the padded batch), got {lengths.tolist()}")
    return lengths


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """BoolTensor (B, max_len) that is True on the first ``lengths[b]`` positions of row b."""
    lengths = lengths.long()
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x: (B, T, D)`` over the valid frames of ``mask: (B, T)`` -> (B, D).

    Padding is removed with ``where`` (not multiplication), so even NaN/Inf in padded frames cannot leak.
    """
    mask3 = mask.unsqueeze(-1)
    total = torch.where(mask3, x, x.new_zeros(())).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp_min(1).to(x.dtype)
    return total / count


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``scores`` over ``dim`` restricted to ``mask``; masked entries get exactly 0.

    A row with no valid entry gives all zeros (never NaN).
    """
    fill = torch.finfo(scores.dtype).min
    masked = scores.masked_fill(~mask, fill)
    weights = torch.softmax(masked, dim=dim)
    return weights.masked_fill(~mask, 0.0)


def masked_weighted_sum(x: Tensor, weights: Tensor, mask: Tensor) -> Tensor:
    """sum_t weights[b, t] * x[b, t, :] over valid frames only -> (B, D)."""
    terms = torch.where(mask.unsqueeze(-1), x * weights.unsqueeze(-1), x.new_zeros(()))
    return terms.sum(dim=1)


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of ``x: (B, T, ...)`` within its own length; padding stays where it is.

    Used to run the backward direction of a hand-written RNN: after this, every item's real last frame
    is at position 0, so the backward pass starts there and never reads padding before a real frame.
    Applying it twice gives back ``x``.
    """
    batch, frames = x.shape[0], x.shape[1]
    positions = torch.arange(frames, device=x.device).unsqueeze(0).expand(batch, frames)
    lengths = lengths.to(x.device).long().unsqueeze(1)
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    index = index.view(batch, frames, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, 1, index)


class PaddedBiRNN(torch.nn.Module):
    """Stacked bidirectional LSTM or GRU over a right-padded batch, equal to running each item alone.

    The forward direction runs over the padded batch as is: it is causal, so right padding cannot change
    the outputs at real frames. The backward direction runs over each sequence reversed within its own
    length (:func:`reverse_padded`), so it starts at the item's real last frame, and its outputs are
    reversed back. Layer l > 0 reads the concatenated outputs of layer l-1 (after ``dropout``). Padding is
    zeroed on the way in and on the way out, so not even NaN/Inf there can reach an output or a gradient.

    This gives the same result as ``pack_padded_sequence``; we avoid packing because training a packed
    RNN on CPU is about 10x slower in torch 2.11 (autograd slices the packed data once per time step),
    e.g. forward+backward of a 2-layer BiGRU-256 on 64 x 300 x 78: 2.2 s unpacked vs 23 s packed.
    Output: (B, T, 2 * hidden_size), forward half first.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        cell = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind)
        if cell is None:
            raise SerError(f"rnn kind must be 'lstm' or 'gru', not '{kind}'")
        sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
        self.forward_rnns = torch.nn.ModuleList([cell(size, hidden_size, batch_first=True) for size in sizes])
        self.backward_rnns = torch.nn.ModuleList([cell(size, hidden_size, batch_first=True) for size in sizes])
        self.dropout = torch.nn.Dropout(dropout)
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        mask = lengths_to_mask(lengths, x.shape[1]).unsqueeze(-1)
        h = x.masked_fill(~mask, 0.0)
        for layer, (fwd, bwd) in enumerate(zip(self.forward_rnns, self.backward_rnns)):
            if layer > 0:
                h = self.dropout(h)
            out_f, _ = fwd(h)
            out_b, _ = bwd(reverse_padded(h, lengths))
            h = torch.cat([out_f, reverse_padded(out_b, lengths)], dim=-1).masked_fill(~mask, 0.0)
        return h


__all__ = [
    "PaddedBiRNN",
    "check_lengths",
    "lengths_to_mask",
    "masked_mean",
    "masked_softmax",
    "masked_weighted_sum",
    "reverse_padded",
]
