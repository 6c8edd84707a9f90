"""Training runs described by a config: data, pipeline, search, seed, output.

A run loads the data, holds out a test split, tunes the pipeline with
``GridSearchCV``, and writes to its output folder the model (``model.fwsk``),
a run record (``run.json``: config, seed, data fingerprint, versions, metrics,
duration) and, when matplotlib is installed, ``learning_curve.png``.

Configs are TOML (``fireworks-sk train CONFIG``); their values are data, never
evaluated as code: step and model types are looked up by name in a fixed list.
"""

from __future__ import annotations

import contextlib
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
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    check_cv,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from skorch.dataset import ValidSplit

from fireworks_sk import pipes, sources
from fireworks_sk._atomic import atomic_write
from fireworks_sk._stream_read import progress_bar
from fireworks_sk.exceptions import ConfigError, RunError
from fireworks_sk.persistence import installed_versions, save
from fireworks_sk.schema import check_has_columns
from fireworks_sk.sources._files import open_source

__all__ = [
    "ConfigError",
    "RunError",
    "RunResult",
    "demo_config",
    "load_config",
    "preflight",
    "run",
    "template",
]

STEP_TYPES = (
    "Impute",
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
    "": {"seed", "output", "description", "data", "steps", "model", "search"},
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
# Rows per chunk when a run reads its data: every row at once (the most a
# database driver fetches in one call).
_WHOLE = 2**31 - 1


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
        "data": {"source": "penguins", "target": "species"},
        "steps": [
            {"type": "Impute", "name": "impute"},
            {"type": "BatchNormalizer", "name": "scale"},
            {
                "type": "OneHot",
                "name": "onehot",
                "params": {"columns": ["island", "sex"], "missing": "category"},
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
    except RecursionError as exc:  # tomllib recurses once per nesting level
        raise ConfigError(f"{str(path)!r} is nested too deeply to read.") from exc
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
    _check_values(config)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_fraction(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (0 < value < 1)
    )


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_STRING = (lambda value: isinstance(value, str), "a string")
_TABLE = (lambda value: isinstance(value, Mapping), "a table, e.g. { name = value }")
# What each value must be, by key: (check, what to write instead).
_VALUES = {
    "seed": (_is_int, "an integer"),
    "output": _STRING,
    "description": _STRING,
    "data.path": _STRING,
    "data.url": _STRING,
    "data.query": _STRING,
    "data.target": _STRING,
    "data.columns": (_is_names, 'an array of column names, e.g. ["island", "sex"]'),
    "data.dropna": (lambda value: isinstance(value, bool), "true or false"),
    "data.test_size": (
        lambda value: _is_fraction(value) or (_is_int(value) and value > 0),
        "a fraction between 0 and 1, or a number of rows",
    ),
    "steps.name": _STRING,
    "steps.params": _TABLE,
    "model.params": _TABLE,
    "model.valid_fraction": (_is_fraction, "a fraction between 0 and 1"),
    "search.cv": (lambda value: _is_int(value) and value >= 2, "an integer >= 2"),
    "search.scoring": (
        lambda value: isinstance(value, str) and value in get_scorer_names(),
        "a scikit-learn scorer name, one of sklearn.metrics.get_scorer_names()",
    ),
    "search.grid": (
        lambda value: isinstance(value, Mapping),
        'a table of arrays, e.g. { "model__lr" = [0.01, 0.1] }',
    ),
}


def _check_values(config: Mapping[str, Any]) -> None:
    """Refuse a value of the wrong type, naming its key and what it must be."""
    tables: list[tuple[str, str, Mapping[str, Any]]] = [
        ("", "", config),
        ("data.", "data.", config["data"]),
        ("model.", "model.", config["model"]),
        ("search.", "search.", config.get("search", {})),
    ]
    tables += [
        ("steps.", f"steps[{i}].", step) for i, step in enumerate(config["steps"])
    ]
    for rule_prefix, where, table in tables:
        for key, value in table.items():
            rule = _VALUES.get(rule_prefix + key)
            if rule is not None and not rule[0](value):
                raise ConfigError(
                    f"Config key {where + key!r} must be {rule[1]}; got {value!r}."
                )
    for key, values in config.get("search", {}).get("grid", {}).items():
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"Config key 'search.grid.{key}' must be a non-empty array of the "
                f"values to try, e.g. [0.01, 0.1]; got {values!r}."
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
    """The training table named by a config's ``data`` section.

    Files and queries are read through :mod:`fireworks_sk.sources`, in one
    chunk, so pandas infers each column's dtype from all its values.
    """
    if data["source"] == "penguins":
        from fireworks_sk.datasets import load_penguins

        frame = load_penguins()
    else:
        frame = _read_source(_source(data))
    _check_columns(frame, data)
    if data.get("columns"):
        frame = frame[[*data["columns"], data["target"]]]
    return frame


def _source(data: Mapping[str, Any]) -> sources.Source:
    """The source of a config's ``csv``, ``parquet`` or ``sql`` data."""
    if data["source"] == "sql":
        query = _required(data, "query")
        return sources.SQLSource(_required(data, "url"), query, _WHOLE)
    path = _required(data, "path")
    source = open_source(path, _WHOLE, owner="data.path")
    kind = "csv" if isinstance(source, sources.CSVSource) else "parquet"
    if kind != data["source"]:
        raise ConfigError(
            f"data.source is {data['source']!r} but data.path {str(path)!r} is "
            f"{kind} data; set data.source = {kind!r}."
        )
    return source


def _read_source(source: sources.Source) -> pd.DataFrame:
    """All rows of ``source`` as one table (Parquet row groups are concatenated)."""
    frames = [message.to_dataframe() for message in source]
    if not frames:
        raise ConfigError(f"The data of {source!r} has no rows; a run needs rows.")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _check_columns(frame: pd.DataFrame, data: Mapping[str, Any]) -> None:
    """Refuse a target or ``data.columns`` the data lacks, before any fit."""
    for key, names in (
        ("data.target", [data["target"]]),
        ("data.columns", data.get("columns") or []),
    ):
        check_has_columns(
            key,
            names,
            list(frame.columns),
            where="the data",
            fix=f"Fix {key} in the config, or point data.path at data that has them.",
            error=ConfigError,
        )


def _drop_missing(frame: pd.DataFrame, data: Mapping[str, Any]) -> pd.DataFrame:
    """The rows without missing values when ``data.dropna`` asks for it."""
    if not data.get("dropna"):
        return frame
    return frame.dropna().reset_index(drop=True)


def _required(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise ConfigError(f"data.source {data['source']!r} needs the key 'data.{key}'.")
    return data[key]


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


def run(
    config: Mapping[str, Any], *, verbose: int = 1, force: bool = False
) -> RunResult:
    """Train, tune and evaluate per ``config``; write model, record and curve.

    Before any fit, the config is checked against the data's columns and the
    pipeline is fitted once on a few rows, so that a mistake is reported in
    one line naming the step at fault. Each run writes to a folder of its
    own: when ``output`` exists, the run takes ``output-2``, ``output-3``...

    Parameters
    ----------
    config : mapping
        A run config, as :func:`load_config` returns or :func:`demo_config`.
    verbose : int, default=1
        0 prints nothing; 1 prints the stages and a progress bar over the
        search's fits (with tqdm).
    force : bool, default=False
        Write into ``output`` even if it exists, replacing an earlier run's files.

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        If a key or value of the config is wrong, a column it names is missing,
        or ``output`` is an existing file.
    RunError
        If a fit fails; the message names the step and the cause.
    """
    check_config(config)
    start = time.perf_counter()
    say = print if verbose else (lambda *args, **kwargs: None)
    seed = int(config.get("seed", 0))
    output = _output_folder(config)
    frame, dropped = _training_table(config["data"], say)
    X_train, X_test, y_train, y_test = _split(frame, config, seed)
    search = _search(config)
    preflight(search, X_train, y_train)
    output, created = _reserve(output, force)
    say(
        f"Tuning on {len(X_train)} rows: {_n_candidates(search)} candidates, "
        f"{search.cv}-fold cross-validation ..."
    )
    try:
        _fit_search(search, X_train, y_train, verbose)
        test_metrics = _scores(config["model"]["type"], y_test, search.predict(X_test))
        model_path = save(search.best_estimator_, output / "model.fwsk")
        record = {
            **_about(config, seed, frame, dropped),
            "best_params": _jsonable(search.best_params_),
            "cv_score": float(search.best_score_),
            "metrics": {"test": test_metrics, "test_rows": len(X_test)},
            "learning_curve": _learning_curve(search, output),
            "model": model_path.name,
            "duration_s": round(time.perf_counter() - start, 2),
        }
        _write_record(record, output / "run.json")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                output.rmdir()  # only when the failed run left it empty
        raise
    return RunResult(output, model_path, record)


def _output_folder(config: Mapping[str, Any]) -> Path:
    """The run folder the config names, refused if it is an existing file."""
    output = Path(config.get("output", "runs/latest"))
    if output.exists() and not output.is_dir():
        raise ConfigError(f"output {str(output)!r} is an existing file; name a folder.")
    return output


def _training_table(data: Mapping[str, Any], say: Any) -> tuple[pd.DataFrame, int]:
    """The config's data, with rows dropped if ``data.dropna`` asks; the count."""
    read = read_data(data)
    frame = _drop_missing(read, data)
    dropped = len(read) - len(frame)
    if dropped:
        say(f"Dropped {dropped} of {len(read)} rows with missing values.")
    return frame, dropped


def _split(frame: pd.DataFrame, config: Mapping[str, Any], seed: int) -> list[Any]:
    """X_train, X_test, y_train, y_test: a seeded split, stratified for a
    classifier."""
    target = config["data"]["target"]
    X, y = frame.drop(columns=target), frame[target].to_numpy()
    return train_test_split(
        X,
        y,
        test_size=config["data"].get("test_size", 0.25),
        random_state=seed,
        stratify=y if config["model"]["type"] == "TorchClassifier" else None,
    )


def _about(
    config: Mapping[str, Any], seed: int, frame: pd.DataFrame, dropped: int
) -> dict[str, Any]:
    """What the run record says of the run before its results."""
    return {
        "description": config.get("description", ""),
        "config": copy.deepcopy(dict(config)),
        "seed": seed,
        "data": {
            "fingerprint": fingerprint(frame),
            "rows": len(frame),
            "dropped_rows": dropped,
            "columns": list(frame.columns),
        },
        "versions": installed_versions(),
    }


def _write_record(record: dict[str, Any], path: Path) -> None:
    with atomic_write(path, action="Writing the run record to") as handle:
        handle.write(json.dumps(record, indent=2).encode("utf-8"))


def _search(config: Mapping[str, Any]) -> GridSearchCV:
    search_config = config.get("search", {})
    return GridSearchCV(
        build_pipeline(config),
        {key: list(values) for key, values in search_config.get("grid", {}).items()},
        cv=search_config.get("cv", 3),
        scoring=search_config.get("scoring"),
        # The first failing fit stops the search, with its own error.
        error_score="raise",
    )


_PREFLIGHT_ROWS = 64


def preflight(search: GridSearchCV, X: pd.DataFrame, y: Any) -> None:
    """Fit the search's first candidate on a few rows, step by step.

    The model trains for one epoch without a validation split: the point is
    to meet a wrong column, parameter or type in seconds, not after the
    search, and to say which step it was.

    Raises
    ------
    ConfigError
        If a grid key names no parameter of the pipeline.
    RunError
        If a step fails; the message names the step and the cause.
    """
    first = next(iter(ParameterGrid(search.param_grid)), {})
    _trial_fit(search.estimator, first, X, y, "before the search")


def _trial_fit(
    estimator: Pipeline, params: dict[str, Any], X: pd.DataFrame, y: Any, when: str
) -> None:
    """Fit a clone with ``params`` on a few rows, naming the step that fails."""
    pipeline = clone(estimator)
    try:
        pipeline.set_params(**params)
    except ValueError as exc:
        raise ConfigError(f"search.grid: {_one_line(exc)}") from exc
    if hasattr(pipeline[-1], "max_epochs"):
        pipeline[-1].set_params(max_epochs=1, train_split=None)
    Xt, yt = X.iloc[:_PREFLIGHT_ROWS], y[:_PREFLIGHT_ROWS]
    for index, (name, step) in enumerate(pipeline.steps):
        try:
            if index == len(pipeline.steps) - 1:
                step.fit(Xt, yt)
            else:
                Xt = step.fit_transform(Xt, yt)
        except Exception as exc:  # any failure of user-configured code
            candidate = f" of {_jsonable(params)}" if params else ""
            raise RunError(
                f"Step {name!r} ({type(step).__name__}) failed in a trial fit"
                f"{candidate} on {len(yt)} rows, {when}: {_one_line(exc)}"
            ) from exc


def _search_failure(search: GridSearchCV, X: pd.DataFrame, y: Any) -> RunError | None:
    """Why the search failed: the first candidate whose trial fit fails names
    its step; else the search's own error is reported alone."""
    for params in list(ParameterGrid(search.param_grid))[1:]:
        try:
            _trial_fit(search.estimator, params, X, y, "in the search")
        except RunError as exc:
            return exc
    return None


def _one_line(exc: BaseException) -> str:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return f"{type(exc).__name__}: " + " ".join(str(message).split())


def _reserve(output: Path, force: bool) -> tuple[Path, bool]:
    """The run's folder, ``output`` or the first free ``output-N``, and
    whether this run created it."""
    if force:
        created = not output.exists()
        output.mkdir(parents=True, exist_ok=True)
        return output, created
    candidate, number = output, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate, True
        except FileExistsError:
            number += 1
            candidate = output.with_name(f"{output.name}-{number}")


def _fit_search(search: GridSearchCV, X: pd.DataFrame, y: Any, verbose: int) -> None:
    """Run the search with a progress bar over its fits (candidates x folds)."""
    folds = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    total = len(ParameterGrid(search.param_grid)) * folds.get_n_splits(X, y)
    bar = progress_bar(total, "search", verbose, unit=" fits")
    scoring = search.scoring
    scorer = check_scoring(search.estimator, scoring=scoring)
    search.set_params(scoring=_Ticking(scorer, bar))
    try:
        search.fit(X, y)
    except Exception as exc:  # any failure of user-configured code
        named = _search_failure(search, X, y)
        if named is not None:
            raise named from exc
        raise RunError(f"A fit failed during the search: {_one_line(exc)}") from exc
    finally:
        bar.close()
        search.set_params(scoring=scoring)


class _Ticking:
    """A scorer that ticks a progress bar: it is called once per fitted fold."""

    def __init__(self, scorer: Any, bar: Any) -> None:
        self.scorer = scorer
        self.bar = bar

    def __call__(self, estimator: Any, X: Any, y: Any = None, **kwargs: Any) -> Any:
        score = self.scorer(estimator, X, y, **kwargs)
        self.bar.update(1)
        return score


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


def _learning_curve(search: GridSearchCV, output: Path) -> str | None:
    """Draw the best model's loss per epoch; None when matplotlib is missing."""
    try:
        # A Figure of its own, not pyplot's: the caller's backend and open
        # figures are left alone.
        from matplotlib.figure import Figure

        from fireworks_sk.estimators import plot_history
    except ImportError:
        return None
    figure = Figure()
    ax = plot_history(search.best_estimator_[-1], ax=figure.subplots())
    ax.set_title(curve_title(search), fontsize="medium")
    path = output / "learning_curve.png"
    with atomic_write(path, action="Writing the learning curve to") as handle:
        figure.savefig(handle, format="png", dpi=100, bbox_inches="tight")
    return "learning_curve.png"


def curve_title(search: GridSearchCV) -> str:
    """The learning curve's title: the model and its best parameters."""
    model = type(search.best_estimator_[-1]).__name__
    params = ", ".join(f"{k}={v!r}" for k, v in _jsonable(search.best_params_).items())
    return f"{model} ({params})" if params else model


def template() -> str:
    """A commented run config that ``fireworks-sk train`` accepts as it is."""
    return _TEMPLATE


_TEMPLATE = """\
# A fireworks-sk run config: fireworks-sk train run.toml
# Values are data, never evaluated as code. The guide "Putting a model to
# work" (docs/production.md) explains each key and the run record.

description = "Penguin species from body measurements"  # kept in run.json
seed = 0                        # one seed: the same split, weights and metrics
output = "runs/penguins"        # a new folder per run: runs/penguins-2, ...
                                # unless train --force

[data]
source = "penguins"             # csv, parquet, sql or penguins (bundled)
# path = "penguins.csv"         # csv: a .csv file; parquet: a .parquet file
                                # or a folder of Parquet files
# url = "sqlite:///penguins.db" # for sql, with query
# query = "SELECT * FROM penguins"
target = "species"              # the column to predict
# columns = ["island", "bill_length_mm", "sex"]  # inputs; default: all others
# dropna = true                 # drop rows with missing values instead of
                                # imputing them (the count goes to run.json)
test_size = 0.25                # held out for the test metrics

# Steps run in order; types: Impute, BatchNormalizer, OneHot, IndexEncoder,
# ToTensor, Stack, SelectColumns, DropColumns. params are the Pipe's parameters.
[[steps]]
type = "Impute"                 # numeric gaps get the column mean
name = "impute"

[[steps]]
type = "BatchNormalizer"
name = "scale"

[[steps]]
type = "OneHot"
name = "onehot"
params = { columns = ["island", "sex"], missing = "category" }  # NaN: a category

[[steps]]
type = "Stack"
name = "stack"
params = { into = "features" }

[model]
type = "TorchClassifier"        # or TorchRegressor
params = { max_epochs = 20, batch_size = 32 }
valid_fraction = 0.2            # held out in each fit, for valid_loss

[search]
cv = 3                          # folds of the cross-validation
scoring = "accuracy"            # a scikit-learn scorer name

[search.grid]                   # step name, two underscores, parameter
"model__lr" = [0.003, 0.03]
"scale__with_std" = [true, false]
"""
