"""BatchNormalizer: standardisation with exactly merged batch statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fireworks_sk._numbers import (
    check_finite,
    column_numbers,
    float_dtype,
    is_numeric_column,
)
from fireworks_sk.message import (
    Column,
    Message,
    column_dtypes,
    column_matrix,
    read_column,
    stored_column,
    with_block,
)
from fireworks_sk.pipes._base import StatefulPipe
from fireworks_sk.pipes._state import learned, statistics_problem

__all__ = ["BatchNormalizer"]


@dataclass(frozen=True)
class _Moments:
    """Count, mean and sum of squared deviations (M2) of one column, in float64.

    The mean is kept as ``shift + offset``: ``shift`` is a value of the
    column, ``offset`` the mean of ``x - shift``. Near a large mean (1e8, std
    1) the difference of two means, which the merge weighs, then keeps every
    digit; a rounded mean alone would lose about 1e-8 of it per merge.
    """

    n: int
    shift: torch.Tensor
    offset: torch.Tensor
    m2: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        return self.shift + self.offset

    def merge(self, other: _Moments) -> _Moments:
        # Chan, Golub and LeVeque's pairwise update: exact for any split of the
        # rows and stable for large offsets, unlike a running sum of squares.
        # Shifts are data values of one column, so their difference is exact
        # when they are close (Sterbenz), which is when precision is at stake.
        n = self.n + other.n
        delta = (other.shift - self.shift) + (other.offset - self.offset)
        offset = self.offset + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return _Moments(n, self.shift, offset, m2)


def _is_scalable(column: Column) -> bool:
    """Scaled by default: floating tensors (integer ones hold codes) and
    numeric pandas columns but booleans."""
    if isinstance(column, torch.Tensor):
        return column.is_floating_point()
    return is_numeric_column(column, booleans=False)


def _unchecked_numbers(name: str, column: Column) -> np.ndarray | torch.Tensor:
    """The column as numbers whose moments ``_moments`` takes, NaN and inf
    kept (``_chunk_state`` names them).

    Tensors become float64 tensors (on their device). Pandas columns become
    numpy arrays of their float dtype: float32 stays float32 (a view, no
    copy), as ``_moments`` widens it to float64 exactly as it goes.
    """
    if isinstance(column, torch.Tensor):
        wide: Any = torch.float64
    else:
        wide = float_dtype(column)
    return column_numbers(name, column, wide, allow_nan=True, owner="BatchNormalizer")


def _moments(
    values: np.ndarray | torch.Tensor, scratch: np.ndarray | None = None
) -> _Moments:
    """Moments of one column's values (rows on axis 0), unchecked, in float64.

    ``values`` is float64, or a float32 numpy array: every float32 is a
    float64, so widening each value as it is centred gives, bit for bit, the
    moments of its float64 copy, without making that copy. ``scratch``, a
    float64 numpy array of ``values``' shape, may hold the centred values
    (one buffer for every column of a batch).
    """
    # numpy and torch share this arithmetic; axis 0 is the row axis for both.
    with np.errstate(over="ignore", invalid="ignore"):  # named in _chunk_state
        # One temporary, worked in place (``values`` may be the caller's
        # buffer, the centred copy is ours): the same arithmetic, bit for bit,
        # as squaring a second copy, with a third of the memory traffic.
        if isinstance(values, np.ndarray):
            shift = np.float64(values[0])
            centred = np.subtract(values, shift, out=scratch, dtype=np.float64)
        else:
            shift = values[0]
            centred = values - shift
        offset = centred.mean(0)
        centred -= offset
        centred *= centred
        m2 = centred.sum(0)
    # Statistics live on the CPU whatever the data's device, so that a fitted
    # model loads on a machine without a GPU.
    cpu = torch.device("cpu")
    return _Moments(
        values.shape[0],
        *(torch.as_tensor(v, device=cpu) for v in (shift, offset, m2)),
    )


def _finite(moments: _Moments) -> bool:
    # NaN and inf in the input reach the mean or M2, so finite moments mean
    # finite input: the input itself is scanned only to name a bad row.
    return bool(torch.isfinite(moments.offset).all() & torch.isfinite(moments.m2).all())


class BatchNormalizer(StatefulPipe):
    """Standardise numeric and tensor columns with statistics merged over batches.

    Each value becomes ``(x - mean_) / scale_``. ``partial_fit`` merges the count,
    mean and sum of squared deviations of every batch exactly, so fitting batch
    by batch gives the statistics of fitting everything at once, even for a
    column with mean 1e8 and standard deviation 1. Tensor columns with trailing
    dimensions are standardised per feature.

    Parameters
    ----------
    columns : str, list of str or None, default=None
        Columns to scale; None means every numeric (not boolean) pandas column
        and every floating-point tensor column.
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation.

    Attributes
    ----------
    mean_ : dict of str to torch.Tensor
        Per-column mean (float64; shape of one row).
    var_ : dict of str to torch.Tensor
        Per-column population variance.
    scale_ : dict of str to torch.Tensor
        Per-column divisor: the standard deviation, or 1 where it is zero or
        ``with_std=False``.
    n_samples_seen_ : int
        Rows seen over all batches.
    columns_ : list of str
        The columns scaled.

    Examples
    --------
    >>> import torch
    >>> from fireworks_sk import BatchNormalizer, Message
    >>> m = Message({"x": torch.tensor([1.0, 2.0, 3.0])})
    >>> BatchNormalizer().fit_transform(m)["x"]
    tensor([-1.2247,  0.0000,  1.2247])
    """

    def __init__(
        self,
        columns: str | list[str] | None = None,
        *,
        with_mean: bool = True,
        with_std: bool = True,
    ) -> None:
        self.columns = columns
        self.with_mean = with_mean
        self.with_std = with_std

    def _select_columns(self, message: Message) -> list[str]:
        default = [c for c in message.columns if _is_scalable(read_column(message, c))]
        return self._resolve_columns(message, default)

    def _chunk_state(self, message: Message) -> tuple[int, dict[str, _Moments]]:
        # Each column is read, reduced and let go in turn (a widened copy of
        # one integer column at a time); the pandas columns are centred in
        # one float64 buffer.
        moments: dict[str, _Moments] = {}
        scratch = None
        for name in self.columns_:
            values = _unchecked_numbers(name, read_column(message, name))
            if isinstance(values, np.ndarray):
                if scratch is None:
                    scratch = np.empty(len(message), dtype=np.float64)
                moments[name] = _moments(values, scratch)
            else:
                moments[name] = _moments(values)
        for name in self.columns_:  # in order: the first bad column is named
            if not _finite(moments[name]):
                check_finite(name, _unchecked_numbers(name, read_column(message, name)))
        return len(message), moments

    def _merge_states(self, a: Any, b: Any) -> tuple[int, dict[str, _Moments]]:
        return a[0] + b[0], {name: a[1][name].merge(b[1][name]) for name in a[1]}

    def _set_state(self, state: tuple[int, dict[str, _Moments]]) -> None:
        for name, s in state[1].items():
            if not _finite(s):
                raise ValueError(
                    f"Column {name!r} holds finite values so far apart that their "
                    "variance overflows float64; rescale the column first."
                )
        self.n_samples_seen_, moments = state
        # The exact state, for later merges: mean_ alone is rounded, and near a
        # mean of 1e8 each merge from it would lose about 1e-8 of the mean.
        self._moments = {n: (s.shift, s.offset, s.m2) for n, s in moments.items()}
        self.mean_ = {name: s.mean for name, s in moments.items()}
        self.var_ = {name: s.m2 / s.n for name, s in moments.items()}
        self.scale_ = {name: self._scale(s) for name, s in moments.items()}
        self._vectors = _scalar_stats(self.mean_, self.scale_)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_vectors", None)  # derived from mean_ and scale_; built again
        return state

    def _block_stats(self, names: list[str], dtype: type) -> tuple[np.ndarray, ...]:
        """Mean and scale of pandas columns ``names``, as ``dtype`` vectors."""
        vectors = vars(self).get("_vectors")
        if vectors is None:  # loaded from a file
            vectors = self._vectors = _scalar_stats(self.mean_, self.scale_)
        positions, means, scales = vectors
        at = [positions[n] for n in names]
        mean = means[at] if self.with_mean else np.zeros(len(at))
        return mean.astype(dtype), scales[at].astype(dtype)

    def _get_state(self) -> tuple[int, dict[str, _Moments]]:
        n = self.n_samples_seen_
        return n, {name: _Moments(n, *self._moments[name]) for name in self.columns_}

    def _fitted_state_problem(self) -> str | None:
        if not learned(self, "mean_", "var_", "scale_"):
            return None
        for name in self.columns_:
            statistics = [self.mean_[name], self.var_[name], self.scale_[name]]
            statistics += list(self._moments[name])
            problem = statistics_problem(name, self._schema_in[name], statistics)
            if problem:
                return problem
        return None

    def _names_key(self) -> tuple:
        # Scaling keeps every column and row shape: the names are the input's.
        return ()

    def _scale(self, moments: _Moments) -> torch.Tensor:
        std = torch.sqrt(moments.m2 / moments.n)
        if not self.with_std:
            return torch.ones_like(std)
        # As scikit-learn does: a (numerically) constant feature is left unscaled.
        eps = 10 * torch.finfo(torch.float64).eps
        tiny = std < eps * torch.clamp(moments.mean.abs(), min=1.0)
        return torch.where(tiny, torch.ones_like(std), std)

    def _transform(self, message: Message) -> Message:
        return self._apply(message, inverse=False)

    def inverse_transform(self, X: Any) -> Message:
        """Undo the scaling: ``x * scale_ + mean_``.

        Parameters
        ----------
        X : Message, DataFrame, dict or array-like
            Output of ``transform``.

        Returns
        -------
        Message
        """
        message = self._validate(X, reset=False, check_dtypes=False)
        return self._apply(message, inverse=True)

    def _apply(self, message: Message, inverse: bool) -> Message:
        names = self.columns_
        dtypes = column_dtypes(message, names)
        # Each distinct dtype looked at once, through one column of it: a
        # tensor's is a torch dtype, which equals no pandas or numpy dtype.
        kinds: dict[Any, Any] = {}
        for dtype, name in dict(zip(dtypes, names)).items():
            column = stored_column(message, name)
            kinds[dtype] = (
                torch.Tensor
                if isinstance(column, torch.Tensor)
                else float_dtype(column)
            )
        groups = {kind: [] for kind in (torch.Tensor, np.float32, np.float64)}
        if len(kinds) == 1:
            groups[kinds[dtypes[0]]] = list(names)
        else:
            for name, dtype in zip(names, dtypes):
                groups[kinds[dtype]].append(name)
        tensors = groups.pop(torch.Tensor)
        out = message.assign(
            **{
                n: self._apply_tensor(n, read_column(message, n), inverse)
                for n in tensors
            }
        )
        for dtype, group in groups.items():
            if group:
                values = self._apply_block(message, group, dtype, inverse)
                out = with_block(out, group, values)
        return out

    def _stats(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean_[name]
        return (mean if self.with_mean else torch.zeros_like(mean)), self.scale_[name]

    def _apply_tensor(self, name: str, column: torch.Tensor, inverse: bool) -> Column:
        dtype = column.dtype if column.is_floating_point() else torch.float32
        # Half precision overflows at 65504: compute in float32, then cast back.
        wide = torch.float32 if torch.finfo(dtype).bits < 32 else dtype
        values = column_numbers(
            name, column, wide, allow_nan=True, owner="BatchNormalizer"
        )
        device = column.device
        mean, scale = (s.to(device=device, dtype=wide) for s in self._stats(name))
        out = (values * scale + mean if inverse else (values - mean) / scale).to(dtype)
        _check_result(name, values, out)
        return out

    def _apply_block(
        self, message: Message, names: list[str], dtype: type, inverse: bool
    ) -> np.ndarray:
        # All pandas columns of one dtype as one (rows, columns) block: one
        # finite check and one arithmetic pass instead of one per column.
        values = column_matrix(message, names, dtype, owner="BatchNormalizer")
        mean, scale = self._block_stats(names, dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # found and named below
            if inverse:
                out = np.multiply(values, scale)
                out += mean
            else:
                out = np.subtract(values, mean)
                out /= scale
        if not np.isfinite(out).all():
            for i, name in enumerate(names):
                _check_result(name, values[:, i], out[:, i])
        return out


def _scalar_stats(
    mean: dict[str, torch.Tensor], scale: dict[str, torch.Tensor]
) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """The one-value means and scales (those of pandas columns) as float64
    vectors, with the position of each column in them."""
    names = [name for name, m in mean.items() if m.numel() == 1]
    positions = {name: i for i, name in enumerate(names)}
    means = np.array([float(mean[n]) for n in names], dtype=np.float64)
    scales = np.array([float(scale[n]) for n in names], dtype=np.float64)
    return positions, means, scales


def _check_result(
    name: str, values: np.ndarray | torch.Tensor, out: np.ndarray | torch.Tensor
) -> None:
    """Name NaN or inf in the input, or finite input that overflowed the output.

    Arithmetic keeps NaN and inf, so a finite output means a finite input: one
    pass over the output checks both.
    """
    finite = torch.isfinite(out) if isinstance(out, torch.Tensor) else np.isfinite(out)
    if bool(finite.all()):
        return
    check_finite(name, values)
    raise ValueError(
        f"Column {name!r} overflows {out.dtype} when scaled (finite input, "
        "infinite result); rescale the column or use a wider dtype."
    )
