"""``alstm``: advanced LSTM with weighted pooling and multitask heads (paper 004), and its two baselines.

Trunk (Sec. 4.1): FC 256 ReLU per frame -> a bidirectional layer of 128 cells per direction -> weighted
pooling ``A_T = softmax_T(W . h_T)``, ``sum_T A_T h_T`` (Eqs. 1-2; a plain vector W, no bias). Branches:
one per task, "one hidden fully connected layer with 256 RELU neurons and one softmax layer" - emotion,
speaker, gender with loss weights 1, 0.3, 0.6 (the default heads). "Dropout was used in all the layers
in the network except the attention based weighted pooling layer and the parameter of W in Equation 9
and 12. The dropout rate was 0.5": we apply dropout 0.5 to the output of the FC layer, to the output of
the recurrent layer (before the pooling, which has none) and after each branch's FC layer; W is never
dropped. With 36-d input and 8 training speakers this gives about 605 k parameters (the paper: "about
600 k"), which supports reading "a BLSTM layer with 128 neurons" as one layer of 128 per direction.

The A-LSTM cell (Sec. 4.2), our reading of Eqs. 6-12 (gates i, f, o are computed like the candidate,
"the computation about controlling gates are omitted" in the paper):

    gates_t = W_x x_t + W_h h'_{t-1} + b                       (i, f, g, o as in torch.nn.LSTM)
    C_t     = f_t * C'_{t-1} + i_t * tanh(g_t)                 (Eqs. 6-7)
    C'_t    = sum_{tau in T} w^C_tau C_{t+1-tau},  w^C = softmax_tau(W . C_{t+1-tau})      (Eqs. 8-9)
    h_t     = o_t * tanh(C'_t)                                 (Eq. 10)
    h'_t    = sum_{tau in T} w^h_tau h_{t+1-tau},  w^h = softmax_tau(W . h_{t+1-tau})      (Eqs. 11-12)

* Offsets: "the selected time steps is t-2, t-1 and t for time t+1. T is therefore denoted as {3,2,1}",
  so offset tau counts back from the step being computed; with the paper's T = {5, 3, 1} step t+1 reads
  the mix of the states at t, t-2 and t-4 (the states "at t-5, t-3, t-1" relative to that step).
* The mixed states are the RAW states C_t (Eq. 6) and h_t (Eq. 10) of the selected steps; C'_t and h'_t
  are only what is passed on to the next step. h_t, not h'_t, is the layer's output ("h is the hidden
  values to higher layer"; h' is passed to t+1 in Fig. 3).
* Weights: one vector W of size 128 per direction, shared by Eqs. 9 and 12 ("In Equation 9 and 12, W is
  shared"; "we only need add 256 parameters, which is the W size" for 2 x 128 cells). The softmax is over
  the |T| selected steps, per utterance and per mixing step.
* Schedule: "C' and h' are computed every max(T) steps rather than every step" - ``mix_every: 0`` (default)
  means every max(T) = 5 steps, at steps t with (t+1) % 5 == 0 (0-based), so the first mix already has
  all of t, t-2, t-4. At every other step C'_t = C_t and h'_t = h_t (a conventional LSTM step).
  ``mix_every: 1`` mixes at every step; early steps then mix only the states that exist (the softmax is
  over the available offsets).
* Backward direction: each sequence is reversed within its own length and run through the same cell,
  so it starts at the real last frame and the schedule counts from there; the outputs are reversed back.
  Steps past an item's length compute values that are never read (the forward direction is causal).

Baselines (Sec. 5.1): ``mixing: none`` (registered as ``alstm_lstm``) is the conventional LSTM (only
t-1; no W); ``mixing: mean`` (``alstm_mean``) is the "mean LSTM" whose weights are fixed to 1/|T|.

The recurrence is a Python loop over time (by necessity: each step reads mixed past states), with the
input projection of all steps done in one matmul beforehand and one batched matmul per step for both
directions together. For ONNX export the same recurrence runs as a TorchScript function
(:func:`_recurrence_for_export`, ring buffers of the last max(T) states instead of growing lists), which the
exporter turns into an ONNX ``Loop`` with a dynamic time axis; a traced Python loop would be unrolled to the
example's length.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import List

import torch
from torch import Tensor, nn

from ser.models.masking import check_lengths, lengths_to_mask, reverse_padded
from ser.models.pooling import AttentionPooling
from ser.models.registry import ConfigError, register_encoder

MIXINGS = ("learned", "mean", "none")


def _recurrence_for_export(steps: Tensor, w_hh: Tensor, mix_weight: Tensor, offsets: List[int], mix_every: int,
                           mixing: str) -> Tensor:
    """The A-LSTM recurrence of :meth:`ALSTMLayer.forward` as a scriptable loop: steps (T, nd, B, 4H) -> (T, nd, B, H).

    The histories are ring buffers (index j = the state j steps back), and offsets not yet reached get a
    weight of exactly 0, which equals the eager softmax over the available offsets only.
    """
    frames, nd, batch = steps.shape[0], steps.shape[1], steps.shape[2]
    hs = w_hh.shape[1]
    depth = max(offsets)
    back = torch.tensor([o - 1 for o in offsets], dtype=torch.long, device=steps.device)
    h_prev = steps.new_zeros(nd, batch, hs)
    c_prev = steps.new_zeros(nd, batch, hs)
    h_buf = steps.new_zeros(depth, nd, batch, hs)
    c_buf = steps.new_zeros(depth, nd, batch, hs)
    outs: List[Tensor] = []
    for t in range(frames):
        gates = torch.baddbmm(steps[t], h_prev, w_hh).view(nd, batch, 4, hs)
        i_gate, f_gate = torch.sigmoid(gates[:, :, 0]), torch.sigmoid(gates[:, :, 1])
        cand, o_gate = torch.tanh(gates[:, :, 2]), torch.sigmoid(gates[:, :, 3])
        c_t = f_gate * c_prev + i_gate * cand
        c_buf = torch.cat([c_t.unsqueeze(0), c_buf[:-1]], dim=0)
        if mixing != "none" and (t + 1) % mix_every == 0:
            avail = (back <= t).to(steps.dtype)  # (K,) 1 where the offset's step exists
            mixed = []
            for which in range(2):
                if which == 1:
                    h_t = o_gate * torch.tanh(mixed[0])
                    h_buf = torch.cat([h_t.unsqueeze(0), h_buf[:-1]], dim=0)
                states = (c_buf if which == 0 else h_buf).index_select(0, back).permute(1, 2, 0, 3)  # (nd, B, K, H)
                if mixing == "learned":
                    scores = torch.einsum("dbkh,dh->dbk", states, mix_weight)
                    scores = scores.masked_fill(avail == 0, float("-inf"))
                    weights = torch.softmax(scores, dim=-1)
                else:
                    weights = (avail / avail.sum()).expand(nd, batch, avail.shape[0])
                mixed.append((weights.unsqueeze(-1) * states).sum(dim=2))
            c_prev, h_prev = mixed[0], mixed[1]
            outs.append(h_buf[0])
        else:
            h_t = o_gate * torch.tanh(c_t)
            h_buf = torch.cat([h_t.unsqueeze(0), h_buf[:-1]], dim=0)
            c_prev, h_prev = c_t, h_t
            outs.append(h_t)
    return torch.stack(outs, dim=0)


@functools.cache
def _scripted_recurrence():
    """:func:`_recurrence_for_export` compiled by TorchScript (once, on the first export)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated; torch's ONNX exporter still uses it
        return torch.jit.script(_recurrence_for_export)


