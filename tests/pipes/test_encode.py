"""OneHot and IndexEncoder: vocabularies, unknowns, rare categories, inverses."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.preprocessing import OneHotEncoder

import fireworks_sk
from fireworks_sk import IndexEncoder, Message, OneHot
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.message import stored_column
from fireworks_sk.pipes._encode import _value_counts, add_counts, sorted_counts
from tests._data import N_ROWS, assert_unchanged, snapshot

CHUNK_SIZES = [1, 2, 50, N_ROWS, N_ROWS + 42]
ENCODERS = [OneHot, IndexEncoder]


@pytest.fixture
def colors() -> Message:
    """c: strings with counts a=3, b=2, c=1, d=1; k: int tensor; f: float tensor."""
    return Message(
        {
            "c": ["b", "a", "c", "a", "a", "b", "d"],
            "k": torch.tensor([3, 1, 2, 1, 1, 3, 9]),
            "f": torch.arange(7.0),
        }
    )


def assert_vocabularies_equal(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


# ------------------------------------------------------------------ fitting
@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_partial_fit_in_chunks_equals_fit_exactly(message, encoder, size):
    full = encoder().fit(message)
    chunked = encoder()
    for start in range(0, len(message), size):
        chunked.partial_fit(message[start : start + size])
    assert chunked.n_samples_seen_ == full.n_samples_seen_ == len(message)
    assert chunked.columns_ == full.columns_
    assert_vocabularies_equal(chunked.categories_, full.categories_)
    assert chunked.transform(message).equals(full.transform(message))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_partial_fit_grows_the_vocabulary_sorted(encoder):
    pipe = encoder().partial_fit(Message({"c": ["m", "c"]}))
    pipe.partial_fit(Message({"c": ["z", "a", "m"]}))
    assert pipe.categories_["c"].tolist() == ["a", "c", "m", "z"]
    assert pipe.n_samples_seen_ == 5


@pytest.mark.parametrize("encoder", ENCODERS)
def test_default_columns_are_everything_but_floats(encoder, colors):
    assert encoder().fit(colors).columns_ == ["c", "k"]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_categories_are_sorted_per_column(encoder, colors):
    pipe = encoder().fit(colors)
    assert pipe.categories_["c"].tolist() == ["a", "b", "c", "d"]
    assert pipe.categories_["k"].tolist() == [1, 2, 3, 9]


# ------------------------------------------------------------------ OneHot
def test_onehot_gives_float_indicator_tensors(colors):
    out = OneHot().fit_transform(colors)
    assert out.columns == colors.columns
    assert out["c"].dtype == torch.float32
    assert out["c"].shape == (7, 4)
    assert out["c"].argmax(1).tolist() == [1, 0, 2, 0, 0, 1, 3]
    assert torch.equal(out["c"].sum(1), torch.ones(7))
    assert stored_column(out, "f") is stored_column(colors, "f")


def test_onehot_matches_sklearn_onehotencoder(colors):
    df = colors[["c", "k"]].to_dataframe()
    expected = OneHotEncoder(sparse_output=False).fit_transform(df)
    np.testing.assert_array_equal(np.asarray(OneHot().fit_transform(df)), expected)


def test_onehot_unknown_category_names_the_column_and_the_value(colors):
    pipe = OneHot().fit(colors)
    unseen = colors.assign(c=["z", "a", "y", "a", "a", "a", "a"])
    with pytest.raises(
        ValueError, match=r"unknown categories \['z', 'y'\] in column 'c'"
    ):
        pipe.transform(unseen)


def test_onehot_unknown_integer_category_is_shown_as_written(colors):
    pipe = OneHot().fit(colors)
    unseen = colors.assign(k=torch.tensor([3, 1, 2, 1, 1, 3, 7]))
    with pytest.raises(ValueError, match=r"unknown categories \[7\] in column 'k'"):
        pipe.transform(unseen)


def test_onehot_unknown_error_lists_at_most_a_few_values():
    pipe = OneHot().fit(Message({"c": ["a"]}))
    with pytest.raises(ValueError, match=r"'u4'\] and 3 more in column 'c'"):
        pipe.transform(Message({"c": [f"u{i}" for i in range(8)]}))


def test_onehot_ignore_gives_all_zero_rows_for_unknowns(colors):
    pipe = OneHot(handle_unknown="ignore").fit(colors)
    out = pipe.transform(colors.assign(c=["z", "a", "z", "b", "q", "c", "d"]))
    assert out["c"].sum(1).tolist() == [0, 1, 0, 1, 0, 1, 1]
    assert out["c"][1].tolist() == [1, 0, 0, 0]


def test_onehot_min_frequency_groups_rare_categories(colors):
    pipe = OneHot(columns=["c"], min_frequency=2).fit(colors)
    assert pipe.infrequent_categories_["c"].tolist() == ["c", "d"]
    assert list(pipe.get_feature_names_out()) == [
        "c_a",
        "c_b",
        "c_infrequent",
        "k",
        "f",
    ]
    out = pipe.transform(colors)["c"]
    assert out.shape == (7, 3)
    assert out.argmax(1).tolist() == [1, 0, 2, 0, 0, 1, 2]


def test_onehot_min_frequency_as_a_fraction_of_rows(colors):
    # 0.3 * 7 rows = 2.1: only "a" (3 rows) is frequent.
    pipe = OneHot(columns=["c"], min_frequency=0.3).fit(colors)
    assert pipe.infrequent_categories_["c"].tolist() == ["b", "c", "d"]
    assert pipe.transform(colors)["c"].shape == (7, 2)


def test_onehot_max_categories_keeps_the_most_frequent(colors):
    pipe = OneHot(columns=["c"], max_categories=3).fit(colors)
    assert pipe.infrequent_categories_["c"].tolist() == ["c", "d"]
    assert pipe.transform(colors)["c"].shape == (7, 3)


def test_onehot_max_categories_counts_the_infrequent_column(colors):
    # min_frequency=2 leaves a and b frequent, c and d infrequent: with room
    # for 2 outputs only a keeps its own column, b joins the infrequent one.
    pipe = OneHot(columns=["c"], min_frequency=2, max_categories=2).fit(colors)
    assert pipe.transform(colors)["c"].shape == (7, 2)
    assert pipe.infrequent_categories_["c"].tolist() == ["b", "c", "d"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from("abcdef"), min_size=1, max_size=30),
    st.none() | st.integers(1, 5) | st.floats(0.01, 0.5),
    st.none() | st.integers(1, 6),
)
@example(values=list("aab"), min_frequency=2, max_categories=1)
def test_onehot_output_width_never_exceeds_max_categories(
    values, min_frequency, max_categories
):
    m = Message({"c": values})
    pipe = OneHot(min_frequency=min_frequency, max_categories=max_categories)
    out = pipe.fit_transform(m)["c"]
    if max_categories is not None:
        assert out.shape[1] <= max_categories
    assert out.shape[1] == len(pipe.get_feature_names_out())
    assert torch.equal(out.sum(1), torch.ones(len(values)))


def test_onehot_without_rare_categories_has_no_infrequent(colors):
    pipe = OneHot(min_frequency=1, max_categories=10).fit(colors)
    assert pipe.infrequent_categories_ == {"c": None, "k": None}


def test_onehot_frequency_options_match_sklearn(colors):
    df = colors[["c"]].to_dataframe()
    for params in [{"min_frequency": 2}, {"max_categories": 2}]:
        ours = OneHot(**params).fit_transform(df)
        theirs = OneHotEncoder(sparse_output=False, **params).fit_transform(df)
        np.testing.assert_array_equal(np.asarray(ours), theirs)


def test_onehot_infrequent_if_exist_puts_unknowns_in_the_infrequent_column(colors):
    pipe = OneHot(
        columns=["c"], handle_unknown="infrequent_if_exist", min_frequency=2
    ).fit(colors)
    out = pipe.transform(colors.assign(c=["zz"] * 7))["c"]
    assert out.tolist() == [[0.0, 0.0, 1.0]] * 7


@pytest.mark.parametrize(
    "params, match",
    [
        ({"handle_unknown": "bad"}, r"handle_unknown='bad'\) is not one of"),
        ({"min_frequency": 0}, r"min_frequency=0\) must be"),
        ({"min_frequency": 1.5}, r"min_frequency=1.5\) must be"),
        ({"max_categories": 0}, r"max_categories=0\) must be"),
    ],
)
def test_onehot_bad_parameters_raise_at_fit_naming_them(colors, params, match):
    pipe = OneHot(**params)
    assert pipe.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=match):
        pipe.fit(colors)


def test_onehot_inverse_transform_round_trips(message):
    pipe = OneHot().fit(message)
    assert pipe.inverse_transform(pipe.transform(message)).equals(message)


def test_onehot_inverse_of_unknown_and_infrequent_rows_is_missing(colors):
    pipe = OneHot(columns=["c"], handle_unknown="ignore", min_frequency=2)
    pipe.fit(colors)
    back = pipe.inverse_transform(pipe.transform(colors.assign(c=list("zabcdaa"))))
    assert back["c"].isna().tolist() == [True, False, False, True, True, False, False]
    assert back["c"].dropna().tolist() == ["a", "b", "a", "a"]


def test_onehot_feature_names_name_the_categories(colors):
    pipe = OneHot().fit(colors)
    assert list(pipe.get_feature_names_out()) == [
        *["c_a", "c_b", "c_c", "c_d"],
        *["k_1", "k_2", "k_3", "k_9"],
        "f",
    ]


# ------------------------------------------------------------------ IndexEncoder
def test_index_encoder_gives_int64_codes_in_sorted_order(colors):
    pipe = IndexEncoder().fit(colors)
    out = pipe.transform(colors)
    assert out["c"].dtype == torch.int64
    assert out["c"].tolist() == [1, 0, 2, 0, 0, 1, 3]
    assert out["k"].tolist() == [2, 0, 1, 0, 0, 2, 3]
    assert pipe.n_codes_ == {"c": 4, "k": 4}


def test_index_encoder_ignore_reserves_code_0_for_unknowns(colors):
    pipe = IndexEncoder(handle_unknown="ignore").fit(colors)
    assert pipe.n_codes_ == {"c": 5, "k": 5}
    out = pipe.transform(colors.assign(c=["z", "a", "b", "c", "d", "q", "a"]))
    assert out["c"].tolist() == [0, 1, 2, 3, 4, 0, 1]
    assert int(pipe.transform(colors)["c"].min()) == 1


def test_index_encoder_codes_fit_an_embedding(colors):
    pipe = IndexEncoder(handle_unknown="ignore").fit(colors)
    embedding = torch.nn.Embedding(pipe.n_codes_["c"], 2)
    assert embedding(pipe.transform(colors)["c"]).shape == (7, 2)


def test_index_encoder_unknown_category_names_the_column_and_the_value(colors):
    pipe = IndexEncoder().fit(colors)
    with pytest.raises(ValueError, match=r"unknown categories \['zz'\] in column 'c'"):
        pipe.transform(colors.assign(c=["a"] * 6 + ["zz"]))


def test_index_encoder_rejects_unsupported_handle_unknown(colors):
    with pytest.raises(ValueError, match="handle_unknown='infrequent_if_exist'"):
        IndexEncoder(handle_unknown="infrequent_if_exist").fit(colors)


def test_index_encoder_inverse_transform_round_trips(message):
    pipe = IndexEncoder().fit(message)
    assert pipe.inverse_transform(pipe.transform(message)).equals(message)


def test_index_encoder_inverse_of_code_0_under_ignore_is_missing(colors):
    pipe = IndexEncoder(columns=["c"], handle_unknown="ignore").fit(colors)
    back = pipe.inverse_transform(pipe.transform(colors.assign(c=list("zabcdqa"))))
    assert back["c"].isna().tolist() == [True] + [False] * 4 + [True, False]


def test_index_encoder_inverse_of_a_bad_code_names_it(colors):
    pipe = IndexEncoder(columns=["c"]).fit(colors)
    codes = pipe.transform(colors).assign(c=torch.tensor([0, 1, 2, 3, 4, 0, 0]))
    with pytest.raises(ValueError, match=r"Code 4 at row 4 of column 'c'"):
        pipe.inverse_transform(codes)


def test_index_encoder_feature_names_keep_the_column_names(colors):
    assert list(IndexEncoder().fit(colors).get_feature_names_out()) == ["c", "k", "f"]


# ------------------------------------------------------------------ shared rules
@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize(
    "column, kind",
    [
        (["a", None, "b"], "NaN"),
        (pd.Series([1.0, np.nan, 2.0]), "NaN"),
        (torch.tensor([1.0, float("inf"), 2.0]), "infinity"),
    ],
    ids=["string-missing", "float-nan", "tensor-inf"],
)
def test_nan_or_inf_in_an_encoded_column_raises_naming_it(encoder, column, kind):
    bad = Message({"ok": ["x", "y", "z"], "bad": column})
    with pytest.raises(ValueError, match=f"{kind}.*column 'bad'"):
        encoder(columns=["ok", "bad"]).fit(bad)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_nan_at_transform_raises_naming_the_column(encoder, colors):
    pipe = encoder().fit(colors)
    with pytest.raises(ValueError, match="NaN.*column 'c'"):
        pipe.transform(colors.assign(c=["a"] * 6 + [None]))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_naming_a_2d_tensor_column_raises_naming_it(encoder):
    m = Message({"t": torch.zeros(3, 2, dtype=torch.int64)})
    with pytest.raises(ValueError, match=r"Column 't' has rows of shape \(2,\)"):
        encoder(columns=["t"]).fit(m)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_transform_before_fit_raises_not_fitted(encoder, colors):
    with pytest.raises(fireworks_sk.NotFittedError):
        encoder().transform(colors)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        encoder().inverse_transform(colors)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_input_is_never_mutated(encoder, message):
    before = snapshot(message)
    pipe = encoder().fit(message)
    pipe.partial_fit(message)
    pipe.inverse_transform(pipe.transform(message))
    assert_unchanged(message, before)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_joblib_round_trip_gives_equal_output(encoder, message, tmp_path):
    pipe = encoder().fit(message)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    assert loaded.transform(message).equals(pipe.transform(message))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_clone_gives_an_unfitted_copy(encoder, message):
    pipe = encoder(handle_unknown="ignore").fit(message)
    copy = clone(pipe)
    assert copy.get_params() == pipe.get_params()
    assert not hasattr(copy, "categories_")
    with pytest.raises(fireworks_sk.NotFittedError):
        copy.transform(message)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_refit_forgets_earlier_vocabularies(encoder):
    pipe = encoder().fit(Message({"c": ["a", "b"]})).fit(Message({"c": ["q"]}))
    assert pipe.categories_["c"].tolist() == ["q"]
    assert pipe.n_samples_seen_ == 1


@pytest.mark.parametrize("encoder", ENCODERS)
def test_feature_names_out_match_the_output_width(encoder, message):
    pipe = encoder().fit(message)
    names = pipe.get_feature_names_out()
    assert len(names) == len(pipe.transform(message).feature_names())
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_columns_naming_a_missing_column_names_it(encoder, colors):
    with pytest.raises(ValueError, match=r"names columns \['nope'\]"):
        encoder(columns=["nope"]).fit(colors)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_categorical_and_boolean_columns_are_encoded(encoder):
    m = Message(
        pd.DataFrame(
            {
                "cat": pd.Categorical(["x", "y", "x"]),
                "flag": [True, False, True],
            }
        )
    )
    pipe = encoder().fit(m)
    assert pipe.columns_ == ["cat", "flag"]
    assert pipe.categories_["cat"].tolist() == ["x", "y"]
    assert pipe.categories_["flag"].tolist() == [False, True]
    assert pipe.inverse_transform(pipe.transform(m))["cat"].tolist() == ["x", "y", "x"]


@pytest.mark.parametrize("ordered, expected", [(False, ["a", "b"]), (True, ["b", "a"])])
def test_onehot_categories_are_those_seen_in_fit_for_a_categorical_column(
    ordered, expected
):
    column = pd.Series(
        pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"], ordered=ordered)
    )
    pipe = OneHot().fit(Message({"k": column}))
    # Seen ones only: sorted as scikit-learn sorts them, or in the declared
    # order of an ordered Categorical.
    assert pipe.categories_["k"].tolist() == expected
    assert pipe.get_feature_names_out().tolist() == [f"k_{c}" for c in expected]


@pytest.mark.parametrize("Encoder", [OneHot, IndexEncoder])
def test_batches_declaring_categories_in_other_orders_fit_as_one(Encoder, tmp_path):
    from fireworks_sk import fit_stream
    from fireworks_sk.sources import ParquetSource

    first = pd.Categorical(["x", "y", "x"], categories=["y", "x"])
    second = pd.Categorical(["z", "x"], categories=["z", "x"])
    pd.DataFrame({"c": first}).to_parquet(tmp_path / "0.parquet")
    pd.DataFrame({"c": second}).to_parquet(tmp_path / "1.parquet")
    whole = pd.read_parquet(tmp_path)  # categories y, x, z as the files list them
    fitted = Encoder().fit(whole)
    streamed = fit_stream(Encoder(), ParquetSource(tmp_path, chunk_size=2))
    assert fitted.categories_["c"].tolist() == ["x", "y", "z"]
    assert streamed.categories_["c"].tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(
        streamed.transform(whole)["c"].numpy(), fitted.transform(whole)["c"].numpy()
    )


def test_batches_of_an_ordered_categorical_in_other_orders_are_refused():
    def batch(values, categories):
        column = pd.Categorical(values, categories=categories, ordered=True)
        return Message({"c": pd.Series(column)})

    pipe = OneHot().partial_fit(batch(["low", "high"], ["low", "high"]))
    with pytest.raises(TypeError, match="'c' is an ordered Categorical whose cat"):
        pipe.partial_fit(batch(["low"], ["high", "low"]))
    assert pipe.categories_["c"].tolist() == ["low", "high"]


@pytest.mark.parametrize("Encoder", [OneHot, IndexEncoder])
def test_allow_nan_tag_says_what_the_encoder_does_with_nan(Encoder):
    frame = pd.DataFrame({"f": [1.0, np.nan, 2.0], "c": ["a", "b", "a"]})
    default = Encoder()
    assert default.__sklearn_tags__().input_tags.allow_nan
    assert default.fit_transform(frame)["f"].isna().sum() == 1  # passed through
    named = Encoder(columns=["f", "c"])
    assert not named.__sklearn_tags__().input_tags.allow_nan
    with pytest.raises(ValueError, match="NaN.* in column 'f'"):
        named.fit(frame)


def test_index_encoder_codes_do_not_move_when_handle_unknown_changes_after_fit():
    m = Message({"c": ["a", "b", "a"]})
    strict = IndexEncoder().fit(m)
    strict.set_params(handle_unknown="ignore")
    with pytest.raises(ValueError, match="fitted with handle_unknown='error'"):
        strict.transform(m)
    with pytest.raises(ValueError, match="fitted with handle_unknown='error'"):
        strict.partial_fit(m)
    strict.set_params(handle_unknown="error")
    assert strict.transform(m)["c"].tolist() == [0, 1, 0]
    lenient = IndexEncoder(handle_unknown="ignore").fit(m)
    assert lenient.n_codes_ == {"c": 3}
    lenient.set_params(handle_unknown="error")
    assert lenient.transform(m)["c"].tolist() == [1, 2, 1]  # unchanged codes
    assert lenient.n_codes_ == {"c": 3}
    with pytest.raises(ValueError, match="unknown categories \\['z'\\]"):
        lenient.transform(Message({"c": ["z"]}))
    assert lenient.fit(m).transform(m)["c"].tolist() == [0, 1, 0]  # refit: new codes


_CATEGORY_LISTS = st.one_of(
    st.lists(st.sampled_from(["a", "b", "c", "é", "a_b"]), min_size=1, max_size=40),
    st.lists(st.integers(-3, 3), min_size=1, max_size=40),
    st.lists(st.sampled_from([0.5, -1.0, 2.25, np.nan]), min_size=1, max_size=40),
    st.lists(st.sampled_from(["x", "y", None]), min_size=1, max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(
    values=_CATEGORY_LISTS,
    cut=st.integers(0, 40),
    dtype=st.sampled_from([None, "str", "object", "category"]),
)
def test_add_counts_equals_aligned_add_exactly(values, cut, dtype):
    # The rule: adding the counts of a later batch by position gives exactly
    # the Series of pandas' aligned add, once sorted as the state is.
    column = pd.Series(values)
    if dtype is not None and not (dtype == "str" and column.dtype.kind in "if"):
        column = column.astype(dtype)
    cut = min(cut, len(column) - 1)
    counts = [_value_counts("x", part, "category") for part in (column, column[cut:])]
    a = sorted_counts("x", counts[0])
    for b in (counts[1], counts[0]):
        general = a.add(b, fill_value=0).astype(np.int64)
        if a.index.dtype == b.index.dtype and not isinstance(
            a.index, pd.CategoricalIndex
        ):
            # pandas 2's add infers int64 from an object index of ints.
            general.index = general.index.astype(a.index.dtype)
        pd.testing.assert_series_equal(
            sorted_counts("x", add_counts(a, b)),
            sorted_counts("x", general),
            check_exact=True,
            check_index_type=True,
            check_categorical=True,
        )


def test_onehot_partial_fit_refuses_a_new_category_whose_name_clashes():
    first = pd.DataFrame({"a": ["x", "x"], "a_y": [1.0, 2.0]})
    encoder = OneHot(columns=["a"]).partial_fit(first)
    encoder.partial_fit(first)
    with pytest.raises(SchemaError, match="feature name 'a_y' twice"):
        encoder.partial_fit(pd.DataFrame({"a": ["y", "x"], "a_y": [1.0, 2.0]}))
    assert list(encoder.categories_["a"]) == ["x"]
    assert encoder.n_samples_seen_ == 4


@pytest.mark.parametrize("encoder", [OneHot, IndexEncoder])
@pytest.mark.parametrize("rows", [2, 300])  # both lookups: a dict, get_indexer
def test_values_that_cannot_be_categories_are_named_with_their_row(encoder, rows):
    fitted = encoder(handle_unknown="ignore").fit(pd.DataFrame({"c": ["a", "b"]}))
    column = pd.Series(["b"] * (rows - 1) + [{"k": 1}], dtype=object)
    with pytest.raises(TypeError, match=rf"Column 'c' holds a dict at row {rows - 1}"):
        fitted.transform(pd.DataFrame({"c": column}))
    fresh = encoder()
    lists = pd.Series([["a"], "x", ["b"]], dtype=object)
    with pytest.raises(TypeError, match="Column 'c' holds a list at row 0"):
        fresh.fit(pd.DataFrame({"c": lists}))
    assert not hasattr(fresh, "categories_")
