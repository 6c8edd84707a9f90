"""pytest plugin: run skorch's own tests against TorchClassifier / TorchRegressor.

Loaded with ``-p _skorch_suite_plugin`` in a separate pytest process (see
``test_skorch_suite.py``). It replaces ``skorch.NeuralNetClassifier`` and
``skorch.NeuralNetRegressor``, which skorch's tests import inside their
fixtures, with thin subclasses of the Torch estimators that restore skorch's
defaults, so that only the differences that are not a default show. skorch's
``NeuralNet`` is left alone: it has no classifier or regressor semantics and
the tests that use it test skorch's base class itself.

With the environment variable ``SKORCH_SUITE_STOCK=1`` nothing is replaced,
which measures stock skorch with the same selection and the same stubs.

Outcomes are written as JSON to the path in ``SKORCH_SUITE_REPORT``: for each
test id, ``"passed"``, ``"failed"`` or ``"skipped"``, and whether the test built
one of the substituted estimators.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import types

import pytest
import skorch
import torch
from skorch.dataset import ValidSplit

from fireworks_sk import TorchClassifier, TorchRegressor

# Tests that built a substituted estimator, by id; a test id is "in use" while
# it runs.
_USED: set[str] = set()
_CURRENT: list[str] = []
# Test id -> "passed", "failed" or "skipped" (an expected failure counts as skipped).
_OUTCOMES: dict[str, str] = {}
# Test id -> the first line of its error, for failures.
_ERRORS: dict[str, str] = {}


def _mark_used() -> None:
    if _CURRENT:
        _USED.add(_CURRENT[0])


class NeuralNetClassifier(TorchClassifier):
    """TorchClassifier with skorch's defaults: what skorch's tests expect."""

    def __init__(
        self,
        module=None,
        *,
        criterion=torch.nn.NLLLoss,
        optimizer=torch.optim.SGD,
        max_epochs=10,
        train_split=ValidSplit(5, stratified=True),  # noqa: B008 (skorch's default)
        verbose=1,
        **kwargs,
    ):
        _mark_used()
        kwargs.setdefault("iterator_train__shuffle", False)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            max_epochs=max_epochs,
            train_split=train_split,
            verbose=verbose,
            **kwargs,
        )


class NeuralNetRegressor(TorchRegressor):
    """TorchRegressor with skorch's defaults: what skorch's tests expect."""

    def __init__(
        self,
        module=None,
        *,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.SGD,
        max_epochs=10,
        train_split=ValidSplit(5),  # noqa: B008 (skorch's default)
        verbose=1,
        **kwargs,
    ):
        _mark_used()
        kwargs.setdefault("iterator_train__shuffle", False)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            max_epochs=max_epochs,
            train_split=train_split,
            verbose=verbose,
            **kwargs,
        )


def _flaky(max_runs: int = 2, min_passes: int = 1, **kwargs):
    """flaky's decorator, reduced to what skorch's tests use: run the test up
    to ``max_runs`` times until it passes once (they seed from the clock)."""

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kw):
            for attempt in range(max_runs):
                try:
                    return func(*args, **kw)
                except Exception:
                    if attempt == max_runs - 1:
                        raise
                    # The tests seed from int(time.time()): a rerun within the
                    # same second would repeat the same draw.
                    time.sleep(1.05 - time.time() % 1)
            return None

        return run

    return decorate


def _stub_flaky() -> None:
    # skorch's test_net.py imports flaky (a rerun plugin) for a test that seeds
    # torch from the clock; without it installed, the stub reruns that test as
    # flaky would, so that neither run (ours, stock) fails by chance alone.
    if "flaky" in sys.modules:
        return
    try:
        import flaky  # noqa: F401
    except ImportError:
        stub = types.ModuleType("flaky")
        stub.flaky = _flaky
        sys.modules["flaky"] = stub


def pytest_configure(config: pytest.Config) -> None:
    _stub_flaky()
    if os.environ.get("SKORCH_SUITE_STOCK") != "1":
        skorch.NeuralNetClassifier = NeuralNetClassifier
        skorch.NeuralNetRegressor = NeuralNetRegressor


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _CURRENT[:] = [item.nodeid]
    yield
    _CURRENT.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    outcomes = _OUTCOMES
    if report.failed:
        outcomes[report.nodeid] = "failed"
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        _ERRORS.setdefault(report.nodeid, message.splitlines()[0][:300])
    elif report.skipped:
        outcomes.setdefault(report.nodeid, "skipped")
    elif report.when == "call" and hasattr(report, "wasxfail"):
        outcomes.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        outcomes.setdefault(report.nodeid, "passed")


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("SKORCH_SUITE_REPORT")
    if not path:
        return
    report = {"outcomes": _OUTCOMES, "errors": _ERRORS, "used": sorted(_USED)}
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=0, sort_keys=True)
