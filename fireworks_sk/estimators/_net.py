"""TorchClassifier and TorchRegressor: skorch nets that read Messages."""

from __future__ import annotations

import functools
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.exceptions import NotInitializedError
from skorch.utils import to_device

from fireworks_sk import _seeding
from fireworks_sk._compat import (
    SKORCH_BOOKKEEPING_PARAMS,
    skorch_init_done,
    skorch_module_names,
)
from fireworks_sk.estimators._data import (
    MessageDataset,
    is_message_dataset,
)
from fireworks_sk.estimators._feeding import (
    batch_iterator,
    is_internal,
    positional,
)
from fireworks_sk.estimators._fitting import prepare_fit
from fireworks_sk.estimators._guards import (
    check_fit_params,
    list_skorch_params,
    optimizer_class,
    restored_net_on_error,
)
from fireworks_sk.estimators._loader import MessageLoader
from fireworks_sk.estimators._module import DefaultMLP
from fireworks_sk.estimators._net_random import (
    begin_epoch,
    cuda_devices,
    fit_context,
    global_draws,
    seed,
    split_context,
)
from fireworks_sk.estimators._predict import fits_one_batch, prediction_dataset
from fireworks_sk.estimators._stream_epochs import fit_passes
from fireworks_sk.estimators._targets import (
    class_labels,
    encode_classes,
    encode_values,
    scoring_target,
)
from fireworks_sk.exceptions import NetNotFittedError
from fireworks_sk.message import Message

__all__ = ["TorchClassifier", "TorchRegressor"]


