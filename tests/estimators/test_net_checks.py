"""scikit-learn's estimator checks on the default-module Torch estimators."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from fireworks_sk import TorchClassifier, TorchRegressor

# Every check passes; a check that had to be skipped would be listed here with
# the reason it cannot pass, as scikit-learn's ``expected_failed_checks`` asks.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [TorchClassifier(), TorchRegressor()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
