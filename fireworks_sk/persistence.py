"""Save and load fitted objects with a manifest, a checksum and atomic writes.

A saved file is a zip archive of two members, stored uncompressed:
``manifest.json`` (versions, input schema, creation time, random states, the
payload's SHA-256 and size) and ``payload``, the object serialised with joblib
or skops. :func:`inspect` reads the manifest alone and so runs no code from the
file.

Security: a joblib (pickle) payload runs arbitrary code when loaded. Load
joblib files only from sources you trust; use ``format="skops"`` for files that
come from others, and load them with ``load(path, format="skops")``. Reading is
bounded: sizes are checked against the file before anything is read, and no
member is ever decompressed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import io
import json
import os
import platform
import re
import struct
import types
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch

from fireworks_sk._atomic import atomic_write, write_failed
from fireworks_sk.exceptions import (
    CorruptFileError,
    CorruptStateError,
    UntrustedTypesError,
    VersionMismatchWarning,
)

__all__ = [
    "CorruptFileError",
    "UntrustedTypesError",
    "VersionMismatchWarning",
    "inspect",
    "installed_versions",
    "load",
    "save",
]

FORMATS = ("joblib", "skops")
_MANIFEST, _PAYLOAD = "manifest.json", "payload"
_FILE_VERSION = 1
# A manifest is a few kilobytes; this bound keeps a hostile one from taking
# memory or time before it is refused.
_MANIFEST_LIMIT = 4 * 2**20
# The longest name a temporary file takes from the target's name: with the
# random part and suffix it stays far below the usual limit of 255 bytes.
_PACKAGES = ("fireworks-sk", "torch", "scikit-learn", "skorch", "pandas", "numpy")


def save(obj: Any, path: str | os.PathLike, *, format: str = "joblib") -> Path:
    """Save a fitted object with a manifest, atomically.

    The file is written to a temporary file in the same folder and renamed
    over ``path`` only when complete, so a crash or an exception while saving
    leaves any previous file untouched and no stray files.

    Parameters
    ----------
    obj : object
        Any fitted estimator, Pipeline or Pipe.
    path : str or path-like
        Destination file; its folder must exist.
    format : {"joblib", "skops"}, default="joblib"
        joblib handles any object; skops files load without running code,
        for the objects listed in the persistence guide. An object that holds
        a torch module or a skorch net anywhere inside is refused as skops:
        its module would be pickled inside the file.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import fireworks_sk as fsk
    >>> from fireworks_sk.datasets import load_penguins
    >>> scaler = fsk.BatchNormalizer().fit(load_penguins().dropna())
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = fsk.save(scaler, Path(folder.name) / "scaler.fwsk")
    >>> path.name
    'scaler.fwsk'
    >>> fsk.load(path).mean_["body_mass_g"]
    tensor(4207.0571, dtype=torch.float64)
    >>> folder.cleanup()
    """
    _check_format(format)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot save to {str(path)!r}: its folder is missing.")
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a folder; name a file in it."
        )
    payload = _serialise(obj, format)
    manifest = json.dumps(_manifest(obj, format, payload), indent=2).encode()
    if len(manifest) > _MANIFEST_LIMIT:
        raise ValueError(
            f"Cannot save to {str(path)!r}: the manifest takes {len(manifest)} bytes, "
            f"over the {_MANIFEST_LIMIT} that load accepts (an input schema of "
            "very many columns)."
        )
    _write_atomically(path, manifest, payload)
    return path


def load(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    trusted: Sequence[str] | None = None,
) -> Any:
    """Load an object saved by :func:`save`, checking its integrity.

    Parameters
    ----------
    path : str or path-like
    format : {"skops", "joblib"} or None, default=None
        The format the file must have. ``"skops"`` is the receiver's
        guarantee for a file from others: a file of any other format is
        refused before its payload is read. None follows the file's manifest,
        which its author wrote.
    trusted : list of str or None, default=None
        For skops files: exact, fully qualified names of types and functions
        to trust beyond fireworks_sk's Pipes and Messages and the types skops
        trusts itself (scikit-learn's estimators, numpy's ufuncs). Names are
        compared whole, never as prefixes. Unused for joblib files, which run
        code when loaded and must come from a trusted source.

    Returns
    -------
    object

    Raises
    ------
    CorruptFileError
        If the file is truncated, altered, or not a fireworks_sk file.
    UntrustedTypesError
        If a skops file holds types not trusted (the message lists them), or
        ``format="skops"`` was asked for and the file is not a skops file.

    Warns
    -----
    VersionMismatchWarning
        If the file was saved with other library versions.

    Examples
    --------
    A file from others, saved as skops, loads without running code from it:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import fireworks_sk as fsk
    >>> from fireworks_sk.datasets import load_penguins
    >>> scaler = fsk.BatchNormalizer().fit(load_penguins().dropna())
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = fsk.save(scaler, Path(folder.name) / "scaler.fwsk", format="skops")
    >>> fsk.load(path, format="skops")
    BatchNormalizer()
    >>> fsk.inspect(path)["format"]
    'skops'
    >>> folder.cleanup()
    """
    if format is not None:
        _check_format(format)
    allowed = _trusted_names(trusted)
    path = Path(path)
    with _archive(path) as archive:
        manifest = _read_manifest(path, archive)
        _refuse_other_format(path, manifest["format"], format, trusted)
        payload = _read_payload(path, archive, manifest)
    _warn_on_version_mismatch(path, manifest["versions"])
    with _refused_state_names_file(path):
        if manifest["format"] == "skops":
            return _load_skops(payload, allowed, path)
        return joblib.load(io.BytesIO(payload))


def inspect(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a saved file, read without loading the object.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        ``format``, ``object``, ``versions``, ``input_schema``,
        ``random_state``, ``created``, ``sha256``, ``payload_bytes``.

    Raises
    ------
    CorruptFileError
        If the file is not a fireworks_sk file or its manifest is damaged.
    """
    path = Path(path)
    with _archive(path) as archive:
        return _read_manifest(path, archive)


