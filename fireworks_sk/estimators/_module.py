"""The default module of the Torch estimators: a small multilayer perceptron."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DefaultMLP", "has_lazy_parameters"]


def has_lazy_parameters(module: nn.Module) -> bool:
    """Whether ``module`` has parameters a lazy layer has not yet shaped.

    A lazy layer (``nn.LazyLinear``, ...) holds ``UninitializedParameter``
    until its first forward, which turns them into plain ``Parameter``.
    """
    return any(isinstance(p, nn.UninitializedParameter) for p in module.parameters())


class DefaultMLP(nn.Module):
    """A multilayer perceptron whose first layer infers its input width.

    Every input (positional or keyword) is flattened to ``(n, -1)``, cast to
    float32 and concatenated, so the module takes whatever columns the
    estimator feeds it. The first layer is a :class:`torch.nn.LazyLinear`; the
    estimators materialise it with a dry run on zero rows before the optimizer
    is built.

    Parameters
    ----------
    n_outputs : int, default=1
        Width of the output: the number of classes or of regression targets.
        The estimators set it from ``y``.
    hidden_units : sequence of int, default=(100,)
        Widths of the hidden layers, as ``MLPClassifier(hidden_layer_sizes)``.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    """

    def __init__(
        self,
        n_outputs: int = 1,
        hidden_units: Sequence[int] = (100,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = None
        for units in hidden_units:
            layers.append(
                nn.LazyLinear(units) if width is None else nn.Linear(width, units)
            )
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(
            nn.LazyLinear(n_outputs) if width is None else nn.Linear(width, n_outputs)
        )
        self.layers = nn.Sequential(*layers)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        parts = [_flat(p) for p in (*args, *kwargs.values())]
        features = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return self.layers(features)


def _flat(values: torch.Tensor) -> torch.Tensor:
    """Rows as float32 vectors: (n,) -> (n, 1), (n, k, ...) -> (n, k * ...)."""
    flat = values.unsqueeze(1) if values.dim() == 1 else values.flatten(1)
    return flat.to(torch.float32)
