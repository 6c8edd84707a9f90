"""The bad-input matrix: every public entry point against every kind of bad input.

Each case states the exception type and what its message names (the column,
the value, the file), and checks that the caller's input was not changed.
Where the library has a policy instead of an error (a Pipe passes through NaN
in a column it does not act on), the case asserts the policy.
"""

from __future__ import annotations

import copy
import functools
import re
import sqlite3
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from sklearn.base import clone

import fireworks_sk as fsk
from fireworks_sk import Message, NotFittedError, SchemaError
from fireworks_sk.cli import main
from fireworks_sk.exceptions import SourceError
from fireworks_sk.persistence import CorruptFileError
from fireworks_sk.sources import CSVSource, DataFrameSource, ParquetSource, SQLSource
from tests._data import every_pipe


# ------------------------------------------------------------------ helpers
def frame() -> pd.DataFrame:
    """Two numeric columns and one categorical column, all valid."""
    return pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0], "y": [4.0, 5.0, 6.0, 7.0], "c": list("abab")}
    )


def snapshot(data):
    """A deep copy to compare the input with after the call."""
    if isinstance(data, Message):
        return Message({n: copy.deepcopy(data[n]) for n in data.columns})
    return copy.deepcopy(data)


def assert_unchanged(before, after) -> None:
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(after, before)
    elif isinstance(before, pd.Series):
        pd.testing.assert_series_equal(after, before)
    elif isinstance(before, Message):
        assert after.columns == before.columns
        for name in before.columns:
            a, b = after[name], before[name]
            if isinstance(b, torch.Tensor):
                assert torch.equal(a.isnan(), b.isnan()) if b.is_floating_point() else 1
                assert torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
            else:
                pd.testing.assert_series_equal(a, b)
    elif isinstance(before, torch.Tensor):
        if before.layout != torch.strided:
            before, after = before.to_dense(), after.to_dense()
        assert torch.equal(torch.nan_to_num(after), torch.nan_to_num(before))
    elif isinstance(before, dict):
        assert list(after) == list(before)
        for key, value in before.items():
            assert_unchanged(value, after[key])
    elif scipy.sparse.issparse(before):
        assert (after != before).nnz == 0
    else:
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


