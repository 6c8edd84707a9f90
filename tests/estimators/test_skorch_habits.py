"""skorch's habits on the Torch estimators: datasets, splits, callbacks, classes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from sklearn.metrics import accuracy_score
from skorch.callbacks import Callback, EpochScoring, InputShapeSetter
from skorch.dataset import Dataset, ValidSplit
from skorch.exceptions import SkorchAttributeError
from skorch.helper import predefined_split
from skorch.history import History
from torch import nn

from fireworks_sk import Message, TorchClassifier, TorchRegressor
from fireworks_sk.estimators import MessageDataset
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.schema import Schema


class EndlessDataset(torch.utils.data.Dataset):
    """A Dataset whose __getitem__ never raises IndexError (a common sight)."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.full((3,), float(i % 2)), i % 2


def test_dataset_as_x_is_read_by_its_length_as_in_skorch():
    dataset = EndlessDataset()
    clf = TorchClassifier(nn.Linear, module__in_features=3, module__out_features=2)
    clf.set_params(max_epochs=2, batch_size=4, random_state=0).fit(
        dataset, np.arange(10) % 2
    )
    assert clf.classes_.tolist() == [0, 1]
    assert clf.history[-1, "batches"][-1]["train_batch_size"] == 2
    assert clf.predict(dataset).shape == (10,)


def test_tensor_dataset_as_x_trains_as_in_skorch(coded):
    X, y = coded
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    clf = TorchClassifier(nn.Linear, module__in_features=4, module__out_features=2)
    clf.set_params(max_epochs=3, random_state=0).fit(dataset, y)
    assert clf.history[-1, "train_loss"] < clf.history[0, "train_loss"]
    assert clf.predict(dataset).shape == (60,)


def test_data_loader_as_iterator_reads_message_datasets(coded):
    X, y = coded
    clf = TorchClassifier(
        max_epochs=2, iterator_train=torch.utils.data.DataLoader, random_state=0
    ).fit(X, y)
    assert len(clf.history) == 2 and clf.predict(X).shape == (60,)


