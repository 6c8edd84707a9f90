"""A Torch estimator's module outputs, checked against the classes or targets.

A module whose outputs do not fit y is refused, at fit (before the criterion
broadcasts them into a loss that trains nothing) and at predict; outputs
fed to ``CrossEntropyLoss`` that look like probabilities are warned about.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_class_scores",
    "check_loss_target",
    "check_target_values",
    "warn_if_probabilities",
]

# ``check(shape, y_true)``: an estimator's check of its outputs, giving y_true
# as the criterion should see it.
OutputCheck = Callable[[tuple[int, ...], Any], Any]


def check_loss_target(
    net: Any, y_pred: Any, y_true: Any, *, training: bool, check: OutputCheck
) -> Any:
    """The body of ``get_loss`` before the criterion: y_true, checked.

    The first training batch of each fit (marked by ``on_train_begin``) also
    warns about probabilities fed to ``CrossEntropyLoss``.
    """
    checkable = hasattr(net, "n_outputs_")  # unknown when X is a Dataset
    if checkable and isinstance(y_pred, torch.Tensor) and torch.is_tensor(y_true):
        y_true = check(tuple(y_pred.shape), y_true)
        if training and vars(net).pop("_outputs_unchecked_", False):
            warn_if_probabilities(net, y_pred)
    return y_true


def check_class_scores(net: Any, shape: tuple[int, ...], y_true: Any = None) -> Any:
    """Refuse a classifier's outputs that are not one score per class."""
    n_classes = net.n_outputs_
    if getattr(net, "_y_ndim_", 1) > 1:
        if net.module is None:
            raise ValueError(
                f"{type(net).__name__} with module=None returns outputs of "
                f"shape {shape}, one score per class for each row, but y has "
                f"{net._y_ndim_} dimensions: several labels per row need a "
                "module of your own whose outputs fit the criterion (for "
                "CrossEntropyLoss, shape (n_rows, n_classes, *y.shape[1:]))."
            )
        return y_true  # (n, k) targets: the criterion checks its own shapes
    if len(shape) != 2 or shape[1] != n_classes:
        raise ValueError(
            f"{type(net).__name__}'s module returns outputs of shape {shape}, "
            f"but there are {n_classes} classes "
            f"{np.asarray(net.classes_).tolist()!r}: it must return shape "
            f"(n_rows, {n_classes}), one score per class. Set the width of "
            "its last layer to the number of classes (module=None does)."
        )
    return y_true


def check_target_values(net: Any, shape: tuple[int, ...], y_true: Any = None) -> Any:
    """Refuse a regressor's outputs that are not one value per target; align y.

    A module that returns shape (n_rows,) for a single target is trained
    against y of that shape too, as skorch users expect, rather than
    against (n_rows, 1), which the criterion would broadcast to
    (n_rows, n_rows).
    """
    n_targets = net.n_outputs_
    if len(shape) == 2 and shape[1] == n_targets:
        return y_true
    if len(shape) == 1 and n_targets == 1:
        return None if y_true is None else y_true.reshape(-1)
    single = " or (n_rows,)" if n_targets == 1 else ""
    # .squeeze() turns the output of a one-row batch into a scalar.
    hint = " (use .squeeze(-1), not .squeeze())" if not shape else ""
    raise ValueError(
        f"{type(net).__name__}'s module returns outputs of shape {shape}, "
        f"but y has {n_targets} target{'s' if n_targets > 1 else ''}: it "
        f"must return shape (n_rows, {n_targets}){single}, one value per "
        f"target{hint}."
    )


def warn_if_probabilities(net: Any, y_pred: torch.Tensor) -> None:
    """Warn when outputs fed to CrossEntropyLoss look like probabilities.

    ``CrossEntropyLoss`` applies softmax itself; rows that are already
    probabilities (as after a final ``Softmax``) train on a flattened loss.
    """
    criterion = getattr(net, "criterion_", None)
    if not isinstance(criterion, torch.nn.CrossEntropyLoss):
        return
    if y_pred.ndim != 2 or y_pred.shape[1] < 2:
        return
    scores = y_pred.detach().float()
    in_range = bool(((scores >= 0) & (scores <= 1)).all())
    ones = torch.ones(len(scores), device=scores.device)
    if in_range and torch.allclose(scores.sum(dim=1), ones, atol=1e-4):
        warnings.warn(
            f"{type(net).__name__}'s module returns rows that look like "
            "probabilities (each in [0, 1], summing to 1), but CrossEntropyLoss "
            "expects logits and applies softmax itself. Remove the final "
            "Softmax, or pass criterion=torch.nn.NLLLoss to keep it.",
            UserWarning,
            stacklevel=3,  # the net's get_loss
        )