def raises_and_keeps(call, data, exc, match):
    """``call(data)`` raises ``exc`` matching ``match``; ``data`` is unchanged."""
    before = snapshot(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call(data)
    assert_unchanged(before, data)


# Factories of fresh Pipes, by type name. Impute reads missing values as its
# input, so what is bad input for the others is not for it: its refusals are
# tested in tests/pipes/test_impute.py.
PIPES = {
    type(pipe).__name__: functools.partial(clone, pipe)
    for pipe in every_pipe(
        {
            fsk.OneHot: fsk.OneHot(columns=["c"]),
            fsk.IndexEncoder: fsk.IndexEncoder(columns=["c"]),
            fsk.ToTensor: fsk.ToTensor(columns=["x"]),
            fsk.Stack: fsk.Stack(columns=["x", "y"]),
            fsk.SelectColumns: fsk.SelectColumns(columns=["x", "c"]),
            fsk.DropColumns: fsk.DropColumns(columns=["y"]),
            fsk.Junction: fsk.Junction(
                [
                    ("scale", fsk.BatchNormalizer()),
                    ("onehot", fsk.OneHot(columns=["c"])),
                ]
            ),
        },
        exclude=(fsk.Impute,),
    )
}
STATEFUL = ["BatchNormalizer", "OneHot", "IndexEncoder", "Junction"]
# Pipes that compute on the numeric columns x and y (the others pass them on).
NUMERIC = {"BatchNormalizer": "xy", "ToTensor": "x", "Stack": "xy", "Junction": "xy"}
# Pipes that read the categorical column c.
CATEGORICAL = ["OneHot", "IndexEncoder", "Junction"]


def fit_methods(name):
    return ["fit", "partial_fit"] if name in STATEFUL else ["fit"]


PIPE_FITS = [(n, m) for n in PIPES for m in fit_methods(n)]


def fitting(name, method):
    pipe = PIPES[name]()
    return pipe, getattr(pipe, method)


# --------------------------------------------------------- Pipes: fitting
SHAPE_CASES = {
    # case: (input, exception, match)
    "zero rows": (lambda: frame().iloc[:0], ValueError, "got 0 rows"),
    "zero columns": (
        lambda: pd.DataFrame(index=range(3)),
        ValueError,
        "got no columns",
    ),
    "1-D Series": (lambda: frame()["x"], ValueError, "expects 2-D input"),
    "1-D tensor": (lambda: torch.arange(3.0), ValueError, "expects 2-D input"),
    "1-D array": (lambda: np.arange(3.0), ValueError, "Expected 2D array"),
    "1-D list": (lambda: [1.0, 2.0], ValueError, "Expected 2D array"),
    "sparse matrix": (
        lambda: scipy.sparse.csr_matrix(np.eye(3)),
        TypeError,
        "Sparse data was passed",
    ),
    "duplicate names": (
        lambda: pd.DataFrame([[1.0, 2.0, "a"]] * 3, columns=["x", "x", "c"]),
        ValueError,
        r"Duplicate column names: \['x'\]",
    ),
}


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
@pytest.mark.parametrize(("name", "method"), PIPE_FITS)
def test_pipe_fit_refuses_bad_shapes(name, method, case):
    make, exc, match = SHAPE_CASES[case]
    pipe, fit = fitting(name, method)
    raises_and_keeps(fit, make(), exc, match)
    with pytest.raises(NotFittedError):
        pipe.transform(frame())


@pytest.mark.parametrize(
    ("value", "what", "row"), [(np.nan, "NaN", 1), (np.inf, "infinity", 2)]
)
@pytest.mark.parametrize("column", ["x", "y"])
@pytest.mark.parametrize(("name", "method"), PIPE_FITS)
def test_pipe_fit_on_nan_or_inf_names_column_and_row_or_passes_through(
    name, method, column, value, what, row
):
    data = frame()
    data.loc[row, column] = value
    if column in NUMERIC.get(name, ""):
        pipe, fit = fitting(name, method)
        raises_and_keeps(
            fit, data, ValueError, f"{what} in column '{column}'.*row {row}"
        )
        with pytest.raises(NotFittedError):
            pipe.transform(frame())
        return
    # Policy: a column the Pipe does not act on passes through, NaN and all.
    before = snapshot(data)
    pipe, fit = fitting(name, method)
    out = fit(data).transform(data)
    assert_unchanged(before, data)
    if column in out.columns:
        np.testing.assert_array_equal(np.asarray(out[column]), data[column].to_numpy())


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("name", CATEGORICAL)
def test_categorical_fit_on_missing_value_names_column_and_row(name, method):
    data = frame().assign(c=["a", None, "b", "a"])
    pipe, fit = fitting(name, method)
    raises_and_keeps(
        fit, data, ValueError, r"NaN in column 'c' \(first at row 1\); fill .*Impute"
    )


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("name", CATEGORICAL)
def test_categorical_fit_on_mixed_object_column_names_the_types(name, method):
    data = frame().assign(c=pd.Series(["a", 1, 2.5, "b"], dtype=object))
    pipe, fit = fitting(name, method)
    raises_and_keeps(
        fit,
        data,
        TypeError,
        r"Column 'c' mixes values of types \['float', 'int', 'str'\]",
    )


@pytest.mark.parametrize("name", ["OneHot", "IndexEncoder"])
def test_numbers_as_categories_are_a_vocabulary_of_numbers(name):
    # Policy: numbers in a column named as categorical are categories.
    data = frame().assign(c=[3, 1, 3, 1])
    pipe = PIPES[name]().fit(data)
    assert list(pipe.categories_["c"]) == [1, 3]


@pytest.mark.parametrize("name", ["ToTensor", "Stack"])
def test_strings_in_a_numeric_column_cannot_become_a_tensor(name):
    data = frame().assign(x=["1", "b", "3", "4"])
    raises_and_keeps(
        PIPES[name]().fit,
        data,
        TypeError,
        "Column 'x' has dtype .* not numeric",
    )


def test_batchnormalizer_named_column_of_strings_is_refused():
    data = frame().assign(x=["1", "b", "3", "4"])
    raises_and_keeps(
        fsk.BatchNormalizer(columns=["x"]).fit,
        data,
        TypeError,
        "Column 'x' has dtype .* BatchNormalizer needs numbers",
    )


def test_batchnormalizer_by_default_leaves_string_columns_alone():
    # Policy: columns=None acts on numeric columns only.
    data = frame().assign(x=["1", "b", "3", "4"])
    pipe = fsk.BatchNormalizer().fit(data)
    assert pipe.columns_ == ["y"]
    assert pipe.transform(data)["x"].tolist() == ["1", "b", "3", "4"]


# ------------------------------------------------------ Pipes: transform
MISSING_DIFF = r"seen at fit time, yet now missing:\n- y"
EXTRA_DIFF = r"unseen at fit time:\n- z"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.drop(columns="y"), MISSING_DIFF),
        (lambda d: d.assign(z=0.0), EXTRA_DIFF),
        (lambda d: d[["y", "x", "c"]], "same order"),
    ],
    ids=["missing", "extra", "reordered"],
)
@pytest.mark.parametrize("name", sorted(PIPES))
def test_transform_column_differences_are_shown_as_a_diff(name, change, match):
    pipe = PIPES[name]().fit(frame())
    raises_and_keeps(pipe.transform, change(frame()), SchemaError, match)


@pytest.mark.parametrize("name", sorted(PIPES))
def test_transform_before_fit_raises_not_fitted(name):
    raises_and_keeps(PIPES[name]().transform, frame(), NotFittedError, name)


