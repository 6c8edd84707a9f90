"""plot_history: learning curves of a fitted Torch estimator."""

from __future__ import annotations

from typing import Any

__all__ = ["plot_history"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plot_history needs matplotlib, which is not installed; install the "
            "'plot' extra: pip install 'fireworks-sk[plot]'."
        ) from exc
    return plt


def plot_history(
    net: Any, ax: Any = None, *, keys: tuple[str, ...] | None = None
) -> Any:
    """Draw the per-epoch train and validation loss of a fitted skorch net.

    Parameters
    ----------
    net : skorch.NeuralNet
        A fitted net, e.g. a :class:`~fireworks_sk.TorchClassifier`.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; None makes a new figure.
    keys : tuple of str or None, default=None
        History columns to draw; None draws ``train_loss`` and, when the net
        validated, ``valid_loss``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        If matplotlib is missing (the ``plot`` extra).
    ValueError
        If the net has no history yet, or lacks a requested key.
    """
    plt = _pyplot()
    history = getattr(net, "history_", None)
    if not history:
        raise ValueError(
            f"{type(net).__name__} has no training history; fit it before plotting."
        )
    if keys is None:
        keys = tuple(k for k in ("train_loss", "valid_loss") if k in history[-1])
    missing = [k for k in keys if k not in history[-1]]
    if missing:
        raise ValueError(
            f"History has no {missing!r}; it records {sorted(history[-1])!r}."
        )
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots()
    epochs = history[:, "epoch"]
    for key in keys:
        ax.plot(epochs, history[:, key], marker="o", label=key)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    return ax
