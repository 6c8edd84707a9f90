"""CSVSource and ParquetSource."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from fireworks_sk import Message, SchemaError
from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources import CSVSource, ParquetSource
from fireworks_sk.sources._base import read_chunks
from tests._streams import (
    CHUNK_SIZES,
    N_STREAM,
    stream_frame,
    write_csv,
    write_parquet_files,
)

pytest.importorskip("pyarrow")


def _assert_same_rows(source, frame, chunk_size):
    chunks = list(source)
    assert chunks, "the source yielded nothing"
    assert all(0 < len(m) <= chunk_size for m in chunks)
    assert Message.concat(chunks).equals(Message(frame))


# ---------------------------------------------------------------------- CSV
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_csv_source_yields_every_row_in_chunks(tmp_path, chunk_size):
    path = write_csv(stream_frame(), tmp_path)
    _assert_same_rows(CSVSource(path, chunk_size), pd.read_csv(path), chunk_size)


def test_csv_source_is_re_iterable(tmp_path):
    source = CSVSource(write_csv(stream_frame(), tmp_path), 10)
    assert Message.concat(list(source)).equals(Message.concat(list(source)))


def test_csv_source_passes_read_csv_arguments(tmp_path):
    path = write_csv(stream_frame(), tmp_path)
    chunks = list(CSVSource(path, 40, usecols=["x", "i"], dtype={"i": "float32"}))
    assert chunks[0].columns == ["x", "i"]
    assert chunks[0]["i"].dtype == np.float32


def test_csv_source_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        list(CSVSource(path, 10))


def test_csv_dtype_change_names_rows_column_and_fix(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text("a,b\n1,x\n2,y\n3,z\n,w\n")
    with pytest.raises(SchemaError) as info:
        list(CSVSource(path, 2))
    message = str(info.value)
    assert "'a'" in message and "gap.csv" in message and "rows 2-3" in message
    assert "dtype=" in message
    # The fix the message suggests works.
    assert len(list(CSVSource(path, 2, dtype={"a": "float64"}))) == 2


def test_csv_parse_error_names_file_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(SourceError, match=r"bad.csv.*after data row 2"):
        list(CSVSource(path, 2))


def test_csv_source_refuses_its_own_chunking_arguments(tmp_path):
    with pytest.raises(TypeError, match="chunksize"):
        CSVSource(tmp_path / "a.csv", 10, chunksize=5)


# ------------------------------------------------------------------ Parquet
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_parquet_source_reads_a_directory_in_chunks(tmp_path, chunk_size):
    frame = stream_frame()
    directory = write_parquet_files(frame, tmp_path)
    _assert_same_rows(ParquetSource(directory, chunk_size), frame, chunk_size)


def test_parquet_source_reads_one_file_and_a_list(tmp_path):
    frame = stream_frame()
    directory = write_parquet_files(frame, tmp_path)
    files = sorted(directory.glob("*.parquet"))
    one = list(ParquetSource(files[0], 1000))
    assert len(one) == 1 and one[0].equals(Message(pd.read_parquet(files[0])))
    twice = Message.concat(list(ParquetSource([directory, directory], 30)))
    assert len(twice) == 2 * N_STREAM


def test_parquet_source_projects_columns(tmp_path):
    directory = write_parquet_files(stream_frame(), tmp_path)
    chunks = list(ParquetSource(directory, 25, columns=["size", "x"]))
    assert {tuple(m.columns) for m in chunks} == {("size", "x")}


def test_parquet_source_unknown_column_names_file_and_column(tmp_path):
    directory = write_parquet_files(stream_frame(), tmp_path)
    with pytest.raises(SchemaError, match=r"\['nope'\].*part-000.parquet"):
        list(ParquetSource(directory, 25, columns=["x", "nope"]))


def test_parquet_source_is_re_iterable_and_counts_rows(tmp_path):
    source = ParquetSource(write_parquet_files(stream_frame(), tmp_path), 20)
    assert Message.concat(list(source)).equals(Message.concat(list(source)))
    assert source.n_rows == N_STREAM


def test_parquet_source_positions_name_file_and_row_group(tmp_path):
    source = ParquetSource(write_parquet_files(stream_frame(), tmp_path), 10)
    positions = [c.position for c in read_chunks(source)]
    assert "part-000.parquet" in positions[0] and "row group 0" in positions[0]
    assert any("part-002.parquet', row group 1" in p for p in positions)


def test_parquet_schema_change_between_files_names_file_and_column(tmp_path):
    directory = tmp_path / "mixed"
    directory.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(directory / "0.parquet")
    pd.DataFrame({"a": ["x", "y"]}).to_parquet(directory / "1.parquet")
    with pytest.raises(SchemaError, match=r"column 'a' .*1.parquet', row group 0"):
        list(ParquetSource(directory, 10))


def test_parquet_int32_file_after_an_int64_one_names_file_column_and_fix(tmp_path):
    directory = tmp_path / "widths"
    directory.mkdir()
    pd.DataFrame({"a": [1, 2]}).to_parquet(directory / "0.parquet")
    pd.DataFrame({"a": np.int32([3, 4])}).to_parquet(directory / "1.parquet")
    with pytest.raises(
        SchemaError, match=r"'a' is int32 .*1.parquet.*int64.*cast the column when"
    ):
        list(ParquetSource(directory, 10))


def test_parquet_int_column_with_some_missing_values_reads_as_float(tmp_path):
    directory = tmp_path / "gaps"
    directory.mkdir()
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(directory / "0.parquet")
    pd.DataFrame({"a": pd.array([4, None, 6], dtype="Int64")}).to_parquet(
        directory / "1.parquet"
    )
    chunks = list(ParquetSource(directory, 2))
    assert {m["a"].dtype for m in chunks} == {np.dtype("float64")}
    assert Message.concat(chunks).equals(Message(pd.read_parquet(directory)))


@pytest.mark.parametrize("name", ["missing.parquet", "missing_dir"])
def test_parquet_source_missing_path_names_it(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=name):
        list(ParquetSource(tmp_path / name, 10))


def test_parquet_source_empty_directory_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No Parquet files.*empty"):
        list(ParquetSource(tmp_path / "empty", 10))


def test_parquet_source_skips_hidden_and_underscore_files(tmp_path):
    directory = write_parquet_files(stream_frame(), tmp_path)
    (directory / "_SUCCESS").write_text("")
    pd.DataFrame({"other": [1]}).to_parquet(directory / ".partial.parquet")
    assert sum(len(m) for m in ParquetSource(directory, 50)) == N_STREAM


def test_parquet_corrupt_file_names_the_file(tmp_path):
    directory = write_parquet_files(stream_frame(), tmp_path)
    (directory / "part-001.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises((SourceError, OSError), match="part-001.parquet"):
        list(ParquetSource(directory, 50))


def test_shuffled_chunk_order_keeps_offsets(tmp_path):
    frame = stream_frame()
    source = ParquetSource(write_parquet_files(frame, tmp_path), 10)
    chunks = list(read_chunks(source, np.random.default_rng(3)))
    for chunk in chunks:
        expected = frame.iloc[chunk.offset : chunk.offset + len(chunk.message)]
        assert chunk.message.equals(Message(expected))
    assert sorted(c.offset for c in chunks) == [c.offset for c in read_chunks(source)]


# ------------------------------------------------------- not regular files
def _special(kind, tmp_path):
    """A path to something that is not a regular file, and how it is described."""
    if kind == "device":
        return "/dev/zero", "a character device"  # reading it never ends
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)  # opening it blocks until a writer comes
        return path, r"a FIFO \(named pipe\)"
    if kind == "link-to-device":
        path = tmp_path / "zero.parquet"
        path.symlink_to("/dev/zero")
        return path, "a character device"
    path = tmp_path / "folder.csv"
    path.mkdir()
    return path, "a directory"


SPECIAL = ["device", "fifo", "link-to-device", "directory"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", SPECIAL)
def test_csv_source_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path, described = _special(kind, tmp_path)
    with pytest.raises(
        SourceError, match=f"CSVSource: '{path}' is {described}, not a regular file"
    ):
        list(CSVSource(path, 10))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", ["device", "fifo", "link-to-device"])
def test_parquet_source_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path, described = _special(kind, tmp_path)
    with pytest.raises(
        SourceError, match=f"ParquetSource: '{path}' is {described}, not a regular"
    ):
        list(ParquetSource([write_parquet_files(stream_frame(), tmp_path), path], 10))
