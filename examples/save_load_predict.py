"""Train, save, then load in a fresh Python process and predict, with schema checks.

The parent process trains a penguin classifier and saves it with
``fireworks_sk.save``, which writes the model and a manifest (library
versions, input schema, checksum) atomically. It then runs this same script
again in a new process, as a serving job would: that process reads the
manifest with ``inspect`` without loading anything, loads the model with
``load`` (checksum verified), predicts, and shows that input with a missing
column is refused with a ``SchemaError`` that names it.

    python examples/save_load_predict.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

import fireworks_sk as fsk
from fireworks_sk.datasets import load_penguins


def train_and_save(folder: Path) -> tuple[Path, Path, list[str]]:
    penguins = load_penguins().dropna()
    X, y = penguins.drop(columns="species"), penguins["species"]
    X_train, X_new, y_train, _ = train_test_split(X, y, random_state=0)
    model = Pipeline(
        [
            ("scale", fsk.BatchNormalizer()),
            ("onehot", fsk.OneHot(["island", "sex"])),
            ("stack", fsk.Stack(into="features")),
            ("net", fsk.TorchClassifier(max_epochs=20, batch_size=32, random_state=0)),
        ]
    ).fit(X_train, y_train)
    model_path = fsk.save(model, folder / "penguins.fwsk")
    data_path = folder / "new_penguins.csv"
    X_new.to_csv(data_path, index=False)
    return model_path, data_path, model.predict(X_new).tolist()


def serve(model_path: str, data_path: str) -> None:
    """What the fresh process runs: inspect, load, check, predict."""
    manifest = fsk.inspect(model_path)
    expected = [column["name"] for column in manifest["input_schema"]]
    print(f"model {manifest['object']} saved {manifest['created']}")
    print(f"expects columns {expected}")
    model = fsk.load(model_path)
    new = pd.read_csv(data_path)
    try:
        model.predict(new.drop(columns="body_mass_g"))
    except fsk.SchemaError as exc:
        print(f"refused input without body_mass_g: {exc}")
    else:
        raise AssertionError("a missing column must raise SchemaError")
    json.dump(model.predict(new[expected]).tolist(), sys.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        model_path, data_path, predicted_here = train_and_save(Path(folder))
        child = subprocess.run(
            [sys.executable, __file__, "serve", str(model_path), str(data_path)],
            capture_output=True,
            text=True,
            check=True,
        )
    *log, predictions = child.stdout.splitlines()
    print("\n".join(log))
    predicted_there = json.loads(predictions)
    assert predicted_there == predicted_here, "the reloaded model predicts alike"
    print(f"fresh process: {len(predicted_there)} predictions, identical to training's")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(*sys.argv[2:4])
    else:
        main()
