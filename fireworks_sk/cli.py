"""The ``fireworks-sk`` command: demo, init, train, predict, serve, inspect."""

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
_FORCE_HELP = (
    "write into the run folder even if it exists; by default an existing "
    "folder is kept and the run goes to FOLDER-2, FOLDER-3, ..."
)


def _demo(args: argparse.Namespace) -> None:
    from fireworks_sk.runs import demo_config, run

    result = run(demo_config(args.out), force=args.force)
    _report(result)


def _train(args: argparse.Namespace) -> None:
    from fireworks_sk.runs import load_config, run

    config = load_config(args.config)
    if args.out:
        config["output"] = args.out
    _report(run(config, force=args.force))


def _init(args: argparse.Namespace) -> None:
    from fireworks_sk._atomic import atomic_write
    from fireworks_sk.runs import template

    path = Path(args.path)
    if path.exists() and not args.force:
        raise FileExistsError(
            f"{args.path!r} exists; choose another path, or --force to replace it."
        )
    with atomic_write(path, action="Writing the template to") as handle:
        handle.write(template().encode("utf-8"))
    print(f"Wrote {args.path}; edit it, then: fireworks-sk train {args.path}")


def _report(result: Any) -> None:
    record = result.record
    if record["description"]:
        print(record["description"])
    data = record["data"]
    if data["dropped_rows"]:
        print(
            f"rows: {data['rows']} used, {data['dropped_rows']} dropped for "
            "missing values"
        )
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


_OUT_FORMATS = (".csv", ".parquet")


def _predict(args: argparse.Namespace) -> None:
    from fireworks_sk.serve import load_model
    from fireworks_sk.stream import predict_stream

    _check_out(args.out)
    model, manifest = load_model(args.model, format=args.format, trusted=args.trusted)
    scorer = _Scorer(model, manifest, keep=args.keep or [], proba=args.proba)
    # One row is scored before the stream and its bar start, so that a missing
    # column or a bad value is reported alone.
    first = next(iter(_source(args, rows=1)), None)
    if first is not None:
        scorer.predict(first)
    frames = predict_stream(scorer, _source(args), verbose=int(not args.quiet))
    if args.out is None:
        _write_csv(frames, sys.stdout)
    elif args.out.lower().endswith(".parquet"):
        from fireworks_sk.stream import write_parquet

        write_parquet(frames, args.out)
    else:
        _write_csv_file(frames, Path(args.out))


def _check_out(out: str | None) -> None:
    """Refuse an output the command cannot write, before any work."""
    if out is None:
        return
    if not out.lower().endswith(_OUT_FORMATS):
        raise ValueError(
            f"--out {out!r}: the output format follows the extension, one of "
            f"{list(_OUT_FORMATS)}."
        )
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"--out {out!r} is a folder; name a file in it.")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"--out {out!r}: the folder {str(path.parent)!r} does not exist."
        )


class _Scorer:
    """A chunk in, a table out: kept columns, then the model's outputs."""

    def __init__(
        self, model: Any, manifest: dict[str, Any], *, keep: list[str], proba: bool
    ) -> None:
        self.model = model
        self.manifest = manifest
        self.keep = keep
        self.proba = proba

    def select(self, chunk: Any) -> Any:
        """The model's input columns of ``chunk``; refuses a missing column."""
        from fireworks_sk.schema import check_has_columns
        from fireworks_sk.serve import conform

        check_has_columns(
            "--keep",
            self.keep,
            list(chunk.columns),
            where="the data",
            fix="Name columns of the data in --keep.",
        )
        if self.manifest.get("input_schema") is None:
            return chunk.drop(columns=self.keep) if self.keep else chunk
        return conform(chunk, self.manifest)

    def predict(self, chunk: Any) -> Any:
        """The kept columns and the model's outputs for ``chunk``, as a table."""
        import pandas as pd

        from fireworks_sk._outputs import as_numpy
        from fireworks_sk.serve import outputs

        chunk_in = self.select(chunk)
        kept = {name: as_numpy(chunk[name]) for name in self.keep}
        predicted = outputs(self.model, chunk_in, proba=self.proba)
        clash = [name for name in kept if name in predicted]
        if clash:
            raise ValueError(
                f"--keep names columns {clash!r} that the output writes too; "
                "rename them in the data."
            )
        return pd.DataFrame({**kept, **predicted})


def _write_csv(frames: Any, handle: Any) -> int:
    """Write each table as soon as it comes, the header once; return the rows."""
    rows, header = 0, True
    for frame in frames:
        frame.to_csv(handle, header=header, index=False)
        handle.flush()
        rows, header = rows + len(frame), False
        del frame  # not held while the next chunk is computed
    return rows


