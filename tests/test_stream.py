"""fit_stream equals an in-memory fit, for every source; transform/predict/sinks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

from fireworks_sk import (
    BatchNormalizer,
    IndexEncoder,
    Junction,
    Message,
    OneHot,
    SelectColumns,
    Stack,
    ToTensor,
    fit_stream,
    predict_stream,
    transform_stream,
    write_parquet,
    write_sql,
)
from fireworks_sk.exceptions import SourceError
from fireworks_sk.sources import (
    CSVSource,
    DataFrameSource,
    ParquetSource,
    SQLSource,
)
from tests._streams import (
    CHUNK_SIZES,
    N_STREAM,
    assert_columns_close,
    pg_table,
    stream_frame,
    write_csv,
    write_parquet_files,
    write_sqlite,
)

NUMERIC = ["x", "z"]
CATEGORICAL = ["color", "size"]


class Counting(DataFrameSource):
    """A DataFrameSource that counts its passes and the chunks read."""

    def __init__(self, df, chunk_size, fail_at=None):
        super().__init__(df, chunk_size)
        self.fail_at = fail_at
        self.passes = 0
        self.chunks_read = 0

    def _read(self, rng):
        self.passes += 1
        for k, item in enumerate(super()._read(rng)):
            if k == self.fail_at:
                raise OSError(f"disk gone at chunk {k}")
            self.chunks_read += 1
            yield item


@pytest.fixture(params=["dataframe", "csv", "parquet", "sqlite", "postgresql"])
def make_source(request, tmp_path):
    """``make_source(chunk_size)`` over stream_frame(), for each kind of source."""
    frame = stream_frame()
    kind = request.param
    if kind == "dataframe":
        yield lambda size: DataFrameSource(frame, size)
    elif kind == "csv":
        path = write_csv(frame, tmp_path)
        yield lambda size: CSVSource(path, size)
    elif kind == "parquet":
        pytest.importorskip("pyarrow")
        directory = write_parquet_files(frame, tmp_path)
        yield lambda size: ParquetSource(directory, size)
    elif kind == "sqlite":
        pytest.importorskip("sqlalchemy")
        url = write_sqlite(frame, tmp_path)
        yield lambda size: SQLSource(url, "SELECT * FROM data", size)
    else:
        url = request.getfixturevalue("pg_url")
        with pg_table(url, frame) as table:
            yield lambda size: SQLSource(url, f'SELECT * FROM "{table}"', size)


def _all_rows(source) -> Message:
    return Message.concat(list(source))


def _preprocessing() -> Pipeline:
    return Pipeline(
        [
            ("scale", BatchNormalizer(NUMERIC)),
            ("onehot", OneHot(CATEGORICAL)),
            ("codes", IndexEncoder(["i"])),
            ("stack", Stack(NUMERIC + CATEGORICAL, into="features")),
            ("rescale", BatchNormalizer(["features"])),
        ]
    )


def _assert_same_state(streamed, in_memory):
    assert streamed.n_samples_seen_ == in_memory.n_samples_seen_
    for name in ("mean_", "var_"):
        for column, value in getattr(in_memory, name, {}).items():
            got = getattr(streamed, name)[column]
            torch.testing.assert_close(got, value, rtol=1e-9, atol=1e-9)
    for column, value in getattr(in_memory, "categories_", {}).items():
        np.testing.assert_array_equal(streamed.categories_[column], value)


# ------------------------------------------------------- equality with fit
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_fit_stream_equals_fit_for_every_source(make_source, chunk_size):
    source = make_source(chunk_size)
    data = _all_rows(source)
    in_memory = _preprocessing().fit(data)
    streamed = fit_stream(_preprocessing(), source, verbose=0)
    for (_, mine), (_, theirs) in zip(streamed.steps, in_memory.steps):
        if hasattr(theirs, "n_samples_seen_"):
            _assert_same_state(mine, theirs)
    assert_columns_close(streamed.transform(data), in_memory.transform(data))


@pytest.mark.parametrize(
    "pipe",
    [
        BatchNormalizer(),
        OneHot(["color"], min_frequency=5),
        IndexEncoder(CATEGORICAL),
        Junction([("scale", BatchNormalizer(NUMERIC)), ("hot", OneHot(CATEGORICAL))]),
        # A branch without partial_fit, fitted on the first chunk.
        Junction([("scale", BatchNormalizer(NUMERIC)), ("codes", ToTensor(["i"]))]),
    ],
    ids=["BatchNormalizer", "OneHot", "IndexEncoder", "Junction", "Junction-ToTensor"],
)
@pytest.mark.parametrize("chunk_size", [1, 10])
def test_fit_stream_fits_a_single_pipe_as_fit_does(pipe, chunk_size):
    frame = stream_frame()
    streamed = fit_stream(pipe, DataFrameSource(frame, chunk_size), verbose=0)
    in_memory = pipe.__class__(**pipe.get_params(deep=False)).fit(frame)
    assert streamed is pipe
    assert_columns_close(streamed.transform(frame), in_memory.transform(frame))


@pytest.mark.parametrize("chunk_size", [1, 10])
def test_shared_pass_with_skipped_transforms_equals_fit(chunk_size):
    # BatchNormalizer() turns the int column "i" into floats; OneHot() then
    # encodes only what is not float. Later chunks of the shared pass skip the
    # scaling transform, and OneHot must still see what fit shows it.
    frame = stream_frame()
    source = Counting(frame, chunk_size)
    streamed = fit_stream(Pipeline([("s", BatchNormalizer()), ("h", OneHot())]), source)
    in_memory = Pipeline([("s", BatchNormalizer()), ("h", OneHot())]).fit(frame)
    assert source.passes == 1
    assert streamed[1].columns_ == in_memory[1].columns_ == ["color", "size", "label"]
    assert_columns_close(streamed.transform(frame), in_memory.transform(frame))


def test_fit_stream_on_tensor_columns():
    g = torch.Generator().manual_seed(0)
    m = Message(
        {
            "t": torch.randn(N_STREAM, 3, generator=g, dtype=torch.float64) * 5 + 2,
            "k": torch.randint(0, 4, (N_STREAM,), generator=g),
        }
    )
    pipe = Pipeline(
        [("hot", OneHot()), ("stack", Stack()), ("scale", BatchNormalizer())]
    )
    streamed = fit_stream(pipe, DataFrameSource(m, 7), verbose=0)
    in_memory = Pipeline(
        [("hot", OneHot()), ("stack", Stack()), ("scale", BatchNormalizer())]
    ).fit(m)
    assert_columns_close(streamed.transform(m), in_memory.transform(m))


# ------------------------------------------------------------------ passes
def test_independent_steps_share_one_pass():
    source = Counting(stream_frame(), 10)
    pipe = Pipeline([("scale", BatchNormalizer(NUMERIC)), ("hot", OneHot(CATEGORICAL))])
    fit_stream(pipe, source, verbose=0)
    assert source.passes == 1


def test_step_reading_a_changed_column_gets_its_own_pass():
    source = Counting(stream_frame(), 10)
    pipe = Pipeline(
        [
            ("scale", BatchNormalizer(NUMERIC)),
            ("stack", Stack(NUMERIC, into="features")),
            ("rescale", BatchNormalizer(["features"])),
        ]
    )
    fit_stream(pipe, source, verbose=0)
    # Stack is fitted on the first chunk of the second pass, with rescale.
    assert source.passes == 2


def test_step_reading_a_changed_column_learns_the_fully_scaled_values():
    # "again" reads x as "scale" outputs it. Sharing scale's pass, it would
    # learn from x scaled by statistics still being merged, or, with the
    # transform skipped on later chunks, from raw x (mean 1e6).
    frame = stream_frame()

    def pipe():
        return Pipeline(
            [("scale", BatchNormalizer(["x"])), ("again", BatchNormalizer(["x"]))]
        )

    streamed = fit_stream(pipe(), DataFrameSource(frame, 10), verbose=0)
    expected = pipe().fit(frame)
    for name in ("mean_", "var_"):
        torch.testing.assert_close(
            getattr(streamed[1], name)["x"], getattr(expected[1], name)["x"]
        )
    torch.testing.assert_close(
        streamed[1].var_["x"], torch.tensor(1.0, dtype=torch.float64)
    )


def test_step_seeing_a_tensor_of_unsettled_shape_gets_its_own_pass():
    source = Counting(stream_frame(), 10)
    fit_stream(_preprocessing(), source, verbose=0)
    # scale + onehot share a pass. OneHot's widths are final only at the end
    # of it, and IndexEncoder would record them, so it waits for the second
    # pass; for the same reason Stack and rescale wait for a third.
    assert source.passes == 3


def test_stateless_pipeline_reads_only_the_first_chunk():
    source = Counting(stream_frame(), 10)
    pipe = Pipeline([("select", SelectColumns(NUMERIC)), ("tensor", ToTensor())])
    fit_stream(pipe, source, verbose=0)
    # The chunk used, plus at most two the read-ahead thread had started on.
    assert source.passes == 1 and source.chunks_read <= 3
    assert_columns_close(
        pipe.transform(stream_frame()), pipe.fit_transform(stream_frame())
    )


class _Untransformed(BatchNormalizer):
    """A BatchNormalizer whose output must never be asked for."""

    def transform(self, X):
        raise AssertionError("the last step's output was computed")


def test_last_step_is_fitted_without_transforming_as_in_pipeline_fit():
    # Pipeline.fit never transforms with its last step: nothing reads the
    # output. fit_stream neither, on the first chunk nor on any other.
    frame = stream_frame()

    def pipe():
        return Pipeline(
            [("scale", BatchNormalizer(["x"])), ("last", _Untransformed(["z"]))]
        )

    streamed = fit_stream(pipe(), DataFrameSource(frame, 10), verbose=0)
    in_memory = pipe().fit(frame)
    for step in (0, 1):
        for name in ("mean_", "var_"):
            expected = getattr(in_memory[step], name)
            torch.testing.assert_close(getattr(streamed[step], name), expected)


# ------------------------------------------------------- a final estimator
def _classifier_pipeline(**sgd) -> Pipeline:
    return Pipeline(
        [
            ("scale", BatchNormalizer(NUMERIC)),
            ("hot", OneHot(CATEGORICAL)),
            ("stack", Stack()),
            ("sgd", SGDClassifier(random_state=0, **sgd)),
        ]
    ).set_output(transform="pandas")


def _partial_fit_by_hand(pipe: Pipeline, frame: pd.DataFrame, chunk_size: int):
    """The reference: preprocessing fitted in memory, then partial_fit per chunk."""
    x, y = frame.drop(columns="label"), frame["label"].to_numpy()
    prep = Pipeline(pipe.steps[:-1]).fit(x)
    model = pipe.steps[-1][1]
    for start in range(0, len(frame), chunk_size):
        rows = slice(start, start + chunk_size)
        model.partial_fit(prep.transform(x[rows]), y[rows], classes=np.unique(y))
    return model


@pytest.mark.parametrize("chunk_size", [1, 10, N_STREAM + 42])
def test_fit_stream_trains_a_final_partial_fit_estimator(chunk_size):
    frame = stream_frame()
    streamed = fit_stream(
        _classifier_pipeline(), DataFrameSource(frame, chunk_size), y="label", verbose=0
    )
    reference = _partial_fit_by_hand(_classifier_pipeline(), frame, chunk_size)
    np.testing.assert_allclose(streamed[-1].coef_, reference.coef_, rtol=1e-10)
    assert list(streamed[-1].classes_) == ["no", "yes"]
    assert streamed.predict(frame.drop(columns="label")).shape == (N_STREAM,)


def test_fit_stream_y_as_an_aligned_array_equals_y_as_a_column():
    frame = stream_frame()
    by_column = fit_stream(
        _classifier_pipeline(), DataFrameSource(frame, 9), y="label", verbose=0
    )
    by_array = fit_stream(
        _classifier_pipeline(),
        DataFrameSource(frame.drop(columns="label"), 9),
        y=frame["label"],
        verbose=0,
    )
    np.testing.assert_array_equal(by_column[-1].coef_, by_array[-1].coef_)


def test_fit_stream_y_array_of_the_wrong_length_is_refused():
    frame = stream_frame().drop(columns="label")
    with pytest.raises(ValueError, match="y has 10 rows"):
        fit_stream(_classifier_pipeline(), DataFrameSource(frame, 9), y=np.zeros(10))


def test_fit_stream_missing_y_column_names_it():
    frame = stream_frame().drop(columns="label")
    with pytest.raises(
        KeyError,
        match=r"fit_stream\(y=...\) names columns \['label'\] that the stream lacks "
        r"\(chunk at rows 0-8\)\. Stream columns: .*Pass y=",
    ):
        fit_stream(_classifier_pipeline(), DataFrameSource(frame, 9), y="label")


def test_classes_gathered_in_a_pass_of_their_own_when_nothing_reads_the_stream():
    frame = stream_frame()[["x", "z", "label"]]
    source = Counting(frame, 10)
    model = fit_stream(SGDClassifier(random_state=0), source, y="label", verbose=0)
    assert source.passes == 2  # classes, then training
    assert list(model.classes_) == ["no", "yes"]
    source = Counting(frame, 10)
    fit_stream(SGDClassifier(), source, y="label", classes=["no", "yes"], verbose=0)
    assert source.passes == 1


def test_shuffling_is_seeded():
    frame = stream_frame()

    def fitted(seed):
        pipe = _classifier_pipeline()
        source = DataFrameSource(frame, 10)
        fit_stream(pipe, source, y="label", shuffle=True, random_state=seed, verbose=0)
        return pipe[-1].coef_

    np.testing.assert_array_equal(fitted(1), fitted(1))
    assert not np.array_equal(fitted(1), fitted(2))


class _EpochRecorder(ClassifierMixin, BaseEstimator):
    """skorch-like: ``max_epochs`` and ``partial_fit(X, y, classes, **fit_params)``."""

    def __init__(self, max_epochs=3):
        self.max_epochs = max_epochs

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        self.calls_ = [*getattr(self, "calls_", []), (len(X), fit_params, classes)]
        self.seen_ = [*getattr(self, "seen_", []), *X["x"].tolist()]
        self.classes_ = np.asarray(classes)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_epoch_trained_estimators_are_shuffled_by_default_with_a_seed():
    frame = stream_frame()[["x", "label"]]

    def seen(**kwargs):
        model = fit_stream(
            _EpochRecorder(max_epochs=1),
            DataFrameSource(frame, 10),
            y="label",
            verbose=0,
            **kwargs,
        )
        return model.seen_

    assert sorted(seen(random_state=0)) == sorted(frame["x"])
    assert seen(random_state=0) == seen(random_state=0) != frame["x"].tolist()
    assert seen(shuffle=False) == frame["x"].tolist()


def test_max_epochs_passes_of_one_epoch_each():
    frame = stream_frame()[["x", "label"]]
    source = DataFrameSource(frame, 50)
    model = fit_stream(_EpochRecorder(), source, y="label", shuffle=False, verbose=0)
    assert [n for n, _, _ in model.calls_] == [50, 50, 3] * 3
    assert all(kwargs == {"epochs": 1} for _, kwargs, _ in model.calls_)
    assert list(model.calls_[0][2]) == ["no", "yes"]
    again = fit_stream(
        _EpochRecorder(), DataFrameSource(frame, 50), y="label", epochs=1, verbose=0
    )
    assert len(again.calls_) == 3


def test_read_ahead_stops_reading_when_the_consumer_stops():
    source = Counting(stream_frame(), 1)
    chunks = transform_stream(BatchNormalizer(NUMERIC).fit(stream_frame()), source)
    next(chunks)
    chunks.close()
    assert source.chunks_read <= 3


def test_a_failing_step_stops_the_reading_thread_at_once():
    import threading

    frame = stream_frame()[NUMERIC].assign(z=lambda f: f["z"].where(f.index != 50))
    before = threading.active_count()
    with pytest.raises(ValueError, match="NaN in column 'z'"):
        fit_stream(BatchNormalizer(), DataFrameSource(frame, 10), verbose=0)
    assert threading.active_count() == before


# ---------------------------------------------------------------- failures
def test_failed_stream_leaves_an_unfitted_estimator_unfitted():
    pipe = _preprocessing()
    with pytest.raises(OSError, match="disk gone"):
        fit_stream(pipe, Counting(stream_frame(), 10, fail_at=4), verbose=0)
    assert not hasattr(pipe[0], "mean_")


def test_failed_stream_keeps_the_previous_fit():
    frame = stream_frame()
    pipe = fit_stream(_preprocessing(), DataFrameSource(frame, 10), verbose=0)
    before = pipe.transform(frame)
    other = stream_frame(seed=1)
    with pytest.raises(OSError, match="disk gone"):
        fit_stream(pipe, Counting(other, 10, fail_at=8), verbose=0)
    assert pipe.transform(frame).equals(before)


def test_step_without_partial_fit_is_refused_before_reading():
    source = Counting(stream_frame()[NUMERIC], 10)
    with pytest.raises(TypeError, match="PCA cannot be fitted out of core"):
        fit_stream(Pipeline([("pca", PCA()), ("scale", BatchNormalizer())]), source)
    assert source.passes == 0


def test_final_estimator_without_partial_fit_is_refused():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="LogisticRegression has no partial_fit"):
        fit_stream(LogisticRegression(), DataFrameSource(stream_frame(), 10), y="label")


def test_fit_stream_needs_a_source():
    with pytest.raises(TypeError, match="DataFrameSource"):
        fit_stream(BatchNormalizer(), stream_frame())


def test_fit_stream_refuses_an_empty_stream():
    empty = stream_frame().iloc[:0]
    with pytest.raises(ValueError, match="no rows"):
        fit_stream(BatchNormalizer(), DataFrameSource(empty, 10), verbose=0)


# ---------------------------------------------------- progress and results
def test_progress_bar_shows_rows_unless_verbose_is_zero(capsys):
    pytest.importorskip("tqdm")
    fit_stream(BatchNormalizer(NUMERIC), DataFrameSource(stream_frame(), 10))
    assert "103/103" in capsys.readouterr().err
    fit_stream(BatchNormalizer(NUMERIC), DataFrameSource(stream_frame(), 10), verbose=0)
    assert capsys.readouterr().err == ""


def test_transform_stream_yields_transform_chunk_by_chunk():
    frame = stream_frame()
    pipe = _preprocessing().fit(frame.drop(columns="label"))
    chunks = list(transform_stream(pipe, DataFrameSource(frame, 10), y="label"))
    assert len(chunks) == 11
    whole = pipe.transform(frame.drop(columns="label"))
    assert_columns_close(Message.concat(chunks), whole)


def test_predict_stream_yields_predictions_chunk_by_chunk():
    frame = stream_frame()
    pipe = fit_stream(
        _classifier_pipeline(), DataFrameSource(frame, 20), y="label", verbose=0
    )
    got = np.concatenate(
        list(predict_stream(pipe, DataFrameSource(frame, 7), y="label"))
    )
    np.testing.assert_array_equal(got, pipe.predict(frame.drop(columns="label")))
    proba = list(
        predict_stream(
            pipe, DataFrameSource(frame, 50), y="label", method="decision_function"
        )
    )
    assert sum(len(p) for p in proba) == N_STREAM


def test_write_parquet_round_trips_transformed_chunks(tmp_path):
    pytest.importorskip("pyarrow")
    frame = stream_frame()
    pipe = fit_stream(_preprocessing(), DataFrameSource(frame, 10), verbose=0)
    path = tmp_path / "out.parquet"
    rows = write_parquet(transform_stream(pipe, DataFrameSource(frame, 10)), path)
    assert rows == N_STREAM
    written = pd.read_parquet(path)
    expected = pipe.transform(frame).to_dataframe()
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)


def test_write_parquet_leaves_no_file_when_the_stream_fails(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "out.parquet"
    source = Counting(stream_frame()[NUMERIC], 10, fail_at=3)
    with pytest.raises(OSError, match="disk gone"):
        write_parquet(
            transform_stream(BatchNormalizer().fit(stream_frame()[NUMERIC]), source),
            path,
        )
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_stale_partial_never_hides_the_real_error(tmp_path):
    # A run killed mid-write leaves its hidden partial file behind.
    pytest.importorskip("pyarrow")
    path = tmp_path / "out.parquet"
    stale = tmp_path / ".out.parquet.partial"
    stale.write_bytes(b"PAR1 cut short by a kill")
    source = Counting(stream_frame()[NUMERIC], 10, fail_at=0)
    scaler = BatchNormalizer().fit(stream_frame()[NUMERIC])
    with pytest.raises(OSError, match="disk gone at chunk 0"):
        write_parquet(transform_stream(scaler, source), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [stale.name]
    # A later run writes the file and leaves the stale one alone.
    assert write_parquet([np.arange(3)], path) == 3
    assert pd.read_parquet(path)["prediction"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [stale.name, path.name]


def test_write_parquet_failing_cleanup_never_hides_the_real_error(
    tmp_path, monkeypatch
):
    pq = pytest.importorskip("pyarrow.parquet")

    def results():
        yield np.arange(3)
        raise OSError("disk gone mid-stream")

    real_close, failed = pq.ParquetWriter.close, []

    def close(self):
        real_close(self)
        if not failed:
            failed.append(True)
            raise OSError("closing failed too")

    monkeypatch.setattr(pq.ParquetWriter, "close", close)
    with pytest.raises(OSError, match="disk gone mid-stream"):
        write_parquet(results(), tmp_path / "out.parquet")
    assert failed and list(tmp_path.iterdir()) == []


def test_write_parquet_writers_to_one_path_never_share_a_partial_file(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "out.parquet"
    first = pd.DataFrame({"a": np.arange(10)})
    second = pd.DataFrame({"a": np.arange(100, 105)})
    seen = []

    def slow_writer():
        yield first[:5]
        # Another writer to the same path starts and finishes meanwhile.
        write_parquet([second], path)
        seen.append(pd.read_parquet(path))
        yield first[5:]

    assert write_parquet(slow_writer(), path) == 10
    # Each reader saw one writer's whole file, never a mix.
    pd.testing.assert_frame_equal(seen[0], second)
    pd.testing.assert_frame_equal(pd.read_parquet(path), first)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_parquet_with_no_results_leaves_no_file(tmp_path):
    path = tmp_path / "out.parquet"
    with pytest.raises(ValueError, match="no results to write"):
        write_parquet([], path)
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_takes_the_longest_legal_file_name(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / ("p" * 247 + ".parquet")  # 255 characters: NAME_MAX
    assert write_parquet([np.arange(4)], path) == 4
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_parquet_into_a_missing_folder_names_the_destination(tmp_path):
    path = tmp_path / "nowhere" / "out.parquet"
    with pytest.raises(
        FileNotFoundError, match=r"Writing Parquet to '.*nowhere/out.parquet' failed"
    ):
        write_parquet([np.arange(4)], path)


def test_write_sql_appends_a_transaction_per_chunk(tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'out.db'}"
    predictions = [np.array([0, 1]), np.array([1]), np.array([1, 1, 0])]
    assert write_sql(predictions, url, "preds") == 6
    assert write_sql(iter(predictions[:1]), url, "preds") == 2
    written = pd.read_sql("SELECT * FROM preds", sa.create_engine(url))
    assert written["prediction"].tolist() == [0, 1, 1, 1, 1, 0, 0, 1]


def test_write_sql_keeps_chunks_written_before_a_failure(tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'out.db'}"
    chunks = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"b": [3]})]
    with pytest.raises(SourceError, match=r"chunk 1 to table 'out'.*after 2 rows"):
        write_sql(chunks, url, "out")
    assert pd.read_sql("SELECT * FROM out", sa.create_engine(url))["a"].tolist() == [
        1,
        2,
    ]


def test_write_sql_to_postgres(pg_url):
    sa = pytest.importorskip("sqlalchemy")
    frame = stream_frame()
    with pg_table(pg_url, frame.iloc[:0]) as table:
        chunks = (frame.iloc[i : i + 40] for i in range(0, N_STREAM, 40))
        assert write_sql(chunks, pg_url, table) == N_STREAM
        engine = sa.create_engine(pg_url)
        count = pd.read_sql(f'SELECT count(*) AS n FROM "{table}"', engine)["n"][0]
        engine.dispose()
    assert count == N_STREAM


def test_shared_pass_feeds_later_steps_the_dtypes_they_were_fitted_on(recwarn):
    # BatchNormalizer turns the int column "n" to float64: later chunks must
    # reach OneHot transformed too, or its dtype check warns on every chunk.
    frame = pd.DataFrame({"n": [1, 2, 3, 4, 5, 6], "c": list("ababab")})
    pipe = Pipeline([("s", BatchNormalizer()), ("o", OneHot(["c"]))])
    fit_stream(pipe, DataFrameSource(frame, 2), verbose=0)
    assert not [w for w in recwarn if "was fitted on dtype" in str(w.message)]
    assert pipe.named_steps["o"].categories_["c"].tolist() == ["a", "b"]
