"""SQLSource: the rows of a query, streamed through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources._base import Source, _check_chunk_size, _rows, import_extra

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
    >>> from fireworks_sk.sources import SQLSource
    >>> source = SQLSource(
    ...     "sqlite:///shop.db",
    ...     "SELECT * FROM orders WHERE country = :country",
    ...     chunk_size=50_000,
    ...     params={"country": "NZ"},
    ... )  # doctest: +SKIP
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
        self.chunk_size = _check_chunk_size("SQLSource", chunk_size)
        self.params = params

    def _read(self, rng: np.random.Generator | None) -> Iterator[tuple]:
        sa = import_extra("sqlalchemy", "sql", "SQLSource")
        engine = self._engine(sa)
        offset = 0
        try:
            with engine.connect() as connection:
                result = self._execute(sa, connection)
                while True:
                    rows = self._fetch(sa, result, offset)
                    if not rows:
                        break
                    frame = pd.DataFrame(rows, columns=list(result.keys()))
                    yield offset, _rows(offset, offset + len(rows)), frame
                    offset += len(rows)
        finally:
            if engine is not self.url:
                engine.dispose()

    def _engine(self, sa: Any) -> Any:
        if isinstance(self.url, sa.engine.Engine):
            return self.url
        return sa.create_engine(self.url)

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
        names = sorted(self.params or {})
        bound = f"\nBound parameters: {names!r}" if names else ""
        return SourceError(
            f"SQLSource query on {self._describe()} {what}: "
            f"{type(detail).__name__}: {detail}\nQuery: {self.query}{bound}"
        )

    def _describe(self) -> str:
        url = getattr(self.url, "url", self.url)
        render = getattr(url, "render_as_string", None)
        return render(hide_password=True) if render else _hide_password(str(url))


def _hide_password(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