def _check_format(format: Any) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)!r}; got {format!r}.")


def _refuse_other_format(
    path: Path, found: str, wanted: str | None, trusted: Sequence[str] | None
) -> None:
    if wanted == "skops" and found != "skops":
        raise UntrustedTypesError(
            f"{str(path)!r} is a {found} file, not a skops file: loading it would "
            "run code from it. Refused; ask its author for a skops file, or load it "
            "with format=None only if you trust where it came from."
        )
    if wanted is not None and found != wanted:
        raise ValueError(
            f"{str(path)!r} is a {found} file, not {wanted}; load it with "
            f"format={found!r}."
        )
    if found == "joblib" and trusted is not None:
        raise ValueError(
            f"{str(path)!r} is a joblib file: 'trusted' applies to skops files only. "
            "joblib files run code when loaded; load them only from trusted sources."
        )


# ------------------------------------------------------------------ skops
def _serialise(obj: Any, format: str) -> bytes:
    if format == "skops":
        _refuse_pickles(obj)
        try:
            payload = _skops().dumps(obj, compression=zipfile.ZIP_STORED)
        except (TypeError, RuntimeError, AttributeError, NotImplementedError) as exc:
            raise ValueError(
                f"format='skops' cannot store {_unstorable(obj)} (skops: "
                f"{type(exc).__name__}: {exc}). skops stores tensors and pandas "
                "columns only inside fitted Pipes and as a Message's tensor "
                "columns; use format='joblib' and load such files only from "
                "trusted sources."
            ) from exc
        _refuse_pickled_members(payload)
        return payload
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def _skops() -> Any:
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "format='skops' needs skops: pip install 'fireworks-sk[secure]'."
        ) from exc
    return skops.io


def _own_types() -> frozenset[str]:
    """The exact names of fireworks_sk's classes that a skops file may hold.

    Their saved state is plain data (see fireworks_sk._portable). Trust goes
    by whole name: a prefix such as ``fireworks_sk.pipes.`` would also match
    ``fireworks_sk.pipes._base.os``, a module reached through an attribute.
    """
    from fireworks_sk import pipes
    from fireworks_sk.message import Message
    from fireworks_sk.schema import Schema

    public = [getattr(pipes, name) for name in pipes.__all__]
    classes = [Message, Schema] + [
        c for c in public if isinstance(c, type) and issubclass(c, pipes.Pipe)
    ]
    return frozenset(f"{c.__module__}.{c.__qualname__}" for c in classes)


def _trusted_names(trusted: Sequence[str] | None) -> frozenset[str]:
    if trusted is None:
        return _own_types()
    if isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted):
        raise TypeError(
            "trusted must be a list of fully qualified type names, such as "
            f"['mypackage.MyStep']; got {trusted!r}."
        )
    return _own_types() | frozenset(trusted)


