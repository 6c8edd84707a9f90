"""Faults: interrupted training, killed and failing saves, failing streams.

Nothing here waits for a fixed time: processes are killed when a file shows
they are mid-save, and every wait has a generous deadline that fails the test
rather than hanging it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback, Checkpoint, LoadInitState

import fireworks_sk as fsk
from fireworks_sk import Message
from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources import CSVSource, DataFrameSource, ParquetSource, SQLSource
from fireworks_sk.sources._base import Source
from tests._streams import pg_table

REPO = Path(__file__).resolve().parents[2]


def blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, size=n)
    X = np.eye(3, 4)[codes] * 2 + rng.normal(scale=0.7, size=(n, 4))
    return Message({"f": torch.from_numpy(X.astype(np.float32))}), codes


def net(**params):
    defaults = {"max_epochs": 4, "batch_size": 16, "train_split": None, "verbose": 0}
    return fsk.TorchClassifier(random_state=0, **{**defaults, **params})


def weights(model):
    return {k: v.clone() for k, v in model.module_.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class RaiseAt(Callback):
    """Raise ``error`` when epoch ``epoch`` (1-based) begins.

    skorch has opened that epoch's history row by then: the history holds
    ``epoch`` rows, the last without results.
    """

    def __init__(self, epoch, error):
        self.epoch = epoch
        self.error = error

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise self.error


# ------------------------------------------------------------- training
def test_exception_mid_training_propagates_and_leaves_a_usable_estimator():
    X, y = blobs()
    threads, rng_state = torch.get_num_threads(), torch.get_rng_state()
    model = net(callbacks=[("boom", RaiseAt(2, RuntimeError("boom at epoch 2")))])
    with pytest.raises(RuntimeError, match="boom at epoch 2"):
        model.fit(X, y)
    # Seeding and thread limits are undone although fit raised.
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.get_rng_state(), rng_state)
    # A failed fit leaves the estimator as before the call: here, unfitted.
    assert not hasattr(model, "module_")
    with pytest.raises(fsk.NotFittedError):
        model.predict(X)
    # A later fit starts afresh and equals a clean one.
    model.set_params(callbacks=[])
    assert same_weights(weights(model.fit(X, y)), weights(net().fit(X, y)))


def test_exception_in_the_first_batch_leaves_a_refittable_estimator():
    X, y = blobs()

    class RaiseOnBatch(Callback):
        def on_batch_begin(self, net, **kwargs):
            raise ValueError("bad batch")

    model = net(callbacks=[("bad", RaiseOnBatch())])
    with pytest.raises(ValueError, match="bad batch"):
        model.fit(X, y)
    model.set_params(callbacks=[])
    assert same_weights(weights(model.fit(X, y)), weights(net().fit(X, y)))


def test_keyboard_interrupt_stops_training_and_keeps_the_epochs_done():
    X, y = blobs()
    model = net(callbacks=[("stop", RaiseAt(2, KeyboardInterrupt()))])
    # skorch's semantics: the interrupt ends fit, which returns the net.
    assert model.fit(X, y) is model
    assert len(model.history) == 2
    assert "train_loss" in model.history[0] and "train_loss" not in model.history[1]
    assert model.predict(X).shape == (len(y),)
    one_epoch = net(max_epochs=1).fit(X, y)
    assert same_weights(weights(model), weights(one_epoch))


def test_run_interrupted_then_resumed_from_checkpoint_equals_uninterrupted(tmp_path):
    X, y = blobs()
    straight = net(max_epochs=5).fit(X, y)

    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    stop = RaiseAt(3, KeyboardInterrupt())
    interrupted = net(max_epochs=5, callbacks=[checkpoint, ("stop", stop)]).fit(X, y)
    assert len(interrupted.history) == 3  # two epochs done, the third cut off

    # The checkpoint holds the two complete epochs; three more make five.
    load = LoadInitState(Checkpoint(dirname=str(tmp_path), monitor=None))
    resumed = net(max_epochs=3, callbacks=[load]).fit(X, y)
    assert len(resumed.history) == 5
    assert same_weights(weights(resumed), weights(straight))
    np.testing.assert_array_equal(resumed.predict_proba(X), straight.predict_proba(X))


def test_exception_in_partial_fit_keeps_earlier_training():
    X, y = blobs()
    model = net(max_epochs=1).fit(X, y)
    before = weights(model)
    with pytest.raises(ValueError, match="NaN in column 'f'"):
        model.partial_fit(Message({"f": torch.full((8, 4), float("nan"))}), y[:8])
    assert same_weights(weights(model), before)
    assert model.predict(X).shape == (len(y),)


# ------------------------------------------------------------------ saving
SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import fireworks_sk as fsk

    path = sys.argv[1]
    big = np.random.default_rng(0).random(4_000_000)  # 32 MB: saves take a while
    version = 0
    while True:
        fsk.save({"version": version, "big": big}, path)
        version += 1
    """
)


