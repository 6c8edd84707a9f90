"""fit_stream and predict_stream with a TorchClassifier at the end of the Pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline

from fireworks_sk import (
    BatchNormalizer,
    OneHot,
    Stack,
    TorchClassifier,
    fit_stream,
    predict_stream,
)
from fireworks_sk.sources import DataFrameSource
from tests._data import shops_frame


def _frame() -> pd.DataFrame:
    return shops_frame()


def _model(seed: int = 0) -> Pipeline:
    net = TorchClassifier(max_epochs=6, lr=0.05, batch_size=32, random_state=seed)
    return Pipeline(
        [
            ("scale", BatchNormalizer(["a", "b"])),
            ("onehot", OneHot(["shop"])),
            ("stack", Stack(into="features")),
            ("net", net),
        ]
    )


def test_fit_stream_trains_a_torch_classifier_epoch_by_epoch():
    frame = _frame()
    model = fit_stream(_model(), DataFrameSource(frame, 50), y="label", verbose=0)
    net = model[-1]
    # max_epochs passes over 5 chunks; skorch records each partial_fit call.
    assert len(net.history_) == 6 * 5
    assert net.classes_.tolist() == ["no", "yes"]
    X = frame.drop(columns="label")
    assert (model.predict(X) == frame["label"].to_numpy()).mean() > 0.85
    streamed = np.concatenate(
        [
            np.asarray(p)
            for p in predict_stream(model, DataFrameSource(X, 64), verbose=0)
        ]
    )
    np.testing.assert_array_equal(streamed, model.predict(X))


def test_fit_stream_of_a_torch_classifier_is_reproducible_bit_for_bit():
    frame = _frame()
    first = fit_stream(_model(seed=3), DataFrameSource(frame, 50), y="label", verbose=0)
    second = fit_stream(
        _model(seed=3), DataFrameSource(frame, 50), y="label", verbose=0
    )
    other = fit_stream(_model(seed=4), DataFrameSource(frame, 50), y="label", verbose=0)
    weights = [m[-1].module_.state_dict() for m in (first, second, other)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])