def _load_skops(payload: bytes, allowed: frozenset[str], path: Path) -> Any:
    """Audit the payload with skops, then build it: no name outside ``allowed``
    (and skops' own defaults) is imported, looked up or called."""
    sio = _skops()
    with _damage_is_corruption(path):
        with zipfile.ZipFile(io.BytesIO(payload)) as inner:
            _check_members(path, inner, len(payload))
            _check_arrays(path, inner)
            _check_schema(inner)
        found = sio.get_untrusted_types(data=payload)
    refused = [name for name in found if name not in allowed]
    if refused:
        raise UntrustedTypesError(
            f"{str(path)!r} holds types that are not trusted: {refused!r}. Load it "
            "only if you trust them, with load(path, trusted=[...]) naming them."
        )
    with _damage_is_corruption(path):
        return sio.loads(payload, trusted=found)


def _check_arrays(path: Path, inner: zipfile.ZipFile, nested: bool = True) -> None:
    """Refuse a numpy array whose header states other data than its member
    holds: numpy allocates the stated size before reading, and a node may
    name any member, so every member in numpy's format is checked. An array
    of empty items (``V0``) states no bytes for any number of items: it must
    have none. A member that is a zip is a sparse matrix's npz, which scipy
    inflates: checked as in :func:`_check_npz`."""
    for info in inner.infolist():
        with inner.open(info) as handle:
            start = handle.read(6)
            handle.seek(0)
            if start == np.lib.format.MAGIC_PREFIX:
                _check_array(info, handle)
            elif nested and start[:4] == b"PK\x03\x04":
                _check_npz(path, info, handle.read())


def _array_header(name: str, handle: Any) -> tuple[tuple, np.dtype]:
    """The shape and dtype a .npy header states, read from ``handle``."""
    headers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    version = np.lib.format.read_magic(handle)
    if version not in headers:
        raise ValueError(f"array {name!r} has format {version}")
    shape, _, dtype = headers[version](handle)
    return shape, dtype


def _check_array(info: zipfile.ZipInfo, handle: Any) -> None:
    shape, dtype = _array_header(info.filename, handle)
    items = int(np.prod(shape, dtype=object))
    held = info.file_size - handle.tell()
    if items * dtype.itemsize != held or (items and not dtype.itemsize):
        raise ValueError(
            f"array {info.filename!r} states {items * dtype.itemsize} bytes of "
            f"data in {items} items and holds {held}"
        )


# scipy inflates a sparse matrix's npz: its arrays may state this many times
# the npz's size, plus the allowance (the npz of an empty matrix of a million
# rows states 4 MB in 5 kB; a real one, a few times its size).
_INFLATION, _INFLATION_ALLOWANCE = 100, 16 * 2**20


def _check_npz(path: Path, info: zipfile.ZipInfo, data: bytes) -> None:
    """Refuse an npz whose arrays state sizes out of proportion to it, or
    other data than they hold, reading no more than their headers. The zip
    reader stops at each member's stated size, so stated sizes bound what
    scipy inflates."""
    try:
        npz = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # bytes, not an archive: nothing reads it as one
    with npz:
        stated = sum(item.file_size for item in npz.infolist())
        if stated > _INFLATION * len(data) + _INFLATION_ALLOWANCE:
            raise ValueError(
                f"sparse matrix {info.filename!r} states {stated} bytes in "
                f"{len(data)}, out of proportion"
            )
        _check_arrays(path, npz, nested=False)


