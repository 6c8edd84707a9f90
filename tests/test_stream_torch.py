"""fit_stream and predict_stream with a TorchClassifier at the end of the Pipeline.

One epoch is one pass over the stream; the chunks are batches of the epoch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit

from fireworks_sk import (
    BatchNormalizer,
    OneHot,
    Stack,
    TorchClassifier,
    TorchRegressor,
    fit_stream,
    predict_stream,
)
from fireworks_sk.sources import DataFrameSource
from tests._data import shops_frame

ROWS = 240  # shops_frame(); in chunks of 50: 50, 50, 50, 50, 40


def _model(seed: int = 0, **net_params) -> Pipeline:
    params = {"max_epochs": 6, "lr": 0.05, "batch_size": 32, "random_state": seed}
    net = TorchClassifier(**{**params, **net_params})
    return Pipeline(
        [
            ("scale", BatchNormalizer(["a", "b"])),
            ("onehot", OneHot(["shop"])),
            ("stack", Stack(into="features")),
            ("net", net),
        ]
    )


def _fit(model: Pipeline, chunk_size: int = 50, frame=None, **kwargs) -> Pipeline:
    frame = shops_frame() if frame is None else frame
    return fit_stream(
        model, DataFrameSource(frame, chunk_size), y="label", verbose=0, **kwargs
    )


def _weights_equal(first, second) -> bool:
    a, b = first.module_.state_dict(), second.module_.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_fit_stream_records_one_history_row_per_pass():
    frame = shops_frame()
    model = _fit(_model())
    net = model[-1]
    assert len(net.history_) == net.max_epochs == 6
    assert net.history_[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    # Each chunk is cut into batches of its own: 50 rows make 32 + 18, the
    # last chunk 32 + 8; the source is never concatenated.
    for row in net.history_:
        sizes = sorted(b["train_batch_size"] for b in row["batches"])
        assert sizes == sorted([32, 18] * 4 + [32, 8])
        assert row["train_batch_count"] == 10
        # train_loss is the row-weighted mean of the epoch's batch losses.
        losses = [b["train_loss"] for b in row["batches"]]
        weights = [b["train_batch_size"] for b in row["batches"]]
        assert row["train_loss"] == pytest.approx(np.average(losses, weights=weights))
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


def test_epochs_argument_overrides_max_epochs():
    net = _fit(_model(), epochs=2)[-1]
    assert len(net.history_) == 2
    with pytest.raises(ValueError, match="epochs"):
        _fit(_model(), epochs=0)


def test_one_chunk_of_the_whole_data_trains_exactly_as_fit():
    # Same rows, same batches, same shuffle order and dropout seeds: the
    # stream of one chunk is fit, bit for bit.
    frame = shops_frame()
    params = {"module__dropout": 0.2}
    streamed = _fit(_model(seed=5, **params), chunk_size=ROWS)[-1]
    in_memory = _model(seed=5, **params).fit(
        frame.drop(columns="label"), frame["label"]
    )
    assert _weights_equal(streamed, in_memory[-1])
    assert streamed.history_[:, "train_loss"] == in_memory[-1].history_[:, "train_loss"]


def test_several_chunks_train_differently_from_one():
    # Chunks bound the batches (a batch never spans two chunks), so a stream
    # of several chunks is a different, equally valid, order of training.
    one = _fit(_model(seed=5), chunk_size=ROWS)[-1]
    several = _fit(_model(seed=5), chunk_size=50)[-1]
    assert not _weights_equal(one, several)


def test_fit_stream_of_a_torch_classifier_is_reproducible_bit_for_bit():
    first = _fit(_model(seed=3))[-1]
    second = _fit(_model(seed=3))[-1]
    other = _fit(_model(seed=4))[-1]
    assert _weights_equal(first, second)
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]
    assert not _weights_equal(first, other)


class FirstRows(Callback):
    """Records the first input row of every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.rows_ = []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history[-1]["batches"]) == 1:
            self.rows_.append(batch[0][0].tolist())


def _first_rows(model: Pipeline, **kwargs) -> list[list[float]]:
    model.set_params(net__callbacks=[("first", FirstRows())])
    net = _fit(model, **kwargs)[-1]
    return dict(net.callbacks_)["first"].rows_


