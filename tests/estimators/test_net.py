"""TorchClassifier and TorchRegressor: input kinds, seeds, labels and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TwoInputNet, state_dicts_equal
from sklearn.base import clone

from fireworks_sk import Message, SchemaError, TorchClassifier, TorchRegressor

FAST = {"max_epochs": 4, "batch_size": 16}


# ------------------------------------------------------------- reproducibility
def test_same_seed_gives_bit_identical_weights_and_predictions(blobs):
    X, y = blobs
    a = TorchClassifier(random_state=3, **FAST).fit(X, y)
    b = TorchClassifier(random_state=3, **FAST).fit(X, y)
    assert state_dicts_equal(a.module_, b.module_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_different_seeds_give_different_weights(blobs):
    X, y = blobs
    a = TorchClassifier(random_state=1, **FAST).fit(X, y)
    b = TorchClassifier(random_state=2, **FAST).fit(X, y)
    assert not state_dicts_equal(a.module_, b.module_)


def test_seed_fixes_dropout_noise_too(blobs):
    X, y = blobs
    params = {"random_state": 0, "module__dropout": 0.5, **FAST}
    a = TorchClassifier(**params).fit(X, y)
    b = TorchClassifier(**params).fit(X, y)
    assert state_dicts_equal(a.module_, b.module_)


def test_seeded_fit_leaves_global_torch_random_state_alone(blobs):
    X, y = blobs
    before = torch.get_rng_state()
    TorchClassifier(random_state=0, **FAST).fit(X, y)
    assert torch.equal(before, torch.get_rng_state())


def test_unseeded_fits_differ(blobs):
    X, y = blobs
    a = TorchClassifier(**FAST).fit(X, y)
    b = TorchClassifier(**FAST).fit(X, y)
    assert not state_dicts_equal(a.module_, b.module_)


def test_dataframe_array_and_message_inputs_train_identically(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=list("abcd"))
    message = Message({"features": torch.from_numpy(X)})
    fits = [
        TorchClassifier(random_state=0, **FAST).fit(data, y)
        for data in (X, frame, message)
    ]
    assert state_dicts_equal(fits[0].module_, fits[1].module_)
    assert state_dicts_equal(fits[0].module_, fits[2].module_)


# --------------------------------------------------------------- input kinds
def test_several_inputs_are_passed_by_keyword(two_input_message):
    clf = TorchClassifier(
        TwoInputNet, inputs=["left", "right"], target="label", random_state=0, **FAST
    ).fit(two_input_message)
    assert clf.inputs_ == ["left", "right"]
    assert clf.predict(two_input_message[:5]).shape == (5,)


def test_default_inputs_are_all_tensor_columns_by_keyword(two_input_message):
    clf = TorchClassifier(TwoInputNet, target="label", random_state=0, **FAST)
    clf.fit(two_input_message)
    assert clf.inputs_ == ["left", "right"]


def test_one_input_column_is_positional(two_input_message):
    clf = TorchClassifier(
        torch.nn.Linear,
        module__in_features=2,
        module__out_features=3,
        inputs="left",
        target="label",
        **FAST,
    ).fit(two_input_message)
    assert clf.predict_proba(two_input_message).shape == (120, 3)


def test_default_module_takes_several_columns(two_input_message):
    clf = TorchClassifier(target="label", random_state=0, **FAST).fit(two_input_message)
    assert clf.module_.layers[0].in_features == 5


def test_default_module_sizes_itself_from_the_data(blobs):
    X, y = blobs
    clf = TorchClassifier(module__hidden_units=(7,), **FAST).fit(X[:, :3], y)
    first, last = clf.module_.layers[0], clf.module_.layers[-1]
    assert (first.in_features, first.out_features, last.out_features) == (3, 7, 3)


def test_string_labels_round_trip(blobs):
    X, y = blobs
    clf = TorchClassifier(random_state=0, max_epochs=30).fit(X, y)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"]
    most_probable = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    assert clf.predict(X).tolist() == most_probable.tolist()
    assert clf.score(X, y) > 0.8


def test_fixed_classes_keep_their_order(blobs):
    X, y = blobs
    clf = TorchClassifier(classes=["cat", "bee", "ant"], random_state=0, max_epochs=30)
    clf.fit(X, y)
    assert clf.classes_.tolist() == ["cat", "bee", "ant"]
    assert clf.score(X, y) > 0.8


def test_target_column_is_read_and_dropped_from_inputs(frame):
    data = frame.drop(columns="colour")
    clf = TorchClassifier(target="label", random_state=0, **FAST).fit(data)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(
        clf.predict(data), clf.predict(data.drop(columns="label"))
    )


def test_score_reads_the_target_column(frame):
    data = frame.drop(columns="colour")
    clf = TorchClassifier(target="label", random_state=0, **FAST).fit(data)
    assert clf.score(data) == clf.score(data.drop(columns="label"), data["label"])


def test_predict_in_one_step_equals_predict_in_batches(blobs):
    X, y = blobs
    whole = TorchClassifier(random_state=0, **FAST).fit(X, y).predict_proba(X)
    batched = TorchClassifier(random_state=0, iterator_valid__batch_size=7, **FAST)
    np.testing.assert_allclose(batched.fit(X, y).predict_proba(X), whole, rtol=1e-6)


def test_classifier_partial_fit_accepts_all_classes_up_front(blobs):
    X, y = blobs
    clf = TorchClassifier(random_state=0, **FAST)
    clf.partial_fit(X[y == "ant"], y[y == "ant"], classes=["ant", "bee", "cat"])
    clf.partial_fit(X, y)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"]
    assert len(clf.history) == 2 * FAST["max_epochs"]


@pytest.mark.parametrize("shape", [(120,), (120, 2)])
def test_regressor_predicts_the_shape_of_y(blobs, shape):
    X, _ = blobs
    y = X[:, :2].sum(axis=1) if len(shape) == 1 else X[:, :2]
    reg = TorchRegressor(random_state=0, **FAST).fit(X, y)
    prediction = reg.predict(X)
    assert prediction.shape == shape
    assert prediction.dtype == np.float64
    assert not hasattr(reg, "predict_proba")


def test_clone_gives_an_unfitted_copy_with_the_same_params(blobs):
    X, y = blobs
    clf = TorchClassifier(
        TwoInputNet(), inputs=["left", "right"], random_state=4, **FAST
    )
    copy = clone(clf)
    assert copy.get_params()["random_state"] == 4
    assert not hasattr(copy, "module_")
    fitted = clone(TorchClassifier(random_state=0, **FAST)).fit(X, y)
    assert not hasattr(clone(fitted), "n_features_in_")


def test_init_stores_parameters_only():
    clf = TorchClassifier(lr=0.5, module__hidden_units=(3,))
    assert clf.lr == 0.5
    assert all(not k.endswith("_") for k in vars(clf))


def test_fit_leaves_input_unchanged(frame):
    data = frame.drop(columns="colour")
    copy = data.copy()
    TorchClassifier(target="label", **FAST).fit(data)
    pd.testing.assert_frame_equal(data, copy)


# -------------------------------------------------------------------- errors
def test_missing_input_column_is_named(two_input_message):
    clf = TorchClassifier(TwoInputNet, inputs=["left", "middle"], target="label")
    with pytest.raises(SchemaError, match=r"names columns \['middle'\] that X lacks"):
        clf.fit(two_input_message)


def test_text_column_among_inputs_is_named(frame):
    clf = TorchClassifier(inputs=["a", "colour"], target="label")
    with pytest.raises(
        TypeError, match=r"Column 'colour' has dtype .* encode it first"
    ):
        clf.fit(frame)


def test_target_among_inputs_is_refused(frame):
    clf = TorchClassifier(inputs=["a", "label"], target="label")
    with pytest.raises(ValueError, match="'label' is both the target and one of"):
        clf.fit(frame)


def test_missing_y_is_explained(frame):
    with pytest.raises(ValueError, match="requires y to be passed"):
        TorchClassifier().fit(frame[["a", "b"]])


def test_target_on_an_array_is_explained(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=r"target='label'\) names a column, but X has"):
        TorchClassifier(target="label").fit(X)


def test_nan_input_names_the_column(frame):
    data = frame.drop(columns="colour")
    data.loc[3, "b"] = np.nan
    with pytest.raises(ValueError, match=r"NaN in column 'b' \(first at row 3\)"):
        TorchClassifier(target="label").fit(data)


def test_predict_on_other_columns_shows_the_difference(frame):
    data = frame.drop(columns="colour")
    clf = TorchClassifier(target="label", **FAST).fit(data)
    with pytest.raises(SchemaError, match=r"seen at fit time, yet now missing:\n- d"):
        clf.predict(data.drop(columns="d"))


def test_predict_on_wrong_width_names_both_widths(blobs):
    X, y = blobs
    clf = TorchClassifier(**FAST).fit(X, y)
    with pytest.raises(
        ValueError, match="X has 3 features, but TorchClassifier is expecting 4"
    ):
        clf.predict(X[:, :3])


def test_unknown_label_in_partial_fit_is_named(blobs):
    X, y = blobs
    clf = TorchClassifier(**FAST).partial_fit(X, y)
    with pytest.raises(ValueError, match=r"labels \['dog'\] that are not in classes_"):
        clf.partial_fit(X[:2], np.array(["dog", "ant"]))


def test_sample_weight_is_refused_by_name(blobs):
    X, y = blobs
    with pytest.raises(TypeError, match="does not support sample_weight"):
        TorchClassifier(**FAST).fit(X, y, sample_weight=np.ones(len(y)))


def test_default_module_cannot_initialise_without_data():
    from skorch.exceptions import NotInitializedError

    with pytest.raises(
        NotInitializedError, match="sizes its default module from the data"
    ):
        TorchClassifier().initialize()


def test_predict_before_fit_raises_not_fitted(blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TorchClassifier().predict(blobs[0])


def test_array_input_for_a_net_fitted_on_shaped_columns_is_refused(two_input_message):
    clf = TorchClassifier(TwoInputNet, target="label", **FAST).fit(two_input_message)
    with pytest.raises(
        SchemaError, match=r"several values per row \(\['left', 'right'\]"
    ):
        clf.predict(np.zeros((2, 2)))


def test_dataframe_predict_shortcut_equals_the_message_path(frame):
    data = frame[["a", "b", "c", "d"]]
    clf = TorchClassifier(random_state=0, **FAST).fit(data, frame["label"])
    as_message = Message({c: data[c] for c in data.columns})
    np.testing.assert_array_equal(
        clf.predict_proba(data), clf.predict_proba(as_message)
    )


def test_dataframe_predict_with_nan_still_names_the_column(frame):
    data = frame[["a", "b", "c", "d"]]
    clf = TorchClassifier(**FAST).fit(data, frame["label"])
    broken = data.copy()
    broken.loc[1, "c"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column 'c' \(first at row 1\)"):
        clf.predict(broken)


class LazyViewNet(torch.nn.Module):
    """A lazy module whose forward reshapes with view, which fails on 0 rows."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.LazyLinear(3)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(X.view(X.size(0), -1))


def test_user_lazy_module_is_materialised_before_the_optimizer(blobs):
    X, y = blobs
    a = TorchClassifier(LazyViewNet, random_state=0, **FAST).fit(X, y)
    b = TorchClassifier(LazyViewNet, random_state=0, **FAST).fit(X, y)
    assert a.module_.linear.in_features == 4
    assert state_dicts_equal(a.module_, b.module_)
    assert a.history[-1, "train_loss"] < a.history[0, "train_loss"]