@pytest.fixture
def coded():
    """Integer-coded labels 0/1 and float32 inputs, as skorch users have them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def test_predefined_split_takes_a_skorch_dataset_of_user_labels(blobs):
    X, y = blobs
    valid = Dataset(X[:30], y[:30])
    clf = TorchClassifier(
        max_epochs=2, train_split=predefined_split(valid), random_state=0
    ).fit(X, y)
    assert np.isfinite(clf.history[:, "valid_loss"]).all()


def test_input_shape_setter_reads_the_users_x(coded):
    X, y = coded

    class Net(nn.Module):
        def __init__(self, input_dim=1):
            super().__init__()
            self.layer = nn.Linear(input_dim, 2)

        def forward(self, x):
            return self.layer(x)

    clf = TorchClassifier(
        Net, max_epochs=1, callbacks=[InputShapeSetter()], random_state=0
    ).fit(X, y)
    assert clf.module_.layer.in_features == 4


def test_callbacks_see_x_and_y_as_passed_to_fit(blobs):
    X, y = blobs
    seen = []

    class Spy(Callback):
        def on_train_begin(self, net, X=None, y=None, **kwargs):
            seen.append((X, y))

    TorchClassifier(max_epochs=1, callbacks=[Spy()]).fit(X, y)
    assert seen[0][0] is X and seen[0][1] is y


def test_scoring_without_caching_gets_the_true_targets(coded):
    X, y = coded
    scoring = EpochScoring("accuracy", use_caching=False, name="acc")
    clf = TorchClassifier(
        max_epochs=2, train_split=ValidSplit(3), callbacks=[scoring], random_state=0
    ).fit(X, y)
    assert clf.history[-1, "acc"] == _valid_accuracy(clf, X, y)
    clf.set_params(use_caching=False).fit(X, y)
    assert clf.history[-1, "valid_acc"] == _valid_accuracy(clf, X, y)


def _valid_accuracy(clf, X, y):
    """Accuracy of the fitted ``clf`` on the validation rows of its split."""
    _, valid = clf.get_split_datasets(X, y)
    return accuracy_score(y[valid.indices], clf.predict(X[valid.indices]))


def test_train_split_may_read_dataset_x_and_y_and_rebuild_it(coded):
    X, y = coded

    def split(dataset, y):
        keep = type(dataset)(dataset.X[:40], dataset.y[:40])
        return keep, type(dataset)(dataset.X[40:], dataset.y[40:])

    clf = TorchClassifier(max_epochs=1, train_split=split).fit(X, y)
    assert clf.history[-1, "valid_loss"] > 0
    assert clf.history[-1, "batches"][-1]["valid_batch_size"] == 20


def test_message_dataset_x_and_y_round_trip():
    inputs = {"a": torch.zeros(4, 2), "b": torch.ones(4)}
    ds = MessageDataset(inputs, torch.arange(4))
    again = type(ds)(ds.X, ds.y)
    assert set(again.X) == {"a", "b"} and not again.positional
    assert MessageDataset(torch.zeros(4, 3)).positional
    with pytest.raises(ValueError, match="X has 4 rows but y has 3"):
        MessageDataset(torch.zeros(4, 3), torch.arange(3))


def test_classes_name_integer_coded_labels(coded):
    X, y = coded
    clf = TorchClassifier(max_epochs=1, classes=["neg", "pos"]).fit(X, y)
    assert clf.classes_.tolist() == ["neg", "pos"]
    most_probable = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    assert clf.predict(X).tolist() == most_probable.tolist()


def test_integer_labels_outside_the_classes_are_still_refused(coded):
    X, y = coded
    with pytest.raises(ValueError, match=r"labels \[3\] that are not in classes_"):
        TorchClassifier(max_epochs=1, classes=[0, 1, 2]).fit(X, y + 2 * y)


def test_empty_classes_hide_classes_as_in_skorch(coded):
    X, y = coded
    clf = TorchClassifier(max_epochs=1, classes=[]).fit(X, y)
    with pytest.raises(AttributeError, match="has no attribute 'classes_'"):
        clf.classes_  # noqa: B018
    assert clf.predict(X).tolist() == clf.predict_proba(X).argmax(axis=1).tolist()


def test_subclass_may_set_a_module_before_init(coded):
    class Net(TorchClassifier):
        def __init__(self, *args, **kwargs):
            self.module2 = nn.Linear(4, 2)
            super().__init__(*args, **kwargs)

    clf = Net(max_epochs=1)
    assert isinstance(clf.module2, nn.Linear)
    clf.fit(*coded)
    with pytest.raises(SkorchAttributeError, match="outside of an initialize"):
        clf.module3 = nn.Linear(4, 2)


def test_history_passed_in_is_kept(coded):
    class MyHistory(History):
        pass

    clf = TorchClassifier(max_epochs=2, history=MyHistory()).fit(*coded)
    assert isinstance(clf.history, MyHistory) and len(clf.history) == 2


class TaggedDataset(Dataset):
    """skorch's Dataset with an extra argument, as users subclass it."""

    def __init__(self, X, y=None, *, tag=None):
        super().__init__(X, y)
        self.tag = tag


@pytest.mark.parametrize(
    "params",
    [
        {"dataset": TaggedDataset, "dataset__tag": "a"},
        {"dataset": partial(TaggedDataset, tag="a")},
    ],
    ids=["class-and-arguments", "partial"],
)
def test_dataset_may_be_your_own_as_in_skorch(coded, params):
    X, y = coded
    clf = TorchClassifier(nn.Linear, module__in_features=4, module__out_features=2)
    clf.set_params(max_epochs=1, **params).fit(X, y)
    assert clf.get_dataset(X).tag == "a"
    assert clf.predict(X).shape == (60,)


def test_dataset_instance_with_arguments_is_refused_as_in_skorch(coded):
    clf = TorchClassifier(nn.Linear, module__in_features=4, module__out_features=2)
    clf.set_params(max_epochs=1, dataset=Dataset(*coded), dataset__tag="a")
    with pytest.raises(TypeError, match="Trying to pass an initialized Dataset"):
        clf.fit(*coded)


def test_sparse_input_is_densified_as_batches_are_read(coded):
    X, y = coded
    matrix = sparse.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
    clf = TorchClassifier(nn.Linear, module__in_features=4, module__out_features=2)
    clf.set_params(max_epochs=2, random_state=0).fit(matrix, y)
    assert np.array_equal(clf.predict(matrix), clf.predict(matrix.toarray()))


def test_sparse_input_to_an_initialised_net_is_fed_unchecked_as_dense_input_is(coded):
    X, _ = coded
    net = TorchRegressor(nn.Linear, module__in_features=4, module__out_features=1)
    net.set_params(random_state=0).initialize()
    predicted = net.predict(sparse.csr_matrix(X))
    np.testing.assert_array_equal(predicted, net.predict(X))


