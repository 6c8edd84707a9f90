"""Put a saved model to work: inputs matched to its schema, and an HTTP app.

:func:`conform` picks and orders a table's columns by the input schema saved in
the model's manifest, so batch scoring (``fireworks-sk predict``) and the HTTP
endpoint (``fireworks-sk serve``) accept data with extra columns, in any order.
:func:`create_app` builds the Starlette application of ``fireworks-sk serve``
(the ``serve`` extra): ``GET /health``, ``GET /schema`` and ``POST /predict``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline

from fireworks_sk._outputs import as_numpy, output_columns
from fireworks_sk.exceptions import FireworksError, RequestError
from fireworks_sk.message import Message
from fireworks_sk.persistence import inspect, load
from fireworks_sk.schema import Schema, check_has_columns

__all__ = ["MAX_BODY_BYTES", "conform", "create_app", "load_model", "outputs"]

#: Largest request body ``POST /predict`` reads, in bytes.
MAX_BODY_BYTES = 1_000_000

# What a bad request raises inside the library: answered 422, never 500.
_INPUT_ERRORS = (FireworksError, ValueError, TypeError, KeyError)


def load_model(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    trusted: Sequence[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Load a saved model and its manifest, once.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`fireworks_sk.save`.
    format : {"joblib", "skops"} or None, default=None
        As :func:`fireworks_sk.load` takes it: ``"skops"`` refuses any file
        that is not a skops file before its payload is read; None takes the
        format the file states.
    trusted : sequence of str or None, default=None
        For skops files: type names to trust, as :func:`fireworks_sk.load`
        takes them.

    Returns
    -------
    model : object
    manifest : dict
        As :func:`fireworks_sk.inspect` returns it.

    Raises
    ------
    UntrustedTypesError
        If ``format="skops"`` and the file is of another format, or it holds
        types not trusted.
    TypeError
        If the object saved has no ``predict`` method.
    """
    model = load(path, format=format, trusted=list(trusted) if trusted else None)
    manifest = inspect(path)
    if not hasattr(model, "predict"):
        raise TypeError(
            f"{os.fspath(path)!r} holds a {type(model).__name__}, which has no "
            "predict method; save a model that ends in an estimator."
        )
    return model, manifest


def expected_input(manifest: dict[str, Any]) -> Schema | list[str] | None:
    """What :func:`conform` matches input to, read once from a manifest.

    The model's input :class:`~fireworks_sk.schema.Schema`, rebuilt with the
    strict :meth:`~fireworks_sk.schema.Schema.from_description` (a manifest
    is untrusted input); only the names for a model whose first step is a
    scikit-learn estimator fitted on named columns; None when no input
    schema was saved.

    Raises
    ------
    SchemaError
        If the manifest's input schema is not what fireworks_sk writes.
    """
    description = manifest.get("input_schema")
    if description is None:
        return None
    names_only = isinstance(description, list) and all(
        isinstance(c, dict) and set(c) == {"name"} and isinstance(c["name"], str)
        for c in description
    )
    if names_only:
        return [column["name"] for column in description]
    return Schema.from_description(description)


def conform(data: Any, manifest: dict[str, Any] | Schema | list[str] | None) -> Message:
    """The model's input columns of ``data``, in the order the model was fitted on.

    Extra columns are left out. Where floats were fitted, integers (as JSON and
    CSV give them) and JSON nulls (missing values) are cast to the fitted
    dtype; anything else is left to the model to accept or refuse.

    Parameters
    ----------
    data : Message, DataFrame or dict of columns
    manifest : dict, Schema, list of str or None
        The model's manifest (:func:`fireworks_sk.inspect`), or what
        :func:`expected_input` read from it (a server reads it once).

    Returns
    -------
    Message

    Raises
    ------
    SchemaError
        If ``data`` lacks columns the model was fitted on; the error names them.
    """
    message = data if isinstance(data, Message) else Message(data)
    expected = expected_input(manifest) if isinstance(manifest, dict) else manifest
    if expected is None:
        return message
    names = expected.columns if isinstance(expected, Schema) else expected
    check_has_columns(
        "The model's input schema",
        names,
        message.columns,
        fix="Give every column the model was fitted on (GET /schema, or "
        "fireworks-sk inspect MODEL, lists them).",
    )
    message = message[names]
    if not isinstance(expected, Schema):
        return message
    casts = {
        name: message[name].astype(expected[name].dtype)
        for name in names
        if _needs_cast(message[name], expected[name])
    }
    return message.assign(**casts) if casts else message


def _needs_cast(values: Any, template: Any) -> bool:
    """Whether ``values`` are numbers sent for a column fitted as floats."""
    if isinstance(values, torch.Tensor) or isinstance(template, torch.Tensor):
        return False
    if values.dtype == template.dtype or not pd.api.types.is_float_dtype(
        template.dtype
    ):
        return False
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    # JSON null in a numeric column arrives as None in an object column.
    return values.dtype == object and all(
        value is None
        or (isinstance(value, (int, float)) and not isinstance(value, bool))
        for value in values
    )


