"""SQLSource on SQLite (a file made here) and on a real PostgreSQL server."""

from __future__ import annotations

import pandas as pd
import pytest

from fireworks_sk import Message, SchemaError
from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources import SQLSource
from tests._streams import CHUNK_SIZES, N_STREAM, pg_table, stream_frame, write_sqlite

sa = pytest.importorskip("sqlalchemy")

INJECTION = "red'; DROP TABLE data; --"


@pytest.fixture
def sqlite_url(tmp_path):
    return write_sqlite(stream_frame(), tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """``(url, table)`` holding stream_frame(), on each database."""
    if request.param == "sqlite":
        yield write_sqlite(stream_frame(), tmp_path), "data"
        return
    url = request.getfixturevalue("pg_url")
    with pg_table(url, stream_frame()) as table:
        yield url, table


def _query(table, where=""):
    return f'SELECT * FROM "{table}" {where} ORDER BY x'


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_sql_source_yields_every_row_in_chunks(database, chunk_size):
    url, table = database
    chunks = list(SQLSource(url, _query(table), chunk_size))
    assert all(0 < len(m) <= chunk_size for m in chunks)
    expected = stream_frame().sort_values("x", ignore_index=True)
    assert Message.concat(chunks).equals(Message(expected))


def test_sql_source_is_re_iterable(database):
    url, table = database
    source = SQLSource(url, _query(table), 10)
    assert Message.concat(list(source)).equals(Message.concat(list(source)))


def test_sql_source_binds_parameters(database):
    url, table = database
    source = SQLSource(url, _query(table, "WHERE color = :c"), 7, params={"c": "red"})
    rows = Message.concat(list(source))
    assert set(rows["color"]) == {"red"}
    assert len(rows) == (stream_frame()["color"] == "red").sum()


def test_sql_injection_string_is_bound_as_a_value(database):
    url, table = database
    where = "WHERE color = :c"
    assert list(SQLSource(url, _query(table, where), 7, params={"c": INJECTION})) == []
    # The table is still there, whole.
    assert sum(len(m) for m in SQLSource(url, _query(table), 50)) == N_STREAM


def test_sql_error_includes_the_query(database):
    url, _ = database
    with pytest.raises(SourceError, match=r"(?s)no_such_table.*Query: SELECT \* FROM"):
        list(SQLSource(url, "SELECT * FROM no_such_table", 10))


def test_sql_error_names_bound_parameters_not_their_values(database):
    url, _ = database
    source = SQLSource(
        url, "SELECT * FROM nope WHERE a = :secret", 5, params={"secret": "hunter2"}
    )
    with pytest.raises(SourceError, match="nope") as info:
        list(source)
    assert "['secret']" in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("query", "params", "secrets", "match"),
    [
        # The server quotes the value it cannot parse in its primary message.
        (
            "SELECT CAST(:secret AS int)",
            {"secret": "hunter2"},
            ["hunter2"],
            r"invalid input syntax for type integer: \"<:secret>\"",
        ),
        (
            "SELECT CAST(CAST(:when AS text) AS date)",
            {"when": "2031-13-45"},
            ["2031-13-45"],
            r"out of range: \"<:when>\"",
        ),
        # Several values: only the bad one is quoted, none may show.
        (
            "SELECT CAST(:pin AS int) + CAST(:code AS int)",
            {"pin": "4711", "code": "s3cr3t-code"},
            ["4711", "s3cr3t-code"],
            r"\"<:code>\"",
        ),
    ],
    ids=["text-as-int", "date", "two-values"],
)
def test_postgres_error_names_parameters_never_values(
    pg_verbose_url, query, params, secrets, match
):
    with pytest.raises(SourceError, match=match) as info:
        list(SQLSource(pg_verbose_url, query, 5, params=params))
    message = str(info.value)
    assert f"Bound parameters: {sorted(params)!r}" in message
    for secret in secrets:
        assert secret not in message


@pytest.fixture
def pg_verbose_url(pg_url):
    """An engine on ``pg_url`` whose server lists parameter values in errors.

    ``log_parameter_max_length_on_error=-1`` makes PostgreSQL add every bound
    value, in full, to the CONTEXT of an error it sends.
    """
    engine = sa.create_engine(pg_url)

    @sa.event.listens_for(engine, "connect")
    def verbose(dbapi_connection, record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET log_parameter_max_length_on_error = -1")
        dbapi_connection.commit()

    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        pytest.skip(f"cannot make the server list parameters in errors: {exc}")
    yield engine
    engine.dispose()


def test_sql_source_accepts_a_selectable_and_an_engine(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    table = sa.table("data", sa.column("x"), sa.column("color"))
    query = sa.select(table).where(table.c.color == "blue")
    rows = Message.concat(list(SQLSource(engine, query, 9)))
    assert rows.columns == ["x", "color"]
    assert set(rows["color"]) == {"blue"}
    engine.dispose()


def test_sql_dtype_change_names_rows_and_column(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, None, 4.0]}).astype("Int64")
    url = write_sqlite(frame, tmp_path)
    with pytest.raises(SchemaError, match=r"column 'a' is float64 .*rows 2-3.*CAST"):
        list(SQLSource(url, "SELECT a FROM data", 2))


def test_postgres_streams_through_a_server_side_cursor(pg_url):
    with pg_table(pg_url, stream_frame()) as table:
        engine = sa.create_engine(pg_url)
        cursors = []

        @sa.event.listens_for(engine, "before_cursor_execute")
        def record(connection, cursor, statement, parameters, context, many):
            cursors.append(type(cursor).__name__)

        assert sum(len(m) for m in SQLSource(engine, _query(table), 10)) == N_STREAM
        engine.dispose()
    assert cursors == ["ServerCursor"]


def test_unreachable_database_is_a_source_error_naming_it(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/folder/data.db"
    with pytest.raises(
        SourceError, match=r"(?s)no/such/folder/data.db could not connect: .*Query:"
    ):
        list(SQLSource(url, "SELECT 1", 5))


def test_refused_postgres_connection_hides_the_password():
    pytest.importorskip("psycopg")
    # Port 1 on loopback: nothing listens there, the connection is refused.
    url = "postgresql+psycopg://reader:hunter2@127.0.0.1:1/db"
    with pytest.raises(
        SourceError, match=r"reader:\*\*\*@127.0.0.1:1/db could not"
    ) as info:
        list(SQLSource(url, "SELECT 1", 5))
    assert "hunter2" not in str(info.value)


def test_unknown_database_driver_is_a_source_error():
    with pytest.raises(SourceError, match="nosuchdb://x could not start"):
        list(SQLSource("nosuchdb://x", "SELECT 1", 5))
