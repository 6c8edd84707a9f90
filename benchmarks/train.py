"""Training and prediction speed of TorchClassifier against plain torch and skorch.

Run: ``python benchmarks/train.py [--rows 200000] [--epochs 5]
[--predict-rows 200000]``. Uses one torch thread. Prints Markdown tables, each
ratio against its peer measured in the same run.

Measured:
- epoch time of a hand-written torch loop (randperm + index_select), of
  TorchClassifier on a tensor Message, on a DataFrame and on an ndarray (seeded,
  and unseeded on the ndarray), and of skorch's NeuralNetClassifier on the
  ndarray (all: MLP 63-64-2, Adam, batch 256, no validation split, shuffled);
- one epoch of ``MessageLoader`` batches (shuffled, batch 256) against the same
  ``randperm`` + ``index_select`` by hand, with no model;
- p50 latency of ``predict`` on a one-row DataFrame for
  Pipeline(BatchNormalizer, OneHot, Stack, TorchClassifier) and for
  Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder), NeuralNetClassifier),
  with 8 and with 60 numeric columns (and 2 string columns);
- ``predict`` of the same two pipelines on a batch of ``--predict-rows`` rows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from skorch import NeuralNetClassifier

from fireworks_sk import (
    BatchNormalizer,
    Message,
    MessageLoader,
    OneHot,
    Stack,
    TorchClassifier,
)

BATCH, HIDDEN, LR = 256, 64, 1e-3


class MLP(torch.nn.Module):
    """63 -> 64 -> 2 (the width follows the data)."""

    def __init__(self, n_in: int = 63, n_out: int = 2) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_in, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, n_out),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)


def make_data(rows: int, width: int = 63) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, width)).astype(np.float32)
    y = (X @ rng.normal(size=width) > 0).astype(np.int64)
    return X, y


def plain_loop(X: np.ndarray, y: np.ndarray, epochs: int) -> list[float]:
    torch.manual_seed(0)
    model, loss_fn = MLP(X.shape[1]), torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(Xt), generator=generator)
        for i in range(0, len(Xt), BATCH):
            index = order[i : i + BATCH]
            xb, yb = Xt.index_select(0, index), yt.index_select(0, index)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()
        times.append(time.perf_counter() - start)
    return times


def net_params(epochs: int) -> dict:
    return {
        "criterion": torch.nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "lr": LR,
        "max_epochs": epochs,
        "batch_size": BATCH,
        "train_split": None,
        "verbose": 0,
    }


def fit_net(net, X, y) -> tuple[list[float], float]:
    start = time.perf_counter()
    net.fit(X, y)
    total = time.perf_counter() - start
    return list(net.history[:, "dur"]), total


def epoch_rows(X: np.ndarray, y: np.ndarray, epochs: int) -> dict[str, tuple]:
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    message = Message({"features": torch.from_numpy(X)})
    ours = {"module": MLP, "module__n_in": X.shape[1], "random_state": 0}
    results = {"plain torch loop": (plain_loop(X, y, epochs), None)}
    for name, data in [("Message", message), ("DataFrame", frame), ("ndarray", X)]:
        net = TorchClassifier(**ours, **net_params(epochs))
        results[f"TorchClassifier ({name})"] = fit_net(net, data, y)
    # A seeded fit swaps its own noise generator into torch's around every
    # step of a module that may draw (MLP, a class of its own, may); unseeded,
    # it does not.
    net = TorchClassifier(**{**ours, "random_state": None}, **net_params(epochs))
    results["TorchClassifier (ndarray, random_state=None)"] = fit_net(net, X, y)
    skorch = NeuralNetClassifier(
        MLP, module__n_in=X.shape[1], iterator_train__shuffle=True, **net_params(epochs)
    )
    results["skorch NeuralNetClassifier (ndarray)"] = fit_net(skorch, X, y)
    return results


def predict_frame(rows: int, width: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_data(rows, width=width)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(width)])
    rng = np.random.default_rng(1)
    frame["shop"] = rng.choice(["north", "south", "east", "west"], size=rows)
    frame["day"] = rng.choice(["mon", "tue", "wed"], size=rows)
    return frame, y


def latency_ms(model, row: pd.DataFrame, repeats: int) -> tuple[float, float]:
    """p50 and best of ``predict`` on ``row``, in ms."""
    for _ in range(20):
        model.predict(row)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, min(times) * 1e3


def fitted_pipelines(width: int) -> tuple[Pipeline, Pipeline, pd.DataFrame]:
    """Pipes + TorchClassifier and ColumnTransformer + skorch, fitted alike."""
    frame, y = predict_frame(5000, width)
    n_in = width + 7
    net = TorchClassifier(MLP, module__n_in=n_in, random_state=0, **net_params(1))
    ours = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(columns=["shop", "day"])),
            ("stack", Stack()),
            ("net", net),
        ]
    ).fit(frame, y)
    numeric = [c for c in frame.columns if c.startswith("f")]
    columns = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(), ["shop", "day"])]
    )
    theirs = Pipeline(
        [
            ("columns", columns),
            ("to32", FunctionTransformer(np.asarray, kw_args={"dtype": np.float32})),
            ("net", NeuralNetClassifier(MLP, module__n_in=n_in, **net_params(1))),
        ]
    ).fit(frame, y)
    return ours, theirs, frame


def predict_rows(repeats: int, width: int = 60) -> dict[str, tuple[float, float]]:
    ours, theirs, frame = fitted_pipelines(width)
    numeric = [c for c in frame.columns if c.startswith("f")]
    numeric_net = TorchClassifier(MLP, module__n_in=width, **net_params(1))
    numeric_net.fit(frame[numeric], frame_target(frame))
    row = frame.iloc[[0]]
    features = ours[:-1].transform(row)
    matrix = theirs[:-1].transform(row)
    return {
        "Pipeline(Pipes + TorchClassifier), 1-row DataFrame": latency_ms(
            ours, row, repeats
        ),
        "Pipeline(ColumnTransformer + skorch), 1-row DataFrame": latency_ms(
            theirs, row, repeats
        ),
        "TorchClassifier alone, 1-row Message": latency_ms(ours[-1], features, repeats),
        f"TorchClassifier alone, 1-row numeric DataFrame ({width} columns)": latency_ms(
            numeric_net, row[numeric], repeats
        ),
        "skorch NeuralNetClassifier alone, 1-row ndarray": latency_ms(
            theirs[-1], matrix, repeats
        ),
        "Pipeline(Pipes + TorchClassifier), new 1-row DataFrame each call": (
            latency_ms(_NewFrames(ours, row, repeats + 20), row, repeats)
        ),
        "Pipeline(ColumnTransformer + skorch), new 1-row DataFrame each call": (
            latency_ms(_NewFrames(theirs, row, repeats + 20), row, repeats)
        ),
        "Pipes alone (transform), 1-row DataFrame": latency_ms(
            _Transformer(ours[:-1]), row, repeats
        ),
        "ColumnTransformer alone, 1-row DataFrame": latency_ms(
            _Transformer(theirs[:-1]), row, repeats
        ),
    }


def frame_target(frame: pd.DataFrame) -> np.ndarray:
    return (frame["f0"] > 0).to_numpy().astype(np.int64)


def batch_predict(rows: int, repeats: int) -> dict[str, float]:
    """Best seconds of ``predict`` on ``rows`` rows, both pipelines."""
    ours, theirs, _ = fitted_pipelines(60)
    frame, _ = predict_frame(rows, 60)
    return {
        name: min(_seconds(model.predict, frame) for _ in range(repeats))
        for name, model in [("Pipes + TorchClassifier", ours), ("skorch", theirs)]
    }


def _seconds(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def loader_epochs(X: np.ndarray, y: np.ndarray, epochs: int) -> dict[str, float]:
    """Best seconds of one shuffled epoch of batches, MessageLoader and by hand."""
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    message = Message({"features": Xt, "y": yt})

    def by_hand(epoch: int) -> None:
        generator = torch.Generator().manual_seed(epoch)
        order = torch.randperm(len(Xt), generator=generator)
        for i in range(0, len(Xt), BATCH):
            index = order[i : i + BATCH]
            Xt.index_select(0, index), yt.index_select(0, index)

    loader = MessageLoader(message, BATCH, shuffle=True, random_state=0)

    def with_loader(epoch: int) -> None:
        loader.set_epoch(epoch)
        for batch in loader:
            batch["features"], batch["y"]

    # In turn (A, B, A, B), so that a busy moment slows both alike; an epoch
    # takes milliseconds, so four times the epochs each, best kept.
    times: dict[str, list[float]] = {"MessageLoader": [], "randperm + index_select": []}
    for epoch in range(4 * max(epochs, 3)):
        times["MessageLoader"].append(_seconds(with_loader, epoch))
        times["randperm + index_select"].append(_seconds(by_hand, epoch))
    return {name: min(seconds) for name, seconds in times.items()}


class _NewFrames:
    """``predict`` on a DataFrame built apart for each call, as a server gets
    them: pandas caches what it derives from a frame's columns, and a reused
    frame would keep it. The frames are built before the timing starts."""

    def __init__(self, model, row: pd.DataFrame, count: int) -> None:
        self.model = model
        columns = {c: row[c].to_numpy() for c in row.columns}
        self.frames = iter([pd.DataFrame(columns) for _ in range(count)])

    def predict(self, X):
        return self.model.predict(next(self.frames))


class _Transformer:
    """Time ``transform`` through the same ``predict`` call as the models."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline

    def predict(self, X):
        return self.pipeline.transform(X)