def test_sparse_input_to_a_net_fitted_on_named_columns_warns_as_an_array_does():
    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    net = TorchRegressor(max_epochs=1, random_state=0)
    net.fit(pd.DataFrame(X, columns=["a", "b", "c"]), X.sum(axis=1))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        predicted = net.predict(sparse.csr_matrix(X))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(predicted, net.predict(X))


def test_sparse_input_cannot_name_the_columns_fed_one_by_one():
    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    message = Message({"a": torch.from_numpy(X[:, :2]), "b": torch.from_numpy(X[:, 2])})
    net = TorchRegressor(max_epochs=1, random_state=0).fit(message, X.sum(axis=1))
    with pytest.raises(SchemaError, match=r"columns \['a', 'b'\], .* sparse matrix"):
        net.predict(sparse.csr_matrix(X))


def test_sparse_input_records_the_schema_of_the_dense_array(blobs):
    X, y = blobs
    dense = TorchClassifier(max_epochs=1, random_state=0).fit(X, y)
    fitted = TorchClassifier(max_epochs=1, random_state=0).fit(sparse.csr_matrix(X), y)
    assert isinstance(fitted._schema_, Schema)
    assert fitted._schema_ == dense._schema_


def test_sparse_input_keeps_string_labels_and_the_default_module(blobs):
    X, y = blobs
    clf = TorchClassifier(max_epochs=2, random_state=0).fit(sparse.csr_matrix(X), y)
    most_probable = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    assert clf.predict(sparse.csr_matrix(X)).tolist() == most_probable.tolist()
    with pytest.raises(ValueError, match="X has 3 features, but TorchClassifier"):
        clf.predict(sparse.csr_matrix(X[:, :3]))


