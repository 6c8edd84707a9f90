"""Each private API of a dependency in fireworks_sk._compat behaves as relied upon.

A failure here means a dependency moved or changed one of them: fix the entry
in ``fireworks_sk/_compat.py`` (or switch to a public API that now exists).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNet, NeuralNetRegressor

from fireworks_sk import TorchClassifier, TorchRegressor
from fireworks_sk._compat import (
    SKORCH_BOOKKEEPING_PARAMS,
    BaseComposition,
    InvalidParameterError,
    LazySignature,
    composition_params,
    frame_blocks,
    get_feature_names,
    set_composition_params,
    skorch_init_done,
    skorch_module_names,
    skorch_modules,
    transform_output,
)


def _regression_data(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    return X, X.sum(axis=1, keepdims=True)


def _skorch_regressor(**params) -> NeuralNetRegressor:
    return NeuralNetRegressor(
        torch.nn.Linear,
        module__in_features=3,
        module__out_features=1,
        max_epochs=1,
        train_split=None,
        verbose=0,
        **params,
    )


# ------------------------------------------------------------- scikit-learn
def test_invalid_parameter_error_is_what_scikit_learn_raises_for_a_bad_param():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
    with pytest.raises(InvalidParameterError, match="'C' parameter of"):
        LogisticRegression(C=-1.0).fit([[0.0], [1.0]], [0, 1])


def test_transform_output_follows_set_output_then_the_global_config():
    scaler = StandardScaler()
    assert transform_output(scaler) == "default"
    with sklearn.config_context(transform_output="pandas"):
        assert transform_output(scaler) == "pandas"
        scaler.set_output(transform="default")
        assert transform_output(scaler) == "default"  # its own setting wins
    scaler.set_output(transform="pandas")
    assert transform_output(scaler) == "pandas"


class _Parts(BaseComposition):
    """A composition of (name, estimator) pairs, as Junction is."""

    def __init__(self, parts):
        self.parts = parts

    def get_params(self, deep=True):
        return composition_params(self, "parts", deep=deep)

    def set_params(self, **params):
        return set_composition_params(self, "parts", **params)


def test_composition_params_route_params_through_named_pairs():
    first, second = StandardScaler(), StandardScaler()
    parts = _Parts([("first", first), ("second", second)])
    params = parts.get_params(deep=True)
    assert params["first"] is first
    assert params["second__with_mean"] is True
    assert "first__with_mean" not in parts.get_params(deep=False)

    assert parts.set_params(second__with_mean=False) is parts
    assert second.with_mean is False
    replacement = StandardScaler(with_std=False)
    parts.set_params(first=replacement)
    assert parts.parts == [("first", replacement), ("second", second)]


def test_get_feature_names_reads_string_column_names_only():
    names = get_feature_names(pd.DataFrame({"a": [1], "b": [2]}))
    assert list(names) == ["a", "b"]
    assert get_feature_names(pd.DataFrame([[1, 2]])) is None
    assert get_feature_names(np.ones((1, 2))) is None
    with pytest.raises(TypeError, match="only supported if all input features"):
        get_feature_names(pd.DataFrame({"a": [1], 0: [2]}))


# ------------------------------------------------------------------- skorch
def test_frame_blocks_say_where_each_column_of_a_frame_is():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4], "c": [5.0, 6.0]})
    frame["s"] = ["x", "y"]
    frame["d"] = np.array([7.0, 8.0])
    arrays, numbers, rows = frame_blocks(frame)
    assert len(numbers) == len(rows) == 5
    for position, name in enumerate(frame.columns):
        block = arrays[numbers[position]]
        assert block.dtype == frame.dtypes[name]
        if isinstance(block, np.ndarray):  # numpy blocks: (columns, rows)
            assert block.shape[1] == 2
            np.testing.assert_array_equal(block[rows[position]], frame[name])
        else:
            assert list(block) == frame[name].tolist()
    assert numbers[0] == numbers[2] and rows[2] == rows[0] + 1  # held together
    assert frame_blocks(np.zeros((2, 2))) is None


def test_skorch_module_names_name_the_modules_and_criteria_of_a_net():
    net = _skorch_regressor().initialize()
    names = skorch_module_names(net)
    assert names == ["module", "criterion"]
    assert all(isinstance(getattr(net, f"{n}_"), torch.nn.Module) for n in names)


def test_skorch_modules_name_the_modules_skorch_requires_when_fitted():
    net = _skorch_regressor()
    assert skorch_modules(net) == []  # filled in by initialize
    net.initialize()
    assert skorch_modules(net) == ["module"]
    assert isinstance(net.module_, torch.nn.Module)


def test_skorch_init_done_tells_whether_neural_net_init_has_run():
    seen = []

    class Early(NeuralNetRegressor):
        def __init__(self, **params):
            seen.append(skorch_init_done(self))
            super().__init__(torch.nn.Linear, **params)

    net = Early()
    assert seen == [False]
    assert skorch_init_done(net)


def test_skorch_lists_its_bookkeeping_among_param_names_and_ours_drop_it():
    # When skorch stops listing them, drop SKORCH_BOOKKEEPING_PARAMS.
    skorch_names = set(NeuralNet(torch.nn.Linear, torch.nn.MSELoss)._get_param_names())
    assert SKORCH_BOOKKEEPING_PARAMS <= skorch_names
    for cls in (TorchClassifier, TorchRegressor):
        assert not SKORCH_BOOKKEEPING_PARAMS & set(cls().get_params())


def test_skorch_calls_set_training_before_training_and_predicting():
    """_MessageNet overrides the hook; it must still be the one skorch calls."""
    modes = []

    class Recording(NeuralNetRegressor):
        def _set_training(self, training=True):
            modes.append(training)
            super()._set_training(training)

    X, y = _regression_data()
    net = Recording(
        torch.nn.Linear,
        module__in_features=3,
        module__out_features=1,
        max_epochs=1,
        batch_size=4,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    assert modes == [True, True]  # one call per training batch
    modes.clear()
    net.predict(X)
    assert modes == [False, False]  # one per prediction batch


# -------------------------------------------------------------------- torch
def test_has_lazy_parameters_until_a_lazy_layers_first_forward():
    # Public torch API (nn.UninitializedParameter), not torch.nn.parameter.is_lazy.
    from fireworks_sk.estimators._module import has_lazy_parameters

    module = torch.nn.Sequential(torch.nn.LazyLinear(2), torch.nn.ReLU())
    assert has_lazy_parameters(module)
    module(torch.zeros(1, 3))
    assert not has_lazy_parameters(module)
    assert not has_lazy_parameters(torch.nn.Linear(3, 2))
    assert not has_lazy_parameters(torch.nn.ReLU())


# ------------------------------------------------------------- the rule
_DEPENDENCIES = (
    "dask",
    "distributed",
    "joblib",
    "numpy",
    "pandas",
    "pyarrow",
    "sklearn",
    "skops",
    "skorch",
    "sqlalchemy",
    "torch",
)


def _private_dependency_uses(path) -> list[str]:
    """Imports of a dependency's private module or name, and attributes of
    an imported dependency module whose names start with an underscore."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _DEPENDENCIES:
                    aliases.add(alias.asname or alias.name.split(".")[0])
                    if any(p.startswith("_") for p in alias.name.split(".")):
                        found.append(f"{path.name}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module.split(".")[0] not in _DEPENDENCIES:
                continue
            names = [a.name for a in node.names]
            if any(p.startswith("_") for p in node.module.split(".")) or any(
                n.startswith("_") for n in names
            ):
                found.append(f"{path.name}:{node.lineno} from {node.module} {names}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                if not node.attr.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def _inherited_private_uses(module) -> list[str]:
    """``self._name`` in a class of ``module`` where ``_name`` is a private
    method or attribute the class inherits from a dependency's class."""
    import ast
    import inspect
    import textwrap

    found = []
    for cls in vars(module).values():
        if not inspect.isclass(cls) or cls.__module__ != module.__name__:
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                continue
            owner = next((k for k in cls.__mro__ if node.attr in vars(k)), None)
            if owner is not None and owner.__module__.split(".")[0] in _DEPENDENCIES:
                found.append(
                    f"{cls.__name__}: self.{node.attr} of "
                    f"{owner.__module__}.{owner.__qualname__}"
                )
    return found


class _ReachingIn(BaseComposition):
    """What the rule below forbids outside _compat: a dependency's private
    method called as one's own."""

    def get_params(self, deep=True):
        return self._get_params("parts", deep=deep)


def test_the_rule_sees_a_private_method_inherited_from_a_dependency():
    import sys

    assert _inherited_private_uses(sys.modules[__name__]) == [
        "_ReachingIn: self._get_params of sklearn.utils.metaestimators._BaseComposition"
    ]


def test_private_apis_of_dependencies_are_used_in_compat_only():
    from pathlib import Path

    import fireworks_sk

    package = Path(fireworks_sk.__file__).parent
    compat = package / "_compat.py"
    assert _private_dependency_uses(compat)  # the check sees what it looks for
    uses = [
        use
        for path in sorted(package.rglob("*.py"))
        if path != compat
        for use in _private_dependency_uses(path)
    ]
    assert uses == [], "move these into fireworks_sk/_compat.py: " + "; ".join(uses)


# The extras' top-level modules (pyproject.toml): a module needing one that
# is not installed is left out, as the core test run on the oldest versions
# installs none of them.
_EXTRAS = {
    "dask",
    "distributed",
    "matplotlib",
    "polars",
    "psycopg",
    "pyarrow",
    "skops",
    "sqlalchemy",
    "starlette",
    "tqdm",
    "uvicorn",
}


def _import_if_installed(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] in _EXTRAS:
            return None
        raise


def test_classes_call_no_private_method_inherited_from_a_dependency():
    import pkgutil

    import fireworks_sk

    modules = [
        _import_if_installed(info.name)
        for info in pkgutil.walk_packages(fireworks_sk.__path__, "fireworks_sk.")
        if info.name.rpartition(".")[2] not in {"__main__", "_compat"}
    ]
    uses = [
        f"{module.__name__}: {use}"
        for module in modules
        if module is not None
        for use in _inherited_private_uses(module)
    ]
    assert uses == [], "route these through fireworks_sk/_compat.py: " + "; ".join(uses)


# ------------------------------------------------------------------- python
def test_lazy_signature_builds_once_on_first_use_and_acts_as_the_built_one():
    def f(a, b=2, *, c=3):
        return a

    built, real = [], inspect.signature(f)

    def build():
        built.append(True)
        return real

    lazy = LazySignature(build)
    assert built == []
    f.__signature__ = lazy
    assert str(inspect.signature(f)) == "(a, b=2, *, c=3)"
    assert list(lazy.parameters) == ["a", "b", "c"]
    assert lazy.bind(1).arguments == {"a": 1}
    assert (
        lazy == inspect.signature(f)
        and lazy.return_annotation is inspect.Signature.empty
    )
    assert built == [True]