@dataclass
class ALSTMConfig:
    """Defaults: the paper's settings (FC 256, 128 cells per direction, T = {5, 3, 1}, dropout 0.5)."""

    fc_size: int = 256
    hidden_size: int = 128
    offsets: tuple[int, ...] = (5, 3, 1)
    mixing: str = "learned"
    mix_every: int = 0
    dropout: float = 0.5
    bidirectional: bool = True

    def __post_init__(self) -> None:
        if self.mixing not in MIXINGS:
            raise ConfigError(f"alstm: mixing must be one of {MIXINGS}, not '{self.mixing}'")
        self.offsets = tuple(int(o) for o in self.offsets)
        if not self.offsets or min(self.offsets) < 1 or len(set(self.offsets)) != len(self.offsets):
            raise ConfigError(f"alstm: offsets must be distinct positive integers, got {self.offsets}")
        if self.mix_every < 0:
            raise ConfigError("alstm: mix_every must be >= 0 (0: every max(offsets) steps)")
        if self.fc_size < 0 or self.hidden_size < 1:
            raise ConfigError("alstm: fc_size must be >= 0 (0: no FC layer) and hidden_size >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("alstm: dropout must be in [0, 1)")


@dataclass
class MeanLSTMConfig(ALSTMConfig):
    """The "mean LSTM" baseline: the A-LSTM with its mixing weights fixed to 1/|T|."""

    mixing: str = "mean"


@dataclass
class ConventionalLSTMConfig(ALSTMConfig):
    """The conventional LSTM baseline: no mixing, the state at t depends on t-1 only."""

    mixing: str = "none"


class ALSTMLayer(nn.Module):
    """One (bi)directional layer of A-LSTM cells; weights are stored like ``torch.nn.LSTM`` (i, f, g, o).

    ``weight_ih[d]``: (4H, D), ``weight_hh[d]``: (4H, H), ``bias[d]``: (4H,) for direction d (0 forward,
    1 backward); ``mix_weight[d]``: (H,), the W of Eqs. 9/12 (only with ``mixing: learned``).
    """

    def __init__(self, input_size: int, hidden_size: int, offsets=(5, 3, 1), mixing: str = "learned",
                 mix_every: int = 0, bidirectional: bool = True) -> None:
        super().__init__()
        if mixing not in MIXINGS:
            raise ConfigError(f"alstm: mixing must be one of {MIXINGS}, not '{mixing}'")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.offsets = tuple(int(o) for o in offsets)
        self.mixing = mixing
        self.mix_every = int(mix_every) if mix_every else max(self.offsets)
        self.num_directions = 2 if bidirectional else 1
        nd, hs = self.num_directions, self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(nd, 4 * hs, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(nd, 4 * hs, hs))
        self.bias = nn.Parameter(torch.empty(nd, 4 * hs))
        self.mix_weight = nn.Parameter(torch.empty(nd, hs)) if mixing == "learned" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _mix(self, history: list[Tensor], step: int, direction_weight: Tensor | None) -> tuple[Tensor, Tensor]:
        """Mix ``history[step + 1 - tau]`` over the offsets; returns (mixed (nd,B,H), weights (nd,B,|T|))."""
        avail = [k for k, tau in enumerate(self.offsets) if step + 1 - tau >= 0]
        states = torch.stack([history[step + 1 - self.offsets[k]] for k in avail], dim=2)  # (nd, B, K, H)
        if direction_weight is not None:
            scores = torch.einsum("dbkh,dh->dbk", states, direction_weight)
            weights = torch.softmax(scores, dim=-1)
        else:
            weights = states.new_full(states.shape[:3], 1.0 / len(avail))
        mixed = (weights.unsqueeze(-1) * states).sum(dim=2)
        if len(avail) < len(self.offsets):  # report weights over all offsets, 0 where none existed
            full = weights.new_zeros(*weights.shape[:2], len(self.offsets))
            full[..., avail] = weights
            weights = full
        return mixed, weights

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """x (B, T, D), lengths (B,) -> h (B, T, nd*H) (forward half first) and mixing weights.

        aux: ``mix_steps`` (M,) the 0-based steps (counted from each direction's own start) at which states
        were mixed; ``mix_c`` and ``mix_h`` (nd, B, M, |T|) the weights used there (only entries at steps
        below an item's length are meaningful).
        """
        batch, frames, _ = x.shape
        nd, hs = self.num_directions, self.hidden_size
        # padded steps are computed (and never read); zero them so NaN/Inf there cannot reach any gradient
        x = x.masked_fill(~lengths_to_mask(lengths, frames).unsqueeze(-1), 0.0)
        inputs = [x] if nd == 1 else [x, reverse_padded(x, lengths)]
        stacked = torch.stack(inputs, dim=0)  # (nd, B, T, D)
        # input projection of every step at once: (nd, B*T, D) x (nd, D, 4H)
        flat = stacked.reshape(nd, batch * frames, -1)
        proj = torch.baddbmm(self.bias.unsqueeze(1), flat, self.weight_ih.transpose(1, 2))
        w_hh = self.weight_hh.transpose(1, 2)  # (nd, H, 4H)
        if torch.onnx.is_in_onnx_export():
            mix_weight = self.mix_weight if self.mix_weight is not None else w_hh.new_zeros(nd, hs)
            out = _scripted_recurrence()(proj.view(nd, batch, frames, 4 * hs).permute(2, 0, 1, 3), w_hh, mix_weight,
                                         list(self.offsets), self.mix_every, self.mixing).permute(1, 2, 0, 3)
            halves = [out[0]] if nd == 1 else [out[0], reverse_padded(out[1], lengths)]
            return torch.cat(halves, dim=-1), {}
        # per-step views via unbind: its backward stacks the step gradients once (indexing proj[t] in the
        # loop would make autograd add a full-size zero tensor per step, O(T^2) work)
        steps = proj.view(nd, batch, frames, 4 * hs).permute(2, 0, 1, 3).unbind(0)  # T x (nd, B, 4H)
        h_prev = x.new_zeros(nd, batch, hs)
        c_prev = x.new_zeros(nd, batch, hs)
        h_hist: list[Tensor] = []
        c_hist: list[Tensor] = []
        mix_steps: list[int] = []
        mix_c: list[Tensor] = []
        mix_h: list[Tensor] = []
        mixing = self.mixing != "none"
        for t in range(frames):
            gates = torch.baddbmm(steps[t], h_prev, w_hh)  # (nd, B, 4H)
            i_pre, f_pre, g_pre, o_pre = gates.view(nd, batch, 4, hs).unbind(2)
            i_gate, f_gate, o_gate = torch.sigmoid(i_pre), torch.sigmoid(f_pre), torch.sigmoid(o_pre)
            cand = torch.tanh(g_pre)
            c_t = f_gate * c_prev + i_gate * cand
            c_hist.append(c_t)
            if mixing and (t + 1) % self.mix_every == 0:
                c_mixed, wc = self._mix(c_hist, t, self.mix_weight)
                h_t = o_gate * torch.tanh(c_mixed)
                h_hist.append(h_t)
                h_mixed, wh = self._mix(h_hist, t, self.mix_weight)
                mix_steps.append(t)
                mix_c.append(wc)
                mix_h.append(wh)
            else:
                c_mixed = c_t
                h_t = o_gate * torch.tanh(c_t)
                h_hist.append(h_t)
                h_mixed = h_t
            h_prev, c_prev = h_mixed, c_mixed
        out = torch.stack(h_hist, dim=2)  # (nd, B, T, H)
        halves = [out[0]] if nd == 1 else [out[0], reverse_padded(out[1], lengths)]
        aux: dict[str, Tensor] = {"mix_steps": torch.tensor(mix_steps, dtype=torch.long)}
        if mix_c:
            aux["mix_c"] = torch.stack(mix_c, dim=2)
            aux["mix_h"] = torch.stack(mix_h, dim=2)
        return torch.cat(halves, dim=-1), aux


#: The paper's branches: FC 256 ReLU + softmax per task, dropout 0.5, loss weights 1 / 0.3 / 0.6.
PAPER_HEADS = {
    "tasks": ["emotion", "speaker", "gender"],
    "weights": {"emotion": 1.0, "speaker": 0.3, "gender": 0.6},
    "hidden": [256],
    "dropout": 0.5,
}


@register_encoder("alstm", config=ALSTMConfig, input_kind="frames", default_heads=PAPER_HEADS)
class ALSTMEncoder(nn.Module):
    """A-LSTM weighted-pooling RNN (paper 004): FC 256 ReLU, bidirectional A-LSTM 2x128, softmax(W h) pooling."""

    def __init__(self, input_dim: int, config: ALSTMConfig) -> None:
        super().__init__()
        self.config = config
        if config.fc_size > 0:
            self.fc: nn.Module = nn.Sequential(
                nn.Linear(input_dim, config.fc_size), nn.ReLU(), nn.Dropout(config.dropout)
            )
            rnn_input = config.fc_size
        else:
            self.fc = nn.Identity()
            rnn_input = input_dim
        self.rnn = ALSTMLayer(rnn_input, config.hidden_size, config.offsets, config.mixing, config.mix_every,
                              config.bidirectional)
        self.rnn_dropout = nn.Dropout(config.dropout)
        self.output_dim = config.hidden_size * self.rnn.num_directions
        self.pool = AttentionPooling(self.output_dim, hidden_dim=0, bias=False, dropout=0.0)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        lengths = check_lengths(x, lengths)
        mask = lengths_to_mask(lengths, x.shape[1])
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # see ALSTMLayer.forward
        h, aux = self.rnn(self.fc(x), lengths)
        pooled, alpha = self.pool(self.rnn_dropout(h), mask)
        aux["attention"] = alpha
        return pooled, aux


register_encoder(
    "alstm_mean",
    config=MeanLSTMConfig,
    default_heads=PAPER_HEADS,
    description='"mean LSTM" baseline of paper 004: A-LSTM with fixed equal mixing weights (mixing: mean).',
)(ALSTMEncoder)
register_encoder(
    "alstm_lstm",
    config=ConventionalLSTMConfig,
    default_heads=PAPER_HEADS,
    description="conventional-LSTM baseline of paper 004 in the A-LSTM framework (mixing: none).",
)(ALSTMEncoder)


__all__ = [
    "ALSTMConfig",
    "ALSTMEncoder",
    "ALSTMLayer",
    "ConventionalLSTMConfig",
    "MIXINGS",
    "MeanLSTMConfig",
    "PAPER_HEADS",
]
