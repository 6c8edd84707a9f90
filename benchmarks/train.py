"""Training and prediction speed of TorchClassifier against plain torch and skorch.

Run: ``python benchmarks/train.py [--rows 200000] [--epochs 3]``. Uses one torch
thread. Prints a Markdown table; the targets come from issue 3.

Measured:
- epoch time of a hand-written torch loop (randperm + index_select), of
  TorchClassifier on a tensor Message, on a DataFrame and on an ndarray, and of
  skorch's NeuralNetClassifier on the ndarray (all: MLP 63-64-2, Adam, batch
  256, no validation split, shuffled);
- p50 latency of ``predict`` on a one-row DataFrame for
  Pipeline(BatchNormalizer, OneHot, Stack, TorchClassifier) and for
  Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder), NeuralNetClassifier).
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

from fireworks_sk import BatchNormalizer, Message, OneHot, Stack, TorchClassifier

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
    skorch = NeuralNetClassifier(
        MLP, module__n_in=X.shape[1], iterator_train__shuffle=True, **net_params(epochs)
    )
    results["skorch NeuralNetClassifier (ndarray)"] = fit_net(skorch, X, y)
    return results


def predict_frame(rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_data(rows, width=60)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(60)])
    rng = np.random.default_rng(1)
    frame["shop"] = rng.choice(["north", "south", "east", "west"], size=rows)
    frame["day"] = rng.choice(["mon", "tue", "wed"], size=rows)
    return frame, y


def p50_ms(model, row: pd.DataFrame, repeats: int) -> float:
    for _ in range(20):
        model.predict(row)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def predict_rows(repeats: int) -> dict[str, float]:
    frame, y = predict_frame(5000)
    ours = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(columns=["shop", "day"])),
            ("stack", Stack()),
            (
                "net",
                TorchClassifier(MLP, module__n_in=67, random_state=0, **net_params(1)),
            ),
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
            ("net", NeuralNetClassifier(MLP, module__n_in=67, **net_params(1))),
        ]
    ).fit(frame, y)
    numeric_net = TorchClassifier(MLP, module__n_in=60, **net_params(1))
    numeric_net.fit(frame[numeric], y)
    row = frame.iloc[[0]]
    features = ours[:-1].transform(row)
    matrix = theirs[:-1].transform(row)
    return {
        "Pipeline(Pipes + TorchClassifier), 1-row DataFrame": p50_ms(
            ours, row, repeats
        ),
        "Pipeline(ColumnTransformer + skorch), 1-row DataFrame": p50_ms(
            theirs, row, repeats
        ),
        "TorchClassifier alone, 1-row Message": p50_ms(ours[-1], features, repeats),
        "TorchClassifier alone, 1-row numeric DataFrame (60 columns)": p50_ms(
            numeric_net, row[numeric], repeats
        ),
        "skorch NeuralNetClassifier alone, 1-row ndarray": p50_ms(
            theirs[-1], matrix, repeats
        ),
        "Pipes alone (transform), 1-row DataFrame": p50_ms(
            _Transformer(ours[:-1]), row, repeats
        ),
        "ColumnTransformer alone, 1-row DataFrame": p50_ms(
            _Transformer(theirs[:-1]), row, repeats
        ),
    }


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


def report(epochs: dict[str, tuple], latency: dict[str, float]) -> str:
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
    lines += [
        "",
        f"DataFrame / Message best epoch: {frame:.2f} (target <= 1.2)",
        "",
        "| single-row predict | p50 (ms) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.3f} |" for name, value in latency.items()]
    ours = latency["Pipeline(Pipes + TorchClassifier), 1-row DataFrame"]
    theirs = latency["Pipeline(ColumnTransformer + skorch), 1-row DataFrame"]
    lines.append(
        f"\nPipes / ColumnTransformer+skorch p50: {ours / theirs:.2f} (target <= 0.1)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = make_data(args.rows)
    print(f"torch {torch.__version__}, 1 thread, {args.rows} x {X.shape[1]} rows")
    print(report(epoch_rows(X, y, args.epochs), predict_rows(args.repeats)))


if __name__ == "__main__":
    main()
