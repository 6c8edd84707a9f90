"""Properties (hypothesis), kept small so the suite stays fast.

tests/test_message.py checks each Message operation against pandas on its own;
here random *sequences* of operations run on a Message and on a pandas
reference side by side, and the fitted state of the Pipes is checked against
exact references: chunking, save/load, and encoding round trips.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

import fireworks_sk as fsk
from fireworks_sk import Message

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
N_MAX = 10
finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@st.composite
def frames(draw, min_rows=0):
    n = draw(st.integers(min_rows, N_MAX))

    def column(elements):
        return draw(st.lists(elements, min_size=n, max_size=n))

    return pd.DataFrame(
        {
            "f": np.array(column(finite), dtype=np.float64),
            "i": np.array(column(st.integers(-50, 50)), dtype=np.int64),
            "s": pd.Series(column(st.sampled_from(["u", "v", "w"])), dtype=object),
        }
    )


def message_of(df):
    """f and i as tensors, s as a pandas column."""
    return Message(
        {
            "f": torch.from_numpy(df["f"].to_numpy().copy()),
            "i": torch.from_numpy(df["i"].to_numpy().copy()),
            "s": df["s"].copy(),
        }
    )


def assert_same(message, df):
    got = message.to_dataframe()
    want = df.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        np.testing.assert_array_equal(
            got[name].to_numpy(), want[name].to_numpy(), err_msg=name
        )


# One operation, drawn with its arguments; applied to (Message, DataFrame).
@st.composite
def operations(draw, n):
    kind = draw(st.sampled_from(["rows", "mask", "slice", "assign", "concat", "cols"]))
    if kind == "rows":
        rows = draw(st.lists(st.integers(-n, n - 1), max_size=12)) if n else []
        return kind, rows
    if kind == "mask":
        return kind, draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if kind == "slice":
        bound = st.none() | st.integers(-n - 2, n + 2)
        step = draw(st.none() | st.integers(-3, 3).filter(bool))
        return kind, slice(draw(bound), draw(bound), step)
    if kind == "assign":
        name = draw(st.sampled_from(["f", "new"]))
        return kind, (name, draw(st.lists(finite, min_size=n, max_size=n)))
    if kind == "concat":
        return kind, draw(st.integers(0, n))
    return kind, draw(st.sampled_from([["f", "s"], ["s", "i", "f"], ["i"]]))


def apply(message, df, operation):
    kind, arg = operation
    if kind in ("rows", "mask", "slice"):
        index = np.array(arg, dtype=bool) if kind == "mask" else arg
        if kind == "rows":
            index = np.asarray(arg, dtype=np.int64)
        return message[index], df.iloc[index].reset_index(drop=True)
    if kind == "assign":
        name, values = arg
        values = np.asarray(values, dtype=np.float64)
        return message.assign(**{name: torch.from_numpy(values)}), df.assign(
            **{name: values}
        )
    if kind == "concat":
        # Split at ``arg`` and glue back in the other order.
        return (
            Message.concat([message[arg:], message[:arg]]),
            pd.concat([df.iloc[arg:], df.iloc[:arg]], ignore_index=True),
        )
    present = [c for c in arg if c in df.columns]
    if not present:
        # m[[]] selects no rows (a Message without columns has no rows).
        return message, df
    return message[present], df[present]


@FAST
@given(frames(), st.data())
def test_sequences_of_message_operations_agree_with_pandas(df, data):
    message = message_of(df)
    original = message_of(df)
    reference = df.copy()
    for _ in range(data.draw(st.integers(1, 5))):
        operation = data.draw(operations(len(reference)))
        message, reference = apply(message, reference, operation)
        assert len(message) == len(reference)
        assert_same(message, reference)
    # Messages are values: the first one is unchanged.
    assert_same(original, df)
    assert message_of(df).equals(original)


# ------------------------------------------------------------ chunking
@st.composite
def float_blocks(draw):
    n = draw(st.integers(2, 40))
    offset = draw(st.sampled_from([0.0, 1e6, -1e8]))
    values = draw(
        st.lists(
            st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=2),
            min_size=n,
            max_size=n,
        )
    )
    cuts = sorted(set(draw(st.lists(st.integers(1, n - 1), max_size=6))))
    return np.asarray(values) + offset, cuts


@FAST
@given(float_blocks(), st.booleans())
def test_batchnormalizer_statistics_do_not_depend_on_chunking(case, tensor):
    values, cuts = case
    if tensor:
        whole = Message({"x": torch.from_numpy(values)})
    else:
        whole = Message(pd.DataFrame(values, columns=["a", "b"]))
    reference = fsk.BatchNormalizer().fit(whole)
    chunked = fsk.BatchNormalizer()
    for start, stop in zip([0, *cuts], [*cuts, len(values)]):
        chunked.partial_fit(whole[start:stop])
    assert chunked.n_samples_seen_ == reference.n_samples_seen_ == len(values)
    # Exact references: numpy's mean and variance of all rows at once.
    columns = ["x"] if tensor else ["a", "b"]
    mean = values.mean(0)
    var = values.var(0)
    for i, name in enumerate(columns):
        expected_mean = mean if tensor else mean[i]
        expected_var = var if tensor else var[i]
        scale = max(1.0, float(np.abs(expected_mean).max()))
        for fitted in (reference, chunked):
            np.testing.assert_allclose(
                fitted.mean_[name].numpy(),
                expected_mean,
                rtol=1e-12,
                atol=1e-12 * scale,
            )
            np.testing.assert_allclose(
                fitted.var_[name].numpy(), expected_var, rtol=1e-9, atol=1e-9 * scale**2
            )
    np.testing.assert_allclose(
        np.asarray(chunked.transform(whole)),
        np.asarray(reference.transform(whole)),
        rtol=1e-9,
        atol=1e-9,
    )


# ------------------------------------------------------------ encodings
categories = st.one_of(
    st.lists(st.text(min_size=0, max_size=4), min_size=1, max_size=25),
    st.lists(st.integers(-5, 5), min_size=1, max_size=25),
)


@FAST
@given(categories, st.data())
def test_onehot_inverse_of_transform_is_identity_on_known_categories(values, data):
    fitted_on = pd.DataFrame({"c": values})
    pipe = fsk.OneHot().fit(fitted_on)
    # Any rows made of known categories, in any order.
    rows = data.draw(st.lists(st.sampled_from(values), max_size=15))
    frame = pd.DataFrame({"c": pd.Series(rows, dtype=fitted_on["c"].dtype)})
    back = pipe.inverse_transform(pipe.transform(frame))
    assert back["c"].tolist() == rows


@FAST
@given(categories, st.data())
def test_indexencoder_inverse_of_transform_is_identity_on_known_categories(
    values, data
):
    fitted_on = pd.DataFrame({"c": values})
    pipe = fsk.IndexEncoder().fit(fitted_on)
    rows = data.draw(st.lists(st.sampled_from(values), max_size=15))
    frame = pd.DataFrame({"c": pd.Series(rows, dtype=fitted_on["c"].dtype)})
    assert pipe.inverse_transform(pipe.transform(frame))["c"].tolist() == rows


# ------------------------------------------------------------ save / load
@FAST
@given(frames(min_rows=2), st.sampled_from(["joblib", "skops"]))
def test_save_then_load_is_identity_on_transform(tmp_path_factory, df, format):
    assume(df["f"].std() > 0)
    pipeline = Pipeline(
        [
            ("scale", fsk.BatchNormalizer()),
            ("onehot", fsk.OneHot(columns=["s"])),
            ("stack", fsk.Stack()),
        ]
    ).fit(df)
    path = tmp_path_factory.mktemp("model") / "m.fwsk"
    loaded = fsk.load(fsk.save(pipeline, path, format=format))
    assert loaded.transform(df).equals(pipeline.transform(df))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"f": rng.normal(size=60), "i": rng.integers(-50, 50, size=60)}
    ).assign(s=rng.choice(["u", "v", "w"], size=60))
    pipeline = Pipeline(
        [
            ("scale", fsk.BatchNormalizer()),
            ("onehot", fsk.OneHot(columns=["s"])),
            ("stack", fsk.Stack()),
            ("net", fsk.TorchRegressor(max_epochs=2, random_state=0, verbose=0)),
        ]
    ).fit(df.astype({"i": np.int64}), df["f"].to_numpy(np.float32))
    path = tmp_path_factory.mktemp("trained") / "net.fwsk"
    return pipeline, fsk.load(fsk.save(pipeline, path))


@FAST
@given(frames(min_rows=1))
def test_save_then_load_is_identity_on_predictions(trained, df):
    pipeline, loaded = trained
    df = df.astype({"s": "str"})
    np.testing.assert_array_equal(loaded.predict(df), pipeline.predict(df))


NUMERIC_KINDS = ["float64", "float32", "int64", "bool"]


@st.composite
def wide_frames(draw):
    """Runs of numeric columns of a few dtypes, string columns between them."""
    n = draw(st.integers(1, N_MAX))
    kinds = draw(
        st.lists(st.sampled_from([*NUMERIC_KINDS, "str"]), min_size=1, max_size=12)
    )
    data = {}
    for i, kind in enumerate(kinds):
        if kind == "str":
            values = draw(st.lists(st.sampled_from("uvw"), min_size=n, max_size=n))
            data[f"c{i}"] = pd.Series(values, dtype=object)
        elif kind == "bool":
            data[f"c{i}"] = np.array(
                draw(st.lists(st.booleans(), min_size=n, max_size=n))
            )
        else:
            values = draw(st.lists(finite, min_size=n, max_size=n))
            data[f"c{i}"] = np.array(values).astype(kind)
    return pd.DataFrame(data)


def column_by_column(df):
    """The same table built from one Series per column: no column shares a block."""
    return Message({name: df[name].copy() for name in df.columns})


def assert_identical(a, b):
    assert a.columns == b.columns and a.dtypes == b.dtypes
    for name in a.columns:
        x, y = a[name], b[name]
        if isinstance(x, torch.Tensor):
            assert torch.equal(x.view(torch.uint8), y.view(torch.uint8)), name
        else:
            assert x.equals(y) and x.dtype == y.dtype, name
    assert array_or_error(a) == array_or_error(b)


def array_or_error(message):
    try:
        array = np.asarray(message)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return array.dtype, array.shape, array.tobytes()


PIPELINES = {
    "scale": lambda: [fsk.BatchNormalizer()],
    "scale-stack": lambda: [fsk.BatchNormalizer(), fsk.Stack()],
    "scale-onehot-stack": lambda: [
        fsk.BatchNormalizer(),
        fsk.OneHot(handle_unknown="ignore"),
        fsk.Stack(),
    ],
    "stack64": lambda: [fsk.Stack(dtype="float64")],
    "totensor": lambda: [fsk.ToTensor()],
}


@FAST
@given(wide_frames(), st.sampled_from(sorted(PIPELINES)))
def test_columns_held_in_blocks_transform_bit_for_bit_as_single_columns(df, name):
    """A DataFrame's numeric columns are held as blocks; the result is the same."""
    assume(name != "scale-onehot-stack" or (df.dtypes != np.bool_).all())
    blocks, single = Message(df), column_by_column(df)
    assert_identical(blocks, single)
    steps = PIPELINES[name]()
    numeric = [c for c in df.columns if df[c].dtype != object]
    if "stack" in name and not numeric and name != "scale-onehot-stack":
        return
    try:
        fitted = Pipeline([(f"s{i}", s) for i, s in enumerate(steps)]).fit(single)
    except Exception as exc:  # the same refusal on both paths
        with pytest.raises(type(exc)):
            Pipeline([(f"s{i}", s) for i, s in enumerate(PIPELINES[name]())]).fit(
                blocks
            )
        return
    assert_identical(fitted.transform(blocks), fitted.transform(single))
    assert_identical(fitted.transform(df), fitted.transform(single))
    refitted = Pipeline([(f"s{i}", s) for i, s in enumerate(PIPELINES[name]())])
    assert_identical(refitted.fit(df).transform(df), fitted.transform(single))
    if name == "scale":
        assert_identical(
            fitted.inverse_transform(fitted.transform(df)),
            fitted.inverse_transform(fitted.transform(single)),
        )