def _ratio_line(
    name: str, times: list[float], total, base: float, skorch: float
) -> str:
    best, median = min(times), statistics.median(times)
    total_text = "" if total is None else f"{total:.2f}"
    return (
        f"| {name} | {best:.3f} | {median:.3f} | {best / base:.2f} | "
        f"{best / skorch:.2f} | {total_text} |"
    )


def report(epochs: dict[str, tuple], latency: dict[int, dict[str, tuple]]) -> str:
    best = {name: min(times) for name, (times, _) in epochs.items()}
    base = best["plain torch loop"]
    skorch = best["skorch NeuralNetClassifier (ndarray)"]
    lines = [
        "| run | best epoch (s) | median epoch (s) | × plain loop | × skorch "
        "| fit total (s) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        _ratio_line(name, times, total, base, skorch)
        for name, (times, total) in epochs.items()
    ]
    frame = best["TorchClassifier (DataFrame)"] / best["TorchClassifier (Message)"]
    ndarray = best["TorchClassifier (ndarray)"]
    lines += [
        "",
        f"DataFrame / Message best epoch: {frame:.2f} (target <= 1.2)",
        f"TorchClassifier (ndarray) / plain loop: {ndarray / base:.2f} "
        "(target <= 1.10)",
        f"TorchClassifier (ndarray) / skorch: {ndarray / skorch:.2f} (target <= 0.35)",
        "TorchClassifier (ndarray, random_state=None) / plain loop: "
        f"{best['TorchClassifier (ndarray, random_state=None)'] / base:.2f}",
    ]
    for width, rows in latency.items():
        lines += [
            "",
            f"| single-row predict, {width} numeric + 2 string columns | p50 (ms) "
            "| best (ms) |",
            "|---|---|---|",
        ]
        lines += [
            f"| {name} | {p50:.3f} | {best:.3f} |" for name, (p50, best) in rows.items()
        ]
        for frames in ("1-row DataFrame", "new 1-row DataFrame each call"):
            ours = rows[f"Pipeline(Pipes + TorchClassifier), {frames}"]
            theirs = rows[f"Pipeline(ColumnTransformer + skorch), {frames}"]
            lines.append(
                f"\nPipes / ColumnTransformer+skorch, {width} numeric columns, "
                f"{frames}: p50 {ours[0] / theirs[0]:.2f}, "
                f"best {ours[1] / theirs[1]:.2f} (target <= 0.1)"
            )
    return "\n".join(lines)


def report_pairs(title: str, unit: str, pair: dict[str, float], target: str) -> str:
    (ours_name, ours), (theirs_name, theirs) = pair.items()
    return "\n".join(
        [
            f"| {title} | {unit} |",
            "|---|---|",
            f"| {ours_name} | {ours:.4f} |",
            f"| {theirs_name} | {theirs:.4f} |",
            f"| ratio {ours_name} / {theirs_name} | {ours / theirs:.2f} "
            f"(target {target}) |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--predict-rows", type=int, default=200_000)
    parser.add_argument("--predict-repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = make_data(args.rows)
    print(f"torch {torch.__version__}, 1 thread, {args.rows} x {X.shape[1]} rows")
    latency = {width: predict_rows(args.repeats, width) for width in (8, 60)}
    print(report(epoch_rows(X, y, args.epochs), latency))
    loader = loader_epochs(X, y, args.epochs)
    print()
    print(report_pairs("shuffled epoch of batches", "best s", loader, "<= 1.10"))
    batch = batch_predict(args.predict_rows, args.predict_repeats)
    print()
    title = f"predict, {args.predict_rows:,} rows, 60 numeric + 2 string"
    print(report_pairs(title, "best s", batch, "<= 0.3"))


if __name__ == "__main__":
    main()
