"""DataFrameSource and the rules every Source follows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fireworks_sk import Message, SchemaError
from fireworks_sk.sources import DataFrameSource, Source
from fireworks_sk.sources._base import read_chunks
from tests._streams import CHUNK_SIZES, N_STREAM, stream_frame


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_dataframe_source_chunks_cover_the_frame_in_order(chunk_size):
    frame = stream_frame()
    chunks = list(DataFrameSource(frame, chunk_size))
    assert all(isinstance(m, Message) for m in chunks)
    assert all(len(m) <= chunk_size for m in chunks)
    assert [len(m) for m in chunks[:-1]] == [chunk_size] * (len(chunks) - 1)
    assert Message.concat(chunks).equals(Message(frame))


def test_dataframe_source_is_re_iterable():
    source = DataFrameSource(stream_frame(), 10)
    first, second = list(source), list(source)
    assert len(first) == len(second) == 11
    assert all(a.equals(b) for a, b in zip(first, second))


def test_dataframe_source_streams_a_message_with_tensor_columns():
    m = Message({"t": torch.arange(10.0).reshape(5, 2), "s": list("abcde")})
    chunks = list(DataFrameSource(m, 2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert torch.equal(chunks[2]["t"], torch.tensor([[8.0, 9.0]]))


def test_dataframe_source_knows_its_rows():
    assert DataFrameSource(stream_frame(), 7).n_rows == N_STREAM


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True, "10"])
def test_source_rejects_a_bad_chunk_size(chunk_size):
    with pytest.raises((TypeError, ValueError), match="chunk_size"):
        DataFrameSource(stream_frame(), chunk_size)


def test_dataframe_source_rejects_other_inputs():
    with pytest.raises(TypeError, match="DataFrame or a Message"):
        DataFrameSource(np.zeros((3, 2)), 2)


class _Pieces(Source):
    """A source yielding given DataFrames as they are (to test the checks)."""

    def __init__(self, frames, chunk_size=100):
        self.frames = frames
        self.chunk_size = chunk_size

    def _read(self, rng):
        offset = 0
        for k, frame in enumerate(self.frames):
            yield offset, f"piece {k}", frame
            offset += len(frame)


def test_dtype_change_between_chunks_names_position_and_column():
    source = _Pieces([pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1.5, np.nan]})])
    with pytest.raises(SchemaError, match=r"column 'a' is float64 .* piece 1.*int64"):
        list(source)


def test_dtype_change_within_a_family_between_chunks_is_taken():
    # A nullable integer chunk holds what an int64 one holds: a step fitted on
    # the first chunk takes it without a word, and so does the source.
    second = pd.DataFrame({"a": pd.array([3, 4], dtype="Int64"), "s": ["x", "y"]})
    first = pd.DataFrame({"a": [1, 2], "s": pd.Series(["u", "v"], dtype=object)})
    chunks = list(_Pieces([first, second.astype({"s": "string"})]))
    assert [m["a"].tolist() for m in chunks] == [[1, 2], [3, 4]]


def test_integer_width_change_between_chunks_is_refused():
    pieces = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": np.int32([3])})]
    with pytest.raises(SchemaError, match=r"column 'a' is int32 .* piece 1.*int64"):
        list(_Pieces(pieces))


def test_column_change_between_chunks_names_position():
    source = _Pieces([pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]})])
    with pytest.raises(SchemaError, match=r"piece 1 has columns \['b'\]"):
        list(source)


def test_oversized_pieces_are_split_to_chunk_size():
    source = _Pieces([pd.DataFrame({"a": range(7)})], chunk_size=3)
    assert [len(m) for m in source] == [3, 3, 1]
    assert [c.offset for c in read_chunks(source)] == [0, 3, 6]


def test_empty_pieces_are_skipped():
    empty = pd.DataFrame({"a": pd.Series([], dtype="int64")})
    source = _Pieces([empty, pd.DataFrame({"a": [1, 2]}), empty])
    assert [len(m) for m in source] == [2]