@pytest.mark.parametrize("name", sorted(PIPES))
def test_transform_of_zero_rows_gives_zero_rows(name):
    pipe = PIPES[name]().fit(frame())
    assert len(pipe.transform(frame().iloc[:0])) == 0


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_transform_nan_in_an_acted_on_column_names_column_and_row(name):
    pipe = PIPES[name]().fit(frame())
    data = frame().assign(x=[1.0, 2.0, np.nan, 4.0])
    raises_and_keeps(pipe.transform, data, ValueError, "NaN in column 'x'.*row 2")


@pytest.mark.parametrize(
    ("name", "exc", "match"),
    [
        (
            "BatchNormalizer",
            TypeError,
            "Column 'x' has dtype .* BatchNormalizer needs numbers",
        ),
        ("ToTensor", TypeError, "Column 'x' has dtype .* not numeric"),
        ("Stack", TypeError, "Column 'x' has dtype .* not numeric"),
    ],
)
def test_transform_strings_in_a_fitted_numeric_column_name_it(name, exc, match):
    pipe = PIPES[name]().fit(frame())
    raises_and_keeps(pipe.transform, frame().assign(x=list("abcd")), exc, match)


@pytest.mark.parametrize("name", CATEGORICAL)
def test_unknown_categories_are_named_with_their_column(name):
    pipe = PIPES[name]().fit(frame())
    data = frame().assign(c=["a", "zz", "qq", "zz"])
    raises_and_keeps(
        pipe.transform,
        data,
        ValueError,
        r"unknown categories \['zz', 'qq'\] in column 'c'",
    )


@pytest.mark.parametrize("name", ["OneHot", "IndexEncoder"])
def test_numbers_where_string_categories_were_fitted_are_unknown(name):
    pipe = PIPES[name]().fit(frame())
    raises_and_keeps(
        pipe.transform,
        frame().assign(c=[1, 2, 1, 2]),
        ValueError,
        r"unknown categories \[1, 2\] in column 'c'",
    )


def test_unknown_categories_under_ignore_follow_the_policy():
    data = frame().assign(c=["a", "zz", "b", "a"])
    onehot = fsk.OneHot(columns=["c"], handle_unknown="ignore").fit(frame())
    assert onehot.transform(data)["c"][1].tolist() == [0.0, 0.0]
    index = fsk.IndexEncoder(columns=["c"], handle_unknown="ignore").fit(frame())
    assert index.transform(data)["c"].tolist() == [1, 0, 2, 1]


# ---------------------------------------------------------- partial_fit
@pytest.mark.parametrize(
    ("name", "bad", "exc", "match"),
    [
        (
            "BatchNormalizer",
            lambda d: d.assign(x=[1.0, np.nan, 3.0, 4.0]),
            ValueError,
            "NaN in column 'x'",
        ),
        (
            "BatchNormalizer",
            lambda d: d.assign(x=list("abcd")),
            TypeError,
            "Column 'x' has dtype .* BatchNormalizer needs numbers",
        ),
        ("OneHot", lambda d: d.assign(c=[1, 2, 3, 4]), TypeError, "Column 'c'"),
        (
            "IndexEncoder",
            lambda d: d.assign(c=["a", None, "b", "a"]),
            ValueError,
            "column 'c'",
        ),
        (
            "Junction",
            lambda d: d.assign(y=[1.0, np.inf, 3.0, 4.0]),
            ValueError,
            "infinity in column 'y'",
        ),
        ("Junction", lambda d: d.drop(columns="y"), SchemaError, MISSING_DIFF),
    ],
)
def test_failed_partial_fit_keeps_the_statistics_of_earlier_batches(
    name, bad, exc, match
):
    pipe = PIPES[name]().partial_fit(frame())
    expected = pipe.transform(frame())
    raises_and_keeps(pipe.partial_fit, bad(frame()), exc, match)
    assert pipe.transform(frame()).equals(expected)


def test_junction_partial_fit_is_all_branches_or_none():
    junction = fsk.Junction(
        [("scale", fsk.BatchNormalizer()), ("onehot", fsk.OneHot(columns=["c"]))]
    ).partial_fit(frame())
    # The first branch accepts this batch, the second refuses it.
    bad = frame().assign(c=[1, 2, 1, 2])
    with pytest.raises(TypeError, match="Column 'c'"):
        junction.partial_fit(bad)
    assert junction.pipes_[0][1].n_samples_seen_ == 4


def test_failed_refit_keeps_the_previous_fit():
    pipe = fsk.BatchNormalizer().fit(frame())
    with pytest.raises(ValueError, match="NaN in column 'y'"):
        pipe.fit(frame().assign(y=np.nan))
    assert float(pipe.mean_["x"]) == 2.5


