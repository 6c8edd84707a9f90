"""BatchNormalizer + OneHot against scikit-learn's ColumnTransformer.

Fit and transform of 1,000,000 rows of float64 and of 200,000 rows of float32:
8 float columns and two string columns with 5 and 50 categories, with one
torch thread; each with the ratio of the two measured in the same run. Then
the small case a
scikit-learn user meets first: fit + predict of 300 rows with a plain
LogisticRegression after the Pipes, against the same estimator after the
ColumnTransformer, with the ratio of the two measured in the same run. Run it
by hand:

    python benchmarks/preprocess.py [--rows N] [--rows32 N] [--repeat R]
        [--small-rows N] [--small-repeat R]

It prints Markdown tables of the best of R runs of each, the two sides of a
comparison run in turn.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fireworks_sk import BatchNormalizer, OneHot


def make_frame(rows: int, seed: int = 0, dtype: str = "float64") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"f{i}": rng.normal(i, 1 + i, rows).astype(dtype) for i in range(8)}
    data["small"] = rng.choice([f"s{i}" for i in range(5)], rows)
    data["large"] = rng.choice([f"l{i}" for i in range(50)], rows)
    return pd.DataFrame(data)


def fireworks_pipeline() -> Pipeline:
    numeric = [f"f{i}" for i in range(8)]
    return Pipeline(
        [("scale", BatchNormalizer(numeric)), ("onehot", OneHot(["small", "large"]))]
    )


def sklearn_pipeline() -> ColumnTransformer:
    numeric = [f"f{i}" for i in range(8)]
    return ColumnTransformer(
        [
            ("scale", StandardScaler(), numeric),
            ("onehot", OneHotEncoder(sparse_output=False), ["small", "large"]),
        ]
    )


def best_times(runs, repeat: int) -> list[float]:
    """The best of ``repeat`` timings of each of ``runs``, taken in turn (A, B,
    A, B, ...) so that a busy moment of a shared machine slows both alike."""
    times = [[] for _ in runs]
    for _ in range(repeat):
        for run, taken in zip(runs, times):
            start = time.perf_counter()
            run()
            taken.append(time.perf_counter() - start)
    return [min(taken) for taken in times]


def fit_transform(make, frame: pd.DataFrame):
    return lambda: make().fit(frame).transform(frame)


def small_target(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["f0"] > 0) ^ (frame["small"] == "s0")).to_numpy()


def fit_predict(make, frame: pd.DataFrame, y: np.ndarray):
    return lambda: make().fit(frame, y).predict(frame)


def small_case(rows: int, repeat: int) -> None:
    """Fit + predict with LogisticRegression after each preprocessing."""
    frame = make_frame(rows, seed=1)
    y = small_target(frame)

    def ours():
        return make_pipeline(*fireworks_pipeline().named_steps.values(), model())

    def theirs():
        return make_pipeline(sklearn_pipeline(), model())

    ours_s, theirs_s = best_times(
        [fit_predict(ours, frame, y), fit_predict(theirs, frame, y)], repeat
    )
    print()
    print(
        f"| fit + predict, {rows:,} rows, LogisticRegression | seconds (best of "
        f"{repeat}) |"
    )
    print("|---|---|")
    print(f"| fireworks_sk BatchNormalizer + OneHot + estimator | {ours_s:.4f} |")
    print(f"| ColumnTransformer + estimator | {theirs_s:.4f} |")
    print(f"| ratio fireworks_sk / scikit-learn | {ours_s / theirs_s:.2f} |")


def large_case(frame: pd.DataFrame, dtype: str, repeat: int) -> None:
    ours, theirs = best_times(
        [
            fit_transform(fireworks_pipeline, frame),
            fit_transform(sklearn_pipeline, frame),
        ],
        repeat,
    )
    print(
        f"| fit + transform, {len(frame):,} rows of {dtype} | seconds (best of "
        f"{repeat}) |"
    )
    print("|---|---|")
    print(f"| fireworks_sk BatchNormalizer + OneHot | {ours:.3f} |")
    sklearn_name = "scikit-learn ColumnTransformer(StandardScaler, OneHotEncoder)"
    print(f"| {sklearn_name} | {theirs:.3f} |")
    print(f"| ratio fireworks_sk / scikit-learn | {ours / theirs:.2f} |")
    print()


def model() -> LogisticRegression:
    return LogisticRegression(max_iter=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows32", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-rows", type=int, default=300)
    parser.add_argument("--small-repeat", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for rows, dtype in [(args.rows, "float64"), (args.rows32, "float32")]:
        large_case(make_frame(rows, dtype=dtype), dtype, args.repeat)
    small_case(args.small_rows, args.small_repeat)


if __name__ == "__main__":
    main()
