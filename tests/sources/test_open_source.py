"""open_source: the one rule that picks a file source for a data path."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from fireworks_sk import Message
from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources import CSVSource, ParquetSource
from fireworks_sk.sources._files import open_source
from tests._streams import stream_frame, write_parquet_files

pytest.importorskip("pyarrow")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("data.csv", CSVSource),
        ("DATA.CSV", CSVSource),
        ("data.parquet", ParquetSource),
        ("data.Parquet", ParquetSource),
        ("data.parq", ParquetSource),
        ("data.pq", ParquetSource),
    ],
)
def test_a_file_is_read_by_its_suffix(tmp_path, name, kind):
    frame = stream_frame()[["x", "size"]]
    path = tmp_path / name
    if kind is CSVSource:
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    source = open_source(path, 25)
    assert isinstance(source, kind)
    assert Message.concat(list(source)).equals(Message(frame))


def test_a_folder_is_read_as_its_parquet_files(tmp_path):
    frame = stream_frame()
    folder = write_parquet_files(frame, tmp_path)
    source = open_source(str(folder), 30)
    assert isinstance(source, ParquetSource)
    assert Message.concat(list(source)).equals(Message(frame))


def test_a_folder_without_parquet_files_is_named(tmp_path):
    (tmp_path / "a.csv").write_text("a\n1\n")
    with pytest.raises(FileNotFoundError, match="No Parquet files in the directory"):
        list(open_source(tmp_path, 10))


@pytest.mark.parametrize("name", ["data.txt", "data", "data.csv.gz", "data.tsv"])
def test_another_kind_of_file_is_refused_naming_path_and_kinds(tmp_path, name):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError) as info:
        open_source(path, 10, owner="DATA")
    message = str(info.value)
    assert message.startswith(f"DATA: '{path}' is not a kind of data file")
    assert "a .csv file, a Parquet file (.parquet, .parq, .pq)" in message
    assert "a folder of Parquet files" in message


def test_nothing_at_the_path_is_named(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(FileNotFoundError, match="data.path: No data file") as info:
        open_source(path, 10, owner="data.path")
    assert info.value.filename == str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
def test_a_special_file_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def never(*args, **kwargs):
        pytest.fail("the data was opened for reading")

    monkeypatch.setattr(pd, "read_csv", never)
    with pytest.raises(SourceError, match=r"is a FIFO \(named pipe\), not a regular"):
        open_source(fifo, 10)
