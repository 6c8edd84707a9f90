"""SQLSource: the rows of a query, streamed through SQLAlchemy."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources._base import (
    Source,
    check_chunk_size,
    import_extra,
    row_span,
)

__all__ = ["SQLSource"]


class SQLSource(Source):
    """Stream the rows of a SQL query in chunks, with a server-side cursor.

    The query runs with SQLAlchemy's ``yield_per`` execution option, which
    streams rows through a server-side cursor where the driver has one
    (PostgreSQL with psycopg) and fetches ``chunk_size`` rows at a time
    otherwise (SQLite). Each iteration runs the query again on a new connection.

    Parameters
    ----------
    url : str, sqlalchemy.URL or sqlalchemy.Engine
        Where the database is, e.g. ``"sqlite:///data.db"`` or
        ``"postgresql+psycopg://user@127.0.0.1/db"``.
    query : str or SQLAlchemy selectable
        The query. Values go in ``params`` as bound parameters (``:name`` in
        the text), never into the query string.
    chunk_size : int
        Rows per chunk; the last chunk may be shorter.
    params : dict or None, default=None
        Bound parameters of the query.

    Examples
    --------
    A SQLite database in a temporary folder, holding the penguins table:

    >>> import sqlite3
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fireworks_sk.datasets import load_penguins
    >>> from fireworks_sk.sources import SQLSource
    >>> folder = tempfile.TemporaryDirectory()
    >>> database = Path(folder.name) / "penguins.db"
    >>> with sqlite3.connect(database) as connection:
    ...     load_penguins().to_sql("penguins", connection, index=False)
    344
    >>> source = SQLSource(
    ...     f"sqlite:///{database}",
    ...     "SELECT species, body_mass_g FROM penguins WHERE island = :island",
    ...     chunk_size=100,
    ...     params={"island": "Biscoe"},
    ... )
    >>> [len(m) for m in source]
    [100, 68]
    >>> next(iter(source)).columns
    ['species', 'body_mass_g']
    >>> folder.cleanup()
    """

    _dtype_hint = (
        "pandas infers each chunk's dtypes from its values (a NULL turns an integer "
        "column into float); CAST the column in the query."
    )

    def __init__(
        self,
        url: Any,
        query: Any,
        chunk_size: int,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(
                f"SQLSource(params=...) must be a dict of bound parameters; got "
                f"{type(params).__name__}."
            )
        self.url = url
        self.query = query
        self.chunk_size = check_chunk_size("SQLSource", chunk_size)
        self.params = params

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        sa = import_extra("sqlalchemy", "sql", "SQLSource")
        engine = self._engine(sa)
        offset = 0
        try:
            with self._connect(sa, engine) as connection:
                result = self._execute(sa, connection)
                while True:
                    rows = self._fetch(sa, result, offset)
                    if not rows:
                        break
                    frame = pd.DataFrame(rows, columns=list(result.keys()))
                    yield offset, row_span(offset, offset + len(rows)), frame
                    offset += len(rows)
        finally:
            if engine is not self.url:
                engine.dispose()

    def _engine(self, sa: Any) -> Any:
        if isinstance(self.url, sa.engine.Engine):
            return self.url
        try:
            return sa.create_engine(self.url)
        except sa.exc.SQLAlchemyError as exc:  # a malformed URL, an unknown driver
            raise self._error(exc, "could not start") from exc

    def _connect(self, sa: Any, engine: Any) -> Any:
        try:
            return engine.connect()
        except sa.exc.SQLAlchemyError as exc:  # no server, refused, bad login
            raise self._error(exc, "could not connect") from exc

    def _statement(self, sa: Any) -> Any:
        return sa.text(self.query) if isinstance(self.query, str) else self.query

    def _execute(self, sa: Any, connection: Any) -> Any:
        options = {"yield_per": self.chunk_size, "stream_results": True}
        try:
            return connection.execution_options(**options).execute(
                self._statement(sa), dict(self.params or {})
            )
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "failed") from exc

    def _fetch(self, sa: Any, result: Any, offset: int) -> list:
        try:
            return result.fetchmany(self.chunk_size)
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, f"failed after {offset} rows") from exc

    def _error(self, exc: Exception, what: str) -> SourceError:
        detail = getattr(exc, "orig", None) or exc
        params = dict(self.params or {})
        names = sorted(params)
        bound = f"\nBound parameters: {names!r}" if names else ""
        text = _redact(_driver_message(detail), params)
        return SourceError(
            f"SQLSource query on {self._describe()} {what}: "
            f"{type(detail).__name__}: {text}\nQuery: {self.query}{bound}"
        )

    def _describe(self) -> str:
        url = getattr(self.url, "url", self.url)
        render = getattr(url, "render_as_string", None)
        return render(hide_password=True) if render else _hide_password(str(url))


def _driver_message(error: Exception) -> str:
    """The driver's message without the parts that quote parameter values.

    PostgreSQL appends a CONTEXT line listing the bound parameters (in full
    where ``log_parameter_max_length_on_error`` allows) and DETAIL lines with
    row values; psycopg exposes the primary message on its own.
    """
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary if isinstance(primary, str) else str(error)


def _redact(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with each bound value, where it appears whole, replaced by its name.

    Servers quote a value they cannot use (``invalid input syntax for type
    integer: "hunter2"``); the message names the parameter instead.
    """
    for name, value in params.items():
        for shown in sorted(_renderings(value), key=len, reverse=True):
            pattern = rf"(?<!\w){re.escape(shown)}(?!\w)"
            text = re.sub(pattern, lambda _, name=name: f"<:{name}>", text)
    return text


def _renderings(value: Any) -> set[str]:
    """How a driver or server may spell ``value`` in a message."""
    shown = {str(value), repr(value)}
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        with contextlib.suppress(TypeError):
            shown.add(isoformat())
    if isinstance(value, (bytes, bytearray)):
        shown |= {bytes(value).hex(), bytes(value).decode("utf-8", "replace")}
    return {s for s in shown if s.strip()}


def _hide_password(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