def _write_csv_file(frames: Any, path: Path) -> None:
    """Write CSV to ``path`` atomically: whole once complete, or not at all."""
    import io

    from fireworks_sk._atomic import atomic_write

    with atomic_write(path, action="Writing predictions to") as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        _write_csv(frames, text)
        text.detach()  # the handle stays open for atomic_write to sync


def _source(args: argparse.Namespace, rows: int = _CHUNK_ROWS) -> Any:
    from fireworks_sk import sources
    from fireworks_sk.sources._files import open_source

    if args.query:
        return sources.SQLSource(args.data, args.query, rows)
    return open_source(args.data, rows, owner="DATA")


def _inspect(args: argparse.Namespace) -> None:
    from fireworks_sk.persistence import inspect, load

    manifest = inspect(args.model)
    print(json.dumps(manifest, indent=2))
    if args.manifest_only:
        return
    print()
    print(load(args.model, format=args.format, trusted=args.trusted))


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from fireworks_sk.serve import create_app

    app = create_app(
        args.model,
        format=args.format,
        trusted=args.trusted,
        max_body_bytes=args.max_body_bytes,
    )
    print(f"Serving {args.model} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


def _add_trust_options(command: argparse.ArgumentParser) -> None:
    """``--format`` and ``--trusted``, passed to ``load``, for every command
    that loads a model: ``--format skops`` refuses a file that would run code."""
    command.add_argument(
        "--format",
        choices=("joblib", "skops"),
        help="refuse any model file not of this format; skops files run no code, "
        "so use --format skops for files from others",
    )
    command.add_argument(
        "--trusted",
        nargs="+",
        metavar="TYPE",
        help="skops files: type names to trust, as load(trusted=...) takes them",
    )


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
    _add_demo(commands)
    _add_train(commands)
    _add_init(commands)
    _add_predict(commands)
    _add_serve(commands)
    _add_inspect(commands)
    return parser


def _add_demo(commands: Any) -> None:
    """``demo``: train and tune on the bundled penguins."""
    demo = commands.add_parser("demo", help="train and tune on bundled penguin data")
    demo.add_argument(
        "--out", default="runs/demo", help="run folder (default runs/demo)"
    )
    demo.add_argument("--force", action="store_true", help=_FORCE_HELP)
    demo.set_defaults(handler=_demo)


def _add_train(commands: Any) -> None:
    """``train CONFIG``: a run as a TOML config describes."""
    train = commands.add_parser(
        "train",
        help="train per a TOML config",
        description="Train, tune and evaluate a pipeline as a TOML run config "
        "describes; write the model, a run record (run.json) and a learning "
        "curve to a new run folder.",
        epilog="Start from a commented template: fireworks-sk init run.toml. "
        "Every key is described in the guide 'Putting a model to work' "
        "(docs/production.md).",
    )
    train.add_argument(
        "config", help="TOML run config (fireworks-sk init writes a template)"
    )
    train.add_argument("--out", help="run folder, overriding the config's 'output'")
    train.add_argument("--force", action="store_true", help=_FORCE_HELP)
    train.set_defaults(handler=_train)


def _add_init(commands: Any) -> None:
    """``init [PATH]``: a commented template config."""
    init = commands.add_parser(
        "init", help="write a commented template run config for train"
    )
    init.add_argument(
        "path", nargs="?", default="run.toml", help="where (default run.toml)"
    )
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(handler=_init)


def _add_predict(commands: Any) -> None:
    """``predict MODEL DATA``: score a file or a query, chunk by chunk."""
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
    predict.add_argument(
        "--keep",
        nargs="+",
        metavar="COL",
        help="columns copied to the output, such as an id",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="also write one probability column per class (classifiers)",
    )
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_trust_options(predict)
    predict.set_defaults(handler=_predict)


def _add_serve(commands: Any) -> None:
    """``serve MODEL``: the HTTP model server."""
    serve = commands.add_parser("serve", help="serve a model over HTTP (extra 'serve')")
    serve.add_argument("model", help="a model file saved by train or demo")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="default 8000")
    _add_trust_options(serve)
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=1_000_000,
        help="largest request body accepted (default 1000000)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
    )
    serve.set_defaults(handler=_serve)


def _add_inspect(commands: Any) -> None:
    """``inspect MODEL``: a model file's manifest and pipeline."""
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
    _add_trust_options(inspect)
    inspect.set_defaults(handler=_inspect)


def _silence_stdout() -> None:
    """Send what is still buffered for standard output nowhere, so that the
    flush at exit raises no second error (Python's documented recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (captured in tests)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    finally:
        os.close(devnull)


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
        _silence_stdout()
        return 0
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
