"""A model's outputs get the same column names wherever they are written.

The rule: one output per row, shape (n,) or (n, 1), is ``prediction``;
several are ``prediction_0``, ``prediction_1``, ...
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression

import fireworks_sk as fsk
from fireworks_sk import Message
from fireworks_sk._outputs import as_numpy, output_columns
from fireworks_sk.cli import main
from fireworks_sk.serve import outputs
from fireworks_sk.stream import write_parquet, write_sql

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.5]})

# y's shape -> the names every writer must give the model's predictions.
CASES = {
    "(n,)": ((4,), ["prediction"]),
    "(n, 1)": ((4, 1), ["prediction"]),
    "(n, 2)": ((4, 2), ["prediction_0", "prediction_1"]),
}


@pytest.fixture(params=list(CASES))
def case(request):
    shape, names = CASES[request.param]
    y = np.arange(np.prod(shape), dtype=float).reshape(shape)
    model = LinearRegression().fit(X.to_numpy(), y)
    assert model.predict(X.to_numpy()).shape == shape
    return model, names


def test_output_columns_follow_the_rule():
    for shape, names in CASES.values():
        columns = output_columns("prediction", np.zeros(shape))
        assert list(columns) == names
        assert all(v.shape == (shape[0],) for v in columns.values())
    three_d = output_columns("y", torch.zeros(2, 2, 3, requires_grad=True))
    assert list(three_d) == [f"y_{i}" for i in range(6)]


def test_as_numpy_takes_tensors_series_and_lists():
    tensor = torch.arange(3.0, requires_grad=True)
    np.testing.assert_array_equal(as_numpy(tensor), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(as_numpy(pd.Series([1, 2])), [1, 2])
    np.testing.assert_array_equal(as_numpy([1, 2]), [1, 2])


def test_server_names_outputs_by_the_rule(case):
    model, names = case
    assert list(outputs(model, Message(X))) == names


def test_write_parquet_names_outputs_by_the_rule(case, tmp_path):
    pytest.importorskip("pyarrow")
    model, names = case
    write_parquet([model.predict(X.to_numpy())], tmp_path / "out.parquet")
    assert list(pd.read_parquet(tmp_path / "out.parquet").columns) == names


def test_write_sql_names_outputs_by_the_rule(case, tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    model, names = case
    url = f"sqlite:///{tmp_path / 'out.db'}"
    write_sql([model.predict(X.to_numpy())], url, "scores")
    written = pd.read_sql("SELECT * FROM scores", sa.create_engine(url))
    assert list(written.columns) == names


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_command_names_outputs_by_the_rule(case, tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    model, names = case
    fsk.save(model, tmp_path / "model.fwsk")
    X.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / f"out{suffix}"
    command = ["predict", str(tmp_path / "model.fwsk"), str(tmp_path / "data.csv")]
    assert main([*command, "--quiet", "--out", str(out)]) == 0
    written = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(written.columns) == names
    expected = model.predict(X.to_numpy()).reshape(len(X), -1)
    np.testing.assert_allclose(written.to_numpy(), expected)