def _check_schema(inner: zipfile.ZipFile) -> None:
    """Refuse a skops schema whose audit would cost out of proportion to it.

    skops builds one node per ``__id__``, but its audit walks a node again for
    every reference to it, and each node naming a member reads that member:
    a few kilobytes of references would take exponential time, or read one
    member a thousand times. Counted here first, a reference taken as the
    largest node with its ``__id__``. A file skops wrote repeats a shared
    object in full, so its audit walks the nodes the schema holds, and reads
    each member once.
    """
    nodes: list[tuple[Any, dict, list[int]]] = []  # (__id__, state, children)
    schema = json.loads(inner.read("schema.json"))
    if not isinstance(schema, dict):
        raise ValueError("its skops schema is not an object")
    _schema_nodes(schema, nodes, [])
    readers: dict[Any, set[Any]] = {}
    for index, (key, state, _) in enumerate(nodes):
        member = state.get("file")
        if state.get("__class__") in _NUMPY_SCALARS:
            _check_scalar(inner, state)
        if isinstance(member, str):
            readers.setdefault(member, set()).add(("id", key) if key else index)
    for member, who in readers.items():
        if len(who) > 1:
            raise ValueError(f"member {member!r} is read by {len(who)} nodes")
    shared: dict[Any, list[int]] = {}
    for index, (key, _, _) in enumerate(nodes):
        if key:
            shared.setdefault(key, []).append(index)
    for _, state, _ in nodes:
        if state.get("__loader__") == "RandomGeneratorNode":
            _check_seed_sequence(state, nodes, shared)
    walked = _audit_size(0, nodes, shared, {})
    if walked > 2 * len(nodes):
        raise ValueError(
            f"auditing its schema of {len(nodes)} nodes would walk {walked}, out of "
            "proportion"
        )


# numpy's scalar types, which skops calls on an array it read: an array of
# another type would be taken as a size (numpy.bytes_(2_000_000_000)).
_NUMPY_SCALARS = frozenset(t.__name__ for t in np.sctypeDict.values())


def _check_scalar(inner: zipfile.ZipFile, state: dict) -> None:
    """Refuse a numpy scalar built from an array of another type."""
    if state.get("__loader__") != "NdArrayNode" or state.get("type") != "numpy":
        return
    with inner.open(state["file"]) as handle:
        dtype = _array_header(state["file"], handle)[1]
    if dtype.type.__name__ != state["__class__"]:
        raise ValueError(
            f"it builds a numpy.{state['__class__']} from an array of {dtype}"
        )


# numpy mixes a SeedSequence's pool in time quadratic in its size (a pool of
# ten million words takes hours); numpy's default is 4 words.
_POOL_LIMIT = 64


def _check_seed_sequence(state: dict, nodes: list, shared: dict) -> None:
    """Refuse a numpy Generator whose seed sequence states a pool over the
    limit, or states it with anything but a plain number."""
    for sequence in _built_for(state["content"].get("seed_seq"), nodes, shared):
        pool = sequence["content"].get("pool_size")
        for size in _built_for(pool, nodes, shared):
            value = (
                size.get("content") if size.get("__loader__") == "JsonNode" else None
            )
            number = json.loads(value) if isinstance(value, str) else None
            if (
                not isinstance(number, int)
                or isinstance(number, bool)
                or not 0 < number <= _POOL_LIMIT
            ):
                shown = " ".join(repr(value or size).split())[:80]
                raise ValueError(
                    f"a random generator's seed sequence states pool_size {shown}, "
                    f"not a number up to {_POOL_LIMIT}"
                )


def _built_for(state: Any, nodes: list, shared: dict) -> list[dict]:
    """The states skops may build for ``state``: those with its ``__id__``."""
    if not isinstance(state, dict):
        return []
    key = state.get("__id__")
    key = key if isinstance(key, (int, float, str)) else None
    return [nodes[i][1] for i in shared.get(key, [])] if key else [state]


def _schema_nodes(value: Any, nodes: list, children: list[int]) -> None:
    """Collect the nodes inside ``value``, adding the outermost to ``children``."""
    if isinstance(value, dict) and ("__loader__" in value or "__id__" in value):
        key = value.get("__id__")
        key = key if isinstance(key, (int, float, str)) else None
        nodes.append((key, value, []))
        children.append(len(nodes) - 1)
        children = nodes[-1][2]
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, (dict, list)):
            _schema_nodes(item, nodes, children)


def _audit_size(index: int, nodes: list, shared: dict, sizes: dict) -> int:
    """How many nodes skops' audit walks from node ``index``, at most.

    ``sizes`` holds the size of each ``__id__`` computed so far, None while
    it is being computed (a node that contains itself)."""
    total = 1
    for child in nodes[index][2]:
        key = nodes[child][0]
        if not key:
            total += _audit_size(child, nodes, shared, sizes)
            continue
        if key in sizes and sizes[key] is None:
            raise ValueError(f"node {key!r} contains itself")
        if key not in sizes:
            sizes[key] = None
            sizes[key] = max(_audit_size(i, nodes, shared, sizes) for i in shared[key])
        total += sizes[key]
    return total