def test_each_epoch_visits_the_stream_in_a_seeded_order():
    first = _first_rows(_model(seed=1, lr=0.0))
    assert first == _first_rows(_model(seed=1, lr=0.0))
    assert first != _first_rows(_model(seed=2, lr=0.0))
    assert len({tuple(r) for r in first}) > 1  # a new order every epoch
    # fit_stream's random_state seeds the chunk order in place of the net's.
    assert _first_rows(_model(seed=1, lr=0.0), random_state=7) == _first_rows(
        _model(seed=1, lr=0.0), random_state=7
    )


def test_unshuffled_stream_starts_every_epoch_with_the_first_chunk():
    model = _model(lr=0.0, iterator_train__shuffle=False)
    rows = _first_rows(model, shuffle=False)
    scaled = model[:-1].transform(shops_frame().drop(columns="label"))
    expected = scaled["features"][0].tolist()
    assert rows == [pytest.approx(expected)] * 6


def test_early_stopping_stops_the_passes_on_a_plateau():
    # lr=0: the loss does not move, so patience=2 ends training after the
    # first epoch and two without improvement.
    stop = EarlyStopping(monitor="train_loss", patience=2, threshold=1e-3)
    net = _fit(_model(lr=0.0, max_epochs=20, callbacks=[stop]))[-1]
    assert len(net.history_) == 3
    # The same callback lets a net whose loss keeps falling run every pass.
    learning = EarlyStopping(monitor="train_loss", patience=2, threshold=1e-3)
    net = _fit(_model(lr=0.005, max_epochs=6, callbacks=[learning]))[-1]
    assert len(net.history_) == 6


def test_lr_scheduler_steps_once_per_pass():
    scheduler = LRScheduler(
        policy=torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5
    )
    net = _fit(_model(lr=0.08, max_epochs=4, callbacks=[scheduler]))[-1]
    assert net.history_[:, "event_lr"] == pytest.approx([0.08, 0.04, 0.02, 0.01])
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.005)


def test_checkpoint_saves_once_per_pass(tmp_path):
    checkpoint = Checkpoint(
        monitor=None, dirname=str(tmp_path), f_params="params_{last_epoch[epoch]}.pt"
    )
    net = _fit(_model(max_epochs=3, callbacks=[checkpoint]))[-1]
    saved = sorted(p.name for p in tmp_path.glob("params_*.pt"))
    assert saved == ["params_1.pt", "params_2.pt", "params_3.pt"]
    last = torch.load(tmp_path / "params_3.pt", weights_only=True)
    state = net.module_.state_dict()
    assert all(torch.equal(last[k], state[k]) for k in state)


def test_validation_source_scores_every_pass():
    frame = shops_frame()
    train, held_out = frame.iloc[:180], frame.iloc[180:].reset_index(drop=True)
    valid = DataFrameSource(held_out, 25)
    model = _fit(_model(max_epochs=3), frame=train, valid=valid)
    net = model[-1]
    assert len(net.history_) == 3
    assert all(row["valid_batch_count"] == 3 for row in net.history_)  # 25+25+10
    # The last epoch's valid_loss is the criterion on the held-out rows with
    # the final weights.
    features = model[:-1].transform(held_out.drop(columns="label"))
    logits = net.forward(features)
    codes = torch.from_numpy(np.searchsorted(net.classes_, held_out["label"]))
    expected = torch.nn.functional.cross_entropy(logits, codes).item()
    assert net.history_[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)


def test_early_stopping_on_valid_loss_with_a_validation_source():
    frame = shops_frame()
    valid = DataFrameSource(frame.iloc[180:].reset_index(drop=True), 30)
    stop = EarlyStopping(patience=2, threshold=1e-3)  # monitors valid_loss
    model = _model(lr=0.0, max_epochs=20, callbacks=[stop])
    net = _fit(model, frame=frame.iloc[:180], valid=valid)[-1]
    assert len(net.history_) == 3


def test_train_split_is_refused_under_streams():
    model = _model(train_split=ValidSplit(5))
    with pytest.raises(ValueError, match=r"train_split=.*valid=\.\.\."):
        _fit(model)
    assert not hasattr(model[0], "mean_")


