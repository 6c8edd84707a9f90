"""What skorch and scikit-learn users do out of habit works, or says why not."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions
import torch
from conftest import state_dicts_equal
from skorch.callbacks import EarlyStopping
from skorch.exceptions import NotInitializedError

import fireworks_sk
from fireworks_sk import TorchClassifier, TorchRegressor

FAST = {"max_epochs": 4, "batch_size": 16}
LINEAR = {"module__in_features": 4, "module__out_features": 2}


def _binary(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    return X, np.where(X[:, 0] > 0, "yes", "no")


def _messages(record: list[warnings.WarningMessage], text: str) -> list[str]:
    return [str(w.message) for w in record if text in str(w.message)]


# ------------------------------------------ initialize, load_params, predict
def test_initialize_then_load_params_then_predict_as_in_skorch(tmp_path):
    X, y = _binary()
    fitted = TorchClassifier(torch.nn.Linear, random_state=0, **LINEAR, **FAST)
    fitted.fit(X, y)
    fitted.save_params(f_params=tmp_path / "params.pt")
    net = TorchClassifier(torch.nn.Linear, **LINEAR).initialize()
    net.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(net.predict_proba(X), fitted.predict_proba(X))
    codes = np.searchsorted(fitted.classes_, fitted.predict(X))
    np.testing.assert_array_equal(net.predict(X), codes)


def test_loaded_net_with_classes_predicts_labels_from_a_dataframe(tmp_path):
    X, y = _binary()
    frame = pd.DataFrame(X, columns=list("abcd"))
    fitted = TorchClassifier(torch.nn.Linear, **LINEAR, **FAST).fit(frame, y)
    fitted.save_params(f_params=tmp_path / "params.pt")
    net = TorchClassifier(torch.nn.Linear, classes=["no", "yes"], **LINEAR)
    net.initialize().load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(net.predict(frame), fitted.predict(frame))


def test_loaded_regressor_predicts_the_module_output(tmp_path):
    X, _ = _binary()
    y = X.sum(axis=1)
    params = {"module__in_features": 4, "module__out_features": 1}
    fitted = TorchRegressor(torch.nn.Linear, **params, **FAST).fit(X, y)
    fitted.save_params(f_params=tmp_path / "params.pt")
    net = TorchRegressor(torch.nn.Linear, **params).initialize()
    net.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_allclose(net.predict(X)[:, 0], fitted.predict(X))


# ------------------------------------------------------------- not fitted
@pytest.mark.parametrize("estimator", [TorchClassifier(), TorchRegressor()])
@pytest.mark.parametrize(
    "error",
    [
        fireworks_sk.NotFittedError,
        sklearn.exceptions.NotFittedError,
        NotInitializedError,
    ],
)
def test_unfitted_net_raises_every_not_fitted_error(estimator, error):
    with pytest.raises(error, match="is not initialized yet"):
        estimator.predict(_binary()[0])


# ------------------------------------------------------------------- repr
def test_repr_shows_the_parameters_the_user_set():
    assert repr(TorchClassifier(max_epochs=7, lr=0.05)) == (
        "TorchClassifier(lr=0.05, max_epochs=7)"
    )
    assert repr(TorchRegressor()) == "TorchRegressor()"
    assert repr(TorchClassifier(module__hidden_units=(8,), verbose=1)) == (
        "TorchClassifier(module__hidden_units=(8,), verbose=1)"
    )


def test_repr_inside_a_pipeline_and_a_search_shows_the_parameters_set():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    net = TorchClassifier(max_epochs=7)
    assert "('torchclassifier', TorchClassifier(max_epochs=7))" in repr(
        make_pipeline(fireworks_sk.BatchNormalizer(), net)
    )
    assert repr(GridSearchCV(net, {"lr": [0.1]})).startswith(
        "GridSearchCV(estimator=TorchClassifier(max_epochs=7),"
    )


def test_repr_of_a_fitted_net_is_its_parameters():
    X, y = _binary()
    assert repr(TorchClassifier(**FAST).fit(X, y)) == (
        "TorchClassifier(batch_size=16, max_epochs=4)"
    )


def test_signature_lists_skorch_parameters_with_their_defaults():
    parameters = inspect.signature(TorchClassifier).parameters
    assert parameters["verbose"].default == 0
    assert parameters["iterator_train"].default is fireworks_sk.MessageLoader
    assert parameters["classes"].default is None
    assert "classes" not in inspect.signature(TorchRegressor).parameters


def test_signature_names_every_default_parameter_of_a_default_instance():
    for cls in (TorchClassifier, TorchRegressor):
        parameters = inspect.signature(cls.__init__).parameters
        for name, value in cls().get_params(deep=False).items():
            assert (
                parameters[name].default is value or parameters[name].default == value
            )
        assert list(parameters)[-1] == "kwargs"
        kinds = [p.kind for p in parameters.values()]
        assert kinds[-1] == inspect.Parameter.VAR_KEYWORD
        # bind, str and equality work on the signature as on any other
        bound = inspect.signature(cls).bind(lr=0.5)
        assert bound.arguments == {"lr": 0.5}
        assert "lr: 'float' = 0.01" in str(inspect.signature(cls))
        assert inspect.signature(cls.__init__) == inspect.signature(cls.__init__)


def test_importing_fireworks_sk_builds_no_estimator():
    # The signature's skorch defaults are read from a default instance only
    # when the signature is first asked for.
    code = textwrap.dedent(
        """
        import inspect
        import skorch

        built = []
        init = skorch.NeuralNet.__init__

        def counting(self, *args, **kwargs):
            built.append(type(self).__name__)
            init(self, *args, **kwargs)

        skorch.NeuralNet.__init__ = counting
        import fireworks_sk

        assert built == [], built
        assert inspect.signature(fireworks_sk.TorchRegressor).parameters["lr"]
        assert built == ["TorchRegressor"], built
        inspect.signature(fireworks_sk.TorchRegressor)
        assert built == ["TorchRegressor"], built  # built once
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_set_params_stores_callbacks_of_an_unfitted_net_and_fit_builds_them():
    X, y = _binary()
    clf = TorchClassifier(callbacks=-1, **FAST).set_params(callbacks=-2)
    assert clf.callbacks == -2
    clf.set_params(callbacks=[("stop", EarlyStopping(monitor="train_loss"))])
    clf.set_params(callbacks__stop__patience=1)
    clf.fit(X, y)
    assert dict(clf.callbacks_)["stop"].patience == 1


