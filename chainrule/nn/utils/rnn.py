"""torch.nn.utils.rnn at its PyTorch path: padding a batch of sequences of different lengths,
and packing it so recurrent layers skip the padding.

A PackedSequence holds the steps of the sequences time-major, longest sequence first:
`data` (sum of lengths, *) has at time t the steps of the batch_sizes[t] sequences still
running. Packing and unpacking are each one indexing op, so gradients flow through them.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple

import numpy as np

from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operand
from chainrule.ops.join import cat
from chainrule.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence", "pad_sequence", "unpack_sequence", "unpad_sequence"]


def _int64(a: Any) -> Tensor:
    return Tensor._make(np.asarray(a, dtype=np.int64), None)


def _host(t: Any) -> np.ndarray:
    # lengths, batch sizes and permutations are bookkeeping on the host, as in PyTorch (CPU)
    return t.numpy(force=True) if isinstance(t, Tensor) else np.asarray(t)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a 1-D permutation (None stays None)."""
    if permutation is None:
        return None
    p = _host(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(p.size)
    return _int64(out)


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceBase):
    """(data, batch_sizes, sorted_indices, unsorted_indices): made by pack_padded_sequence or
    pack_sequence, taken by RNN / LSTM / GRU. batch_sizes (int64, on the host) says how many
    sequences run at each time step; sorted_indices is the order, longest first, the batch was
    sorted into (None if it was given sorted) and unsorted_indices its inverse."""

    def __new__(cls, data: Any, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), ...)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or one pair "
                                "(data, batch_sizes)")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """data moved or cast with Tensor.to; the indices follow data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(data.device)

        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to(dtype=np.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=np.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=np.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=np.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=np.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def _lengths(lengths: Any, batch: int) -> np.ndarray:
    n = _host(lengths)
    if n.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{n.ndim}D")
    n = n.astype(np.int64)
    if n.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {n.size} "
                           f"(batch_size={batch})")
    if n.size and n.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    return n


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) whose sequence b has
    lengths[b] real steps. With enforce_sorted the lengths must be in decreasing order;
    otherwise the batch is sorted (the order kept in sorted_indices)."""
    x = as_operand(input)
    if x.ndim < 2:
        raise ShapeError(f"pack_padded_sequence: expected a padded batch (T, B, *), got shape "
                         f"{tuple(x.shape)}")
    T, B = (x.shape[1], x.shape[0]) if batch_first else x.shape[:2]
    n = _lengths(lengths, B)
    if enforce_sorted:
        if np.any(n[1:] > n[:-1]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order = np.arange(B)
    else:
        order = np.argsort(-n, kind="stable")
    n = n[order]
    if n[0] > T:
        raise ShapeError(f"pack_padded_sequence: a sequence of length {n[0]} does not fit the "
                         f"padded input of {T} steps (shape {tuple(x.shape)})")
    batch_sizes = (n[None, :] > np.arange(n[0])[:, None]).sum(1)
    t, b = np.nonzero(np.arange(n[0])[:, None] < n[None, :])  # time-major, longest first
    rows = order[b] * T + t if batch_first else t * B + order[b]
    flat = x.reshape((T * B,) + tuple(x.shape[2:]))
    data = flat[xp_of(x.array).asarray(rows)]
    sorted_indices = None if enforce_sorted else _int64(order)
    return PackedSequence(data, _int64(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *) in the original batch
    order, lengths (B,) int64). T is the longest length, or total_length if given."""
    data = sequence.data
    bs = _host(sequence.batch_sizes).astype(np.int64)
    T = len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T = total_length
    B = int(bs[0])
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1)  # in sorted order
    unsorted = (np.arange(B) if sequence.unsorted_indices is None
                else _host(sequence.unsorted_indices))
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    s = unsorted[None, :]  # sorted position of each original sequence
    tt = np.arange(T)[:, None]
    inside = tt < lengths[s]
    rows = np.where(inside, offsets[np.minimum(tt, len(bs) - 1)] + s, data.shape[0])
    pad = Tensor._make(xp_of(data.array).full((1,) + tuple(data.shape[1:]), padding_value,
                                              dtype=data.array.dtype), None)
    padded = cat([data, pad], 0)[xp_of(data.array).asarray(rows.T if batch_first else rows)]
    return padded, _int64(lengths[unsorted])


def pad_sequence(sequences: Iterable[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Sequences (L_i, *) stacked into (T, B, *) ((B, T, *) with batch_first), T = max L_i,
    each padded with padding_value after its steps (before them with padding_side='left')."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    seqs = [as_operand(s) for s in sequences]
    if not seqs:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    trail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.ndim == 0 or tuple(s.shape[1:]) != trail:
            raise ShapeError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}, but every "
                             f"sequence must be (L, *{trail}) like sequence 0")
    n = np.array([s.shape[0] for s in seqs])
    T, B = int(n.max()), len(seqs)
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    tt = np.arange(T)[:, None]
    pos = tt - (T - n[None, :]) if padding_side == "left" else np.broadcast_to(tt, (T, B))
    rows = np.where((pos >= 0) & (pos < n[None, :]), starts[None, :] + pos, n.sum())
    like = seqs[0].array
    pad = Tensor._make(xp_of(like).full((1,) + trail, padding_value, dtype=like.dtype), None)
    return cat(seqs + [pad], 0)[xp_of(like).asarray(rows.T if batch_first else rows)]


def unpad_sequence(padded_sequences: Tensor, lengths: Any,
                   batch_first: bool = False) -> list[Tensor]:
    """The inverse of pad_sequence: the list of sequences (lengths[b], *) of a padded batch."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[b, :int(k)] for b, k in enumerate(_host(lengths))]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=...)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
