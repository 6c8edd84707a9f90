"""local_cluster: a Dask cluster on this machine that listens on loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from fireworks_sk.sources._base import import_extra

__all__ = ["local_cluster"]

_LOOPBACK = "127.0.0.1"
# Without an explicit host an in-process LocalCluster listens on 0.0.0.0, and
# the dashboards on every interface: reachable from the network.
_ADDRESS_KEYWORDS = ("host", "ip", "dashboard_address", "worker_dashboard_address")


@contextmanager
def local_cluster(
    n_workers: int | None = None,
    *,
    threads_per_worker: int | None = None,
    processes: bool = True,
    **kwargs: Any,
) -> Iterator[Any]:
    """Start a Dask ``LocalCluster`` bound to 127.0.0.1, with a ``Client`` on it.

    The scheduler, the workers and their dashboards listen on 127.0.0.1 only
    (dashboards on free ports); with ``processes=False`` the workers reach the
    scheduler in memory (``inproc://``), with no socket at all. The client
    becomes the default for Dask computations and for
    ``joblib.parallel_config(backend="dask")`` inside the ``with`` block; both
    are closed on leaving it.

    Parameters
    ----------
    n_workers : int or None, default=None
        Worker processes (or threads with ``processes=False``); None lets
        Dask choose from the number of cores.
    threads_per_worker : int or None, default=None
        Threads per worker; None lets Dask choose.
    processes : bool, default=True
        Workers in processes of their own (no shared GIL), or in this one.
    **kwargs
        Passed to :class:`distributed.LocalCluster` (``memory_limit``, ...),
        except the address keywords ``host``, ``ip``, ``dashboard_address``
        and ``worker_dashboard_address``, which are fixed to loopback.

    Yields
    ------
    distributed.Client

    Examples
    --------
    A search whose fits run on the cluster's workers (here threads of this
    process, which start in about a second):

    >>> import joblib
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from fireworks_sk import local_cluster
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]})
    >>> with local_cluster(n_workers=1, threads_per_worker=2, processes=False):
    ...     with joblib.parallel_config(backend="dask"):
    ...         search = search.fit(X, y)
    >>> search.best_params_
    {'C': 1.0}
    """
    distributed = import_extra("distributed", "dask", "local_cluster")
    dask = import_extra("dask", "dask", "local_cluster")
    fixed = sorted(set(kwargs) & set(_ADDRESS_KEYWORDS))
    if fixed:
        raise TypeError(
            f"local_cluster binds to {_LOOPBACK} only and sets {fixed!r} itself. To "
            "listen elsewhere, start distributed.LocalCluster or a scheduler "
            "yourself and connect with distributed.Client(address)."
        )
    in_process = _in_process(processes, kwargs)
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        host=None if in_process else _LOOPBACK,
        dashboard_address=f"{_LOOPBACK}:0",
        worker_dashboard_address=f"{_LOOPBACK}:0",
        **kwargs,
    )
    # An inproc:// address carries this machine's IP, which the dashboard link
    # would show although the dashboard listens on loopback only.
    link = {"distributed.dashboard.link": f"http://{_LOOPBACK}:{{port}}/status"}
    config = dask.config.set(link) if in_process else nullcontext()
    with config, cluster, distributed.Client(cluster) as client:
        yield client


def _in_process(processes: bool, kwargs: dict[str, Any]) -> bool:
    """Whether LocalCluster will connect over ``inproc://``, as Dask decides.

    Workers in this process talk to the scheduler through memory, with no
    socket and no host (an address with one is refused); the dashboards still
    listen on loopback.
    """
    protocol = kwargs.get("protocol")
    if protocol is None:
        return not processes and not kwargs.get("scheduler_port")
    return str(protocol).startswith("inproc")
