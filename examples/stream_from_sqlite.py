"""Fit a whole pipeline, torch classifier included, from a SQLite database.

The script writes 20,000 synthetic machine readings to a SQLite file in a
temporary folder, then fits ``BatchNormalizer`` + ``OneHot`` + ``Stack`` +
``TorchClassifier`` chunk by chunk with ``fit_stream`` from a ``SQLSource``,
so that no more than a few chunks are in memory at a time. The statistics it
learns equal those of an in-memory ``fit``; the script checks that, then
scores held-out rows with ``predict_stream`` and appends them to a table
with ``write_sql``.

    python examples/stream_from_sqlite.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy
from sklearn.pipeline import Pipeline

from fireworks_sk import (
    BatchNormalizer,
    OneHot,
    Stack,
    TorchClassifier,
    fit_stream,
    predict_stream,
    write_sql,
)
from fireworks_sk.sources import SQLSource

NUMERIC = ["temperature", "pressure", "vibration"]


def make_readings(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Readings of machines at five sites; hot, shaking machines fail more."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "temperature": rng.normal(70.0, 8.0, n_rows),
            "pressure": rng.normal(1013.0, 20.0, n_rows),
            "vibration": rng.gamma(2.0, 0.5, n_rows),
            "site": rng.choice(["north", "south", "east", "west", "depot"], n_rows),
        }
    )
    risk = 0.15 * (frame["temperature"] - 70) + 1.5 * (frame["vibration"] - 1)
    risk += np.where(frame["site"] == "depot", 1.0, 0.0)
    frame["failed"] = (risk + rng.logistic(size=n_rows) > 1.0).astype("int64")
    frame["split"] = np.where(rng.random(n_rows) < 0.8, "train", "test")
    return frame


def build_model() -> Pipeline:
    return Pipeline(
        [
            ("scale", BatchNormalizer(NUMERIC)),
            ("onehot", OneHot(["site"])),
            ("stack", Stack(into="features")),
            ("net", TorchClassifier(max_epochs=3, batch_size=256, random_state=0)),
        ]
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'plant.db'}"
        engine = sqlalchemy.create_engine(url)
        make_readings(20_000).to_sql("readings", engine, index=False)
        engine.dispose()

        columns = "temperature, pressure, vibration, site, failed"
        train = SQLSource(
            url,
            f"SELECT {columns} FROM readings WHERE split = :split",
            chunk_size=2_000,
            params={"split": "train"},  # bound, never pasted into the query
        )
        model = fit_stream(build_model(), train, y="failed", verbose=0)

        # The transformers learned exactly what an in-memory fit learns.
        everything = pd.concat([chunk.to_dataframe() for chunk in train])
        in_memory = BatchNormalizer(NUMERIC).fit(everything)
        streamed = model.named_steps["scale"]
        for name in NUMERIC:
            assert np.isclose(streamed.mean_[name], in_memory.mean_[name])
        print(f"trained on {streamed.n_samples_seen_} rows in chunks of 2,000")
        print("sites:", model.named_steps["onehot"].categories_["site"].tolist())

        test = SQLSource(
            url,
            f"SELECT {columns} FROM readings WHERE split = 'test'",
            chunk_size=2_000,
        )
        written = write_sql(predict_stream(model, test, y="failed"), url, "scores")
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            scores = pd.read_sql("SELECT prediction FROM scores", connection)
        engine.dispose()
        truth = pd.concat([chunk.to_dataframe()["failed"] for chunk in test])
        accuracy = (scores["prediction"].to_numpy() == truth.to_numpy()).mean()
        print(f"wrote {written} predictions to table 'scores'; accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