def _refuse_pickles(obj: Any) -> None:
    """skops stores a torch module or skorch net by pickling it: refuse, not hide it."""
    from skorch import NeuralNet

    for where, part in _walk(obj):
        if isinstance(part, (torch.nn.Module, NeuralNet)):
            raise ValueError(
                f"format='skops' cannot store {type(part).__name__} (at {where}): "
                "its torch module would be pickled inside the file, and loading it "
                "would run code. Use format='joblib' and load such files only from "
                "trusted sources."
            )


def _unstorable(obj: Any) -> str:
    """What in ``obj`` skops cannot store, and where: a tensor or a pandas
    object outside a Pipe's state, or a Message's pandas column."""
    from fireworks_sk.message import Message
    from fireworks_sk.pipes import Pipe

    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(type(obj).__name__, obj)]
    while stack:
        where, part = stack.pop()
        if isinstance(part, (torch.Tensor, pd.Series, pd.DataFrame, pd.Index)):
            return f"the {type(part).__name__} at {where}"
        if isinstance(part, Message):
            for name in part.columns:
                if not part.is_tensor(name):
                    return f"the pandas column {name!r} of the Message at {where}"
        if isinstance(part, (Pipe, Message)) or _is_leaf(part) or id(part) in seen:
            continue
        seen.add(id(part))
        stack.extend(reversed(list(_children(where, part))))
    return "this object"


def _refuse_pickled_members(payload: bytes) -> None:
    """The backstop of :func:`_refuse_pickles`: skops writes the bytes an
    object's state holds as members, so a pickle that the walk did not find
    (a state that ``__getstate__`` alone gives) shows here."""
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        for info in inner.infolist():
            data = inner.read(info)
            pickled = data[:1] == b"\x80" and data[1:2] in (
                b"\x02",
                b"\x03",
                b"\x04",
                b"\x05",
            )
            if data[:4] == b"PK\x03\x04":  # torch.save's format
                with contextlib.suppress(zipfile.BadZipFile):
                    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
                    pickled = any(name.endswith(".pkl") for name in names)
            if pickled:
                raise ValueError(
                    "format='skops' cannot store this object: part of its state is "
                    f"a pickle (skops member {info.filename!r}), and loading it "
                    "would run code. Use format='joblib' and load such files only "
                    "from trusted sources."
                )


_LEAVES = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    np.generic,
    torch.Tensor,
)


def _walk(obj: Any) -> Iterator[tuple[str, Any]]:
    """Every object inside ``obj``, each with where it sits.

    Follows estimator parameters (``get_params``, whose recursion gives
    ``get_params(deep=True)``), attributes, and the items of lists, tuples,
    sets and dicts, so a net inside a TransformedTargetRegressor, a
    VotingClassifier's list or a dict is found as surely as a Pipeline step.
    """
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(type(obj).__name__, obj)]
    while stack:
        where, part = stack.pop()
        if _is_leaf(part) or id(part) in seen:
            continue
        seen.add(id(part))
        yield where, part
        stack.extend(reversed(list(_children(where, part))))


def _is_leaf(part: Any) -> bool:
    if isinstance(part, (np.ndarray, pd.Series, pd.Index)):
        # Only an array of Python objects can hold a net.
        return part.dtype != object
    return part is None or isinstance(part, _LEAVES)