# ------------------------------------------------------ inverse_transform
def test_batchnormalizer_inverse_refuses_nan_and_missing_columns():
    pipe = fsk.BatchNormalizer().fit(frame())
    out = pipe.transform(frame()).to_dataframe()
    raises_and_keeps(
        pipe.inverse_transform, out.assign(x=np.nan), ValueError, "NaN in column 'x'"
    )
    raises_and_keeps(
        pipe.inverse_transform, out.drop(columns="y"), SchemaError, MISSING_DIFF
    )


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        (
            lambda m: m.assign(c=torch.full((4, 2), float("nan"))),
            ValueError,
            "NaN in column 'c'",
        ),
        (
            lambda m: m.assign(c=torch.full((4, 2), float("inf"))),
            ValueError,
            "infinity in column 'c'",
        ),
        (
            lambda m: m.assign(c=torch.zeros(4, 5)),
            ValueError,
            r"Column 'c' has rows of shape \(5,\)",
        ),
        (
            lambda m: m.drop(columns=["c"]),
            KeyError,
            r"names columns \['c'\] that the input lacks",
        ),
    ],
    ids=["nan", "inf", "width", "missing"],
)
def test_onehot_inverse_refuses_bad_encodings(change, exc, match):
    pipe = fsk.OneHot(columns=["c"]).fit(frame())
    raises_and_keeps(
        pipe.inverse_transform, change(pipe.transform(frame())), exc, match
    )


@pytest.mark.parametrize(("code", "row"), [(7, 1), (-1, 0)])
def test_indexencoder_inverse_names_a_code_out_of_range(code, row):
    pipe = fsk.IndexEncoder(columns=["c"]).fit(frame())
    codes = pipe.transform(frame())["c"].clone()
    codes[row] = code
    bad = pipe.transform(frame()).assign(c=codes)
    raises_and_keeps(
        pipe.inverse_transform,
        bad,
        ValueError,
        f"Code {code} at row {row} of column 'c'",
    )


@pytest.mark.parametrize("name", ["BatchNormalizer", "OneHot", "IndexEncoder"])
def test_inverse_before_fit_raises_not_fitted(name):
    raises_and_keeps(PIPES[name]().inverse_transform, frame(), NotFittedError, name)


# ----------------------------------------------------------------- Message
@pytest.mark.parametrize(
    ("data", "exc", "match"),
    [
        (
            {"a": [1, 2], "b": [1, 2, 3]},
            ValueError,
            "Column 'b' has 3 rows but column 'a' has 2",
        ),
        ({1: [1, 2]}, TypeError, "Column names must be strings"),
        ({"a": scipy.sparse.csr_matrix(np.eye(3))}, TypeError, "Column 'a' is sparse"),
        ({"a": torch.eye(3).to_sparse()}, TypeError, "Column 'a' is sparse"),
        ({"a": torch.tensor(1.0)}, ValueError, "Column 'a' is a 0-d tensor"),
        (
            {"a": np.array(["a", "b"]).reshape(1, 2)},
            TypeError,
            "Column 'a' is a 2-D array",
        ),
        ({"a": pd.DataFrame({"b": [1]})}, TypeError, "Column 'a' got a DataFrame"),
        ({"a": {1, 2}}, TypeError, "Column 'a' has unsupported type set"),
        (
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            ValueError,
            r"Duplicate column names: \['a'\]",
        ),
        ([1, 2, 3], TypeError, "Message expects a DataFrame"),
    ],
    ids=[
        "lengths",
        "name",
        "scipy-sparse",
        "torch-sparse",
        "0-d",
        "2-D strings",
        "frame",
        "set",
        "duplicates",
        "list",
    ],
)
def test_message_constructor_refuses_bad_columns(data, exc, match):
    raises_and_keeps(Message, data, exc, match)


def test_message_from_dataframe_with_nan_and_mixed_objects_keeps_them():
    # Policy: a Message holds what it is given; Pipes check values.
    data = pd.DataFrame({"x": [1.0, np.nan], "o": pd.Series(["a", 1], dtype=object)})
    message = Message(data)
    assert message["o"].tolist() == ["a", 1]
    assert np.isnan(message["x"][1])


MESSAGE_KEYS = [
    ("zz", KeyError, r"Column 'zz' is not in the Message. Columns: \['x', 'y', 'c'\]"),
    (["x", "zz"], KeyError, r"Columns \['zz'\] are not in the Message"),
    (["x", "x"], KeyError, r"Columns selected more than once: \['x'\]"),
    (9, IndexError, "Row 9 is out of bounds for a Message of 4 rows"),
    (-5, IndexError, "Row -5 is out of bounds"),
    (1.5, KeyError, "Unsupported Message key 1.5"),
    (np.array([0, 9]), IndexError, "Row 9 is out of bounds"),
    (
        np.array([0.0, np.nan]),
        IndexError,
        "must be integers or booleans; got dtype float64",
    ),
    (
        np.array([True, False]),
        IndexError,
        "Boolean mask has 2 entries but the Message has 4 rows",
    ),
    (np.zeros((2, 2), dtype=int), IndexError, r"must be 1-D; got shape \(2, 2\)"),
    (torch.tensor([0, 9]), IndexError, "Row 9 is out of bounds"),
]


