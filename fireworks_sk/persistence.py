"""Save and load fitted objects with a manifest, a checksum and atomic writes.

A saved file is a zip archive of two members: ``manifest.json`` (versions,
input schema, creation time, random states, the payload's SHA-256) and
``payload``, the object serialised with joblib or skops. :func:`inspect` reads
the manifest alone and so runs no code from the file.

Security: a joblib (pickle) payload runs arbitrary code when loaded. Load
joblib files only from sources you trust; use ``format="skops"`` for files that
come from others.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import platform
import tempfile
import warnings
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import torch

from fireworks_sk.exceptions import FireworksError

__all__ = [
    "CorruptFileError",
    "UntrustedTypesError",
    "VersionMismatchWarning",
    "inspect",
    "load",
    "save",
]

FORMATS = ("joblib", "skops")
_MANIFEST, _PAYLOAD = "manifest.json", "payload"
_FILE_VERSION = 1
_PACKAGES = ("fireworks-sk", "torch", "scikit-learn", "skorch", "pandas", "numpy")


class CorruptFileError(FireworksError, ValueError):
    """A saved file is truncated, altered or not a fireworks_sk file."""


class UntrustedTypesError(FireworksError, TypeError):
    """A skops file holds types that the caller did not trust."""


class VersionMismatchWarning(UserWarning):
    """A file was saved with other versions of the libraries than these."""


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
        for the objects listed in the persistence guide.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import fireworks_sk as fsk
    >>> from fireworks_sk.datasets import load_penguins
    >>> scaler = fsk.BatchNormalizer().fit(load_penguins().dropna())
    >>> fsk.save(scaler, "scaler.fwsk")  # doctest: +SKIP
    PosixPath('scaler.fwsk')
    >>> fsk.load("scaler.fwsk").mean_["body_mass_g"]  # doctest: +SKIP
    tensor(4207.0571, dtype=torch.float64)
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)!r}; got {format!r}.")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot save to {str(path)!r}: its folder is missing.")
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a folder; name a file in it."
        )
    payload = _serialise(obj, format)
    manifest = _manifest(obj, format, payload)
    _write_atomically(path, manifest, payload)
    return path


def load(path: str | os.PathLike, *, trusted: list[str] | None = None) -> Any:
    """Load an object saved by :func:`save`, checking its integrity.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str or None, default=None
        For skops files: fully qualified names of types to trust beyond
        fireworks_sk's Pipes and Messages and the types skops trusts itself
        (scikit-learn's estimators among them). Unused for joblib files, which
        run code when loaded and must come from a trusted source.

    Returns
    -------
    object

    Raises
    ------
    CorruptFileError
        If the file is truncated, altered, or not a fireworks_sk file.
    UntrustedTypesError
        If a skops file holds types not trusted; the message lists them.

    Warns
    -----
    VersionMismatchWarning
        If the file was saved with other library versions.
    """
    path = Path(path)
    manifest, payload = _read(path)
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest.get("sha256"):
        raise CorruptFileError(
            f"{str(path)!r} is corrupt: its payload does not match the checksum in "
            "its manifest (altered or partly written)."
        )
    _warn_on_version_mismatch(path, manifest.get("versions", {}))
    if manifest["format"] == "skops":
        return _load_skops(payload, trusted, path)
    if trusted is not None:
        raise ValueError(
            f"{str(path)!r} is a joblib file: 'trusted' applies to skops files only. "
            "joblib files run code when loaded; load them only from trusted sources."
        )
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
    """
    return _read(Path(path), payload=False)[0]


def _serialise(obj: Any, format: str) -> bytes:
    if format == "skops":
        _refuse_torch_modules(obj)
        return _skops().dumps(obj)
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


def _load_skops(payload: bytes, trusted: list[str] | None, path: Path) -> Any:
    sio = _skops()
    found = sio.get_untrusted_types(data=payload)
    allowed = set(trusted or [])
    refused = [t for t in found if t not in allowed and not _ours(t)]
    if refused:
        raise UntrustedTypesError(
            f"{str(path)!r} holds types that are not trusted: {refused!r}. Load it "
            "only if you trust them, with load(path, trusted=[...]) naming them."
        )
    return sio.loads(payload, trusted=found)


def _refuse_torch_modules(obj: Any) -> None:
    """skops cannot store a torch module without pickling it: refuse, not hide it."""
    for part in _parts(obj):
        if isinstance(part, torch.nn.Module) or hasattr(part, "module_"):
            raise ValueError(
                f"format='skops' cannot store {type(part).__name__}: its torch module "
                "would be pickled inside the file, and loading it would run code. "
                "Use format='joblib' and load such files only from trusted sources."
            )


def _parts(obj: Any) -> list[Any]:
    """The object and the estimators nested in Pipelines, Junctions and searches."""
    parts = [obj]
    nested = [s for _, s in getattr(obj, "steps", [])]
    nested += [p for _, p in getattr(obj, "pipes_", None) or []]
    nested += [obj.best_estimator_] if hasattr(obj, "best_estimator_") else []
    for child in nested:
        parts += _parts(child)
    return parts


# Types whose state is plain data (see fireworks_sk._portable): safe to trust.
_TRUSTED_PREFIXES = ("fireworks_sk.pipes.", "fireworks_sk.message.")


def _ours(type_name: str) -> bool:
    return type_name.startswith(_TRUSTED_PREFIXES)


def _versions() -> dict[str, str]:
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
        "versions": _versions(),
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
    first = _first_step(obj)
    schema = getattr(first, "_schema_in", None)
    if schema is not None:
        return [
            {
                "name": name,
                "kind": "tensor" if isinstance(column, torch.Tensor) else "pandas",
                "dtype": str(column.dtype),
                "shape": list(column.shape[1:]),
            }
            for name, column in schema.items()
        ]
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


def _write_atomically(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    fd, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(
                handle, "w", compression=zipfile.ZIP_STORED
            ) as archive:
                archive.writestr(_MANIFEST, json.dumps(manifest, indent=2))
                archive.writestr(_PAYLOAD, payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise _save_failed(path, exc) from exc
        raise
    _fsync_folder(path.parent)


def _file_mode(path: Path) -> int:
    """The permissions a plain ``open(path, "wb")`` would give the file.

    mkstemp creates the temporary file readable by its owner only; a model
    saved by a training job must stay readable by the service that loads it.
    An existing file keeps its mode.
    """
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mode & 0o777
    return 0o666 & ~_umask()


def _umask() -> int:
    # Reading the umask without setting it (os.umask sets it process-wide,
    # racing other threads) is possible on Linux only.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _save_failed(path: Path, exc: OSError) -> OSError:
    """The OSError of a failed write, naming the file and what was kept."""
    reason = exc.strerror or str(exc)
    message = (
        f"Saving to {str(path)!r} failed: {reason}. Any previous file there is "
        "unchanged."
    )
    # OSError(errno, ...) picks the matching subclass (PermissionError, ...).
    return OSError(exc.errno, message) if exc.errno else OSError(message)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path: Path, *, payload: bool = True) -> tuple[dict[str, Any], bytes]:
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {str(path)!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(_MANIFEST))
            data = archive.read(_PAYLOAD) if payload else b""
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, EOFError) as exc:
        raise CorruptFileError(
            f"{str(path)!r} is corrupt or not a fireworks_sk file ({exc}); it may be "
            "truncated. Save the model again."
        ) from exc
    if (
        not isinstance(manifest, dict)
        or manifest.get("fireworks_sk_file") != _FILE_VERSION
        or manifest.get("format") not in FORMATS
    ):
        raise CorruptFileError(f"{str(path)!r} is not a fireworks_sk model file.")
    return manifest, data


def _warn_on_version_mismatch(path: Path, saved: dict[str, str]) -> None:
    current = _versions()
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