def _children(where: str, part: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(part, (np.ndarray, pd.Series, pd.Index)):
        for index, item in enumerate(np.asarray(part, dtype=object).ravel()):
            yield f"{where}[{index}]", item
        return
    if isinstance(part, dict):
        for key, value in part.items():
            yield f"{where}[{key!r}]", key
            yield f"{where}[{key!r}]", value
        return
    if isinstance(part, (list, tuple, set, frozenset)):
        for index, item in enumerate(part):
            yield f"{where}[{index}]", item
        return
    if hasattr(part, "get_params"):
        with contextlib.suppress(Exception):
            for name, value in part.get_params(deep=False).items():
                yield f"{where}.{name}", value
    for name, value in getattr(part, "__dict__", {}).items():
        yield f"{where}.{name}", value


# --------------------------------------------------------------- manifest
def installed_versions() -> dict[str, str]:
    """The versions of Python and of the packages a manifest records.

    Returns
    -------
    dict of str to str
        ``{"python": ..., "torch": ..., "scikit-learn": ...}``; a package that
        is not installed is left out.
    """
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _manifest(obj: Any, format: str, payload: bytes) -> dict[str, Any]:
    return {
        "fireworks_sk_file": _FILE_VERSION,
        "format": format,
        "object": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "versions": installed_versions(),
        "input_schema": _input_schema(obj),
        "random_state": _random_states(obj),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
    }


def _first_step(obj: Any) -> Any:
    """The estimator that first sees the input: inside Pipelines and searches."""
    if hasattr(obj, "best_estimator_"):
        return _first_step(obj.best_estimator_)
    steps = getattr(obj, "steps", None)
    if steps:
        first = next((s for _, s in steps if s not in (None, "passthrough")), obj)
        return obj if first is obj else _first_step(first)
    return obj


def _input_schema(obj: Any) -> list[dict[str, Any]] | None:
    """The columns the first step was fitted on, as its ``input_schema_`` gives
    them (a Pipe's, a Torch estimator's), else the names of any scikit-learn
    estimator fitted on named columns."""
    from fireworks_sk.schema import Schema

    first = _first_step(obj)
    schema = getattr(first, "input_schema_", None)
    if isinstance(schema, Schema):
        return schema.describe()
    names = getattr(first, "feature_names_in_", None)
    return None if names is None else [{"name": str(n)} for n in names]


def _random_states(obj: Any) -> dict[str, int]:
    if not hasattr(obj, "get_params"):
        return {}
    params = obj.get_params(deep=True)
    return {
        key: int(value)
        for key, value in params.items()
        if key.endswith("random_state") and isinstance(value, int)
    }


# ------------------------------------------------------------------ write
def _write_atomically(path: Path, manifest: bytes, payload: bytes) -> None:
    with atomic_write(path, action="Saving to") as handle:
        try:
            with zipfile.ZipFile(
                handle, "w", compression=zipfile.ZIP_STORED
            ) as archive:
                archive.writestr(_MANIFEST, manifest)
                archive.writestr(_PAYLOAD, payload)
        except OSError as exc:
            raise write_failed("Saving to", path, exc) from exc


# ------------------------------------------------------------------- read
# What the zip, JSON and skops readers raise on damaged bytes: an unsupported
# zip version (NotImplementedError), an encryption flag (RuntimeError), a seek
# before the file's start (OSError EINVAL), nesting too deep (RecursionError).
_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    KeyError,
    IndexError,
    AttributeError,
    TypeError,
    ValueError,
    RuntimeError,
    OverflowError,
    struct.error,
    zlib.error,
)


@contextlib.contextmanager
def _damage_is_corruption(path: Path) -> Iterator[None]:
    """Turn the errors of reading damaged bytes into one CorruptFileError."""
    try:
        yield
    except (CorruptFileError, UntrustedTypesError):
        raise
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, None):
            raise
        raise _corrupt(path, exc) from exc
    except _DAMAGE as exc:
        raise _corrupt(path, exc) from exc


@contextlib.contextmanager
def _refused_state_names_file(path: Path) -> Iterator[None]:
    """Name the file in the error of an object refusing its unpickled state
    (a fitted Pipe whose state disagrees with itself, ``pipes/_state.py``)."""
    try:
        yield
    except CorruptStateError as exc:
        raise CorruptFileError(
            f"{str(path)!r} is corrupt: {exc} Save the model again."
        ) from exc


def _corrupt(path: Path, exc: BaseException) -> CorruptFileError:
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    return CorruptFileError(
        f"{str(path)!r} is corrupt or not a fireworks_sk file ({reason}); it may be "
        "truncated or altered. Save the model again."
    )