class TwoHeads(nn.Module):
    """Three class scores for each of two targets: output (n, 3, 2)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 6)

    def forward(self, x):
        return self.layer(x).reshape(-1, 3, 2)


def test_classifier_takes_several_class_indices_per_row(coded):
    X, _ = coded
    y = np.random.default_rng(1).choice(["a", "b", "c"], size=(60, 2))
    clf = TorchClassifier(TwoHeads, max_epochs=2, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    most_probable = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    assert clf.predict(X).shape == (60, 2)
    assert clf.predict(X).tolist() == most_probable.tolist()
    with pytest.raises(ValueError, match="y has 1 dimensions but TorchClassifier"):
        clf.partial_fit(X, y[:, 0])


def test_dataset_as_x_is_shuffled_by_random_state(coded):
    X, y = coded
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

    def weights(seed, **params):
        clf = TorchClassifier(nn.Linear, module__in_features=4, module__out_features=2)
        clf.set_params(max_epochs=2, batch_size=8, random_state=seed, **params)
        return clf.fit(dataset, y).module_.weight.detach().clone()

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(0, iterator_train__shuffle=False))


class TargetSpy(Callback):
    """Records the target of every batch, by whether it trained."""

    def __init__(self) -> None:
        self.targets: dict[bool, list] = {True: [], False: []}

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        self.targets[training].append(batch[1])


def test_validation_dataset_without_target_gets_skorchs_placeholder(coded):
    X, _ = coded
    y = X[:, :1] * 2.0

    def split(dataset, y):
        return dataset, type(dataset)(dataset.X, y=None)

    spy = TargetSpy()
    reg = TorchRegressor(
        nn.Linear,
        module__in_features=4,
        module__out_features=1,
        max_epochs=1,
        batch_size=25,
        train_split=split,
        callbacks=[spy],
    ).fit(X, y)
    # skorch's Dataset gives tensor([0.]) per row without a target, which a
    # DataLoader collates to (n, 1) float zeros; the loss is taken against it.
    assert [t.shape for t in spy.targets[False]] == [(25, 1), (25, 1), (10, 1)]
    assert all(t.dtype == torch.float32 and not t.any() for t in spy.targets[False])
    assert reg.history[-1, "valid_loss"] > 0
    row = MessageDataset(torch.zeros(3, 2))[1][1]
    skorch_row = Dataset(np.zeros((3, 2), dtype=np.float32))[1][1]
    assert row.dtype == skorch_row.dtype and torch.equal(row, skorch_row)


def _recording_loss(net, seen):
    def get_loss(y_pred, y_true, **kwargs):
        seen.append(y_true)
        return y_pred.sum() * 0.0

    net.get_loss = get_loss
    return net


def _varying_length_targets() -> np.ndarray:
    y = np.empty(4, dtype=object)
    y[:] = [["b", "a", "b"], ["a"], ["b", "b"], ["a", "b"]]
    return y


def _one_batch_per_row_classifier() -> TorchClassifier:
    return TorchClassifier(
        nn.Linear,
        module__in_features=4,
        module__out_features=2,
        max_epochs=1,
        batch_size=1,
        iterator_train__shuffle=False,
    )


def test_classifier_takes_targets_of_varying_length(coded):
    X, _ = coded
    X = X[:4]
    y = _varying_length_targets()
    seen = []
    clf = _one_batch_per_row_classifier()
    _recording_loss(clf, seen).fit(X, y)
    # Each row's labels are encoded element by element and fed as they are.
    assert clf.classes_.tolist() == ["a", "b"]
    assert [t.tolist() for t in seen] == [[[1, 0, 1]], [[0]], [[1, 1]], [[0, 1]]]
    y[1] = [["a"]]
    with pytest.raises(ValueError, match=r"sequences of \[1, 2\] dimensions"):
        clf.fit(X, y)


def test_partial_fit_continues_on_targets_of_varying_length(coded):
    X, _ = coded
    y = _varying_length_targets()
    seen = []
    clf = _one_batch_per_row_classifier()
    _recording_loss(clf, seen).partial_fit(X[:4], y)
    clf.partial_fit(X[:2], y[:2])
    # The second call is encoded with the classes of the first.
    assert [t.tolist() for t in seen[4:]] == [[[1, 0, 1]], [[0]]]
    deeper = np.empty(2, dtype=object)
    deeper[:] = [[["a"]], [["b"]]]
    with pytest.raises(ValueError, match="y has 3 dimensions but TorchClassifier"):
        clf.partial_fit(X[:2], deeper)
    with pytest.raises(ValueError, match="y has 1 dimensions but TorchClassifier"):
        clf.partial_fit(X[:2], np.array(["a", "b"]))


def test_regressor_refuses_targets_of_varying_length_clearly(coded):
    X, _ = coded
    y = np.empty(3, dtype=object)
    y[:] = [np.zeros(2), np.zeros(1), np.zeros(3)]
    with pytest.raises(ValueError, match="y holds a sequence per row"):
        TorchRegressor(max_epochs=1).fit(X[:3], y)


def test_classifier_takes_three_dimensional_class_targets(coded):
    X, _ = coded
    y = (np.random.default_rng(2).random((60, 3, 1)) > 0.5).astype(np.float32)
    seen = []
    clf = TorchClassifier(
        nn.Linear,
        module__in_features=4,
        module__out_features=2,
        max_epochs=1,
        batch_size=30,
        iterator_train__shuffle=False,
    )
    _recording_loss(clf, seen).fit(X, y)
    assert clf.classes_.tolist() == [0.0, 1.0]
    assert [t.shape for t in seen] == [(30, 3, 1), (30, 3, 1)]
    assert torch.equal(torch.cat(seen), torch.from_numpy(y.astype(np.int64)))


def test_dataset_x_is_numpy_as_skorchs_scorers_expect(coded):
    X, _ = coded
    y = X[:, :1] * 2.0
    means = []

    def mean_of_x(net, X, y=None):
        # With caching a scorer gets the dataset, without it the dataset's X.
        means.append(float(np.mean(X.X if isinstance(X, Dataset) else X)))
        return means[-1]

    def split(dataset, y):
        return dataset, type(dataset)(dataset.X, y=None)

    TorchRegressor(
        nn.Linear,
        module__in_features=4,
        module__out_features=1,
        max_epochs=1,
        train_split=split,
        callbacks=[
            ("cached", EpochScoring(mean_of_x, use_caching=True)),
            ("uncached", EpochScoring(mean_of_x, use_caching=False)),
        ],
    ).fit(X, y)
    assert np.allclose(means, X.mean())


def test_message_dataset_x_shares_memory_with_the_module_input():
    tensor = torch.arange(6.0).reshape(3, 2)
    ds = MessageDataset(tensor)
    assert isinstance(ds.X, np.ndarray) and ds.X.dtype == np.float32
    ds.X[0, 0] = 7.0
    assert tensor[0, 0] == 7.0
    named = MessageDataset({"a": tensor, "b": torch.ones(3, dtype=torch.int64)})
    assert {k: v.dtype for k, v in named.X.items()} == {"a": "float32", "b": "int64"}
    # A dtype numpy cannot hold stays a tensor.
    half = MessageDataset(tensor.to(torch.bfloat16))
    assert torch.is_tensor(half.X) and half.X.dtype == torch.bfloat16