def outputs(
    model: Any, message: Message, *, proba: bool = False
) -> dict[str, np.ndarray]:
    """The model's outputs for ``message``, as named 1-D columns.

    One output is ``prediction``; several (a multi-output regressor) are
    ``prediction_0``, ``prediction_1``, ...; ``proba`` adds ``proba_<class>``
    for each class of a classifier.
    """
    if proba and not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise ValueError(
            f"{type(model).__name__} gives no class probabilities; drop --proba."
        )
    final, features = _final_step(model, message)
    columns = output_columns("prediction", final.predict(features))
    if proba:
        probabilities = as_numpy(final.predict_proba(features))
        for position, label in enumerate(model.classes_):
            columns[f"proba_{label}"] = probabilities[:, position]
    return columns


def _final_step(model: Any, message: Message) -> tuple[Any, Any]:
    """A Pipeline's last step and its input: the steps before it run once."""
    if isinstance(model, Pipeline) and len(model) > 1:
        return model[-1], model[:-1].transform(message)
    return model, message


# ------------------------------------------------------------------ the app
def create_app(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    trusted: Sequence[str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Any:
    """The Starlette application that serves a saved model.

    The model is loaded once, here. Routes:

    - ``GET /health`` answers ``{"status": "ok"}``;
    - ``GET /schema`` answers ``{"input_schema": [...]}``, the manifest's;
    - ``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}`` and
      answers ``{"predictions": [...]}``, plus ``"classes"`` and
      ``"probabilities"`` (one list per row) for a classifier.

    A bad request (malformed JSON, no ``rows`` list, a missing column, an
    unknown category, a value of the wrong type, a body over
    ``max_body_bytes``) is answered with a 4xx status and
    ``{"error": message}``, the library's own message.

    Parameters
    ----------
    path : str or path-like
        A model saved by :func:`fireworks_sk.save`.
    format, trusted
        As :func:`load_model` takes them.
    max_body_bytes : int, default=1_000_000
        Requests with a larger body are refused with status 413.

    Returns
    -------
    starlette.applications.Starlette
    """
    from starlette.applications import Starlette
    from starlette.routing import Route

    model, manifest = load_model(path, format=format, trusted=trusted)
    answer = _answerer(model, manifest)

    async def health(request: Any) -> Any:
        return _json({"status": "ok"})

    async def schema(request: Any) -> Any:
        return _json({"input_schema": manifest.get("input_schema")})

    async def predict(request: Any) -> Any:
        return await _predict(request, answer, max_body_bytes)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/schema", schema, methods=["GET"]),
            Route("/predict", predict, methods=["POST"]),
        ]
    )


def _answerer(model: Any, manifest: dict[str, Any]) -> Any:
    """The function from request rows to the response body of ``/predict``."""
    expected = expected_input(manifest)
    is_classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
    # One prediction at a time: estimators are not documented as thread-safe.
    lock = threading.Lock()

    def answer(rows: list[dict[str, Any]]) -> dict[str, Any]:
        message = conform(pd.DataFrame.from_records(rows), expected)
        with lock:
            columns = outputs(model, message, proba=is_classifier)
        body: dict[str, Any] = {"predictions": _predictions(columns)}
        if is_classifier:
            body["classes"] = [_plain(c) for c in model.classes_]
            probabilities = [v for k, v in columns.items() if k.startswith("proba_")]
            body["probabilities"] = np.column_stack(probabilities).tolist()
        return body

    return answer


async def _predict(request: Any, answer: Any, max_body_bytes: int) -> Any:
    """Answer a ``POST /predict``: the body's rows scored, or a 4xx error."""
    from starlette.concurrency import run_in_threadpool

    try:
        rows = _rows(await _body(request, max_body_bytes))
        return _json(await run_in_threadpool(answer, rows))
    except RequestError as exc:
        return _json({"error": str(exc)}, status=exc.status)
    except _INPUT_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return _json({"error": str(message)}, status=422)


def _json(body: dict[str, Any], status: int = 200) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status)


async def _body(request: Any, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"The request body is over the {limit}-byte limit.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"The request body is over the {limit}-byte limit.")
        chunks.append(chunk)
    return b"".join(chunks)


def _rows(body: bytes) -> list[dict[str, Any]]:
    """The ``rows`` of a request body, checked."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RequestError(400, f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(document, dict) or "rows" not in document:
        raise RequestError(
            422, 'The request body must be a JSON object {"rows": [{...}, ...]}.'
        )
    rows = document["rows"]
    if not isinstance(rows, list) or not rows:
        raise RequestError(
            422, f"'rows' must be a non-empty list of objects; got {_kind(rows)}."
        )
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(
                422,
                f"'rows' must be a list of objects {{column: value}}; rows[{index}] "
                f"is {_kind(row)}.",
            )
        for name, value in row.items():
            if isinstance(value, (list, dict)):
                raise RequestError(
                    422,
                    f"rows[{index}][{name!r}] is {_kind(value)}; values must be "
                    "strings, numbers, booleans or null.",
                )
    return rows


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return {dict: "an object", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _predictions(columns: dict[str, np.ndarray]) -> list[Any]:
    predicted = [v for k, v in columns.items() if k.startswith("prediction")]
    if len(predicted) == 1:
        return [_plain(v) for v in predicted[0]]
    return [[_plain(v) for v in row] for row in zip(*predicted)]


def _plain(value: Any) -> Any:
    """A JSON-ready Python value from a numpy scalar."""
    return value.item() if isinstance(value, np.generic) else value
