"""fireworks-sk serve: a real uvicorn process on a loopback port, over HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import fireworks_sk as fsk
from fireworks_sk.cli import _parser, main
from fireworks_sk.datasets import load_penguins
from fireworks_sk.schema import Schema
from fireworks_sk.serve import conform, create_app

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 120  # a broken server fails the test instead of hanging it
REQUEST_TIMEOUT_S = 30
LIMIT = 20_000  # --max-body-bytes of the test server


@pytest.fixture(scope="module")
def penguins():
    frame = load_penguins().dropna().reset_index(drop=True)
    return frame.drop(columns="species"), frame["species"].to_numpy()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, penguins):
    X, y = penguins
    model = make_pipeline(
        fsk.BatchNormalizer(),
        fsk.OneHot(columns=["island", "sex"]),
        fsk.Stack(),
        fsk.TorchClassifier(max_epochs=3, random_state=0, verbose=0),
    ).fit(X, y)
    return fsk.save(model, tmp_path_factory.mktemp("model") / "model.fwsk")


@pytest.fixture(scope="module")
def skops_file(tmp_path_factory, penguins):
    X, y = penguins
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    model = make_pipeline(
        fsk.SelectColumns(numeric), fsk.BatchNormalizer(), LogisticRegression()
    ).fit(X, y)
    path = tmp_path_factory.mktemp("skops") / "model.fwsk"
    return fsk.save(model, path, format="skops")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    """A `python -m fireworks_sk serve` process answering /health, and its URL."""
    port = _free_port()
    command = [sys.executable, "-m", "fireworks_sk", "serve", *args]
    command += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate(timeout=REQUEST_TIMEOUT_S)
            pytest.fail(f"the server exited with {process.returncode}: {err}{out}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    _stop(process)
    pytest.fail(f"the server did not answer within {START_TIMEOUT_S} s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.communicate(timeout=REQUEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def server(model_file):
    process, url = _start(str(model_file), "--max-body-bytes", str(LIMIT))
    yield url
    _stop(process)


def _rows(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def _post(url: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(
        f"{url}/predict",
        content=content,
        headers={"content-type": "application/json"},
        timeout=REQUEST_TIMEOUT_S,
        **kwargs,
    )


def test_health_and_schema(server, model_file):
    assert httpx.get(f"{server}/health", timeout=REQUEST_TIMEOUT_S).json() == {
        "status": "ok"
    }
    schema = httpx.get(f"{server}/schema", timeout=REQUEST_TIMEOUT_S).json()
    assert schema == {"input_schema": fsk.inspect(model_file)["input_schema"]}


def test_predictions_equal_in_process_predict_proba(server, model_file, penguins):
    X, _ = penguins
    model = fsk.load(model_file)
    # Extra columns and another column order are accepted: the schema picks.
    sent = X[:40].assign(id=range(40))[["id", *X.columns[::-1]]]
    answer = _post(server, {"rows": _rows(sent)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = model.predict_proba(X[:40])
    assert body["classes"] == list(model.classes_)
    np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-5, atol=1e-6)
    assert body["predictions"] == list(model.predict(X[:40]))


def test_eight_clients_fifty_requests_each_all_answered_correctly(
    server, model_file, penguins
):
    X, _ = penguins
    expected = fsk.load(model_file).predict_proba(X)
    rows = _rows(X)

    def client(worker: int) -> list[int]:
        wrong = []
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            for request in range(50):
                index = (worker * 50 + request) % len(rows)
                answer = http.post(f"{server}/predict", json={"rows": [rows[index]]})
                got = answer.json()["probabilities"][0]
                if not np.allclose(got, expected[index], rtol=1e-5, atol=1e-6):
                    wrong.append(index)
        return wrong

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8), timeout=START_TIMEOUT_S))
    assert results == [[]] * 8


def _row(X, **changes) -> dict:
    return {**_rows(X[:1])[0], **changes}


BAD = {
    "unknown category": (
        lambda X: {"rows": [_row(X, island="Atlantis")]},
        422,
        r"unknown categories \['Atlantis'\] in column 'island'",
    ),
    "missing column": (
        lambda X: {"rows": [{k: v for k, v in _row(X).items() if k != "sex"}]},
        422,
        r"names columns \['sex'\] that the input lacks",
    ),
    "wrong type": (
        lambda X: {"rows": [_row(X, bill_length_mm="long")]},
        422,
        r"[Cc]olumn 'bill_length_mm'",
    ),
    "null in a numeric column": (
        lambda X: {"rows": [_row(X, bill_length_mm=None)]},
        422,
        r"NaN .*in column 'bill_length_mm'",
    ),
    "a list as a value": (
        lambda X: {"rows": [_row(X, island=["Biscoe"])]},
        422,
        r"rows\[0\]\['island'\] is a list; values must be",
    ),
    "deeply nested JSON": (lambda X: b"[" * 10_000, 400, r"not valid JSON"),
    "malformed JSON": (lambda X: b'{"rows": [', 400, r"not valid JSON"),
    "not JSON text": (lambda X: b"\xff\xfe", 400, r"not valid JSON"),
    "rows not a list": (lambda X: {"rows": "all"}, 422, r"'rows' must be a non"),
    "empty rows": (lambda X: {"rows": []}, 422, r"got an empty list"),
    "a row not an object": (lambda X: {"rows": [[1, 2]]}, 422, r"rows\[0\] is"),
    "no rows key": (lambda X: [1], 422, r'\{"rows"'),
    "body over the limit": (
        lambda X: {"rows": [_row(X)] * 200},
        413,
        r"over the 20000-byte limit",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_a_4xx_with_the_library_message_then_good_input_works(
    server, penguins, case
):
    X, _ = penguins
    make, status, pattern = BAD[case]
    answer = _post(server, make(X))
    assert answer.status_code == status, answer.text
    assert re.search(pattern, answer.json()["error"]), answer.json()
    good = _post(server, {"rows": _rows(X[:2])})
    assert good.status_code == 200
    assert len(good.json()["predictions"]) == 2


def test_a_body_streamed_past_the_limit_without_a_length_is_refused(server):
    def chunks():
        for _ in range(LIMIT // 1000 + 2):
            yield b" " * 1000

    answer = httpx.post(
        f"{server}/predict", content=chunks(), timeout=REQUEST_TIMEOUT_S
    )
    assert answer.status_code == 413


def test_get_on_predict_is_refused(server):
    answer = httpx.get(f"{server}/predict", timeout=REQUEST_TIMEOUT_S)
    assert answer.status_code == 405


def test_serve_binds_to_loopback_by_default():
    args = _parser().parse_args(["serve", "model.fwsk"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


def test_format_skops_serves_a_skops_file(skops_file, penguins):
    X, _ = penguins
    process, url = _start(str(skops_file), "--format", "skops")
    try:
        answer = _post(url, {"rows": _rows(X[:5])})
    finally:
        _stop(process)
    assert answer.status_code == 200, answer.text
    expected = fsk.load(skops_file).predict_proba(X[:5])
    np.testing.assert_allclose(answer.json()["probabilities"], expected, rtol=1e-6)


def test_format_skops_refuses_a_joblib_file_in_one_line(model_file):
    command = [sys.executable, "-m", "fireworks_sk", "serve", str(model_file)]
    command += ["--format", "skops", "--port", str(_free_port())]
    result = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"fireworks-sk: error: {str(model_file)!r} is a joblib file, not a skops file"
    )


def test_create_app_refuses_a_model_that_cannot_predict(tmp_path, penguins):
    X, _ = penguins
    scaler = fsk.save(
        fsk.BatchNormalizer().fit(X.drop(columns=["island", "sex"])),
        tmp_path / "scaler.fwsk",
    )
    with pytest.raises(TypeError, match="BatchNormalizer, which has no predict"):
        create_app(scaler)


def test_create_app_refuses_an_unknown_format(model_file):
    with pytest.raises(ValueError, match="format must be"):
        create_app(model_file, format="pickle")


def test_conform_picks_orders_and_casts_by_the_schema(model_file, penguins):
    X, _ = penguins
    manifest = fsk.inspect(model_file)
    frame = X[:3][X.columns[::-1]].assign(extra=1, year=X["year"][:3])
    frame["bill_length_mm"] = [40, 41, 42]  # integers where floats were fitted
    message = conform(frame, manifest)
    assert message.columns == list(X.columns)
    assert str(message["bill_length_mm"].dtype) == "float64"
    with pytest.raises(
        fsk.SchemaError, match=r"names columns \['sex'\] that the input lacks.*GET"
    ):
        conform(X.drop(columns="sex"), manifest)


def _forge_manifest(path: Path, target: Path, input_schema) -> Path:
    """A copy of a saved file whose manifest states ``input_schema``."""
    with zipfile.ZipFile(path) as outer:
        members = {name: outer.read(name) for name in outer.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["input_schema"] = input_schema
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as outer:
        for name, data in members.items():
            outer.writestr(name, data)
    return target


@pytest.mark.parametrize(
    ("column", "match"),
    [
        ({"dtype": "os.system"}, "dtype 'os.system'"),
        ({"kind": "tensor", "dtype": "torch.float32", "shape": [2**40]}, "values"),
        ({"extra": 1}, "records of exactly"),
    ],
)
def test_a_crafted_input_schema_is_refused_before_serving(
    model_file, tmp_path, column, match
):
    schema = fsk.inspect(model_file)["input_schema"]
    schema[0] = {**schema[0], **column}
    forged = _forge_manifest(model_file, tmp_path / "forged.fwsk", schema)
    with pytest.raises(fsk.SchemaError, match=match):
        create_app(forged)
    with pytest.raises(fsk.SchemaError, match=match):
        conform(load_penguins().head(2), fsk.inspect(forged))


def test_conform_casts_by_the_models_schema(model_file, penguins):
    X, _ = penguins
    schema = Schema.from_description(fsk.inspect(model_file)["input_schema"])
    rows = X.head(2).assign(bill_depth_mm=[17, None]).astype({"bill_depth_mm": object})
    message = conform(rows, schema)
    assert message["bill_depth_mm"].dtype == schema["bill_depth_mm"].dtype
    assert message["bill_depth_mm"].isna().tolist() == [False, True]


def test_conform_by_names_alone_picks_and_orders(penguins):
    X, _ = penguins
    manifest = {"input_schema": [{"name": "sex"}, {"name": "island"}]}
    assert conform(X.head(2), manifest).columns == ["sex", "island"]


def test_the_serve_command_loads_once_with_its_options(monkeypatch, capsys):
    import uvicorn

    import fireworks_sk.serve as serve

    calls = []
    monkeypatch.setattr(
        serve, "create_app", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **kwargs: calls.append(("run", kwargs))
    )
    argv = ["serve", "m.fwsk", "--format", "skops", "--trusted", "a.B", "c.D"]
    assert main([*argv, "--port", "9000", "--max-body-bytes", "10"]) == 0
    assert calls == [
        (
            ("m.fwsk",),
            {"format": "skops", "trusted": ["a.B", "c.D"], "max_body_bytes": 10},
        ),
        ("run", {"host": "127.0.0.1", "port": 9000, "log_level": "info"}),
    ]


def test_load_model_passes_trusted_types_to_load(monkeypatch, skops_file):
    import fireworks_sk.serve as serve

    seen = {}
    real = serve.load

    def spy(path, **kwargs):
        seen.update(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(serve, "load", spy)
    serve.load_model(skops_file, format="skops", trusted=("x.Y",))
    assert seen["trusted"] == ["x.Y"]
