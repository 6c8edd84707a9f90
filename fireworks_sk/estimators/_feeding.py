"""Feeding a Torch estimator's module: its inputs, and the batches skorch reads.

``feed`` turns a Message into the tensors ``module.forward`` takes;
``batch_iterator`` is the body of the net's ``get_iterator``: a
:class:`MessageLoader` over a MessageDataset, or, for any other dataset or
iterator, the iterator called as skorch calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch
from scipy import sparse

from fireworks_sk import _seeding
from fireworks_sk.estimators._data import (
    ARRAY_COLUMN,
    TARGET_COLUMN,
    MessageDataset,
    column_tensor,
    is_ragged,
    placeholder_target,
    resolve_dataset,
    stack_columns,
)
from fireworks_sk.estimators._loader import MessageLoader
from fireworks_sk.estimators._targets import encode_target
from fireworks_sk.message import Message, from_columns, read_column, read_columns
from fireworks_sk.schema import check_has_columns

__all__ = [
    "Batches",
    "batch_iterator",
    "feed",
    "FEEDING_PARAMS",
    "FEEDING_SETTINGS",
    "has_custom_dataset",
    "is_internal",
    "positional",
    "resolve_inputs",
    "valid_batch_size",
]

# The seed of a training epoch's shuffle order, given words that key it.
ShuffleSeed = Callable[..., int | None]


# --------------------------------------------------------------- inputs
def resolve_inputs(net: Any, message: Message) -> tuple[list[str], bool]:
    """The columns fed to forward, and whether they are stacked into one."""
    if net.inputs is None:
        tensors = [c for c in message.columns if message.is_tensor(c)]
        if tensors:
            return tensors, False
        return message.columns, True
    names = [net.inputs] if isinstance(net.inputs, str) else list(net.inputs)
    if not names:
        raise ValueError(f"{type(net).__name__}(inputs=[]) names no columns.")
    if net.target is not None and net.target in names:
        raise ValueError(
            f"{type(net).__name__}: column {net.target!r} is both the target "
            "and one of the inputs."
        )
    check_has_columns(
        f"{type(net).__name__}(inputs=...)",
        names,
        message.columns,
        where="X",
        fix="Name columns of X, or inputs=None for every tensor column.",
    )
    return names, False


def feed(
    net: Any, message: Message, inputs: list[str] | None = None, stack: bool = False
) -> Message:
    """The tensors passed to forward: one per input, or one stacked matrix.

    ``inputs`` defaults to the fitted ones (``inputs_``, ``_stack_``).
    """
    if inputs is None:
        inputs, stack = net.inputs_, net._stack_
    if stack:
        columns = {ARRAY_COLUMN: stack_columns(message, inputs)}
    else:
        columns = {c: column_tensor(c, read_column(message, c)) for c in inputs}
    return from_columns(columns, len(message))


def positional(net: Any) -> bool:
    """Whether the fitted inputs are fed positionally: one column, or stacked."""
    return net._stack_ or len(net.inputs_) == 1


def is_internal(X: Any) -> bool:
    """Whether X is a dataset handed around by skorch (ours, a Subset of one,
    or skorch's ``Dataset`` of a ``predefined_split``), whose targets are
    encoded, so predictions on it are class indices."""
    return isinstance(X, torch.utils.data.Dataset)


# What ``dataset*``, ``iterator_valid*`` and ``batch_size`` say for feeding,
# kept in the net: skorch's ``get_params_for`` scans every attribute on each
# call, which costs a fifth of a one-row prediction. The net's ``__setattr__``
# drops it when one of these parameters is set; pickles leave it out.
FEEDING_SETTINGS = "_feeding_settings_"
FEEDING_PARAMS = ("dataset", "iterator_valid", "batch_size")


def has_custom_dataset(net: Any) -> bool:
    """Whether ``dataset`` is not MessageDataset (or takes arguments)."""
    return _feeding_settings(net)[0]


def valid_batch_size(net: Any) -> int:
    """Prediction batch size: ``iterator_valid__batch_size``, else ``batch_size``."""
    return _feeding_settings(net)[1]


def _feeding_settings(net: Any) -> tuple[bool, int]:
    settings = vars(net).get(FEEDING_SETTINGS)
    if settings is None:
        ours = isinstance(net.dataset, type) and issubclass(net.dataset, MessageDataset)
        custom = not ours or bool(net.get_params_for("dataset"))
        size = net.get_params_for("iterator_valid").get("batch_size", net.batch_size)
        settings = vars(net)[FEEDING_SETTINGS] = (custom, size)
    return settings


def encode_data(net: Any, X: Any, y: Any) -> MessageDataset | None:
    """X and y as passed to ``fit`` (in a skorch ``Dataset``), encoded as
    ``fit`` encodes them; None for sparse X, read as skorch reads it."""
    if sparse.issparse(X) or is_ragged(y):
        return None
    data = net.get_dataset(X)
    if y is None:
        return data
    target, _ = encode_target(net, y, first=False)
    return MessageDataset(data.message, target, positional=data.positional)


# -------------------------------------------------------------- batches
class Batches:
    """(inputs, target) pairs from a MessageLoader, as skorch's loop unpacks them."""

    def __init__(self, loader: Any, positional: bool, net: Any = None) -> None:
        self.loader = loader
        self.positional = positional
        self.net = net

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.net is not None and hasattr(self.loader, "set_epoch"):
            # skorch opens a history row at the start of each epoch, so the
            # current epoch is one less than the rows; a resumed history resumes
            # the shuffle order too.
            self.loader.set_epoch(max(len(self.net.history) - 1, 0))
        for batch in self.loader:
            columns = read_columns(batch)
            y = columns.pop(TARGET_COLUMN, None)
            if y is None:
                # skorch's placeholder for a dataset without a target.
                device = getattr(next(iter(columns.values()), None), "device", None)
                y = placeholder_target(len(batch), device)
            yield (next(iter(columns.values())) if self.positional else columns), y


def batch_iterator(
    net: Any, dataset: Any, training: bool, shuffle_seed: ShuffleSeed
) -> Any:
    """The body of ``get_iterator``: batches of ``dataset`` from ``iterator_*``.

    ``shuffle_seed(*words)`` seeds the shuffle order of training batches.
    """
    # Only a net fitted on the Message path knows how to encode a skorch
    # Dataset of user data; otherwise it is read as skorch reads it.
    encode = partial(encode_data, net) if hasattr(net, "n_features_in_") else None
    data = resolve_dataset(dataset, encode)
    prefix = "iterator_train" if training else "iterator_valid"
    if data is None or _reads_datasets(getattr(net, prefix)):
        source = dataset if data is None else data
        return torch_iterator(net, source, training, shuffle_seed)
    kwargs = _loader_kwargs(net, prefix, len(data), training, shuffle_seed)
    loader = getattr(net, prefix)(data.loader_message(), **kwargs)
    if training and isinstance(loader, MessageLoader) and not len(loader):
        raise ValueError(
            f"{type(net).__name__} has {len(data)} training rows, which make "
            f"no batch of batch_size={loader.batch_size} with "
            f"drop_last={loader.drop_last}, so no epoch would train; lower "
            "batch_size or set iterator_train__drop_last=False."
        )
    return Batches(loader, data.positional, net=net if training else None)


def _loader_kwargs(
    net: Any, prefix: str, n_rows: int, training: bool, shuffle_seed: ShuffleSeed
) -> dict[str, Any]:
    """The arguments of a MessageLoader: ``iterator_*__`` and the net's own."""
    kwargs = _iterator_kwargs(net, prefix, n_rows)
    if training:
        kwargs.setdefault("shuffle", True)
        kwargs.setdefault("random_state", shuffle_seed())
    if net.device is not None and torch.device(net.device).type != "cpu":
        kwargs.setdefault("device", net.device)
    if not training and kwargs.get("drop_last"):
        raise ValueError(
            f"{type(net).__name__}(iterator_valid__drop_last=True) would drop "
            "rows from predictions and validation scores; leave it False."
        )
    return kwargs


def _iterator_kwargs(net: Any, prefix: str, n_rows: int) -> dict[str, Any]:
    """``iterator_*__`` arguments, with the net's batch size (-1: all rows)."""
    kwargs = net.get_params_for(prefix)
    kwargs.setdefault("batch_size", net.batch_size)
    if kwargs["batch_size"] == -1:
        kwargs["batch_size"] = max(n_rows, 1)
    return kwargs


def torch_iterator(
    net: Any, dataset: Any, training: bool, shuffle_seed: ShuffleSeed
) -> Any:
    """skorch's iterator over a torch Dataset, read row by row and collated.

    For a Dataset passed as X (one of skorch's, a ``TensorDataset``, your
    own) and whenever ``iterator_*`` is not a MessageLoader (a
    ``DataLoader``, say): it is called as skorch calls it,
    ``iterator(dataset, batch_size=..., **iterator_*__)``. ``DataLoader``'s
    training batches are shuffled unless ``iterator_train__shuffle=False``.
    """
    prefix = "iterator_train" if training else "iterator_valid"
    iterator = getattr(net, prefix)
    if not _reads_datasets(iterator):
        iterator = torch.utils.data.DataLoader
    kwargs = _iterator_kwargs(net, prefix, len(dataset))
    if not _is_data_loader(iterator):
        return iterator(dataset, **kwargs)
    if training and not {"sampler", "batch_sampler"} & set(kwargs):
        kwargs.setdefault("shuffle", True)
    seed = shuffle_seed(max(len(net.history) - 1, 0))
    # Unshuffled too: each iteration draws its workers' base seed, from
    # torch's global generator unless given one of its own.
    if seed is None:
        seed = _seeding.fresh_seed()
    kwargs.setdefault("generator", _seeding.torch_generator(seed))
    return iterator(dataset, **kwargs)


def _reads_datasets(iterator: Any) -> bool:
    """Whether ``iterator`` is not a MessageLoader: it is then called with the
    dataset, as skorch calls ``DataLoader``."""
    return not (isinstance(iterator, type) and issubclass(iterator, MessageLoader))


def _is_data_loader(iterator: Any) -> bool:
    return isinstance(iterator, type) and issubclass(
        iterator, torch.utils.data.DataLoader
    )
