"""Without the extra: fireworks_sk imports and fits; Dask entry points say why not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fireworks_sk import local_cluster
from fireworks_sk.sources import DaskSource


@pytest.fixture
def no_dask(monkeypatch):
    """Make ``import dask...`` fail as if the extra were not installed."""
    for name in ("dask", "dask.dataframe", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)


def test_local_cluster_names_the_extra(no_dask):
    with pytest.raises(ImportError, match=r"pip install 'fireworks-sk\[dask\]'"):
        with local_cluster():
            pass


def test_dask_source_names_the_extra(no_dask):
    with pytest.raises(ImportError, match=r"DaskSource needs.*fireworks-sk\[dask\]"):
        DaskSource(None)


def test_importing_fireworks_sk_and_fitting_a_pipe_does_not_import_dask():
    code = (
        "import sys, pandas as pd, fireworks_sk\n"
        "fireworks_sk.BatchNormalizer().fit(pd.DataFrame({'a': [1.0, 2.0]}))\n"
        "assert not any(m.split('.')[0] in ('dask', 'distributed') "
        "for m in sys.modules), 'dask was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