@pytest.mark.parametrize(("key", "exc", "match"), MESSAGE_KEYS)
def test_message_indexing_refuses_bad_keys(key, exc, match):
    message = Message(frame())
    before = snapshot(message)
    with pytest.raises(exc, match=match):
        message[key]
    assert_unchanged(before, message)


def test_message_iloc_refuses_column_tuples():
    with pytest.raises(IndexError, match="Message.iloc takes rows only"):
        Message(frame()).iloc[0, "x"]


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda m: m.assign(z=[1, 2]),
            ValueError,
            "Column 'z' has 2 rows but the Message has 4",
        ),
        (lambda m: m.drop(columns=["zz"]), KeyError, r"Cannot drop columns \['zz'\]"),
        (
            lambda m: Message.concat([m, m[["x"]]]),
            ValueError,
            r"Message 1 has columns \['x'\]",
        ),
        (lambda m: Message.concat([]), ValueError, "needs at least one Message"),
        (
            lambda m: np.asarray(m),
            TypeError,
            r"Column 'c' has dtype .* not numeric",
        ),
    ],
    ids=["assign", "drop", "concat-columns", "concat-empty", "asarray"],
)
def test_message_operations_refuse_bad_arguments(call, exc, match):
    raises_and_keeps(call, Message(frame()), exc, match)


