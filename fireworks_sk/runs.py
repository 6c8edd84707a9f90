"""Training runs described by a config: data, pipeline, search, seed, output.

A run loads the data, holds out a test split, tunes the pipeline with
``GridSearchCV``, and writes to its output folder the model (``model.fwsk``),
a run record (``run.json``: config, seed, data fingerprint, versions, metrics,
duration) and, when matplotlib is installed, ``learning_curve.png``.

Configs are TOML (``fireworks-sk train CONFIG``); their values are data, never
evaluated as code: step and model types are looked up by name in a fixed list.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from skorch.dataset import ValidSplit

from fireworks_sk import pipes
from fireworks_sk.exceptions import FireworksError
from fireworks_sk.persistence import _versions, save
from fireworks_sk.sources._files import regular_file

__all__ = ["ConfigError", "RunResult", "demo_config", "load_config", "run"]

STEP_TYPES = (
    "BatchNormalizer",
    "OneHot",
    "IndexEncoder",
    "ToTensor",
    "Stack",
    "SelectColumns",
    "DropColumns",
)
MODEL_TYPES = ("TorchClassifier", "TorchRegressor")
_KEYS = {
    "": {"seed", "output", "data", "steps", "model", "search"},
    "data": {
        "source",
        "path",
        "url",
        "query",
        "target",
        "columns",
        "dropna",
        "test_size",
    },
    "steps": {"type", "name", "params"},
    "model": {"type", "params", "valid_fraction"},
    "search": {"cv", "scoring", "grid"},
}
_SOURCES = ("csv", "parquet", "sql", "penguins")


class ConfigError(FireworksError, ValueError):
    """A run config has an unknown key, a missing key or a bad value."""


@dataclass
class RunResult:
    """What a run produced."""

    output: Path
    model_path: Path
    record: dict[str, Any]


def demo_config(output: str | Path = "runs/demo") -> dict[str, Any]:
    """The built-in config of ``fireworks-sk demo``: penguin species, bundled data."""
    return {
        "seed": 0,
        "output": str(output),
        "data": {"source": "penguins", "target": "species", "dropna": True},
        "steps": [
            {"type": "BatchNormalizer", "name": "scale"},
            {
                "type": "OneHot",
                "name": "onehot",
                "params": {"columns": ["island", "sex"]},
            },
            {"type": "Stack", "name": "stack", "params": {"into": "features"}},
        ],
        "model": {
            "type": "TorchClassifier",
            "params": {"max_epochs": 25, "batch_size": 32},
            "valid_fraction": 0.2,
        },
        "search": {
            "cv": 3,
            "scoring": "accuracy",
            "grid": {"model__lr": [0.003, 0.03], "scale__with_std": [True, False]},
        },
    }


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML run config.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ConfigError
        If a key is unknown or missing, naming it.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No config file at {str(path)!r}.")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}.") from exc
    check_config(config)
    return config


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse unknown and missing keys and unknown types, naming them.

    What the config holds is checked before what it lacks, so a misspelt key
    is named rather than reported missing.
    """
    _check_keys("", config)
    _check_keys("data", config.get("data", {}))
    if not isinstance(config.get("steps", []), list):
        raise ConfigError(
            f"steps must be an array of tables ([[steps]]); got "
            f"{type(config['steps']).__name__}."
        )
    for position, step in enumerate(config.get("steps", [])):
        _check_keys("steps", step, f"steps[{position}]")
        _check_type(step.get("type"), STEP_TYPES, f"steps[{position}].type")
    if "model" in config:
        _check_keys("model", config["model"])
        _check_type(config["model"].get("type"), MODEL_TYPES, "model.type")
    _check_keys("search", config.get("search", {}))
    for key in ("data", "steps", "model"):
        if key not in config:
            raise ConfigError(f"Config key {key!r} is missing.")
    for required in ("source", "target"):
        if required not in config["data"]:
            raise ConfigError(f"Config key 'data.{required}' is missing.")
    if config["data"]["source"] not in _SOURCES:
        raise ConfigError(
            f"data.source {config['data']['source']!r} is not one of {list(_SOURCES)}."
        )


def _check_keys(section: str, values: Any, where: str | None = None) -> None:
    where = where or section or "the config"
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where} must be a table; got {type(values).__name__}.")
    unknown = sorted(set(values) - _KEYS[section])
    if unknown:
        prefix = f"{section}." if section else ""
        raise ConfigError(
            f"Unknown config key {prefix}{unknown[0]!r} in {where}; known keys: "
            f"{sorted(_KEYS[section])}."
        )


def _check_type(name: Any, allowed: tuple[str, ...], where: str) -> None:
    if name not in allowed:
        raise ConfigError(f"{where} is {name!r}; expected one of {list(allowed)}.")


