"""scikit-learn's estimator checks on every Pipe, with defaults and other settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_global_output_transform_pandas,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from fireworks_sk import (
    BatchNormalizer,
    FunctionPipe,
    Impute,
    IndexEncoder,
    Junction,
    OneHot,
    Stack,
    ToTensor,
)
from tests._data import every_pipe


def double(message):
    """Module-level (so picklable) function for a FunctionPipe branch."""
    return message.assign(**{f"{c}_double": message[c] * 2 for c in message.columns})


def two_branch_junction() -> Junction:
    """Two branches that never touch the same column: scale, and add doubled copies.

    Each branch's output keeps the input columns; the first changes them, the
    second passes them through unchanged and adds new ones.
    """
    return Junction([("scale", BatchNormalizer()), ("double", FunctionPipe(double))])


def squared_names(transformer, names):
    return [f"{name}_squared" for name in names]


def squares() -> FunctionTransformer:
    """A scikit-learn transformer as a Junction branch: adds squared columns."""
    return FunctionTransformer(np.square, feature_names_out=squared_names)


# Every Pipe with its defaults (an empty Junction among them), and a Junction
# of two branches.
ESTIMATORS = [*every_pipe({Junction: Junction()}), two_branch_junction()]

# Settings a user writes, checked as the defaults are.
CONFIGURED = [
    BatchNormalizer(with_mean=False),
    BatchNormalizer(with_std=False),
    BatchNormalizer(make_column_selector(dtype_include="number")),
    Impute(strategy="most_frequent", add_indicator=True),
    Impute(strategy="constant", fill_value=-1),
    OneHot(missing="category", handle_unknown="ignore"),
    OneHot(handle_unknown="ignore"),
    OneHot(handle_unknown="infrequent_if_exist", min_frequency=2),
    OneHot(max_categories=3),
    IndexEncoder(handle_unknown="ignore"),
    IndexEncoder(missing="category"),
    ToTensor(dtype="float64"),
    ToTensor(dtype=torch.float64),
    Stack(dtype="float64"),
    Stack(into="x0"),
    Junction([BatchNormalizer(), FunctionPipe(double)]),
    Junction([("scale", BatchNormalizer()), ("square", squares())]),
]

# scikit-learn checks that check_estimator does not run by default.
DATAFRAME_CHECKS = [
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_dataframe_column_names_consistency,
]


@parametrize_with_checks(ESTIMATORS + CONFIGURED)
def test_pipe_passes_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", DATAFRAME_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "estimator", ESTIMATORS + CONFIGURED, ids=lambda e: repr(e).replace("\n", "")
)
def test_pipe_passes_sklearn_dataframe_checks(estimator, check):
    check(type(estimator).__name__, clone(estimator))
