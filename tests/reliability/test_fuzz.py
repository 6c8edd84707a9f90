"""Fuzzing saved files: every damaged file loads as the same model or raises
CorruptFileError naming the file, never another error.

The mutations are seeded, so a failure reproduces: bit flips, truncations,
inserted and deleted bytes, and edits of the zip headers' fields (sizes,
offsets, flags, compression methods, name lengths). ``fuzz`` also serves a
longer run by hand: ``fuzz(path, X, expected, count=50_000, seed=1)`` on a
joblib and a skops file gave the 100,000 mutations docs/reliability.md reports.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import fireworks_sk as fsk
from fireworks_sk.persistence import CorruptFileError

# The headers of a zip: local file header, central directory entry, end of
# central directory, and how many bytes of fields follow each signature.
_HEADERS = {b"PK\x03\x04": 26, b"PK\x01\x02": 42, b"PK\x05\x06": 18}
_EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFFFFFF]


def _flip(data: bytes, rng: random.Random) -> bytes:
    mutated = bytearray(data)
    mutated[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _insert(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 8) :]


def _edit_header(data: bytes, rng: random.Random) -> bytes:
    starts = [
        (start, length)
        for signature, length in _HEADERS.items()
        for start in _find_all(data, signature)
    ]
    start, length = rng.choice(starts)
    width = rng.choice([1, 2, 4])
    at = start + 4 + rng.randrange(length - width + 1)
    value = rng.choice(_EXTREMES) if rng.random() < 0.5 else rng.getrandbits(32)
    field = (value & (2 ** (8 * width) - 1)).to_bytes(width, "little")
    return data[:at] + field + data[at + width :]


def _find_all(data: bytes, signature: bytes) -> list[int]:
    found, start = [], data.find(signature)
    while start != -1:
        found.append(start)
        start = data.find(signature, start + 1)
    return found


MUTATIONS = [_flip, _truncate, _insert, _delete, _edit_header]


def fuzz(
    path: Path, X: pd.DataFrame, expected: np.ndarray, *, count: int, seed: int
) -> Counter:
    """Load ``count`` mutations of the file at ``path``; count the outcomes.

    Each outcome is "same model" (predictions equal ``expected``) or
    "CorruptFileError" (naming the file); anything else fails, naming the
    mutation that caused it.
    """
    rng, original, outcomes = random.Random(seed), path.read_bytes(), Counter()
    damaged = path.with_name("damaged-" + path.name)
    for number in range(count):
        mutate = rng.choice(MUTATIONS)
        damaged.write_bytes(mutate(original, rng))
        outcome = _outcome(damaged, X, expected)
        assert outcome in ("same model", "CorruptFileError"), (
            f"mutation {number} ({mutate.__name__}, seed {seed}): {outcome}"
        )
        outcomes[outcome] += 1
    return outcomes


def _outcome(path: Path, X: pd.DataFrame, expected: np.ndarray) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a flipped version string warns
            fsk.inspect(path)
            model = fsk.load(path)
    except CorruptFileError as exc:
        return "CorruptFileError" if str(path) in str(exc) else f"unnamed: {exc}"
    except Exception as exc:  # noqa: BLE001 - any other error is the finding
        return f"{type(exc).__name__}: {exc}"
    same = np.array_equal(model.predict_proba(X), expected)
    return "same model" if same else "a different model"


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)})
    y = (X["a"] + X["b"] > 0).astype(int)
    pipeline = Pipeline(
        [("scale", fsk.BatchNormalizer()), ("lr", LogisticRegression())]
    )
    return X, pipeline.fit(X, y)


@pytest.mark.parametrize("format", ["joblib", "skops"])
def test_damaged_files_load_the_same_model_or_raise_corrupt_file_error(
    tmp_path, model, format
):
    X, pipeline = model
    path = fsk.save(pipeline, tmp_path / "model.fwsk", format=format)
    outcomes = fuzz(path, X, pipeline.predict_proba(X), count=2000, seed=0)
    assert sum(outcomes.values()) == 2000
    # Most mutations damage what is checked; some hit bytes nobody reads.
    assert outcomes["CorruptFileError"] > 1000