class _MessageNet:
    """Message input, seeding and MessageLoader feeding for skorch nets.

    Subclasses implement ``_encode_target(y, first, classes)``, for a y that
    is not None.
    """

    # skorch's NeuralNet.__init__ sets these three; TorchClassifier removes them
    # from the instance again so that __init__ stores parameters only, as
    # scikit-learn requires, and these class-level defaults take their place.
    history_ = None
    initialized_ = False
    virtual_params_ = types.MappingProxyType({})

    def _init_net(
        self,
        module: Any,
        criterion: Any,
        *,
        inputs: Any,
        target: Any,
        random_state: Any,
        **skorch_params: Any,
    ) -> None:
        """The body of both estimators' ``__init__``: store parameters only.

        Each estimator keeps its own explicit signature, which scikit-learn
        reads for ``get_params``; their defaults differ (the criterion).
        """
        super().__init__(None, criterion=None, **_skorch_defaults(skorch_params))
        self._store_components(module=module, criterion=criterion)
        self.inputs = inputs
        self.target = target
        self.random_state = random_state
        self._drop_init_state()

    def _store_components(self, **components: Any) -> None:
        # skorch's __setattr__ refuses torch module instances outside its
        # initialize methods once ``initialized_`` exists, which here is a class
        # default; __init__ only stores parameters, so it bypasses the check.
        vars(self).update(components)

    def _drop_init_state(self) -> None:
        # A history passed as history=MyHistory() is kept, as skorch keeps it.
        if vars(self).get("history_") is None:
            vars(self).pop("history_", None)
        for name in ("initialized_", "virtual_params_"):
            vars(self).pop(name, None)

    def __setattr__(self, name: str, attr: Any) -> None:
        # Before skorch's __init__ has run (a subclass setting self.module2 =
        # nn.Linear(...) first), skorch sets attributes plainly; it tells by
        # the absence of ``initialized_``, which is a class default here.
        if not skorch_init_done(self):
            object.__setattr__(self, name, attr)
            return
        super().__setattr__(name, attr)

    # ------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Initialise the module (unless ``warm_start``) and train it.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
            Training input. Columns named by ``inputs`` (default: every tensor
            column, or all columns stacked when there is no tensor column) are
            fed to ``module.forward``.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Target; None reads it from the column named by ``target``.
        **fit_params : dict
            Passed on to skorch's ``fit`` (``train_split`` and ``forward``).

        Returns
        -------
        self
        """
        with restored_net_on_error(self):
            check_fit_params(self, fit_params)
            reset = not self.warm_start or not self.initialized_
            dataset, y_split = prepare_fit(self, X, y, reset=reset)
            with fit_context(self):
                return super().fit(dataset, y_split, **fit_params)

    def partial_fit(
        self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any
    ) -> Any:
        """Train for ``max_epochs`` more epochs without re-initialising.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
        y : array-like or None, default=None
        classes : array-like or None, default=None
            All class labels, on the first call of a classifier whose batches
            may not show every class.
        **fit_params : dict

        Returns
        -------
        self
        """
        if is_internal(X):  # from fit, which restores on error itself
            with fit_context(self):
                return super().partial_fit(X, y, **fit_params)
        with restored_net_on_error(self):
            check_fit_params(self, fit_params)
            X, y = prepare_fit(self, X, y, reset=False, classes=classes)
            with fit_context(self):
                return super().partial_fit(X, y, **fit_params)

    def check_data(self, X: Any, y: Any = None) -> None:
        """skorch's checks for a Dataset passed as X; otherwise nothing, as
        ``fit`` has validated and encoded X and y already."""
        if not is_message_dataset(X) and not hasattr(self, "n_outputs_"):
            super().check_data(X, y)

    def train_step(self, batch: Any, **fit_params: Any) -> Any:
        """skorch's training step, its noise drawn from ``random_state``."""
        with global_draws(self):
            return super().train_step(batch, **fit_params)

    def validation_step(self, batch: Any, **fit_params: Any) -> Any:
        """skorch's validation step, its noise drawn from ``random_state``."""
        with global_draws(self):
            return super().validation_step(batch, **fit_params)

    def evaluation_step(self, batch: Any, training: bool = False) -> Any:
        """skorch's evaluation step; within a fit (a callback predicting),
        its noise is drawn from ``random_state``."""
        with global_draws(self):
            return super().evaluation_step(batch, training=training)

    def check_is_fitted(
        self, attributes: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """skorch's check, raising an error that ``fireworks_sk.NotFittedError``,
        scikit-learn's ``NotFittedError`` and skorch's ``NotInitializedError``
        all catch."""
        try:
            super().check_is_fitted(attributes, *args, **kwargs)
        except NotInitializedError as exc:
            raise NetNotFittedError(str(exc)) from exc

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Open the epoch's history row and seed its dropout and other noise.

        The seed follows from ``(random_state, epoch)``, so a run resumed from a
        checkpoint draws the same noise as an uninterrupted one.
        """
        super().on_epoch_begin(net, **kwargs)
        begin_epoch(self)

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """skorch's train/validation split, its randomness seeded by ``random_state``.

        A ``train_split`` that draws from the global random state (skorch's
        ``ValidSplit`` without a ``random_state`` of its own) splits the same
        way in every fit with the same seed; one with its own seed keeps it.
        """
        with split_context(self):
            return super().get_split_datasets(X, y, **fit_params)

    def _set_training(self, training: bool = True) -> None:
        """Switch train/eval mode only where it differs.

        skorch calls this before every batch; walking the whole module tree
        each time costs as much as the forward pass of a small tabular model.
        A submodule switched by hand (e.g. a frozen BatchNorm in eval mode)
        therefore keeps its mode while its parent's mode is unchanged.
        """
        for name in skorch_module_names(self):
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def initialize_module(self) -> Any:
        """Build the module (seeded by ``random_state``) and materialise lazy layers.

        ``module=None`` builds :class:`DefaultMLP` with one output per class or
        target. A module passed as an instance is used as it is; pass the class
        to have ``random_state`` seed its initialisation.
        """
        self._warn_if_unseedable()
        with _seeding.seeded(seed(self, _seeding.INIT), cuda_devices(self)):
            if self.module is None:
                self.module_ = self._default_module()
            else:
                super().initialize_module()
            self._materialise(self.module_)
        return self

    def _warn_if_unseedable(self) -> None:
        """A module instance, used as it is, escapes ``random_state``."""
        if self.random_state is None or not isinstance(self.module, torch.nn.Module):
            return
        if self.get_params_for("module"):
            return  # skorch builds a new instance from the module__ parameters
        warnings.warn(
            f"{type(self).__name__} got module as an instance "
            f"({type(self.module).__name__}(...)): random_state cannot "
            "re-initialise it, so training starts from the weights it holds, and "
            "a second fit continues where the first stopped. Pass the class, "
            "with its arguments as module__name=..., to have random_state seed "
            "its initialisation.",
            UserWarning,
            stacklevel=2,
        )

    def initialize_optimizer(self, *args: Any, **kwargs: Any) -> Any:
        """skorch's optimizer; a name such as ``"adam"`` means the torch.optim class."""
        if not isinstance(self.optimizer, str):
            return super().initialize_optimizer(*args, **kwargs)
        optimizer = optimizer_class(self.optimizer, type(self).__name__)
        named_parameters = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        self.optimizer_ = optimizer(*args, **kwargs)
        return self

    def _default_module(self) -> DefaultMLP:
        if not hasattr(self, "n_outputs_"):
            raise NotInitializedError(
                f"{type(self).__name__}(module=None) sizes its default module from "
                "the data; call fit or partial_fit instead of initialize, or pass "
                "a module."
            )
        return DefaultMLP(n_outputs=self.n_outputs_, **self.get_params_for("module"))

    def _materialise(self, module: torch.nn.Module) -> None:
        """Run lazy layers once on a row of zeros so the optimizer sees real weights.

        Zeros of the fitted shapes and dtypes, rather than a training row, so
        that no data ends up in the model; one row, as some forwards cannot
        reshape an empty batch.
        """
        lazy = any(torch.nn.parameter.is_lazy(p) for p in module.parameters())
        if not lazy or not hasattr(self, "_feed_schema_"):
            return
        zeros = {
            name: torch.zeros((1, *column.shape[1:]), dtype=column.dtype)
            for name, column in self._feed_schema_._columns.items()
        }
        inputs = MessageDataset(
            Message._from_columns(zeros, 1), positional=positional(self)
        )
        was_training = module.training
        module.eval()
        with torch.no_grad():
            arguments = inputs.inputs()
            if isinstance(arguments, dict):
                module(**arguments)
            else:
                module(arguments)
        module.train(was_training)

    # ------------------------------------------------------ skorch's hooks
    def get_dataset(self, X: Any, y: Any = None) -> Any:
        """X as a :class:`MessageDataset` (prediction input; fit builds its own).

        With ``dataset=`` your own class, a partial or an instance (or
        ``dataset__*`` arguments), X and y go to it as skorch passes them; so
        does scipy sparse X, to skorch's Dataset.
        """
        return prediction_dataset(self, X, y)

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        """A :class:`MessageLoader` over ``dataset`` built from ``iterator_*``.

        Training batches are shuffled by default, in an order that follows from
        ``random_state`` and the epoch; ``iterator_train__shuffle=False`` turns
        shuffling off. Any other iterator, or a dataset that is not a
        MessageDataset, is read as skorch reads it.
        """
        shuffle_seed = functools.partial(seed, self, _seeding.SHUFFLE)
        return batch_iterator(self, dataset, training, shuffle_seed)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # read through skorch's Dataset
        return tags

    def forward_iter(
        self, X: Any, training: bool = False, device: str = "cpu"
    ) -> Iterator[torch.Tensor]:
        """Module outputs batch by batch; inputs up to one batch skip the loader."""
        dataset = self.get_dataset(X)
        if fits_one_batch(self, dataset):
            step = self.evaluation_step((dataset.inputs(), None), training=training)
            yield to_device(step, device=device)
            return
        yield from super().forward_iter(dataset, training=training, device=device)

    def get_loss(
        self, y_pred: Any, y_true: Any, X: Any = None, training: bool = False
    ) -> Any:
        """skorch's loss, on module outputs checked against the classes or targets.

        A tensor output whose shape does not fit y is refused before the
        criterion can broadcast it into a loss that trains nothing. The first
        training batch of each fit also warns about probabilities fed to
        ``CrossEntropyLoss``.
        """
        checkable = hasattr(self, "n_outputs_")  # unknown when X is a Dataset
        if checkable and isinstance(y_pred, torch.Tensor) and torch.is_tensor(y_true):
            y_true = self._check_output(tuple(y_pred.shape), y_true)
            if training and vars(self).pop("_outputs_unchecked_", False):
                self._warn_if_probabilities(y_pred)
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """skorch's hook; marks the next training batch's outputs for checking."""
        super().on_train_begin(net, **kwargs)
        self._outputs_unchecked_ = True

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """skorch's hook; drops the mark when no batch took it."""
        super().on_train_end(net, **kwargs)
        vars(self).pop("_outputs_unchecked_", None)
        vars(self).pop("_user_data_", None)

    def notify(self, method_name: str, **cb_kwargs: Any) -> None:
        """skorch's notify; ``on_train_begin`` and ``on_train_end`` get X and y
        as passed to ``fit``, not the encoded dataset (as skorch's callbacks
        such as ``InputShapeSetter`` expect)."""
        user = vars(self).get("_user_data_")
        if user is not None and method_name in ("on_train_begin", "on_train_end"):
            cb_kwargs["X"], cb_kwargs["y"] = user
        super().notify(method_name, **cb_kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_user_data_", None)
        state.pop("_random_", None)  # a fit's own, as a pickle is not in a fit
        return state

    def _warn_if_probabilities(self, y_pred: torch.Tensor) -> None:
        """Warn when outputs fed to CrossEntropyLoss look like probabilities.

        ``CrossEntropyLoss`` applies softmax itself; rows that are already
        probabilities (as after a final ``Softmax``) train on a flattened loss.
        """
        criterion = getattr(self, "criterion_", None)
        if not isinstance(criterion, torch.nn.CrossEntropyLoss):
            return
        if y_pred.ndim != 2 or y_pred.shape[1] < 2:
            return
        scores = y_pred.detach().float()
        in_range = bool(((scores >= 0) & (scores <= 1)).all())
        ones = torch.ones(len(scores), device=scores.device)
        if in_range and torch.allclose(scores.sum(dim=1), ones, atol=1e-4):
            warnings.warn(
                f"{type(self).__name__}'s module returns rows that look like "
                "probabilities (each in [0, 1], summing to 1), but CrossEntropyLoss "
                "expects logits and applies softmax itself. Remove the final "
                "Softmax, or pass criterion=torch.nn.NLLLoss to keep it.",
                UserWarning,
                stacklevel=2,
            )

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Accuracy (classifier) or R² (regressor) of ``predict(X)`` against y.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)
        y : array-like or None, default=None
            None reads the column named by ``target`` from X.
        sample_weight : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        float
        """
        y = scoring_target(self, X, y)
        return super().score(X, y, sample_weight=sample_weight)

    # scikit-learn's repr: the parameters set away from the defaults that the
    # signature of __init__ lists (see list_skorch_params). skorch's shows the
    # module instead; ``net.module_`` still prints it.
    __repr__ = BaseEstimator.__repr__

    def set_params(self, **params: Any) -> Any:
        """skorch's ``set_params``; ``callbacks`` on an unfitted net is only stored.

        skorch builds the callbacks as soon as they are set, which fails on a
        value that ``__init__`` accepted; scikit-learn asks that
        ``set_params`` store, as ``__init__`` does, and ``fit`` check. A fitted
        net, and ``callbacks__*`` routes, which need built callbacks, take
        skorch's way.
        """
        routes = any(key.startswith("callbacks__") for key in params)
        if "callbacks" in params and not routes and not self.initialized_:
            vars(self)["callbacks"] = params.pop("callbacks")
            vars(self).pop("callbacks_", None)  # built again by fit
        return super().set_params(**params)

    def _get_param_names(self) -> list[str]:
        # skorch lists private bookkeeping that __init__ derives among the
        # parameters; it is not a parameter to set.
        names = super()._get_param_names()
        return [n for n in names if n not in SKORCH_BOOKKEEPING_PARAMS]

    # ----------------------------------------------- streams (fit_stream)
    def _fit_passes(
        self,
        passes: Callable[[int], Iterable[tuple[Any, Any]]],
        valid: Callable[[int], Iterable[tuple[Any, Any]]] | None = None,
        *,
        epochs: int | None = None,
        classes: Any = None,
    ) -> Any:
        """Train on a stream, one epoch per pass over chunks (see ``fit_passes``)."""
        return fit_passes(self, passes, valid, epochs=epochs, classes=classes)


def _skorch_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Defaults that differ from skorch's: silent, Message feeding, no split."""
    kwargs.setdefault("iterator_train", MessageLoader)
    kwargs.setdefault("iterator_valid", MessageLoader)
    kwargs.setdefault("dataset", MessageDataset)
    kwargs.setdefault("verbose", 0)
    return kwargs


@list_skorch_params
class TorchClassifier(_MessageNet, NeuralNetClassifier):
    """A skorch ``NeuralNetClassifier`` that reads Messages and seeds itself.

    Every skorch parameter, callback and ``prefix__name`` route keeps working.
    X may be a Message, DataFrame, dict or 2-D array; minibatches come from
    :class:`~fireworks_sk.MessageLoader`. Class labels may be any sortable
    values (strings too); ``classes_`` holds them, as in scikit-learn.

    Parameters
    ----------
    module : torch.nn.Module class or instance, or None, default=None
        None builds :class:`~fireworks_sk.estimators.DefaultMLP`, whose input
        width is inferred (``LazyLinear``) and whose output width is the number
        of classes; set its layers with ``module__hidden_units=(64, 64)``.
        The module returns logits of shape (n_rows, n_classes); another width
        is refused at fit. A class is built, seeded by ``random_state``, at
        every fit. An instance is used as it is: ``random_state`` cannot
        re-initialise it, training starts from the weights it holds and a
        second fit continues where the first stopped (a warning says so when
        ``random_state`` is set).
    inputs : str, list of str or None, default=None
        Columns fed to ``module.forward``: one column positionally, several as
        keyword arguments named after the columns. None feeds every tensor
        column, or, when X has no tensor column (a DataFrame or an array), all
        columns stacked into one float32 matrix, positionally.
    target : str or None, default=None
        A column of X used as y when ``fit`` gets no y; it is never an input.
    random_state : int, numpy Generator or None, default=None
        Seeds the module's initialisation, the shuffle order of each epoch and
        the noise (dropout) drawn in each epoch, each from its own stream
        derived from ``(random_state, epoch)``; the global torch random state
        is left as it was. The same seed gives bit-identical weights on the CPU.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
    optimizer : torch optimizer class or str, default=torch.optim.Adam
        A name such as ``"adam"`` or ``"sgd"`` means the torch.optim class of
        that name, case aside.
    lr : float, default=0.01
    max_epochs : int, default=30
        Epochs per ``fit`` or ``partial_fit``; at least 1.
    batch_size : int, default=128
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all rows, as
        ``MLPClassifier`` does. Use ``skorch.dataset.ValidSplit(5)`` to get
        ``valid_loss`` for ``EarlyStopping``. ``random_state`` seeds a split
        that draws from the global random state (``ValidSplit`` without a
        ``random_state`` of its own).
    **kwargs
        Any other skorch parameter (``callbacks``, ``device``, ``warm_start``,
        ``iterator_train__shuffle``, ``module__dropout``, ...). ``verbose``
        defaults to 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Input column names, when X has them.
    inputs_ : list of str
        Columns fed to the module.
    module_, history_, optimizer_ : as in skorch

    Notes
    -----
    ``iterator_train`` and ``iterator_valid`` (default :class:`MessageLoader`)
    are called as ``iterator(message, batch_size=..., [shuffle=...,
    random_state=...,] **iterator_*__params)`` and yield Messages; any other
    iterator (a ``DataLoader``) is called with the dataset, as skorch calls it.
    A torch Dataset as X, scipy sparse X and ``dataset=`` your own class are
    read as skorch reads them. skorch's scoring callbacks see the encoded
    targets (class indices) and predict on datasets, where ``predict``
    returns class indices too, so ``EpochScoring("accuracy")`` is right for
    any labels.

    A ``fit`` or ``partial_fit`` that raises leaves the net as it was before
    the call, weights, optimizer state and history included. A net given a
    module can be used as in skorch: ``initialize()``, ``load_params(...)``,
    then ``predict``; X is then fed unchecked, and ``predict`` returns class
    indices unless ``classes`` is set.

    Examples
    --------
    >>> import numpy as np
    >>> from fireworks_sk import TorchClassifier
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "pos", "neg")
    >>> clf = TorchClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['neg', 'pos']
    """

    def __init__(
        self,
        module: Any = None,
        *,
        inputs: str | list[str] | None = None,
        target: str | None = None,
        random_state: Any = None,
        criterion: Any = torch.nn.CrossEntropyLoss,
        optimizer: Any = torch.optim.Adam,
        lr: float = 0.01,
        max_epochs: int = 30,
        batch_size: int = 128,
        train_split: Any = None,
        **kwargs: Any,
    ) -> None:
        self._init_net(
            module,
            criterion,
            inputs=inputs,
            target=target,
            random_state=random_state,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            **kwargs,
        )

    def _encode_target(
        self, y: Any, *, first: bool, classes: Any = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        return encode_classes(self, y, first=first, classes=classes)

    def _check_output(self, shape: tuple[int, ...], y_true: Any = None) -> Any:
        """Refuse module outputs that are not one score per class."""
        n_classes = self.n_outputs_
        if getattr(self, "_y_ndim_", 1) > 1:
            if self.module is None:
                raise ValueError(
                    f"{type(self).__name__} with module=None returns outputs of "
                    f"shape {shape}, one score per class for each row, but y has "
                    f"{self._y_ndim_} dimensions: several labels per row need a "
                    "module of your own whose outputs fit the criterion (for "
                    "CrossEntropyLoss, shape (n_rows, n_classes, *y.shape[1:]))."
                )
            return y_true  # (n, k) targets: the criterion checks its own shapes
        if len(shape) != 2 or shape[1] != n_classes:
            raise ValueError(
                f"{type(self).__name__}'s module returns outputs of shape {shape}, "
                f"but there are {n_classes} classes "
                f"{np.asarray(self.classes_).tolist()!r}: it must return shape "
                f"(n_rows, {n_classes}), one score per class. Set the width of "
                "its last layer to the number of classes (module=None does)."
            )
        return y_true

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_``.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = super().predict_proba(X)
        if hasattr(self, "n_outputs_"):
            self._check_output(proba.shape)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``; on skorch's internal (encoded) datasets,
            as its scoring callbacks pass them, class indices.
        """
        index = self.predict_proba(X).argmax(axis=1)
        if is_internal(X) or not self._knows_classes():
            return index
        return class_labels(self)[index]

    def _knows_classes(self) -> bool:
        """False for a net initialised and loaded without ``classes=``: as in
        skorch, its predictions are then class indices."""
        return self.classes is not None or hasattr(self, "classes_inferred_")


@list_skorch_params
class TorchRegressor(_MessageNet, NeuralNetRegressor):
    """A skorch ``NeuralNetRegressor`` that reads Messages and seeds itself.

    Parameters are those of :class:`TorchClassifier`, except the criterion
    (``torch.nn.MSELoss``). y may have shape (n_samples,) or
    (n_samples, n_targets); ``predict`` returns the same shape.

    Parameters
    ----------
    module : torch.nn.Module class or instance, or None, default=None
        None builds a :class:`~fireworks_sk.estimators.DefaultMLP` with one
        output per target. The module returns shape (n_rows, n_targets), or
        (n_rows,) for a single target (trained against y of that shape); another
        width is refused at fit. An instance escapes ``random_state``, as for
        :class:`TorchClassifier`.
    inputs : str, list of str or None, default=None
    target : str or None, default=None
    random_state : int, numpy Generator or None, default=None
    criterion : torch criterion class, default=torch.nn.MSELoss
    optimizer : torch optimizer class or str, default=torch.optim.Adam
    lr : float, default=0.01
    max_epochs : int, default=30
    batch_size : int, default=128
    train_split : callable or None, default=None
    **kwargs
        Any other skorch parameter.

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    inputs_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from fireworks_sk import TorchRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    >>> reg = TorchRegressor(max_epochs=5, random_state=0).fit(X, X.sum(axis=1))
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        module: Any = None,
        *,
        inputs: str | list[str] | None = None,
        target: str | None = None,
        random_state: Any = None,
        criterion: Any = torch.nn.MSELoss,
        optimizer: Any = torch.optim.Adam,
        lr: float = 0.01,
        max_epochs: int = 30,
        batch_size: int = 128,
        train_split: Any = None,
        **kwargs: Any,
    ) -> None:
        self._init_net(
            module,
            criterion,
            inputs=inputs,
            target=target,
            random_state=random_state,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            **kwargs,
        )

    def _encode_target(
        self, y: Any, *, first: bool, classes: Any = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        return encode_values(self, y, first=first)  # a regressor has no classes

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            The shape of y at fit.
        """
        prediction = NeuralNet.predict_proba(self, X).astype(np.float64)
        if not hasattr(self, "n_outputs_"):
            return prediction
        self._check_output(prediction.shape)
        prediction = prediction.reshape(len(prediction), self.n_outputs_)
        if is_internal(X) or self._y_ndim_ != 1:
            return prediction
        return prediction.reshape(len(prediction))

    def _check_output(self, shape: tuple[int, ...], y_true: Any = None) -> Any:
        """Refuse outputs that are not one value per target; align y to them.

        A module that returns shape (n_rows,) for a single target is trained
        against y of that shape too, as skorch users expect, rather than
        against (n_rows, 1), which the criterion would broadcast to
        (n_rows, n_rows).
        """
        n_targets = self.n_outputs_
        if len(shape) == 2 and shape[1] == n_targets:
            return y_true
        if len(shape) == 1 and n_targets == 1:
            return None if y_true is None else y_true.reshape(-1)
        single = " or (n_rows,)" if n_targets == 1 else ""
        # .squeeze() turns the output of a one-row batch into a scalar.
        hint = " (use .squeeze(-1), not .squeeze())" if not shape else ""
        raise ValueError(
            f"{type(self).__name__}'s module returns outputs of shape {shape}, "
            f"but y has {n_targets} target{'s' if n_targets > 1 else ''}: it "
            f"must return shape (n_rows, {n_targets}){single}, one value per "
            f"target{hint}."
        )

    @available_if(lambda self: False)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Not available: a regressor has no probabilities; use predict."""
        return NeuralNet.predict_proba(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
