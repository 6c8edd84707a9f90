"""Tune a Message pipeline on a Dask cluster, and fit its scaler on partitions.

A local cluster bound to 127.0.0.1 (two worker processes) runs a GridSearchCV
through joblib's Dask backend; the same search with ``n_jobs=1`` gives the same
scores, because every fit is seeded. A BatchNormalizer is also fitted on a Dask
DataFrame by merging per-partition statistics on the workers. Against a real
cluster, replace ``local_cluster(...)`` with ``distributed.Client(address)``.
Needs the ``dask`` extra.

    python examples/dask_search.py
"""

from __future__ import annotations

import dask.dataframe as dd
import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from fireworks_sk import BatchNormalizer, OneHot, Stack, TorchClassifier, local_cluster
from fireworks_sk.datasets import load_penguins


def search() -> GridSearchCV:
    pipeline = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(["island", "sex"])),
            ("stack", Stack(into="features")),
            ("net", TorchClassifier(max_epochs=10, batch_size=32, random_state=0)),
        ]
    )
    grid = {"net__lr": [0.003, 0.03], "scale__with_std": [True, False]}
    return GridSearchCV(pipeline, grid, cv=3)


def main() -> None:
    penguins = load_penguins().dropna().reset_index(drop=True)
    X, y = penguins.drop(columns="species"), penguins["species"].to_numpy()
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        print(f"cluster dashboard: {client.dashboard_link}")
        on_cluster = search()
        with joblib.parallel_config(backend="dask"):
            on_cluster.fit(X, y)
        partitions = dd.from_pandas(X[numeric], npartitions=4)
        scaler = BatchNormalizer().fit(partitions)  # statistics merged on workers
    here = search().fit(X, y)
    same = np.array_equal(
        on_cluster.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"]
    )
    print(f"best parameters: {on_cluster.best_params_}")
    print(f"cross-validated accuracy: {on_cluster.best_score_:.3f}")
    print(f"same scores on the cluster as with n_jobs=1: {same}")
    print(
        f"body mass mean from 4 partitions: {float(scaler.mean_['body_mass_g']):.2f} g"
    )
    if not same:
        raise SystemExit("scores differ between the cluster and n_jobs=1")


if __name__ == "__main__":
    main()
