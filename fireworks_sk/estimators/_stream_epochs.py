"""A Torch estimator trained on a stream: one epoch is one pass over chunks.

Everything ``fit_stream`` needs from a Torch estimator: the chunks of a pass
are batches of the epoch, and the callbacks are notified as in ``fit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fireworks_sk._seeding import derive_seed
from fireworks_sk.estimators._fitting import prepare_fit
from fireworks_sk.estimators._guards import check_fit_params, restored_net_on_error
from fireworks_sk.estimators._net_random import fit_context

__all__ = ["fit_passes"]

# The (X, y) chunks of one epoch's pass, given the epoch.
Passes = Callable[[int], Iterable[tuple[Any, Any]]]


def fit_passes(
    net: Any,
    passes: Passes,
    valid: Passes | None = None,
    *,
    epochs: int | None = None,
    classes: Any = None,
) -> Any:
    """Train ``epochs`` (default ``max_epochs``) epochs, each a pass over chunks.

    ``passes(epoch)`` yields the (X, y) chunks of that epoch; each chunk is
    cut into minibatches by ``iterator_train``, its rows shuffled in an
    order that follows from ``random_state``, the epoch and the chunk's
    position (the first chunk takes the order ``fit`` would, so a stream
    of one chunk trains exactly as ``fit``). The callbacks are notified as
    in ``fit``: one history row per epoch, ``train_loss`` over all its
    batches. ``valid(epoch)``, if given, yields validation chunks scored
    after each epoch's training (``valid_loss``). ``KeyboardInterrupt``
    (``EarlyStopping``) ends training, as in skorch. The net is put back
    as it was if anything else is raised.
    """
    with restored_net_on_error(net):
        check_fit_params(net, {"epochs": epochs})
        n_epochs = net.max_epochs if epochs is None else epochs
        reset = not net.warm_start or not net.initialized_
        with fit_context(net), contextlib.closing(iter(passes(0))) as chunks:
            first = _start(net, next(chunks), reset=reset, classes=classes)
            net.notify("on_train_begin", X=None, y=None)
            try:
                for epoch in range(n_epochs):
                    if epoch == 0:
                        train, first = _datasets(net, chunks, first), None
                    else:
                        train = _datasets(net, passes(epoch))
                    _epoch(net, train, valid and _datasets(net, valid(epoch)))
            except KeyboardInterrupt:
                pass
            net.notify("on_train_end", X=None, y=None)
    return net


def _start(net: Any, chunk: tuple[Any, Any], *, reset: bool, classes: Any) -> Any:
    """The first chunk encoded, which learns the schema and the classes; the
    module is initialised after it (unless warm-starting)."""
    first, _ = prepare_fit(net, *chunk, reset=reset, classes=classes)
    del chunk  # memory holds the chunks in use only
    if reset:
        net.initialize()
    return first


def _datasets(
    net: Any, chunks: Iterable[tuple[Any, Any]], first: Any = None
) -> Iterator[Any]:
    """The chunks encoded for training, checked against the first one."""
    with contextlib.closing(iter(chunks)) as pairs:
        if first is not None:
            yield first
            del first  # memory holds the chunks in use only
        for x, y in pairs:
            yield prepare_fit(net, x, y, reset=False)[0]


def _epoch(net: Any, train: Iterator[Any], valid: Iterator[Any] | None) -> None:
    net.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
    _train(net, train)
    if valid is not None:
        _validate(net, valid)
    # run_single_epoch records the count of its own call, a chunk's.
    for prefix in ("train", "valid"):
        count = sum(f"{prefix}_loss" in b for b in net.history[-1, "batches"])
        if count or prefix == "train":
            net.history.record(f"{prefix}_batch_count", count)
    net.notify("on_epoch_end", dataset_train=None, dataset_valid=None)


def _train(net: Any, train: Iterator[Any]) -> None:
    epoch = len(net.history) - 1  # as the shuffle order of fit counts it
    with contextlib.closing(train):
        for index, dataset in enumerate(train):
            batches = net.get_iterator(dataset, training=True)
            if index and hasattr(batches.loader, "set_epoch"):
                # The first chunk takes fit's order for the epoch; each
                # later one an order of its own.
                batches.net = None
                batches.loader.set_epoch(derive_seed(epoch, index))
            net.run_single_epoch(
                batches, training=True, prefix="train", step_fn=net.train_step
            )


def _validate(net: Any, valid: Iterator[Any]) -> None:
    with contextlib.closing(valid):
        for dataset in valid:
            net.run_single_epoch(
                net.get_iterator(dataset, training=False),
                training=False,
                prefix="valid",
                step_fn=net.validation_step,
            )
