"""The ``fireworks-sk`` command: demo, train, predict, inspect."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fireworks_sk import __version__
from fireworks_sk.exceptions import FireworksError

__all__ = ["main"]

_CHUNK_ROWS = 50_000


def _demo(args: argparse.Namespace) -> None:
    from fireworks_sk.runs import demo_config, run

    result = run(demo_config(args.out))
    _report(result)


def _train(args: argparse.Namespace) -> None:
    from fireworks_sk.runs import load_config, run

    config = load_config(args.config)
    if args.out:
        config["output"] = args.out
    _report(run(config))


def _report(result: Any) -> None:
    record = result.record
    print(f"best parameters: {json.dumps(record['best_params'])}")
    scoring = record["config"].get("search", {}).get("scoring") or "score"
    print(f"cross-validated {scoring}: {record['cv_score']:.3f}")
    print(f"\ntest metrics ({record['metrics']['test_rows']} held-out rows)")
    for name, value in record["metrics"]["test"].items():
        print(f"  {name:<20} {value:.4f}")
    print(f"\nmodel:      {result.model_path}")
    print(f"run record: {result.output / 'run.json'}")
    if record["learning_curve"]:
        print(f"curve:      {result.output / record['learning_curve']}")
    print(f"seconds:    {record['duration_s']}")


def _predict(args: argparse.Namespace) -> None:
    import pandas as pd

    from fireworks_sk.persistence import load
    from fireworks_sk.stream import predict_stream

    model = load(args.model)
    source = _source(args)
    parts = [
        pd.Series(_as_array(chunk), name="prediction")
        for chunk in predict_stream(model, source, verbose=int(not args.quiet))
    ]
    predictions = (
        pd.concat(parts, ignore_index=True) if parts else pd.Series(name="prediction")
    )
    _write(predictions.to_frame(), args.out)


def _as_array(values: Any) -> Any:
    import numpy as np

    return np.asarray(values).reshape(len(values), -1)[:, 0]


def _source(args: argparse.Namespace) -> Any:
    from fireworks_sk import sources

    data = args.data
    if args.query:
        return sources.SQLSource(data, args.query, _CHUNK_ROWS)
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"No data file at {data!r}.")
    if path.is_dir() or path.suffix == ".parquet":
        return sources.ParquetSource(path, _CHUNK_ROWS)
    return sources.CSVSource(path, _CHUNK_ROWS)


def _write(frame: Any, out: str | None) -> None:
    if out is None:
        frame.to_csv(sys.stdout, index=False)
    elif out.endswith(".parquet"):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)


def _inspect(args: argparse.Namespace) -> None:
    from fireworks_sk.persistence import inspect, load

    manifest = inspect(args.model)
    print(json.dumps(manifest, indent=2))
    if args.manifest_only:
        return
    print()
    print(load(args.model))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fireworks-sk",
        description="Train, tune, save and serve Message pipelines.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train and tune on bundled penguin data")
    demo.add_argument(
        "--out", default="runs/demo", help="run folder (default runs/demo)"
    )
    demo.set_defaults(handler=_demo)
    train = commands.add_parser("train", help="train per a TOML config")
    train.add_argument("config", help="TOML run config")
    train.add_argument("--out", help="run folder, overriding the config's 'output'")
    train.set_defaults(handler=_train)
    predict = commands.add_parser(
        "predict", help="predict for a CSV, Parquet or SQL source"
    )
    predict.add_argument("model", help="a model file saved by train or demo")
    predict.add_argument(
        "data", help="CSV or Parquet path, or a database URL with --query"
    )
    predict.add_argument("--query", help="SQL query, when DATA is a database URL")
    predict.add_argument(
        "--out", help="output .csv or .parquet (default: standard output)"
    )
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(handler=_predict)
    inspect = commands.add_parser(
        "inspect", help="print a model file's manifest and pipeline"
    )
    inspect.add_argument("model")
    inspect.add_argument(
        "--manifest-only",
        action="store_true",
        help="print the manifest alone; loading a joblib file runs code from it, "
        "so use this on files from others",
    )
    inspect.set_defaults(handler=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Every failure prints one line on standard error and gives status 1 (2 for
    usage errors, 130 for Ctrl-C), with no traceback unless ``--debug`` is
    given.
    """
    args = _parser().parse_args(argv)
    try:
        args.handler(args)
    except BrokenPipeError:
        # The reader went away (`fireworks-sk inspect MODEL | head`): not an
        # error to report. Output still buffered goes nowhere at exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("fireworks-sk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"fireworks-sk: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


# How input and the environment fail: the message says all a user needs.
_EXPECTED = (FireworksError, OSError, ValueError, TypeError, KeyError, ImportError)


def _one_line(exc: Exception) -> str:
    """``exc`` as one line; anything unexpected also names its type."""
    if isinstance(exc, RecursionError):
        text = f"the input is nested too deeply to read ({exc})"
    elif isinstance(exc, _EXPECTED):
        text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    else:
        text = f"{type(exc).__name__}: {exc} (--debug shows the traceback)"
    return " ".join(text.split()) or type(exc).__name__