# ---------------------------------------------------------------- estimators
def features(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Message({"f": torch.randn(n, 3, generator=g)})


def labels(n=24):
    return np.array([0, 1] * (n // 2))


ESTIMATORS = {
    "TorchClassifier": lambda: fsk.TorchClassifier(
        max_epochs=1, random_state=0, verbose=0
    ),
    "TorchRegressor": lambda: fsk.TorchRegressor(
        max_epochs=1, random_state=0, verbose=0
    ),
}


def target_of(name, y):
    return y if name == "TorchClassifier" else np.asarray(y, dtype=np.float32)


def with_value(value, row=3):
    f = features()["f"].clone()
    f[row, 1] = value
    return Message({"f": f})


X_CASES = {
    "nan": (lambda: with_value(float("nan")), ValueError, "NaN in column 'f'.*row 3"),
    "inf": (
        lambda: with_value(float("-inf")),
        ValueError,
        "infinity in column 'f'.*row 3",
    ),
    "zero rows": (lambda: features()[:0], ValueError, "got 0 rows"),
    "zero columns": (lambda: Message(), ValueError, "got no input columns"),
    "1-D": (lambda: torch.randn(24), ValueError, "Expected 2D array"),
    # Sparse X is read as skorch reads it; infinity in it is still refused.
    "sparse with inf": (
        lambda: scipy.sparse.csr_matrix(np.full((24, 3), np.inf, np.float32)),
        ValueError,
        "Input contains infinity",
    ),
}


@pytest.mark.parametrize("case", sorted(X_CASES))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_fit_refuses_bad_x(name, case):
    make, exc, match = X_CASES[case]
    X = make()
    net = ESTIMATORS[name]()
    y = target_of(name, labels()[: X.shape[0] if X.shape[0] else 0])
    raises_and_keeps(lambda X: net.fit(X, y), X, exc, match)


@pytest.mark.parametrize(
    ("y", "exc", "match"),
    [
        (labels()[:20], ValueError, "X has 24 rows but y has 20"),
        (np.where(np.arange(24) == 5, np.nan, labels()), ValueError, "y contains NaN"),
        (
            np.where(np.arange(24) == 5, np.inf, labels()),
            ValueError,
            "y contains infinity",
        ),
        # Several labels per row (as skorch takes them) need a module of one's
        # own: the default module gives one score per class for each row.
        (np.zeros((24, 2, 2)), ValueError, "module=None returns outputs of shape"),
        (np.zeros((24, 3)), ValueError, "but y has 2 dimensions"),
    ],
    ids=["length", "nan", "inf", "3-D", "2-D"],
)
def test_classifier_fit_refuses_bad_y(y, exc, match):
    net = ESTIMATORS["TorchClassifier"]()
    raises_and_keeps(lambda y: net.fit(features(), y), y, exc, match)


@pytest.mark.parametrize(
    ("y", "exc", "match"),
    [
        (np.ones(20, np.float32), ValueError, "X has 24 rows but y has 20"),
        (
            np.where(np.arange(24) == 5, np.nan, 1.0).astype(np.float32),
            ValueError,
            "y contains NaN",
        ),
    ],
    ids=["length", "nan"],
)
def test_regressor_fit_refuses_bad_y(y, exc, match):
    net = ESTIMATORS["TorchRegressor"]()
    raises_and_keeps(lambda y: net.fit(features(), y), y, exc, match)


def test_classifier_y_mixing_label_types_names_them():
    y = np.array(["a", 1] * 12, dtype=object)
    net = ESTIMATORS["TorchClassifier"]()
    raises_and_keeps(
        lambda y: net.fit(features(), y),
        y,
        TypeError,
        r"y mixes labels of types \['int', 'str'\]",
    )


def test_target_naming_an_absent_column_names_it():
    net = fsk.TorchClassifier(target="label", max_epochs=1, verbose=0)
    raises_and_keeps(
        net.fit,
        features(),
        ValueError,
        r"target=\.\.\.\) names columns \['label'\] that X lacks",
    )


def test_inputs_naming_an_absent_column_names_it():
    net = fsk.TorchClassifier(inputs="g", max_epochs=1, verbose=0)
    raises_and_keeps(
        lambda X: net.fit(X, labels()),
        features(),
        SchemaError,
        r"inputs=...\) names columns \['g'\]",
    )


@pytest.fixture(scope="module")
def fitted_nets():
    return {
        name: make().fit(features(), target_of(name, labels()))
        for name, make in ESTIMATORS.items()
    }


PREDICT_CASES = {
    "nan": (lambda: with_value(float("nan")), ValueError, "NaN in column 'f'.*row 3"),
    "missing": (
        lambda: Message({"g": torch.randn(5, 3)}),
        SchemaError,
        "yet now missing:\n- f",
    ),
    "extra": (
        lambda: features().assign(g=torch.randn(24)),
        SchemaError,
        "unseen at fit time:\n- g",
    ),
    "width": (
        lambda: Message({"f": torch.randn(5, 4)}),
        SchemaError,
        r"rows of shape \(4,\).*\(3,\)",
    ),
    "strings": (lambda: Message({"f": ["a"] * 5}), SchemaError, "Column 'f'"),
}


@pytest.mark.parametrize("case", sorted(PREDICT_CASES))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_predict_refuses_bad_x(fitted_nets, name, case):
    make, exc, match = PREDICT_CASES[case]
    raises_and_keeps(fitted_nets[name].predict, make(), exc, match)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_predict_of_zero_rows_gives_zero_predictions(fitted_nets, name):
    assert len(fitted_nets[name].predict(features()[:0])) == 0


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_predict_before_fit_says_not_initialized(name):
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    raises_and_keeps(
        ESTIMATORS[name]().predict, features(), SklearnNotFitted, "not initialized"
    )


# ------------------------------------------------------------------ sources
def test_csv_source_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        list(CSVSource(tmp_path / "nope.csv", 2))


def test_csv_source_empty_file_names_it(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match="empty.csv"):
        list(CSVSource(tmp_path / "empty.csv", 2))


def test_csv_source_ragged_row_names_file_and_position(tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(SourceError, match="ragged.csv' after data row 2"):
        list(CSVSource(tmp_path / "ragged.csv", 1))


def test_csv_source_column_turning_to_strings_names_column_and_chunk(tmp_path):
    (tmp_path / "drift.csv").write_text("a,b\n1,2\n3,4\nx,6\n")
    with pytest.raises(
        SchemaError, match="column 'a' is .* in the chunk at .*data rows 2-2"
    ):
        list(CSVSource(tmp_path / "drift.csv", 2))


def test_csv_source_duplicate_header_follows_pandas(tmp_path):
    # Policy: pandas' read_csv renames a repeated header ("a", "a.1").
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    assert next(iter(CSVSource(tmp_path / "dup.csv", 2))).columns == ["a", "a.1"]


def test_parquet_source_not_parquet_names_the_file(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="bad.parquet' as Parquet failed"):
        list(ParquetSource(tmp_path / "bad.parquet", 2))


def test_parquet_source_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        list(ParquetSource(tmp_path / "nope.parquet", 2))


@pytest.mark.parametrize(
    ("chunk_size", "exc", "match"),
    [
        (0, ValueError, "chunk_size=0"),
        (2.5, TypeError, "got float"),
        (True, TypeError, "got bool"),
    ],
)
def test_sources_refuse_bad_chunk_sizes(chunk_size, exc, match):
    with pytest.raises(exc, match=match):
        DataFrameSource(frame(), chunk_size)


def test_dataframe_source_refuses_other_inputs():
    raises_and_keeps(lambda d: DataFrameSource(d, 2), [1, 2], TypeError, "got list")


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table t(a real, b text)")
        connection.executemany(
            "insert into t values(?, ?)", [(i, f"s{i}") for i in range(5)]
        )
    return f"sqlite:///{path}"


def test_sql_source_bad_query_names_query(database):
    with pytest.raises(SourceError, match="no such table: nope\nQuery: select"):
        list(SQLSource(database, "select * from nope", 2))


def test_sql_source_missing_parameter_names_it(database):
    with pytest.raises(SourceError, match="bind parameter 'b'"):
        list(SQLSource(database, "select * from t where b = :b", 2))


def test_sql_source_params_must_be_a_dict(database):
    with pytest.raises(TypeError, match="must be a dict of bound parameters; got list"):
        SQLSource(database, "select 1", 2, params=["a"])


# --------------------------------------------------------------- fit_stream
def test_fit_stream_y_of_the_wrong_length_is_refused():
    source = DataFrameSource(frame(), chunk_size=2)
    with pytest.raises(ValueError, match="rows"):
        fsk.fit_stream(fsk.BatchNormalizer(), source, y=np.arange(3), verbose=0)


def test_fit_stream_nan_in_a_chunk_names_column_and_row():
    data = frame().assign(x=[1.0, 2.0, 3.0, np.nan])
    source = DataFrameSource(data, chunk_size=2)
    pipe = fsk.BatchNormalizer()
    with pytest.raises(ValueError, match="NaN in column 'x'"):
        fsk.fit_stream(pipe, source, verbose=0)
    assert not hasattr(pipe, "mean_")


# ------------------------------------------------------------- save / load
@pytest.mark.parametrize("format", ["joblib", "skops"])
def test_save_refuses_missing_folder_and_folders(tmp_path, format):
    pipe = fsk.BatchNormalizer().fit(frame())
    with pytest.raises(FileNotFoundError, match="its folder is missing"):
        fsk.save(pipe, tmp_path / "absent" / "m.fwsk", format=format)
    with pytest.raises(
        IsADirectoryError, match=f"Cannot save to '{tmp_path}': it is a folder"
    ):
        fsk.save(pipe, tmp_path, format=format)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="format must be one of .*got 'pickle'"):
        fsk.save(fsk.BatchNormalizer(), tmp_path / "m.fwsk", format="pickle")


def test_save_of_an_unpicklable_object_leaves_nothing(tmp_path):
    pipe = fsk.FunctionPipe(func=lambda m: m).fit(frame())
    with pytest.raises(Exception, match="pickle"):
        fsk.save(pipe, tmp_path / "m.fwsk")
    assert list(tmp_path.iterdir()) == []


def _zip(path, manifest: str, payload: bytes = b"") -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", manifest)
        archive.writestr("payload", payload)


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"PK\x03\x04 truncated"),
        lambda p: _zip(p, "[1, 2]"),
        lambda p: _zip(p, "{not json"),
        lambda p: _zip(p, '{"fireworks_sk_file": 1}'),
        lambda p: _zip(p, '{"fireworks_sk_file": 1, "format": "pickle"}'),
    ],
    ids=[
        "empty",
        "truncated",
        "manifest-list",
        "manifest-json",
        "no-format",
        "bad-format",
    ],
)
@pytest.mark.parametrize("reader", [fsk.load, fsk.inspect], ids=["load", "inspect"])
def test_load_and_inspect_refuse_files_that_are_not_models(tmp_path, write, reader):
    path = tmp_path / "bad.fwsk"
    write(path)
    with pytest.raises(CorruptFileError, match="bad.fwsk"):
        reader(path)


