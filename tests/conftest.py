"""Shared fixtures: Messages of every column kind, and a PostgreSQL server URL."""

from __future__ import annotations

import os

import pytest

from fireworks_sk import Message
from tests._data import MESSAGE_FACTORIES


@pytest.fixture(params=sorted(MESSAGE_FACTORIES))
def kind(request) -> str:
    """The name of a column kind: "mixed", "pandas" or "tensor"."""
    return request.param


@pytest.fixture
def message(kind) -> Message:
    """A Message of N_ROWS rows, for each column kind."""
    return MESSAGE_FACTORIES[kind]()


@pytest.fixture
def make_message(kind):
    """A factory ``make_message(n, seed)`` for the current column kind."""
    return MESSAGE_FACTORIES[kind]


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a reachable PostgreSQL server, from FIREWORKS_SK_PG_URL.

    Tests using it skip when no server is configured or reachable, except
    under CI=true, where they fail: CI (.ci/run) starts a server.
    """
    url = os.environ.get("FIREWORKS_SK_PG_URL")
    if not url:
        _pg_unavailable("FIREWORKS_SK_PG_URL is not set")
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
    except ImportError as exc:
        _pg_unavailable(f"the 'sql' extra is not installed ({exc})")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        _pg_unavailable(f"no PostgreSQL server reachable at {url} ({exc})")
    finally:
        engine.dispose()
    return url


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"PostgreSQL tests cannot run: {reason}. CI=true requires them; .ci/run "
            "starts a server and sets FIREWORKS_SK_PG_URL."
        )
    pytest.skip(
        f"PostgreSQL tests skipped: {reason}. Set FIREWORKS_SK_PG_URL, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres."
    )