def _wait_for(predicate, what, deadline=60.0):
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.001)


def _temporaries(folder: Path, name: str) -> list[Path]:
    return list(folder.glob(f".{name}.*.tmp"))


def test_sigkill_during_save_keeps_the_previous_file_loadable(tmp_path):
    path = tmp_path / "model.fwsk"
    fsk.save({"version": -1, "big": np.zeros(1)}, path)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    process = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
    try:
        # Kill while a temporary file exists: between its creation and the rename.
        _wait_for(lambda: fsk.load(path)["version"] >= 1, "two completed saves")
        _wait_for(lambda: _temporaries(tmp_path, path.name), "a save in progress")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    loaded = fsk.load(path)
    assert loaded["version"] >= 1
    assert loaded["big"].shape == (4_000_000,)
    # The killed save's temporary is hidden and never mistaken for the model.
    for stray in _temporaries(tmp_path, path.name):
        assert stray.name.startswith(".")


class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes."""

    def __init__(self, handle, room):
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:
            self._handle.write(bytes(data[: self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.mark.parametrize("room", [0, 100, 1000])
def test_disk_full_during_save_keeps_the_old_file_and_no_temporary(
    tmp_path, monkeypatch, room
):
    old = fsk.BatchNormalizer().fit(pd.DataFrame({"a": [1.0, 2.0]}))
    path = fsk.save(old, tmp_path / "model.fwsk")
    before = path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        "fireworks_sk.persistence.os.fdopen",
        lambda fd, mode: _FullDisk(real_fdopen(fd, mode), room),
    )
    new = fsk.BatchNormalizer().fit(pd.DataFrame({"a": np.arange(5000.0)}))
    with pytest.raises(
        OSError, match="Saving to '.*model.fwsk' failed: No space left"
    ) as info:
        fsk.save(new, path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fwsk"]
    assert float(fsk.load(path).mean_["a"]) == 1.5


def test_failing_rename_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = fsk.save({"v": 1}, tmp_path / "model.fwsk")

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("fireworks_sk.persistence.os.replace", refuse)
    with pytest.raises(PermissionError, match="Saving to '.*model.fwsk' failed"):
        fsk.save({"v": 2}, path)
    monkeypatch.undo()
    assert fsk.load(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.fwsk"]


def test_keyboard_interrupt_during_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = fsk.save({"v": 1}, tmp_path / "model.fwsk")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr("fireworks_sk.persistence.os.fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fsk.save({"v": 2}, path)
    monkeypatch.undo()
    assert fsk.load(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["model.fwsk"]


# ---------------------------------------------------------------- streams
def numeric_frame(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 3 + 2})


class Failing(Source):
    """The rows of a DataFrame, failing with ``error`` before chunk ``fail_at``."""

    def __init__(self, df, chunk_size, fail_at, error):
        self.df, self.chunk_size, self.fail_at, self.error = (
            df,
            chunk_size,
            fail_at,
            error,
        )

    def _read(self, rng):
        for index, start in enumerate(range(0, len(self.df), self.chunk_size)):
            if index == self.fail_at:
                raise self.error
            stop = start + self.chunk_size
            yield (
                start,
                f"rows {start}-{min(stop, len(self.df)) - 1}",
                self.df[start:stop],
            )


def _estimators():
    return {
        "pipe": lambda: fsk.BatchNormalizer(),
        "pipeline": lambda: Pipeline(
            [
                ("scale", fsk.BatchNormalizer()),
                ("onehot", fsk.Junction([fsk.BatchNormalizer()])),
            ]
        ),
        "torch": lambda: Pipeline(
            [
                ("scale", fsk.BatchNormalizer()),
                ("stack", fsk.Stack()),
                ("net", fsk.TorchRegressor(max_epochs=2, random_state=0, verbose=0)),
            ]
        ),
    }


@pytest.mark.parametrize("kind", sorted(_estimators()))
@pytest.mark.parametrize(
    ("error", "exc", "match"),
    [
        (OSError(errno.EIO, "Input/output error"), OSError, "Input/output error"),
        (ValueError("garbled row"), SourceError, "ValueError: garbled row"),
    ],
    ids=["oserror", "other"],
)
def test_source_failing_mid_stream_names_the_position_and_changes_nothing(
    kind, error, exc, match
):
    make = _estimators()[kind]
    data = numeric_frame()
    y = {"y": data["a"].to_numpy(np.float32)} if kind == "torch" else {}
    source = Failing(data, 20, fail_at=3, error=error)

    unfitted = make()
    with pytest.raises(
        exc, match=f"failed after 60 rows, after the chunk at rows 40-59.*{match}"
    ):
        fsk.fit_stream(unfitted, source, verbose=0, **y)
    assert fsk.BatchNormalizer().get_params() == (
        unfitted.get_params() if kind == "pipe" else unfitted[0].get_params()
    )
    first = unfitted if kind == "pipe" else unfitted[0]
    assert not hasattr(first, "mean_")

    fitted = make().fit(data, *y.values())
    before = fitted.transform(data) if kind != "torch" else fitted.predict(data)
    with pytest.raises(exc, match=match):
        fsk.fit_stream(fitted, source, verbose=0, **y)
    after = fitted.transform(data) if kind != "torch" else fitted.predict(data)
    if kind == "torch":
        np.testing.assert_array_equal(after, before)
    else:
        assert after.equals(before)


def test_source_failing_before_the_first_chunk_keeps_its_error():
    source = Failing(
        numeric_frame(), 20, fail_at=0, error=OSError(errno.ENOENT, "gone")
    )
    with pytest.raises(FileNotFoundError, match="gone"):
        fsk.fit_stream(fsk.BatchNormalizer(), source, verbose=0)


def test_csv_truncated_mid_stream_names_file_and_row(tmp_path):
    path = tmp_path / "data.csv"
    numeric_frame().to_csv(path, index=False)
    text = path.read_text()
    path.write_text(text + "1.0,2.0,3.0\n")  # a ragged last line
    pipe = fsk.BatchNormalizer()
    with pytest.raises(
        SourceError, match="data.csv' after data row 90 failed: .*line 102"
    ):
        fsk.fit_stream(pipe, CSVSource(path, 30), verbose=0)
    assert not hasattr(pipe, "mean_")


def test_parquet_folder_with_a_corrupt_file_names_it(tmp_path):
    pytest.importorskip("pyarrow")
    numeric_frame(seed=1).to_parquet(tmp_path / "part-0.parquet")
    (tmp_path / "part-1.parquet").write_bytes(b"PAR1 but cut short")
    pipe = fsk.BatchNormalizer()
    with pytest.raises(SourceError, match="part-1.parquet"):
        fsk.fit_stream(pipe, ParquetSource(tmp_path, 30), verbose=0)
    assert not hasattr(pipe, "mean_")


def test_stream_raising_keyboard_interrupt_stops_and_changes_nothing():
    data = numeric_frame()
    source = Failing(data, 20, fail_at=2, error=KeyboardInterrupt())
    fitted = fsk.BatchNormalizer().fit(data)
    with pytest.raises(KeyboardInterrupt):
        fsk.fit_stream(fitted, source, verbose=0)
    assert fitted.n_samples_seen_ == 100


def test_a_stream_that_fails_then_succeeds_fits_as_fit_does():
    data = numeric_frame()
    pipe = fsk.BatchNormalizer()
    with pytest.raises(SourceError):
        fsk.fit_stream(pipe, Failing(data, 20, 2, ValueError("x")), verbose=0)
    fsk.fit_stream(pipe, DataFrameSource(data, 20), verbose=0)
    expected = fsk.BatchNormalizer().fit(data)
    torch.testing.assert_close(pipe.mean_["a"], expected.mean_["a"])
    assert pipe.n_samples_seen_ == 100


def test_saved_file_has_the_permissions_of_a_plain_open(tmp_path):
    # mkstemp makes owner-only files; the saved model must be readable as
    # open() would make it (umask), and a replaced file keeps its mode.
    umask = os.umask(0o022)
    try:
        path = fsk.save({"v": 1}, tmp_path / "model.fwsk")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        fsk.save({"v": 2}, path)
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


# ------------------------------------------------------ blocked reads
class Blocking(Source):
    """Chunk 0 of ``df``, then a read that blocks until ``release`` is set.

    ``reading`` is set when the blocked read begins; ``closed`` when the
    reader is closed.
    """

    def __init__(self, df):
        self.df, self.chunk_size = df, len(df)
        self.reading, self.release = threading.Event(), threading.Event()
        self.closed = threading.Event()

    def _read(self, rng):
        try:
            yield 0, f"rows 0-{len(self.df) - 1}", self.df
            self.reading.set()
            self.release.wait()
        finally:
            self.closed.set()


def _read_ahead_threads():
    return {t for t in threading.enumerate() if t.name == "fireworks_sk read-ahead"}


def _fit(train, source):
    return fsk.fit_stream(fsk.BatchNormalizer(), source, verbose=0)


def _predict(train, source):
    model = Pipeline([("scale", fsk.BatchNormalizer()), ("sgd", SGDRegressor())])
    model.fit(train, train["a"])
    return list(fsk.predict_stream(model, source))


def _transform(train, source):
    return list(fsk.transform_stream(fsk.BatchNormalizer().fit(train), source))


STREAM_CALLS = {"fit": _fit, "predict": _predict, "transform": _transform}
DEADLINE = 60.0  # far beyond any delay a correct stream has; only a hang reaches it


def _leaves_the_blocked_reader_behind(source, watchdog, before):
    """The stream call returned before the deadline freed the blocked read."""
    assert not watchdog.finished.is_set(), "the stream waited for the blocked read"
    watchdog.cancel()
    threads = _read_ahead_threads() - before
    assert threads and all(t.daemon for t in threads)
    assert not source.closed.is_set()
    source.release.set()
    for thread in threads:
        thread.join(DEADLINE)
        assert not thread.is_alive()
    # The reader closes the source itself once its read returns.
    assert source.closed.is_set()


@pytest.mark.parametrize("call", sorted(STREAM_CALLS))
def test_ctrl_c_during_a_blocked_read_interrupts_the_stream(call):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt here")
    data = numeric_frame()
    source = Blocking(data)
    watchdog = threading.Timer(DEADLINE, source.release.set)
    main = threading.main_thread().ident

    def ctrl_c():
        # Ctrl-C: SIGINT to the main thread once the reader is blocked.
        if source.reading.wait(DEADLINE):
            signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=ctrl_c, daemon=True)
    before = _read_ahead_threads()
    watchdog.start()
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            STREAM_CALLS[call](data, source)
        _leaves_the_blocked_reader_behind(source, watchdog, before)
    finally:
        source.release.set()
        watchdog.cancel()
        sender.join(DEADLINE)


@pytest.mark.parametrize("call", sorted(STREAM_CALLS))
def test_error_in_a_chunk_surfaces_while_the_next_read_is_blocked(call):
    train = numeric_frame()
    source = Blocking(train.assign(b=lambda f: f["b"].where(f.index != 5)))
    watchdog = threading.Timer(DEADLINE, source.release.set)
    before = _read_ahead_threads()
    watchdog.start()
    try:
        with pytest.raises(ValueError, match="NaN in column 'b'"):
            STREAM_CALLS[call](train, source)
        # The read of the next chunk had begun, and nobody waited for it.
        assert source.reading.wait(DEADLINE)
        _leaves_the_blocked_reader_behind(source, watchdog, before)
    finally:
        source.release.set()
        watchdog.cancel()


def test_ctrl_c_while_postgres_waits_on_a_locked_table(pg_url):
    sa = pytest.importorskip("sqlalchemy")
    main = threading.main_thread().ident
    with pg_table(pg_url, numeric_frame()) as table:
        engine = sa.create_engine(pg_url)
        holder = engine.connect()
        holder.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
        watchdog = threading.Timer(DEADLINE, holder.rollback)
        # A lock on the table that some backend waits for.
        waiting = sa.text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND relation = to_regclass(:table)"
        )

        def ctrl_c():
            # SIGINT to the main thread once the stream's query waits on the lock.
            with engine.connect() as watcher:
                end = time.monotonic() + DEADLINE
                while time.monotonic() < end:
                    found = watcher.execute(waiting, {"table": f'"{table}"'})
                    if found.scalar():
                        signal.pthread_kill(main, signal.SIGINT)
                        return
                    time.sleep(0.01)

        before = _read_ahead_threads()
        sender = threading.Thread(target=ctrl_c, daemon=True)
        source = SQLSource(pg_url, f'SELECT * FROM "{table}"', 20)
        watchdog.start()
        sender.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                fsk.fit_stream(fsk.BatchNormalizer(), source, verbose=0)
            assert not watchdog.finished.is_set(), "the stream waited for the lock"
        finally:
            watchdog.cancel()
            sender.join(DEADLINE)
            holder.rollback()
            holder.close()
            for thread in _read_ahead_threads() - before:
                thread.join(DEADLINE)
            engine.dispose()
