"""local_cluster listens on loopback only; DaskSource trains a Torch estimator."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.pipeline import Pipeline

from fireworks_sk import (
    BatchNormalizer,
    OneHot,
    Stack,
    TorchClassifier,
    fit_stream,
    local_cluster,
)
from fireworks_sk.sources import DaskSource, DataFrameSource
from fireworks_sk.sources._base import read_chunks
from tests._data import shops_frame
from tests.dask.conftest import from_pieces

dd = pytest.importorskip("dask.dataframe", reason="the 'dask' extra is not installed")
pytest.importorskip("distributed", reason="the 'dask' extra is not installed")


def _is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def test_scheduler_workers_and_dashboards_are_on_loopback(client):
    info = client.scheduler_info()
    addresses = [client.scheduler.address, *info["workers"]]
    addresses += [w["nanny"] for w in info["workers"].values()]
    hosts = [urlparse(a).hostname for a in addresses]
    hosts.append(urlparse(client.dashboard_link).hostname)
    assert hosts and all(h.startswith("127.") for h in hosts), hosts


def test_every_listening_socket_of_the_cluster_is_on_127(client):
    psutil = pytest.importorskip("psutil")
    # The scheduler and the nannies run in this process, the workers in theirs.
    pids = {os.getpid(), *client.run(os.getpid).values()}
    listening = [
        connection.laddr
        for pid in pids
        for connection in psutil.Process(pid).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]
    # Scheduler, its dashboard, two nannies, two workers and their dashboards.
    assert len(listening) >= 6
    assert all(_is_loopback(address.ip) for address in listening), listening


def test_local_cluster_refuses_an_address_keyword():
    with pytest.raises(TypeError, match="binds to 127.0.0.1 only.*'host'"):
        with local_cluster(host="0.0.0.0"):
            pass


def _frame(rows: int = 240) -> pd.DataFrame:
    return shops_frame(rows, labels=(0, 1))


def _model() -> Pipeline:
    net = TorchClassifier(max_epochs=4, lr=0.05, batch_size=32, random_state=0)
    return Pipeline(
        [
            ("scale", BatchNormalizer(["a", "b"])),
            ("onehot", OneHot(["shop"])),
            ("stack", Stack(into="features")),
            ("net", net),
        ]
    )


def test_dask_source_trains_a_torch_classifier_as_a_dataframe_source_does(client):
    frame = _frame()
    # Partitions of 60 rows, as the DataFrameSource's chunks: the same stream.
    ddf = dd.from_pandas(frame, chunksize=60)
    assert ddf.npartitions == 4
    on_dask = fit_stream(_model(), DaskSource(ddf), y="label", verbose=0)
    in_memory = fit_stream(_model(), DataFrameSource(frame, 60), y="label", verbose=0)
    weights = [m[-1].module_.state_dict() for m in (on_dask, in_memory)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # Dask reads strings as string[pyarrow], pandas 3 as str: predict on the
    # dtypes the model was fitted on.
    X = ddf.drop(columns="label").compute()
    assert (on_dask.predict(X) == frame["label"].to_numpy()).mean() > 0.85


def test_dask_source_skips_empty_partitions_and_splits_long_ones(client):
    frame = _frame(100)
    ddf = dd.from_pandas(frame, npartitions=2)
    ddf = dd.concat([ddf.get_partition(0).head(0, compute=False), ddf])
    assert [len(m) for m in DaskSource(ddf)] == [50, 50]
    assert [len(m) for m in DaskSource(ddf, chunk_size=30)] == [30, 20, 30, 20]
    assert "partitions" in repr(DaskSource(ddf))


def test_dask_source_refuses_a_pandas_frame():
    with pytest.raises(TypeError, match="dask.dataframe.DataFrame.*DataFrameSource"):
        DaskSource(_frame())


def test_dask_source_shuffled_chunks_keep_their_natural_offsets(client):
    frame = _frame(100)
    pieces = [frame.iloc[:10], frame.iloc[10:10], frame.iloc[10:55], frame.iloc[55:]]
    source = DaskSource(from_pieces(pieces))
    for seed in range(3):
        chunks = list(read_chunks(source, np.random.default_rng(seed)))
        assert sorted(c.offset for c in chunks) == [0, 10, 55]
        for chunk in chunks:
            rows = frame.iloc[chunk.offset : chunk.offset + len(chunk.message)]
            assert chunk.message["a"].tolist() == rows["a"].tolist()


def test_in_process_cluster_starts_and_runs_a_search_in_memory():
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    frame = _frame(120)
    X, y = frame[["a", "b"]], frame["label"]
    pipe = Pipeline([("scale", BatchNormalizer()), ("lr", LogisticRegression())])
    grid = {"lr__C": [0.01, 1.0]}
    serial = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    with local_cluster(n_workers=2, threads_per_worker=1, processes=False) as client:
        # Threads of this process reach the scheduler in memory: no socket.
        addresses = [client.scheduler.address, *client.scheduler_info()["workers"]]
        assert all(a.startswith("inproc://") for a in addresses), addresses
        assert urlparse(client.dashboard_link).hostname == "127.0.0.1"
        assert client.submit(sum, [1, 2, 3]).result() == 6
        with joblib.parallel_config(backend="dask"):
            on_cluster = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    np.testing.assert_allclose(
        on_cluster.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_in_process_cluster_listens_on_loopback_only():
    psutil = pytest.importorskip("psutil")
    this = psutil.Process(os.getpid())

    def listening():
        return {
            c.laddr
            for c in this.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }

    before = listening()
    with local_cluster(n_workers=2, threads_per_worker=1, processes=False) as client:
        assert client.submit(sum, [1, 2]).result() == 3
        opened = listening() - before
        dashboard = urlparse(client.dashboard_link)
    # The scheduler's and the two workers' dashboards; no scheduler socket.
    assert len(opened) == 3
    assert all(_is_loopback(address.ip) for address in opened), opened
    assert (dashboard.hostname, dashboard.port) in {(a.ip, a.port) for a in opened}


def test_in_process_cluster_over_tcp_listens_on_loopback():
    with local_cluster(
        1, threads_per_worker=1, processes=False, protocol="tcp"
    ) as client:
        addresses = [client.scheduler.address, *client.scheduler_info()["workers"]]
        hosts = [urlparse(a).hostname for a in addresses]
        assert all(_is_loopback(h) for h in hosts), addresses
        assert client.submit(sum, [1, 2]).result() == 3
