"""ParquetSource reads dictionary-stored string columns as dictionaries and
casts them back: the chunks equal those read as strings, bit for bit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireworks_sk.sources import ParquetSource, _files
from fireworks_sk.sources._base import read_chunks


def _chunks(source: ParquetSource) -> list:
    return [(c.offset, c.position, c.message) for c in read_chunks(source)]


def _read_as_strings(source: ParquetSource) -> list:
    """The general path: every string column decoded to strings by pyarrow."""
    with mock.patch.object(_files, "_dictionary_strings", return_value={}):
        return _chunks(source)


def _assert_same_chunks(fast: list, general: list) -> None:
    assert [(o, p, len(m)) for o, p, m in fast] == [
        (o, p, len(m)) for o, p, m in general
    ]
    for (_, _, a), (_, _, b) in zip(fast, general):
        assert a.columns == b.columns and a.dtypes == b.dtypes
        for name in a.columns:
            pd.testing.assert_series_equal(a[name], b[name], check_exact=True)


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)


@st.composite
def _tables(draw):
    n = draw(st.integers(0, 60))
    vocabulary = draw(st.lists(_TEXT, min_size=1, max_size=8, unique=True))
    words = st.one_of(st.none(), st.sampled_from(vocabulary))
    frame = pd.DataFrame(
        {
            "x": np.arange(n, dtype=np.float64),
            "few": draw(st.lists(words, min_size=n, max_size=n)),
            "any": draw(st.lists(st.one_of(st.none(), _TEXT), min_size=n, max_size=n)),
        }
    )
    if draw(st.booleans()):
        frame["cat"] = pd.Categorical(frame["few"])
    chunk_size = draw(st.integers(1, 25))
    # Row groups of whole chunks, so that the dictionary path is taken.
    aligned = draw(st.booleans())
    row_group = chunk_size * draw(st.integers(1, 3)) if aligned else None
    row_group = row_group or draw(st.integers(1, 40))
    options = {
        "row_group_size": row_group,
        "use_dictionary": draw(st.sampled_from([True, False, ["few"], ["any"]])),
    }
    names = st.sampled_from(list(frame.columns))
    columns = draw(st.none() | st.lists(names, min_size=1, unique=True))
    return frame, chunk_size, options, draw(st.booleans()), columns


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_tables())
def test_dictionary_read_strings_equal_strings_read_as_strings(case):
    frame, chunk_size, options, with_pandas, columns = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.parquet"
        if with_pandas:  # pandas' metadata, a str dtype and a named index
            frame.rename_axis("row").to_parquet(path, **options)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(table, path, **options)
        source = ParquetSource(path, chunk_size, columns=columns)
        _assert_same_chunks(_chunks(source), _read_as_strings(source))


def _write(path: Path, table: pa.Table, **options) -> pq.ParquetFile:
    pq.write_table(table, path, **options)
    return pq.ParquetFile(path)


def test_only_strings_stored_as_small_dictionaries_are_read_as_dictionaries(
    tmp_path,
):
    rng = np.random.default_rng(0)
    n = 20_000
    table = pa.table(
        {
            "few": np.array(["a", "b", "c"])[rng.integers(0, 3, n)],
            # 20,000 distinct values: a dictionary page far past 64 KiB.
            "many": [f"{v:020d}" for v in rng.permutation(n)],
            "x": np.arange(n, dtype=np.float64),
            "code": pa.array(["a"] * n).dictionary_encode(),
        }
    )
    parquet = _write(tmp_path / "a.parquet", table)
    assert set(_files._dictionary_strings(pa, parquet, 1000)) == {"few"}
    plain = _write(tmp_path / "b.parquet", table, use_dictionary=False)
    assert _files._dictionary_strings(pa, plain, 1000) == {}


@pytest.mark.parametrize(("row_group", "dictionary"), [(2000, True), (1500, False)])
def test_strings_are_read_as_dictionaries_only_where_batches_end_at_row_groups(
    tmp_path, row_group, dictionary
):
    # Read as dictionaries, a batch ends where a row group does; read as
    # strings it runs on into the next one.
    table = pa.table({"few": ["a", "b"] * 2500})
    parquet = _write(tmp_path / "a.parquet", table, row_group_size=row_group)
    assert bool(_files._dictionary_strings(pa, parquet, 1000)) is dictionary
    source = ParquetSource(tmp_path / "a.parquet", 1000)
    chunks = _chunks(source)
    assert [len(m) for _, _, m in chunks] == [1000] * 5
    _assert_same_chunks(chunks, _read_as_strings(source))