# --------------------------------------------------------------- labels
@pytest.mark.parametrize("missing", [np.nan, None])
def test_missing_value_in_string_labels_names_y(missing):
    X, y = _binary()
    y = y.astype(object)
    y[3] = missing
    with pytest.raises(
        ValueError, match=r"Input y contains NaN or None \(first at row 3"
    ):
        TorchClassifier(**FAST).fit(X, pd.Series(y))


# ------------------------------------------------------------- optimizer
def test_optimizer_name_means_the_torch_optim_class():
    X, y = _binary()
    named = TorchClassifier(optimizer="adam", random_state=0, **FAST).fit(X, y)
    given = TorchClassifier(optimizer=torch.optim.Adam, random_state=0, **FAST)
    assert state_dicts_equal(named.module_, given.fit(X, y).module_)
    assert named.get_params()["optimizer"] == "adam"
    sgd = TorchClassifier(optimizer="SGD", optimizer__momentum=0.9, **FAST).fit(X, y)
    assert isinstance(sgd.optimizer_, torch.optim.SGD)


def test_unknown_optimizer_name_lists_the_accepted_forms():
    X, y = _binary()
    clf = TorchClassifier(optimizer="adamm", **FAST)
    with pytest.raises(ValueError, match=r"names no torch.optim optimizer.*'adamw'"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


# ---------------------------------------------------------- module warnings
def test_module_instance_with_random_state_warns_that_it_cannot_be_seeded():
    X, y = _binary()
    with pytest.warns(UserWarning, match="random_state cannot re-initialise it"):
        TorchClassifier(torch.nn.Linear(4, 2), random_state=0, **FAST).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"module": torch.nn.Linear(4, 2)},
        {"module": torch.nn.Linear, **LINEAR, "random_state": 0},
        {"module": torch.nn.Linear(4, 2), **LINEAR, "random_state": 0},
    ],
    ids=["instance-unseeded", "class-seeded", "instance-rebuilt-from-params"],
)
def test_seedable_or_unseeded_modules_do_not_warn(params):
    X, y = _binary()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        TorchClassifier(**params, **FAST).fit(X, y)
    assert not _messages(record, "random_state cannot")


class SoftmaxNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(X), dim=1)


def test_probabilities_under_cross_entropy_warn_once_per_fit():
    X, y = _binary()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        TorchClassifier(SoftmaxNet, **FAST).fit(X, y)
    assert len(_messages(record, "look like probabilities")) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"module": SoftmaxNet, "criterion": torch.nn.NLLLoss},
        {"module": torch.nn.Linear, **LINEAR},
    ],
    ids=["softmax-nll", "logits-cross-entropy"],
)
def test_matching_outputs_and_criterion_do_not_warn(params):
    X, y = _binary()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        TorchClassifier(**params, **FAST).fit(X, y)
    assert not _messages(record, "look like probabilities")
