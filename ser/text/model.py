"""AGHMN (Jiao, Lyu and King, AAAI 2020) and the scLSTM baseline, for real-time emotion labels in conversations.

Every model is causal by construction: the label of turn t is computed from turn t and the turns before it.

AGHMN, per turn t (our reading of the paper, sizes d = 100):

- utterance reader (``reader``): ``bigru`` (default; eq. 1-4: BiGRU over word vectors, max-over-time pooling
  of the concatenated states, u = tanh(W_u h + b_u)), ``bilstm`` (the same with an LSTM) or ``cnn``
  (filters 3/4/5 x 64 maps, max-over-time pooling, ReLU projection to d, as the paper's CNN reader/scLSTM);
  beyond the paper, ``minilm``: the frozen 384-d all-MiniLM-L6-v2 sentence vector of the utterance
  (``ser.text.sentence_encoder``, optional extra), u = tanh(W_s s + b_s); no vocabulary, no word vectors.
  Query q_t = u_t.
- memory bank M_t from the K most recent previous utterances u_{t-K}..u_{t-1} (oldest first; fewer at the
  start of a dialogue, none for the first turn): ``unif`` M = GRU(u) + u (a unidirectional GRU run over
  the window), ``bif`` M = (fwd GRU + bwd GRU)(u) + u.
- attention a_k = softmax_k(q_t . M_k) (eq. 5) and summary (``summary``): ``soft`` c = sum_k a_k M_k;
  ``agru`` c = h_K of the Attention GRU (eq. 6), started from h_0 = 0:
      r_k  = sigmoid(W_r M_k + U_r h_{k-1} + b_r)
      h~_k = tanh(W_h M_k + r_k * (U_h h_{k-1} + b_uh) + b_h)      (a normal GRU's candidate state)
      h_k  = a_k * h~_k + (1 - a_k) * h_{k-1}                       (the attention weight replaces the update gate)
  ``biagru`` c = h_K(forward AGRU) + h_1(backward AGRU) (eq. 8-9; the paper says both "refine the query
  similarly"; we add them). An empty memory bank gives c = 0.
- o_t = q_t + c_t (eq. 7), dropout, softmax(W_o o_t + b_o) (eq. 10).

scLSTM (``model: sclstm``): the reader's utterance vectors (CNN by default) pass through a unidirectional
LSTM over the dialogue so far; its state at t (dropout) feeds the softmax layer.

Padding never enters a recurrence, a pooling or an attention: backward RNNs run on each sequence reversed
within its own length; masked memory slots get attention weight 0, which leaves an AGRU state unchanged.
``Stream`` labels one turn at a time, keeping the memory bank (utterance vectors of the last K turns, each
read once) or the scLSTM state between turns; ``predict_dialogues`` labels whole dialogues in batches, and
both give the same posteriors.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ser.text.config import TextModelConfig

FORMAT = "ser-text-model-1"


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of x [B, T, ...] within its own length; padding stays where it is."""
    t = x.shape[1]
    pos = torch.arange(t, device=x.device).unsqueeze(0)
    idx = torch.where(pos < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - pos, pos)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiRNN(nn.Module):
    """Forward and backward single-layer RNNs over right-padded batches; returns [B, T, 2, H]."""

    def __init__(self, cell: type[nn.RNNBase], input_size: int, hidden: int, bidirectional: bool = True) -> None:
        super().__init__()
        self.fwd = cell(input_size, hidden, batch_first=True)
        self.bwd = cell(input_size, hidden, batch_first=True) if bidirectional else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = [self.fwd(x)[0]]
        if self.bwd is not None:
            out.append(reverse_within(self.bwd(reverse_within(x, lengths))[0], lengths))
        return torch.stack(out, dim=2)