@contextlib.contextmanager
def _archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The file opened as a zip whose members are checked, none yet read."""
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {str(path)!r}.")
    with open(path, "rb") as handle:
        with _damage_is_corruption(path):
            archive = zipfile.ZipFile(handle)
        with archive:
            names = sorted(info.filename for info in archive.infolist())
            if names != sorted((_MANIFEST, _PAYLOAD)):
                raise CorruptFileError(
                    f"{str(path)!r} is not a fireworks_sk model file: it holds "
                    f"{names[:5]!r}, not exactly {[_MANIFEST, _PAYLOAD]!r}."
                )
            _check_members(path, archive, os.fstat(handle.fileno()).st_size)
            yield archive


def _check_members(path: Path, archive: zipfile.ZipFile, room: int) -> None:
    """Refuse members that are compressed, encrypted, or larger than ``room``.

    fireworks_sk and skops store members as they are, so a member's stated
    size is the number of bytes read for it, and all of them fit in the file.
    Checked before anything is read or decompressed: a zip bomb's stated size
    or compression gives it away.
    """
    total = 0
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise _corrupt(path, ValueError(f"member {info.filename!r} is encrypted"))
        if info.compress_type != zipfile.ZIP_STORED:
            raise _corrupt(
                path,
                ValueError(
                    f"member {info.filename!r} is compressed; fireworks_sk stores "
                    "members uncompressed and never decompresses one"
                ),
            )
        total += info.file_size
        if info.file_size != info.compress_size or total > room:
            raise _corrupt(
                path,
                ValueError(
                    f"member {info.filename!r} states {info.file_size} bytes "
                    f"({info.compress_size} stored), out of proportion to the "
                    f"{room} bytes it came in"
                ),
            )


def _read_manifest(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    info = archive.getinfo(_MANIFEST)
    if info.file_size > _MANIFEST_LIMIT:
        raise _corrupt(
            path,
            ValueError(
                f"its manifest states {info.file_size} bytes, over the limit of "
                f"{_MANIFEST_LIMIT}"
            ),
        )
    with _damage_is_corruption(path):
        manifest = json.loads(archive.read(info))
    _check_manifest(path, manifest)
    return manifest


def _read_payload(
    path: Path, archive: zipfile.ZipFile, manifest: dict[str, Any]
) -> bytes:
    info = archive.getinfo(_PAYLOAD)
    if info.file_size != manifest["payload_bytes"]:
        raise _corrupt(
            path,
            ValueError(
                f"its payload holds {info.file_size} bytes, its manifest says "
                f"{manifest['payload_bytes']}"
            ),
        )
    with _damage_is_corruption(path):
        payload = archive.read(info)
    if len(payload) != info.file_size:
        raise _corrupt(path, ValueError("its payload is shorter than stated"))
    if hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise CorruptFileError(
            f"{str(path)!r} is corrupt: its payload does not match the checksum in "
            "its manifest (altered or partly written)."
        )
    return payload


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "fireworks_sk_file": int,
    "format": str,
    "object": str,
    "versions": dict,
    "input_schema": (list, type(None)),
    "random_state": dict,
    "created": str,
    "sha256": str,
    "payload_bytes": int,
}


def _check_manifest(path: Path, manifest: Any) -> None:
    """Every field with its type: a damaged manifest is refused here, not met
    later as an AttributeError deep in loading."""
    if (
        not isinstance(manifest, dict)
        or manifest.get("fireworks_sk_file") != _FILE_VERSION
        or manifest.get("format") not in FORMATS
    ):
        raise CorruptFileError(f"{str(path)!r} is not a fireworks_sk model file.")
    for field, kind in _FIELDS.items():
        value = manifest.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            _bad_field(path, field, value)
    if not re.fullmatch(r"[0-9a-f]{64}", manifest["sha256"]):
        _bad_field(path, "sha256", manifest["sha256"])
    if manifest["payload_bytes"] < 0:
        _bad_field(path, "payload_bytes", manifest["payload_bytes"])
    for field, kind in (("versions", str), ("random_state", int)):
        if not all(
            isinstance(v, kind) and not isinstance(v, bool)
            for v in manifest[field].values()
        ):
            _bad_field(path, field, manifest[field])
    for column in manifest["input_schema"] or []:
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            _bad_field(path, "input_schema", column)


def _bad_field(path: Path, field: str, value: Any) -> None:
    shown = " ".join(repr(value).split())[:80]
    raise CorruptFileError(
        f"{str(path)!r} is corrupt: its manifest's {field!r} is {shown} "
        f"({type(value).__name__}), not what fireworks_sk writes."
    )


def _warn_on_version_mismatch(path: Path, saved: dict[str, str]) -> None:
    current = installed_versions()
    differences = [
        f"{package} {version} (now {current.get(package, 'not installed')})"
        for package, version in saved.items()
        if current.get(package) != version
    ]
    if differences:
        warnings.warn(
            f"{str(path)!r} was saved with " + ", ".join(differences) + "; results "
            "may differ.",
            VersionMismatchWarning,
            stacklevel=3,
        )