@pytest.mark.parametrize("reader", [fsk.load, fsk.inspect], ids=["load", "inspect"])
def test_load_and_inspect_name_a_missing_file_or_a_folder(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match="absent.fwsk"):
        reader(tmp_path / "absent.fwsk")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        reader(tmp_path)


# ----------------------------------------------------------------------- CLI
def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("fireworks-sk: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    data = frame()
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline(
        [
            ("scale", fsk.BatchNormalizer()),
            ("onehot", fsk.OneHot(columns=["c"])),
            ("stack", fsk.Stack()),
            ("net", fsk.TorchClassifier(max_epochs=1, random_state=0, verbose=0)),
        ]
    ).fit(data, [0, 1, 0, 1])
    fsk.save(pipeline, folder / "model.fwsk")
    return folder / "model.fwsk"


@pytest.mark.parametrize(
    ("write", "match"),
    [
        (lambda p: frame().drop(columns="y").to_csv(p, index=False), "y"),
        (
            lambda p: frame().assign(x=[1.0, np.nan, 3.0, 4.0]).to_csv(p, index=False),
            "NaN in column 'x'",
        ),
        (
            lambda p: frame().assign(c=["a", "b", "zz", "zz"]).to_csv(p, index=False),
            r"unknown categories \['zz'\]",
        ),
        (lambda p: p.write_text(""), "empty.csv|CSV failed"),
    ],
    ids=["missing", "nan", "unknown", "empty"],
)
def test_cli_predict_bad_data_is_one_clear_line(
    cli_model, tmp_path, capsys, write, match
):
    data = tmp_path / "empty.csv"
    write(data)
    assert main(["predict", str(cli_model), str(data), "--quiet"]) == 1
    assert re.search(match, _error(capsys))


def test_cli_predict_missing_data_and_model_are_named(cli_model, tmp_path, capsys):
    assert main(["predict", str(cli_model), str(tmp_path / "no.csv"), "--quiet"]) == 1
    assert "no.csv" in _error(capsys)
    frame().to_csv(tmp_path / "d.csv", index=False)
    assert main(["predict", str(tmp_path / "no.fwsk"), str(tmp_path / "d.csv")]) == 1
    assert "no.fwsk" in _error(capsys)


VALID_CONFIG = (
    "[data]\nsource = 'penguins'\ntarget = 'y'\n"
    "[[steps]]\ntype = 'BatchNormalizer'\n"
    "[model]\ntype = 'TorchClassifier'\n"
)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("", "'data' is missing"),
        (VALID_CONFIG.replace("target = 'y'\n", ""), "'data.target' is missing"),
        (
            VALID_CONFIG.replace("'penguins'", "'excel'"),
            "data.source 'excel' is not one of",
        ),
        (
            "steps = 3\n"
            + VALID_CONFIG.replace("[[steps]]\ntype = 'BatchNormalizer'\n", ""),
            r"steps must be an array of tables \(\[\[steps\]\]\); got int",
        ),
        (
            VALID_CONFIG.replace("'BatchNormalizer'", "'os.system'"),
            "steps.0..type is 'os.system'",
        ),
        ("this is = not toml [", "not valid TOML"),
    ],
    ids=["empty", "no-target", "source", "steps-type", "step-type", "toml"],
)
def test_cli_train_bad_config_is_one_clear_line(tmp_path, capsys, config, match):
    path = tmp_path / "run.toml"
    path.write_text(config)
    assert main(["train", str(path)]) == 1
    assert re.search(match, _error(capsys))


