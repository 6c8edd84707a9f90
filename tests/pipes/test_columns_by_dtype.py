"""columns= as a callable (make_column_selector): resolved at fit, saved, served."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    Impute,
    IndexEncoder,
    Message,
    OneHot,
    SelectColumns,
    Stack,
    ToTensor,
    load,
    save,
)
from fireworks_sk._portable import from_portable, to_portable
from fireworks_sk.datasets import load_penguins

NUMBERS = make_column_selector(dtype_include="number")
TEXT = make_column_selector(dtype_exclude="number")


def mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0, 4.0],
            "n": [1, 2, 2, 1],
            "s": ["x", "y", "x", "y"],
            "c": pd.Categorical(["u", "v", "u", "u"]),
        }
    )


@pytest.mark.parametrize(
    "pipe, expected",
    [
        (BatchNormalizer(NUMBERS), ["a", "n"]),
        (OneHot(TEXT), ["s", "c"]),
        (IndexEncoder(make_column_selector(dtype_include="category")), ["c"]),
        (Impute(NUMBERS), ["a", "n"]),
        (ToTensor(make_column_selector(dtype_include=np.integer)), ["n"]),
        (Stack(make_column_selector(pattern="^[an]$")), ["a", "n"]),
        (SelectColumns(make_column_selector(pattern="^[as]")), ["a", "s"]),
        (DropColumns(TEXT), ["s", "c"]),
    ],
    ids=lambda p: type(p).__name__ if not isinstance(p, list) else "",
)
def test_every_pipe_resolves_a_selector_once_at_fit(pipe, expected):
    frame = mixed()
    fitted = clone(pipe).fit(frame)
    assert fitted.columns_ == expected
    assert fitted.columns is not None  # the parameter is kept as given
    assert fitted.transform(frame).equals(clone(pipe).fit_transform(frame))


def test_selection_is_fixed_after_fit():
    frame = mixed()
    scaler = BatchNormalizer(NUMBERS).fit(frame)
    # "n" arriving as text later does not change what the fitted Pipe scales.
    with pytest.warns(UserWarning, match="Column 'n' has dtype"):
        with pytest.raises(TypeError, match="'n'"):
            scaler.transform(frame.astype({"n": str}))


def test_selector_sees_tensor_columns_by_element_dtype():
    message = Message(
        {"t": torch.zeros(3, 2), "i": torch.arange(3), "s": ["a", "b", "c"]}
    )
    floats = make_column_selector(dtype_include=np.floating)
    assert Stack(floats).fit(message).columns_ == ["t"]
    assert OneHot(make_column_selector(dtype_include=np.integer)).fit(
        message
    ).columns_ == ["i"]


def test_a_selector_returning_no_names_is_refused_clearly():
    with pytest.raises(TypeError, match=r"callable that returns names.*gives \[3\]"):
        BatchNormalizer(lambda frame: [3]).fit(mixed())


def test_a_selector_naming_absent_columns_is_refused():
    with pytest.raises(Exception, match=r"names columns \['zz'\]"):
        BatchNormalizer(lambda frame: ["zz"]).fit(mixed())


def test_a_plain_function_works_as_a_selector():
    def floats(frame: pd.DataFrame) -> list[str]:
        return [c for c in frame.columns if frame[c].dtype.kind == "f"]

    assert BatchNormalizer(floats).fit(mixed()).columns_ == ["a"]


def by_dtype_pipeline():
    return make_pipeline(
        Impute(make_column_selector(dtype_include=np.number)),
        Impute(TEXT, strategy="most_frequent"),
        OneHot(make_column_selector(dtype_include=[object, "str", "category"])),
        BatchNormalizer(),
        Stack(),
        LogisticRegression(max_iter=1000),
    ).set_output(transform="pandas")


@pytest.mark.parametrize("fmt", ["joblib", "skops"])
def test_pipeline_written_by_dtype_saves_loads_and_serves(tmp_path, fmt):
    penguins = load_penguins()
    X, y = penguins.drop(columns="species"), penguins["species"]
    pipeline = by_dtype_pipeline().fit(X, y)
    loaded = load(save(pipeline, tmp_path / f"model.{fmt}", format=fmt))
    assert loaded[2].columns_ == ["island", "sex"]
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    # As a server builds its input: JSON rows, a missing value as None.
    rows = X.head(3).to_dict(orient="records")
    rows[0]["sex"], rows[1]["bill_length_mm"] = None, None
    served = pd.DataFrame(rows)
    assert loaded.predict(served).tolist() == pipeline.predict(served).tolist()
    assert isinstance(loaded[0].columns, make_column_selector)


def test_selector_with_types_round_trips_as_plain_data():
    selector = make_column_selector(
        pattern="^b", dtype_include=[np.floating, "category"], dtype_exclude=bool
    )
    state = to_portable(selector)
    assert "make_column_selector" not in repr(state)
    rebuilt = from_portable(state)
    assert rebuilt.dtype_include == [np.floating, "category"]
    assert rebuilt.dtype_exclude is bool
    assert rebuilt.pattern == "^b"
    frame = load_penguins()
    assert rebuilt(frame) == selector(frame)
    copy = joblib.load(io.BytesIO(_dumped(Impute(selector))))
    assert copy.columns(frame) == selector(frame)


def _dumped(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["numpy.load", "builtins.eval", "os.system"])
def test_saved_selector_naming_a_function_as_a_type_is_refused(name):
    state = {"__column_selector__": {"dtype_include": {"__scalar_type__": name}}}
    with pytest.raises(ValueError, match="is not a scalar type"):
        from_portable(state)
