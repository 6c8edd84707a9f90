"""scikit-learn's own estimator checks, run on every Pipe with default parameters."""

from __future__ import annotations

import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
    Impute,
    IndexEncoder,
    Junction,
    OneHot,
    SelectColumns,
    Stack,
    ToTensor,
)

TORCH_DTYPE_DEFAULT = (
    "DESIGN.md fixes the default dtype=torch.float32, a torch.dtype, which "
    "scikit-learn's check does not list among the allowed parameter types."
)


def double(message):
    """Module-level (so picklable) function for a FunctionPipe branch."""
    return message.assign(**{f"{c}_double": message[c] * 2 for c in message.columns})


def two_branch_junction() -> Junction:
    """Two branches that never touch the same column: scale, and add doubled copies.

    Each branch's output keeps the input columns; the first changes them, the
    second passes them through unchanged and adds new ones.
    """
    return Junction([("scale", BatchNormalizer()), ("double", FunctionPipe(double))])


ESTIMATORS = [
    BatchNormalizer(),
    Impute(),
    Impute(strategy="most_frequent", add_indicator=True),
    OneHot(),
    OneHot(missing="category", handle_unknown="ignore"),
    IndexEncoder(),
    IndexEncoder(missing="category"),
    ToTensor(),
    Stack(),
    SelectColumns(),
    DropColumns(),
    FunctionPipe(),
    Junction(),
    two_branch_junction(),
]


def expected_failed_checks(estimator) -> dict[str, str]:
    if isinstance(estimator, (ToTensor, Stack)):
        assert estimator.dtype is torch.float32
        return {"check_parameters_default_constructible": TORCH_DTYPE_DEFAULT}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_pipe_passes_sklearn_estimator_checks(estimator, check):
    check(estimator)