def test_cli_train_missing_config_is_named(tmp_path, capsys):
    assert main(["train", str(tmp_path / "absent.toml")]) == 1
    assert "absent.toml" in _error(capsys)


# ------------------------------------------------------- parameters, funcs
@pytest.mark.parametrize("name", ["BatchNormalizer", "OneHot", "IndexEncoder"])
@pytest.mark.parametrize("columns", [5, ["x", 3]])
def test_columns_parameter_of_the_wrong_type_is_named(name, columns):
    pipe = type(PIPES[name]())(columns=columns)
    raises_and_keeps(pipe.fit, frame(), TypeError, r"\(columns=...\) must be a column")


@pytest.mark.parametrize("name", ["BatchNormalizer", "OneHot"])
def test_columns_parameter_may_be_any_sequence_of_names(name):
    pipe = type(PIPES[name]())(columns=pd.Index(["c"] if name == "OneHot" else ["x"]))
    assert pipe.fit(frame()).columns_ == (["c"] if name == "OneHot" else ["x"])


@pytest.mark.parametrize("result", [3, None, "text", np.arange(4.0)])
def test_function_pipe_func_returning_no_table_is_named(result):
    pipe = fsk.FunctionPipe(func=lambda m: result)
    raises_and_keeps(pipe.fit_transform, frame(), TypeError, "func '<lambda>' returned")


def test_function_pipe_func_changing_the_rows_is_named():
    pipe = fsk.FunctionPipe(func=lambda m: m[:1])
    raises_and_keeps(pipe.fit_transform, frame(), ValueError, "returned 1 rows for 4")


@pytest.mark.parametrize("name", ["OneHot", "IndexEncoder"])
def test_inverse_of_data_that_was_never_encoded_names_the_column(name):
    pipe = PIPES[name]().fit(frame())
    raises_and_keeps(
        pipe.inverse_transform, frame(), TypeError, "needs the encoded column 'c'"
    )


def test_indexencoder_inverse_refuses_fractional_codes():
    pipe = fsk.IndexEncoder(columns=["c"]).fit(frame())
    bad = pipe.transform(frame()).assign(c=torch.tensor([1.0, 1.5, 2.0, 1.0]))
    raises_and_keeps(
        pipe.inverse_transform, bad, ValueError, "Code 1.5 at row 1 of column 'c'"
    )


@pytest.mark.parametrize(
    "values",
    [["a", 1, 2.5], [1, 2, 3.5], ["x", "y", "z"]],
    ids=["mixed", "ints", "str"],
)
def test_stack_with_nothing_numeric_to_stack_is_refused(values):
    # An object column is not numeric even when it holds numbers; Stack used
    # to return an (n, 0) feature column that reached the model silently.
    data = pd.DataFrame({"o": pd.Series(values, dtype=object)})
    raises_and_keeps(
        fsk.Stack().fit, data, SchemaError, r"no numeric or tensor columns .*\['o'\]"
    )


def test_totensor_leaves_object_columns_alone_by_default():
    # Policy: columns=None converts numeric columns only.
    data = pd.DataFrame({"o": pd.Series(["a", 1, 2.5], dtype=object), "x": [1.0] * 3})
    out = fsk.ToTensor().fit_transform(data)
    assert out["o"].tolist() == ["a", 1, 2.5]
    assert isinstance(out["x"], torch.Tensor)