def test_validation_source_needs_a_target_column_and_a_torch_estimator():
    frame = shops_frame()
    valid = DataFrameSource(frame, 50)
    X = frame.drop(columns="label")
    with pytest.raises(TypeError, match="valid=.*needs y to name the target column"):
        fit_stream(
            _model(), DataFrameSource(X, 50), y=frame["label"], valid=valid, verbose=0
        )
    linear = Pipeline(
        [("scale", BatchNormalizer(["a", "b"])), ("sgd", SGDClassifier())]
    )
    with pytest.raises(TypeError, match="SGDClassifier has no epochs to score"):
        fit_stream(
            linear,
            DataFrameSource(frame.drop(columns="shop"), 50),
            y="label",
            valid=valid,
            verbose=0,
        )


def test_interrupt_from_a_callback_ends_training_as_in_fit():
    class StopAt(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    net = _fit(_model(callbacks=[StopAt()]))[-1]
    assert len(net.history_) == 2


def test_error_in_a_later_pass_leaves_the_pipeline_as_it_was():
    model = _fit(_model(max_epochs=2))
    before = {k: v.clone() for k, v in model[-1].module_.state_dict().items()}
    bad = shops_frame()
    bad.loc[130, "label"] = "maybe"  # unknown class in the third chunk
    with pytest.raises(ValueError, match="maybe"):
        _fit(model, frame=bad, classes=["no", "yes"])
    state = model[-1].module_.state_dict()
    assert all(torch.equal(before[k], state[k]) for k in before)
    assert len(model[-1].history_) == 2


def test_fit_stream_leaves_the_source_frame_unchanged():
    frame = shops_frame()
    copy = frame.copy()
    _fit(_model(max_epochs=1), frame=frame)
    pd.testing.assert_frame_equal(frame, copy)


def test_target_as_an_array_trains_as_a_target_column():
    frame = shops_frame()
    by_column = _fit(_model(seed=2))[-1]
    X = frame.drop(columns="label")
    by_array = fit_stream(
        _model(seed=2), DataFrameSource(X, 50), y=frame["label"], verbose=0
    )[-1]
    assert _weights_equal(by_column, by_array)


def test_torch_regressor_trains_one_epoch_per_pass():
    frame = shops_frame().drop(columns=["label", "shop"])
    frame["target"] = 2.0 * frame["a"] - frame["b"]
    model = Pipeline(
        [
            ("scale", BatchNormalizer(["a", "b"])),
            ("net", TorchRegressor(max_epochs=30, lr=0.02, random_state=0)),
        ]
    )
    fit_stream(model, DataFrameSource(frame, 64), y="target", verbose=0)
    losses = model[-1].history_[:, "train_loss"]
    assert len(losses) == 30
    assert losses[-1] < losses[0] / 10


def test_a_bare_torch_classifier_streams_without_a_pipeline():
    frame = shops_frame().drop(columns="shop")
    net = TorchClassifier(max_epochs=3, lr=0.05, batch_size=32, random_state=0)
    fit_stream(net, DataFrameSource(frame, 50), y="label", verbose=0)
    assert len(net.history_) == 3
    assert net.feature_names_in_.tolist() == ["a", "b"]


class _PassesByName(SGDClassifier):
    """Not a Torch estimator, whatever its methods are called."""

    def _fit_passes(self, *args, **kwargs):
        raise AssertionError("fit_stream trained a non-Torch estimator by passes")


class _SubclassedNet(TorchClassifier):
    pass


def test_only_the_torch_estimators_train_by_passes():
    frame = shops_frame().drop(columns="shop")
    sgd = fit_stream(_PassesByName(), DataFrameSource(frame, 50), y="label")
    assert sgd.n_iter_ > 0  # trained by partial_fit, chunk by chunk
    net = _SubclassedNet(max_epochs=2, batch_size=32, random_state=0)
    fit_stream(net, DataFrameSource(frame, 50), y="label", verbose=0)
    assert len(net.history_) == 2  # one row per pass, not per chunk


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, r"fit_stream\(random_state=-1\) must be a non-negative int"),
        (True, TypeError, r"fit_stream\(random_state=...\) must be an int; got a bool"),
    ],
)
def test_a_bad_chunk_order_seed_is_refused_before_training(seed, error, match):
    model = _model()
    with pytest.raises(error, match=match):
        _fit(model, random_state=seed)
    assert not hasattr(model[0], "mean_")  # the Pipeline is left as it was
