"""A Message built from a DataFrame refuses duplicate names exactly as pandas
counts them, however the names are checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_sk import Message

NAMES = st.lists(
    st.one_of(st.sampled_from(["a", "b", "a ", "A", "ä", ""]), st.text(max_size=3)),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(names=NAMES, numeric=st.booleans())
def test_duplicate_names_refused_exactly_when_pandas_counts_them(names, numeric):
    values = np.zeros((2, len(names))) if numeric else [["x"] * len(names)] * 2
    frame = pd.DataFrame(values, columns=pd.Index(names, dtype=object))
    if frame.columns.is_unique:
        assert Message(frame).columns == names
    else:
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        with pytest.raises(ValueError, match="Duplicate column names") as info:
            Message(frame)
        assert repr(duplicated) in str(info.value)
