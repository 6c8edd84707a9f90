"""TorchClassifier and TorchRegressor: skorch nets that read Messages."""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.exceptions import NotInitializedError
from skorch.utils import to_device

from fireworks_sk import _seeding
from fireworks_sk._compat import skorch_init_done, skorch_module_names, skorch_modules
from fireworks_sk.estimators._data import is_message_dataset
from fireworks_sk.estimators._feeding import (
    FEEDING_PARAMS,
    FEEDING_SETTINGS,
    batch_iterator,
    is_internal,
)
from fireworks_sk.estimators._fitting import prepare_fit
from fireworks_sk.estimators._guards import (
    check_fit_params,
    list_skorch_params,
    optimizer_class,
    restored_net_on_error,
)
from fireworks_sk.estimators._initialize import build_module
from fireworks_sk.estimators._net_random import (
    begin_epoch,
    fit_context,
    global_draws,
    seed,
    split_context,
)
from fireworks_sk.estimators._outputs import (
    check_class_scores,
    check_loss_target,
    check_target_values,
)
from fireworks_sk.estimators._predict import fits_one_batch, prediction_dataset
from fireworks_sk.estimators._skorch_glue import (
    new_batch,
    notify,
    param_names,
    picklable_state,
    run_epoch,
    skorch_defaults,
    store_callbacks,
    store_parameters,
)
from fireworks_sk.estimators._targets import (
    class_labels,
    scoring_target,
)
from fireworks_sk.exceptions import NetNotFittedError
from fireworks_sk.schema import Schema

__all__ = ["TorchClassifier", "TorchRegressor"]


class _MessageNet:
    """What both Torch estimators share: skorch's methods, each thin.

    Each method skorch calls by name hands the work to the module that owns
    it (see the module map in docs/concepts.md); the estimators add their
    own ``predict`` and ``_check_output``.
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
        super().__init__(None, criterion=None, **skorch_defaults(skorch_params))
        store_parameters(
            self,
            module=module,
            criterion=criterion,
            inputs=inputs,
            target=target,
            random_state=random_state,
        )

    def __setattr__(self, name: str, attr: Any) -> None:
        # Before skorch's __init__ has run (a subclass setting self.module2 =
        # nn.Linear(...) first), skorch sets attributes plainly; it tells by
        # the absence of ``initialized_``, which is a class default here.
        if not skorch_init_done(self):
            object.__setattr__(self, name, attr)
            return
        if name.startswith(FEEDING_PARAMS):
            vars(self).pop(FEEDING_SETTINGS, None)
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

    def infer(self, x: Any, **fit_params: Any) -> Any:
        """skorch's ``infer``; a CPU tensor, on a net on the CPU, goes to the
        module at once (skorch's ``to_tensor`` would hand back the same tensor)."""
        if type(x) is torch.Tensor and x.is_cpu and self.device in ("cpu", None):
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

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
        all catch.

        skorch asks scikit-learn, which reads the estimator's tags first;
        a net that has the attributes skorch requires passes that check
        whatever the tags say, so it is answered here (three times in
        every ``predict``) without them.
        """
        if attributes is None and not args and not kwargs:
            required = [name + "_" for name in skorch_modules(self)] or ["module_"]
            if all(hasattr(self, name) for name in required):
                return
        try:
            super().check_is_fitted(attributes, *args, **kwargs)
        except NotInitializedError as exc:
            raise NetNotFittedError(str(exc)) from exc

    @property
    def input_schema_(self) -> Schema | None:
        """The named columns the net was fitted on, as a :class:`Schema`.

        Read-only; what :func:`fireworks_sk.save` writes into a file's
        manifest. None for a net fitted on an array or a sparse matrix, whose
        columns have no names.
        """
        self.check_is_fitted(["_schema_"])
        return self._schema_ if hasattr(self, "feature_names_in_") else None

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
        build_module(self, super().initialize_module)
        return self

    def initialize_optimizer(self, *args: Any, **kwargs: Any) -> Any:
        """skorch's optimizer; a name such as ``"adam"`` means the torch.optim class."""
        if not isinstance(self.optimizer, str):
            return super().initialize_optimizer(*args, **kwargs)
        optimizer = optimizer_class(self.optimizer, type(self).__name__)
        named_parameters = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        self.optimizer_ = optimizer(*args, **kwargs)
        return self

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
        y_true = check_loss_target(
            self, y_pred, y_true, training=training, check=self._check_output
        )
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
        such as ``InputShapeSetter`` expect). Hooks left as skorch's empty
        ones are not called."""
        notify(self, method_name, cb_kwargs)

    def on_batch_begin(
        self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        """skorch's hook: open the batch's row in the history."""
        new_batch(self.history)

    def run_single_epoch(
        self, iterator: Any, training: bool, prefix: str, step_fn: Any, **fit_params
    ) -> None:
        """skorch's epoch of batches, with less bookkeeping per batch: the
        same hooks, arguments and history entries."""
        run_epoch(self, iterator, training, prefix, step_fn, fit_params)

    def __getstate__(self) -> dict[str, Any]:
        return picklable_state(super().__getstate__())

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

        See :func:`~fireworks_sk.estimators._skorch_glue.store_callbacks`.
        """
        store_callbacks(self, params)
        return super().set_params(**params)

    def _get_param_names(self) -> list[str]:
        return param_names(super()._get_param_names())


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
        Flat input features, as ``Message.shape[1]`` and Pipes count them.
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

    def _check_output(self, shape: tuple[int, ...], y_true: Any = None) -> Any:
        """Refuse module outputs that are not one score per class."""
        return check_class_scores(self, shape, y_true)

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
        Flat input features, as ``Message.shape[1]`` and Pipes count them.
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
        """Refuse outputs that are not one value per target; align y to them."""
        return check_target_values(self, shape, y_true)

    @available_if(lambda self: False)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Not available: a regressor has no probabilities; use predict."""
        return NeuralNet.predict_proba(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