def read_data(data: Mapping[str, Any]) -> pd.DataFrame:
    """The training table named by a config's ``data`` section."""
    source = data["source"]
    if source == "penguins":
        from fireworks_sk.datasets import load_penguins

        frame = load_penguins()
    elif source in ("csv", "parquet"):
        path = Path(_required(data, "path"))
        if not path.exists():
            raise FileNotFoundError(f"No data file at {str(path)!r}.")
        regular_file(path, "data.path")
        frame = pd.read_csv(path) if source == "csv" else pd.read_parquet(path)
    else:
        frame = _read_sql(_required(data, "url"), _required(data, "query"))
    if data.get("columns"):
        frame = frame[[*data["columns"], data["target"]]]
    return frame.dropna().reset_index(drop=True) if data.get("dropna") else frame


def _required(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise ConfigError(f"data.source {data['source']!r} needs the key 'data.{key}'.")
    return data[key]


def _read_sql(url: str, query: str) -> pd.DataFrame:
    try:
        import sqlalchemy
    except ImportError as exc:
        raise ImportError("SQL data needs: pip install 'fireworks-sk[sql]'.") from exc
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return pd.read_sql(sqlalchemy.text(query), connection)
    finally:
        engine.dispose()


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a table's columns, dtypes and values."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode()
    )
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def build_pipeline(config: Mapping[str, Any]) -> Pipeline:
    """The Pipeline of a config: its steps, then its model, seeded."""
    from fireworks_sk import estimators

    steps = []
    for step in config["steps"]:
        kind = getattr(pipes, step["type"])
        steps.append(
            (step.get("name", step["type"].lower()), kind(**step.get("params", {})))
        )
    model = config["model"]
    seed = config.get("seed", 0)
    params = {"random_state": seed, **model.get("params", {})}
    if "valid_fraction" in model:
        # skorch holds out this fraction in each fit for valid_loss.
        params["train_split"] = ValidSplit(
            float(model["valid_fraction"]),
            stratified=model["type"] == "TorchClassifier",
            random_state=seed,
        )
    steps.append(("model", getattr(estimators, model["type"])(**params)))
    return Pipeline(steps)


def _scores(kind: str, y_true: Any, y_pred: Any) -> dict[str, float]:
    if kind == "TorchClassifier":
        return {
            "accuracy": metrics.accuracy_score(y_true, y_pred),
            "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
            "f1_macro": metrics.f1_score(y_true, y_pred, average="macro"),
        }
    return {
        "r2": metrics.r2_score(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
    }


def run(config: Mapping[str, Any], *, verbose: int = 1) -> RunResult:
    """Train, tune and evaluate per ``config``; write model, record and curve.

    Parameters
    ----------
    config : mapping
        A run config, as :func:`load_config` returns or :func:`demo_config`.
    verbose : int, default=1
        0 prints nothing; 1 prints the stages.

    Returns
    -------
    RunResult
    """
    check_config(config)
    start = time.perf_counter()
    say = print if verbose else (lambda *args, **kwargs: None)
    seed = int(config.get("seed", 0))
    frame = read_data(config["data"])
    target = config["data"]["target"]
    if target not in frame:
        raise ConfigError(f"data.target {target!r} is not a column of the data.")
    X, y = frame.drop(columns=target), frame[target].to_numpy()
    kind = config["model"]["type"]
    stratify = y if kind == "TorchClassifier" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=config["data"].get("test_size", 0.25),
        random_state=seed,
        stratify=stratify,
    )
    search_config = config.get("search", {})
    search = GridSearchCV(
        build_pipeline(config),
        {key: list(values) for key, values in search_config.get("grid", {}).items()},
        cv=search_config.get("cv", 3),
        scoring=search_config.get("scoring"),
    )
    say(
        f"Tuning on {len(X_train)} rows: {_n_candidates(search)} candidates, "
        f"{search.cv}-fold cross-validation ..."
    )
    search.fit(X_train, y_train)
    test_metrics = _scores(kind, y_test, search.predict(X_test))
    output = Path(config.get("output", "runs/latest"))
    output.mkdir(parents=True, exist_ok=True)
    model_path = save(search.best_estimator_, output / "model.fwsk")
    record = {
        "config": copy.deepcopy(dict(config)),
        "seed": seed,
        "data": {
            "fingerprint": fingerprint(frame),
            "rows": len(frame),
            "columns": list(frame.columns),
        },
        "versions": _versions(),
        "best_params": _jsonable(search.best_params_),
        "cv_score": float(search.best_score_),
        "metrics": {"test": test_metrics, "test_rows": len(X_test)},
        "learning_curve": _learning_curve(search.best_estimator_, output),
        "model": model_path.name,
        "duration_s": round(time.perf_counter() - start, 2),
    }
    (output / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return RunResult(output, model_path, record)


def _n_candidates(search: GridSearchCV) -> int:
    return (
        int(np.prod([len(v) for v in search.param_grid.values()]))
        if search.param_grid
        else 1
    )


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value.item() if hasattr(value, "item") else value
        for key, value in params.items()
    }


def _learning_curve(pipeline: Pipeline, output: Path) -> str | None:
    """Draw the model's loss per epoch; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from fireworks_sk.estimators import plot_history
    except ImportError:
        return None
    ax = plot_history(pipeline[-1])
    ax.figure.savefig(output / "learning_curve.png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    return "learning_curve.png"