def _time_mask(lengths: torch.Tensor, t: int) -> torch.Tensor:
    return torch.arange(t, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class RNNReader(nn.Module):
    """BiGRU/BiLSTM over word vectors, max-over-time pooling of [fwd; bwd], tanh projection to d (eq. 1-4)."""

    def __init__(self, cell: type[nn.RNNBase], embed_dim: int, hidden: int) -> None:
        super().__init__()
        self.rnn = BiRNN(cell, embed_dim, hidden)
        self.proj = nn.Linear(2 * hidden, hidden)

    def forward(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.rnn(emb, lengths).flatten(2)  # [U, L, 2H]
        h = h.masked_fill(~_time_mask(lengths, h.shape[1]).unsqueeze(2), float("-inf"))
        return torch.tanh(self.proj(h.max(dim=1).values))


class CNNReader(nn.Module):
    """1-D convolutions (widths 3/4/5 x 64 maps), max-over-time over the valid positions, ReLU projection to d."""

    def __init__(self, embed_dim: int, hidden: int, widths: Sequence[int], maps: int) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, maps, w) for w in self.widths)
        self.proj = nn.Linear(maps * len(self.widths), hidden)

    def forward(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        short = max(self.widths) - emb.shape[1]
        if short > 0:  # padding rows are zero vectors, like the zero padding of a short utterance
            emb = torch.cat([emb, emb.new_zeros(emb.shape[0], short, emb.shape[2])], dim=1)
        x = emb.transpose(1, 2)
        pooled = []
        for width, conv in zip(self.widths, self.convs):
            y = torch.relu(conv(x))  # [U, maps, L - w + 1]
            valid = torch.clamp(lengths - width + 1, min=1)  # an utterance shorter than w keeps its first window
            y = y.masked_fill(~_time_mask(valid, y.shape[2]).unsqueeze(1), float("-inf"))
            pooled.append(y.max(dim=2).values)
        return torch.relu(self.proj(torch.cat(pooled, dim=1)))


class SentenceReader(nn.Module):
    """Frozen sentence vectors [U, 384] -> u = tanh(W s + b) [U, d]: the trainable part of the minilm reader."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_size, hidden)

    def forward(self, vectors: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.proj(vectors))


class AGRU(nn.Module):
    """Attention GRU: the attention weight a_k replaces the update gate (see the module docstring)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.wx = nn.Linear(hidden, 2 * hidden)  # W_r, W_h (+ b_r, b_h)
        self.uh = nn.Linear(hidden, 2 * hidden)  # U_r, U_h (+ their biases; b_uh sits inside the reset product)

    def forward(self, memory: torch.Tensor, attention: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """memory [N, K, d], attention [N, K] (0 on empty slots) -> final state [N, d]."""
        n, k, _ = memory.shape
        h = memory.new_zeros(n, self.hidden)
        xs = self.wx(memory)  # [N, K, 2d]
        steps = range(k - 1, -1, -1) if reverse else range(k)
        for i in steps:
            xr, xh = xs[:, i].chunk(2, dim=1)
            hr, hh = self.uh(h).chunk(2, dim=1)
            r = torch.sigmoid(xr + hr)
            cand = torch.tanh(xh + r * hh)
            a = attention[:, i : i + 1]
            h = a * cand + (1 - a) * h
        return h


class TextEmotionModel(nn.Module):
    """AGHMN or scLSTM over conversations (see the module docstring)."""

    def __init__(self, config: TextModelConfig, vocab_size: int, num_classes: int) -> None:
        super().__init__()
        self.config = config.check()
        c = self.config
        d = c.hidden
        self.embedding: nn.Embedding | None = None  # minilm: the batch carries sentence vectors, not token ids
        if c.reader != "minilm":
            self.embedding = nn.Embedding(vocab_size, c.embed_dim, padding_idx=0)
            self.embedding.weight.requires_grad_(c.trainable_embeddings)
        if c.reader == "minilm":
            self.reader: nn.Module = SentenceReader(c.embed_dim, d)
        elif c.reader == "cnn":
            self.reader = CNNReader(c.embed_dim, d, c.cnn_widths, c.cnn_maps)
        else:
            self.reader = RNNReader(nn.GRU if c.reader == "bigru" else nn.LSTM, c.embed_dim, d)
        self.drop = nn.Dropout(c.dropout)
        if c.model == "aghmn":
            self.fusion = BiRNN(nn.GRU, d, d, bidirectional=c.memory == "bif")
            if c.summary != "soft":
                self.agru_f = AGRU(d)
                self.agru_b = AGRU(d) if c.summary == "biagru" else None
        else:
            self.lstm = nn.LSTM(d, d, batch_first=True)
        self.out = nn.Linear(d, num_classes)

    # --- pieces ---------------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Token ids [U, L] (0 = padding) and lengths [U], or minilm sentence vectors [U, 384] -> utterance
        vectors [U, d]."""
        x = tokens if self.embedding is None else self.embedding(tokens)
        return self.reader(self.drop(x), lengths)

    def attend(self, q: torch.Tensor, bank: torch.Tensor, bank_len: torch.Tensor) -> torch.Tensor:
        """Queries [N, d], raw memory windows [N, K, d] (oldest first, right-padded), lengths [N] -> logits [N, C]."""
        n, k, _ = bank.shape
        if k == 0:
            return self.out(self.drop(q))
        mask = _time_mask(bank_len, k)
        fused = self.fusion(bank, torch.clamp(bank_len, min=1)).sum(dim=2) + bank  # UniF / BiF
        fused = fused * mask.unsqueeze(2)
        scores = torch.einsum("nd,nkd->nk", q, fused).masked_fill(~mask, float("-inf"))
        att = torch.softmax(scores, dim=1)
        att = torch.where(mask, att, torch.zeros_like(att))  # an empty bank: all zero, no NaN
        summary = self.config.summary
        if summary == "soft":
            context = torch.einsum("nk,nkd->nd", att, fused)
        else:
            context = self.agru_f(fused, att)
            if self.agru_b is not None:
                context = context + self.agru_b(fused, att, reverse=True)
        return self.out(self.drop(q + context))

    # --- whole dialogues ------------------------------------------------------------------------
    def forward(self, batch: "Batch") -> torch.Tensor:
        """Logits [U, C] for every turn of the batch's dialogues (in batch order)."""
        u = self.encode(batch.tokens, batch.lengths)
        u_pad = torch.cat([u, u.new_zeros(1, u.shape[1])], dim=0)  # index U = empty slot
        if self.config.model == "aghmn":
            bank = u_pad[batch.window_index]  # [U, K, d]
            return self.attend(u, bank, batch.window_len)
        seq = u_pad[batch.dialogue_index]  # [B, T, d]
        h = self.lstm(seq)[0]  # causal: right padding never reaches a real turn
        flat = h[batch.dialogue_mask]  # [U, d] in batch order
        return self.out(self.drop(flat))


def _is_vector(utterance: Any) -> bool:
    return isinstance(utterance, np.ndarray) and utterance.dtype.kind == "f"


class Batch:
    """Token tensors and index tensors for a list of dialogues (each a list of token-id lists, or for the minilm
    reader a list of float sentence vectors: then ``tokens`` is [U, 384] and every length is 1)."""

    def __init__(self, dialogues: Sequence[Sequence[Sequence[int]]], window: int, device: str = "cpu") -> None:
        utts = [u for d in dialogues for u in d]
        n = len(utts)
        if _is_vector(utts[0]):
            self.tokens = torch.from_numpy(np.stack(utts).astype(np.float32)).to(device)
            self.lengths = torch.ones(n, dtype=torch.long, device=device)
        else:
            lmax = max(len(u) for u in utts)
            tokens = np.zeros((n, lmax), dtype=np.int64)
            for i, u in enumerate(utts):
                tokens[i, : len(u)] = u
            self.tokens = torch.from_numpy(tokens).to(device)
            self.lengths = torch.tensor([len(u) for u in utts], dtype=torch.long, device=device)
        k = window
        win = np.full((n, k), n, dtype=np.int64)
        win_len = np.zeros(n, dtype=np.int64)
        tmax = max(len(d) for d in dialogues)
        dia = np.full((len(dialogues), tmax), n, dtype=np.int64)
        mask = np.zeros((len(dialogues), tmax), dtype=bool)
        start = 0
        for b, d in enumerate(dialogues):
            for t in range(len(d)):
                first = max(0, t - k)
                win[start + t, : t - first] = np.arange(start + first, start + t)
                win_len[start + t] = t - first
            dia[b, : len(d)] = np.arange(start, start + len(d))
            mask[b, : len(d)] = True
            start += len(d)
        self.window_index = torch.from_numpy(win).to(device)
        self.window_len = torch.from_numpy(win_len).to(device)
        self.dialogue_index = torch.from_numpy(dia).to(device)
        self.dialogue_mask = torch.from_numpy(mask).to(device)


class Stream:
    """Turn-by-turn labels for one conversation: each utterance is read once; AGHMN keeps the vectors of the last
    K turns (its memory bank is re-fused over those K vectors per turn, as M_t is defined per query), scLSTM keeps
    its LSTM state."""

    def __init__(self, model: TextEmotionModel, encode_text) -> None:
        self.model = model.eval()
        self.encode_text = encode_text  # text -> list of token ids (minilm: -> sentence vector); see text_encoder
        self.bank: deque[torch.Tensor] = deque(maxlen=model.config.window)
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def step(self, text: str) -> np.ndarray:
        """Posteriors [C] of this turn given the turns before it."""
        encoded = self.encode_text(text)
        if _is_vector(encoded):
            ids = torch.from_numpy(np.asarray(encoded, dtype=np.float32)).view(1, -1)
        else:
            ids = torch.tensor([encoded], dtype=torch.long)
        u = self.model.encode(ids, torch.tensor([ids.shape[1]]))  # [1, d]
        if self.model.config.model == "aghmn":
            if self.bank:
                bank = torch.stack(list(self.bank), dim=0).unsqueeze(0)
            else:
                bank = u.new_zeros(1, 1, u.shape[1])
            logits = self.model.attend(u, bank, torch.tensor([len(self.bank)]))
            self.bank.append(u[0])
        else:
            h, self.state = self.model.lstm(u.unsqueeze(1), self.state)
            logits = self.model.out(h[:, 0])
        return torch.softmax(logits, dim=1)[0].numpy()


def text_encoder(model: TextEmotionModel, itos: Sequence[str]) -> Callable[[str], Any]:
    """What ``Stream`` needs to read a turn with this model: the vocabulary's tokeniser, or MiniLM for minilm."""
    if model.config.reader == "minilm":
        from ser.text.sentence_encoder import SentenceEncoder, load_minilm

        load_minilm("cpu")  # now, not on the first turn: loading takes seconds
        return SentenceEncoder().encode
    from ser.text.data import Vocab

    return Vocab(list(itos)[2:]).encode


def save_model(path, model: TextEmotionModel, itos: list[str], classes: Sequence[str], extra: dict | None = None) -> None:
    from ser.fileio import atomic_write

    payload = {
        "format": FORMAT,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(model.config).items()},
        "vocab": list(itos),
        "classes": list(classes),
        "state_dict": model.state_dict(),
        "extra": dict(extra or {}),
    }
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


def load_model(path) -> tuple[TextEmotionModel, list[str], list[str]]:
    """(model in eval mode, vocabulary itos, classes); loads with weights_only=True."""
    from ser.errors import InputFileError
    from ser.limits import MAX_TEXT_MODEL_BYTES, check_file_size

    check_file_size(path, MAX_TEXT_MODEL_BYTES, "text model file")  # before torch reads a byte of it
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputFileError(path, "no such model file") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        from ser.errors import torch_load_refusal

        raise InputFileError(path, f"not a ser text model ({torch_load_refusal(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputFileError(path, f"not a ser text model (expected format {FORMAT})")
    config = TextModelConfig.from_dict(payload["config"])
    model = TextEmotionModel(config, len(payload["vocab"]), len(payload["classes"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise InputFileError(path, f"weights do not match the model config ({exc})") from None
    return model.eval(), list(payload["vocab"]), list(payload["classes"])


__all__ = [
    "AGRU",
    "Batch",
    "BiRNN",
    "CNNReader",
    "FORMAT",
    "RNNReader",
    "SentenceReader",
    "Stream",
    "TextEmotionModel",
    "load_model",
    "reverse_within",
    "save_model",
    "text_encoder",
]
