"""Writing a file atomically: the one way every writer of the package does it.

``save``, ``write_parquet`` and ``fireworks-sk predict --out`` all write
through :func:`atomic_write`, so a reader of the destination only ever sees
the previous file or the whole new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "write_failed"]

# The part of the destination's name kept in the temporary file's name: with
# the dot, the random part and the suffix it stays far below NAME_MAX (255)
# however long the destination's name is.
_TEMPORARY_STEM = 40


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, action: str) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` when complete.

    The handle writes to a new hidden file in the destination's folder, with
    a random name created exclusively, so concurrent writers never share one
    and a stale temporary left by a killed run is never reused. When the
    block ends, the file is flushed to disk (``fsync``), given the permissions
    a plain ``open`` would give (an existing destination keeps its own), and
    renamed over ``path`` (``os.replace``); the folder is then synced. If the
    block raises, or any of these steps fails, the temporary file is removed
    and any previous file at ``path`` is unchanged.

    Parameters
    ----------
    path : str or path-like
        The destination.
    action : str
        What the caller is doing, naming the destination in errors:
        ``"Saving to"`` gives ``"Saving to 'model.fwsk' failed: ..."``.

    Raises
    ------
    OSError
        If the temporary file cannot be created, synced or renamed; the
        message names ``path`` (never the temporary file) and the reason, and
        the subclass follows the ``errno`` (``PermissionError``, ...). An
        error raised by the block itself propagates unchanged.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = Path(folder.name) / "out.bin"
    >>> with atomic_write(path, action="Writing") as handle:
    ...     _ = handle.write(b"whole")
    >>> path.read_bytes()
    b'whole'
    >>> folder.cleanup()
    """
    target = Path(path)
    try:
        folder, prefix = target.parent, f".{target.name[:_TEMPORARY_STEM]}."
        fd, temporary = tempfile.mkstemp(suffix=".tmp", prefix=prefix, dir=folder)
    except OSError as exc:
        raise write_failed(action, target, exc) from exc
    written = False
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            written = True
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(target))
        os.replace(temporary, target)
    except BaseException as exc:
        # Cleaning up must not replace the error being raised.
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if written and isinstance(exc, OSError):
            raise write_failed(action, target, exc) from exc
        raise
    _fsync_folder(target.parent)


def write_failed(action: str, path: str | os.PathLike, exc: OSError) -> OSError:
    """The OSError of a failed write, naming the destination and what was kept.

    The message names ``path``, never a temporary file (whose name ``exc``
    may carry), and keeps the reason and the ``errno``.
    """
    reason = exc.strerror or str(exc)
    message = (
        f"{action} {os.fspath(path)!r} failed: {reason}. Any previous file "
        "there is unchanged."
    )
    # OSError(errno, ...) picks the matching subclass (PermissionError, ...).
    return OSError(exc.errno, message) if exc.errno else OSError(message)


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


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
