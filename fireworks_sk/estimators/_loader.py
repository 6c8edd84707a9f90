"""MessageLoader: minibatches of a Message, one gather per column per batch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from numbers import Integral
from typing import Any

import numpy as np
import torch

from fireworks_sk._seeding import check_seed, fresh_seed, torch_generator
from fireworks_sk._validation import as_message
from fireworks_sk.message import (
    Column,
    Message,
    from_columns,
    read_column,
    read_columns,
    take_column,
)

__all__ = ["MessageLoader"]


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, Integral):
        raise TypeError(
            f"MessageLoader(batch_size=...) must be a positive int; got {batch_size!r}."
        )
    if batch_size < 1:
        raise ValueError(
            f"MessageLoader(batch_size={batch_size}) must be a positive int."
        )
    return int(batch_size)


class MessageLoader:
    """Iterate over a Message in minibatches, each batch a Message.

    Each batch costs one gather per column (``index_select`` on a contiguous
    tensor) when shuffling and a zero-copy slice otherwise; there is no per-row
    collation. The shuffle order of epoch ``e`` follows from
    ``(random_state, e)`` through an explicit ``torch.Generator``, so it never
    reads or advances the global random state and an interrupted run can resume
    with the same order (see :meth:`set_epoch`).

    Parameters
    ----------
    message : Message, DataFrame, dict or 2-D array-like
        The rows to iterate over. Tensor columns are made contiguous once.
    batch_size : int, default=256
        Rows per batch; the last batch may be shorter unless ``drop_last``.
    shuffle : bool, default=False
        Visit the rows in a new random order every epoch.
    random_state : int, numpy Generator or None, default=None
        Seed of the shuffle order. None draws a base seed once from torch's
        default generator, as ``torch.utils.data.DataLoader`` does, so
        ``torch.manual_seed`` makes the order reproducible.
    drop_last : bool, default=False
        Drop the last batch when it has fewer than ``batch_size`` rows.
    device : str, torch.device or None, default=None
        Move tensor columns of each batch to this device; None leaves them
        where they are. Host tensors are pinned once when the device is CUDA.

    Attributes
    ----------
    epoch : int
        The epoch whose order the next iteration uses; see :meth:`set_epoch`.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import Message, MessageLoader
    >>> m = Message({"x": torch.arange(5.0)})
    >>> [len(b) for b in MessageLoader(m, batch_size=2)]
    [2, 2, 1]
    >>> len(MessageLoader(m, batch_size=2, drop_last=True))
    2
    """

    def __init__(
        self,
        message: Any,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        random_state: Any = None,
        drop_last: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.random_state = random_state
        self.drop_last = bool(drop_last)
        self.device = None if device is None else torch.device(device)
        self.message = self._prepare(as_message(message)[0])
        seed = check_seed(random_state, "MessageLoader")
        if seed is None and self.shuffle:
            seed = fresh_seed()
        self._seed = seed
        self.epoch = 0

    def _prepare(self, message: Message) -> Message:
        pin = (
            self.device is not None
            and self.device.type == "cuda"
            and torch.cuda.is_available()
        )
        columns = {
            name: _contiguous(read_column(message, name), pin)
            for name in message.columns
        }
        return from_columns(columns, len(message))

    def __len__(self) -> int:
        n = len(self.message)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle order of ``epoch`` for the next iteration.

        Parameters
        ----------
        epoch : int
            Zero-based epoch number. Iterating does not advance it: the caller
            (a training loop, or :class:`~fireworks_sk.TorchClassifier`) says
            which epoch it is, so a resumed run sees the orders it would have.
        """
        if epoch < 0:
            raise ValueError(
                f"MessageLoader.set_epoch: epoch must be >= 0; got {epoch}."
            )
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> torch.Tensor:
        """The row order of ``epoch`` (default: :attr:`epoch`), an int64 tensor."""
        n = len(self.message)
        if not self.shuffle:
            return torch.arange(n)
        epoch = self.epoch if epoch is None else epoch
        return torch.randperm(n, generator=torch_generator(self._seed, epoch))

    def __iter__(self) -> Iterator[Message]:
        n = len(self.message)
        stop = len(self) * self.batch_size if self.drop_last else n
        columns = list(read_columns(self.message).items())
        if not self.shuffle:
            for start in range(0, stop, self.batch_size):
                rows = slice(start, min(start + self.batch_size, n))
                batch = {name: take_column(col, rows) for name, col in columns}
                yield self._batch(batch, rows.stop - rows.start)
            return
        # The batches' indices cut from the order at once, per device the
        # columns live on: per batch, only the gathers are left.
        if stop == 0:
            return
        order = self.order()[:stop]
        devices = {c.device for _, c in columns if isinstance(c, torch.Tensor)}
        chunks = {device: order.to(device).split(self.batch_size) for device in devices}
        # The order is on the CPU: its chunks are cut once, if CPU columns need them.
        cpu_chunks = chunks.get(order.device) or order.split(self.batch_size)
        # Each column with the chunks it gathers by: per batch, only the gathers.
        plan = [
            (name, col, chunks[col.device] if isinstance(col, torch.Tensor) else None)
            for name, col in columns
        ]
        for i, index in enumerate(cpu_chunks):
            batch = {
                name: col.index_select(0, own[i])
                if own is not None
                else take_column(col, index)
                for name, col, own in plan
            }
            if self.device is None:
                yield from_columns(batch, index.shape[0])
            else:
                yield self._batch(batch, index.shape[0])

    def _batch(self, columns: dict[str, Column], length: int) -> Message:
        if self.device is not None:
            columns = {name: _to_device(c, self.device) for name, c in columns.items()}
        return from_columns(columns, length)

    def __repr__(self) -> str:
        return (
            f"MessageLoader({len(self.message)} rows, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"batches={len(self)})"
        )


def _contiguous(column: Column, pin: bool) -> Column:
    if not isinstance(column, torch.Tensor):
        return column
    column = column.contiguous()
    if pin and column.device.type == "cpu":
        column = column.pin_memory()
    return column


def _to_device(column: Column, device: torch.device) -> Column:
    if isinstance(column, torch.Tensor):
        return column.to(device, non_blocking=True)
    return column
