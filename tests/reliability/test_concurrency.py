"""Concurrency: one loaded model serving many threads; processes saving at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.pipeline import Pipeline

import fireworks_sk as fsk
from fireworks_sk.persistence import CorruptFileError

REPO = Path(__file__).resolve().parents[2]
N_THREADS = 8


def penguin_like(n=400, seed=0):
    rng = np.random.default_rng(seed)
    species = rng.integers(0, 3, size=n)
    return pd.DataFrame(
        {
            "bill": rng.normal(size=n) + species,
            "mass": rng.normal(size=n) * 500 + 4000 + 300 * species,
            "island": rng.choice(["a", "b", "c"], size=n),
        }
    ), np.array(["x", "y", "z"])[species]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A fitted Pipeline ending in a TorchClassifier, saved and loaded back."""
    X, y = penguin_like()
    pipeline = Pipeline(
        [
            ("scale", fsk.BatchNormalizer()),
            ("onehot", fsk.OneHot(columns=["island"])),
            ("stack", fsk.Stack()),
            # Small batches: each predict runs many batches, so threads interleave.
            (
                "net",
                fsk.TorchClassifier(
                    max_epochs=3, batch_size=8, random_state=0, verbose=0
                ),
            ),
        ]
    ).fit(X, y)
    path = fsk.save(pipeline, tmp_path_factory.mktemp("served") / "model.fwsk")
    return fsk.load(path)


def _requests(n=N_THREADS * 4):
    return [penguin_like(n=37 + i, seed=100 + i)[0] for i in range(n)]


def _run_at_once(call, inputs):
    """``call`` on every input from N_THREADS threads; the first start together."""
    barrier = threading.Barrier(N_THREADS, timeout=120)

    def first(x):
        barrier.wait()
        return call(x)

    with ThreadPoolExecutor(N_THREADS) as pool:
        # The first N_THREADS tasks block until all have a thread of their own.
        futures = [
            pool.submit(first if i < N_THREADS else call, x)
            for i, x in enumerate(inputs)
        ]
        return [f.result() for f in futures]


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_from_eight_threads_equals_serial(served, method):
    inputs = _requests()
    serial = [getattr(served, method)(x) for x in inputs]
    threaded = _run_at_once(getattr(served, method), inputs)
    for expected, got in zip(serial, threaded):
        np.testing.assert_array_equal(got, expected)


def test_transform_from_eight_threads_equals_serial(served):
    head = served[:-1]
    inputs = _requests()
    serial = [head.transform(x) for x in inputs]
    threaded = _run_at_once(head.transform, inputs)
    for expected, got in zip(serial, threaded):
        assert got.equals(expected)


def test_threads_predicting_leave_the_model_and_the_global_rng_alone(served):
    weights = {k: v.clone() for k, v in served[-1].module_.state_dict().items()}
    rng = torch.get_rng_state()
    threads = torch.get_num_threads()
    _run_at_once(served.predict, _requests())
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.get_num_threads() == threads
    for name, value in served[-1].module_.state_dict().items():
        assert torch.equal(value, weights[name])


def test_errors_in_some_threads_do_not_disturb_the_others(served):
    good = _requests()
    bad = [x.drop(columns="mass") for x in good[:N_THREADS]]
    expected = [served.predict(x) for x in good]

    def call(x):
        try:
            return served.predict(x)
        except ValueError as exc:
            return exc

    results = _run_at_once(
        call, [x for pair in zip(good, bad) for x in pair] + good[N_THREADS:]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == N_THREADS
    assert all("mass" in str(e) for e in errors)
    answers = [r for r in results if not isinstance(r, Exception)]
    for got, want in zip(answers, expected):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ saving
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import fireworks_sk as fsk

    path, me, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # Sizes differ per writer so that interleaved bytes could not pass as a file.
    big = np.full(200_000 + 50_000 * me, float(me))
    for version in range(rounds):
        fsk.save({"writer": me, "version": version, "big": big}, path)
    """
)


def _check(loaded):
    me = loaded["writer"]
    assert loaded["big"].shape == (200_000 + 50_000 * me,)
    assert np.all(loaded["big"] == me)


def test_two_processes_saving_to_one_path_never_leave_a_corrupt_file(tmp_path):
    path = tmp_path / "model.fwsk"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    rounds = 25
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), str(me), str(rounds)], env=env
        )
        for me in (0, 1)
    ]
    reads = 0
    try:
        deadline = time.monotonic() + 300
        # Read while they write: every read sees one writer's whole file.
        while any(w.poll() is None for w in writers):
            if time.monotonic() > deadline:
                pytest.fail("writers did not finish")
            if path.exists():
                try:
                    _check(fsk.load(path))
                except FileNotFoundError:
                    continue  # cannot happen after the first rename, but be exact
                except CorruptFileError as exc:  # pragma: no cover - the failure
                    pytest.fail(f"read a corrupt file mid-write: {exc}")
                reads += 1
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
            w.wait()
    assert [w.returncode for w in writers] == [0, 0]
    loaded = fsk.load(path)
    _check(loaded)
    assert loaded["version"] == rounds - 1
    assert reads > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fwsk", "writer.py"]


def test_threads_saving_to_one_path_never_leave_a_corrupt_file(tmp_path):
    path = tmp_path / "model.fwsk"
    objects = [
        {"writer": me, "big": np.full(100_000 + 10_000 * me, float(me))}
        for me in range(4)
    ]

    def save_many(obj):
        for _ in range(5):
            fsk.save(obj, path)
            loaded = fsk.load(path)
            assert loaded["big"].shape == (100_000 + 10_000 * loaded["writer"],)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(save_many, objects))
    assert [p.name for p in tmp_path.iterdir()] == ["model.fwsk"]


# ---------------------------------------------------------------- training
def test_seeded_fits_in_threads_equal_serial_fits():
    # torch has one random generator per process; seeded fits running in
    # threads at once must not interleave their draws (init, dropout, shuffle).
    X, y = penguin_like(n=200)
    X = X.drop(columns="island")

    def fit(seed):
        net = fsk.TorchClassifier(
            random_state=seed,
            max_epochs=3,
            batch_size=16,
            train_split=None,
            verbose=0,
            module__dropout=0.3,
        )
        return net.fit(X.to_numpy(np.float32), y).predict_proba(X.to_numpy(np.float32))

    serial = [fit(seed) for seed in range(4)]
    rng = torch.get_rng_state()
    threaded = _run_at_once(fit, list(range(4)) * 2)
    for seed, got in enumerate(threaded):
        np.testing.assert_array_equal(got, serial[seed % 4])
    assert torch.equal(torch.get_rng_state(), rng)
