"""The fireworks-sk command, end to end in temporary folders."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from fireworks_sk.cli import main
from fireworks_sk.datasets import load_penguins

CONFIG = """
seed = 3
output = "{output}"

[data]
source = "{source}"
{location}
target = "species"
dropna = true

[[steps]]
type = "BatchNormalizer"
name = "scale"

[[steps]]
type = "OneHot"
params = {{ columns = ["island", "sex"] }}

[[steps]]
type = "Stack"

[model]
type = "TorchClassifier"
params = {{ max_epochs = 4, batch_size = 64 }}
valid_fraction = 0.2

[search]
cv = 2
[search.grid]
"model__lr" = [0.01, 0.03]
"""


@pytest.fixture(scope="module")
def penguins_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "penguins.csv"
    load_penguins().dropna().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, penguins_csv):
    """One training run from a CSV config, shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("run")
    config = folder / "run.toml"
    location = f'path = "{penguins_csv}"'
    config.write_text(
        CONFIG.format(output=folder / "out", source="csv", location=location)
    )
    assert main(["train", str(config)]) == 0
    return folder / "out"


def test_train_writes_model_record_and_curve(trained, penguins_csv):
    record = json.loads((trained / "run.json").read_text())
    assert (trained / "model.fwsk").is_file()
    assert record["seed"] == 3
    assert record["config"]["data"]["source"] == "csv"
    assert record["data"]["rows"] == len(pd.read_csv(penguins_csv))
    assert len(record["data"]["fingerprint"]) == 64
    assert {"torch", "scikit-learn"} <= set(record["versions"])
    assert 0.0 <= record["metrics"]["test"]["accuracy"] <= 1.0
    assert record["best_params"]["model__lr"] in (0.01, 0.03)
    assert record["learning_curve"] in (None, "learning_curve.png")
    if record["learning_curve"]:
        assert (trained / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_training_twice_with_one_seed_gives_the_same_record(tmp_path, penguins_csv):
    outputs = []
    for name in ("a", "b"):
        config = tmp_path / f"{name}.toml"
        location = f'path = "{penguins_csv}"'
        config.write_text(
            CONFIG.format(output=tmp_path / name, source="csv", location=location)
        )
        assert main(["train", str(config)]) == 0
        outputs.append(json.loads((tmp_path / name / "run.json").read_text()))
    assert outputs[0]["metrics"] == outputs[1]["metrics"]
    assert outputs[0]["data"]["fingerprint"] == outputs[1]["data"]["fingerprint"]


def test_train_reads_a_sqlite_source(tmp_path):
    database = tmp_path / "penguins.db"
    with sqlite3.connect(database) as connection:
        load_penguins().dropna().to_sql("penguins", connection, index=False)
    config = tmp_path / "sql.toml"
    location = f'url = "sqlite:///{database}"\nquery = "SELECT * FROM penguins"'
    config.write_text(
        CONFIG.format(output=tmp_path / "out", source="sql", location=location)
    )
    assert main(["train", str(config)]) == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["data"]["rows"] == len(load_penguins().dropna())


def test_predict_writes_one_prediction_per_row(trained, penguins_csv, tmp_path):
    data = pd.read_csv(penguins_csv).drop(columns="species")
    data.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predictions.csv"
    status = main(
        [
            "predict",
            str(trained / "model.fwsk"),
            str(tmp_path / "new.csv"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["prediction"]
    assert len(predictions) == len(data)
    assert set(predictions["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_predict_reads_sql(trained, penguins_csv, tmp_path):
    database = tmp_path / "new.db"
    with sqlite3.connect(database) as connection:
        pd.read_csv(penguins_csv).drop(columns="species").to_sql(
            "new", connection, index=False
        )
    out = tmp_path / "p.csv"
    status = main(
        [
            "predict",
            str(trained / "model.fwsk"),
            f"sqlite:///{database}",
            "--query",
            "SELECT * FROM new",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    assert len(pd.read_csv(out)) == len(pd.read_csv(penguins_csv))


def test_inspect_prints_manifest_and_pipeline(trained, capsys):
    assert main(["inspect", str(trained / "model.fwsk")]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads(printed[: printed.index("\n}\n") + 2])
    assert manifest["format"] == "joblib"
    assert "TorchClassifier" in printed


def _error_line(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_model_file_is_one_clear_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "absent.fwsk")]) == 1
    assert "absent.fwsk" in _error_line(capsys)


def test_corrupt_model_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "bad.fwsk").write_bytes(b"PK\x03\x04 truncated")
    assert main(["inspect", str(tmp_path / "bad.fwsk")]) == 1
    assert "corrupt" in _error_line(capsys)


def test_bad_config_key_is_named(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(
        '[data]\nsource = "penguins"\ntarget = "species"\nshufle = true\n'
    )
    assert main(["train", str(config)]) == 1
    assert "'shufle'" in _error_line(capsys)


def test_config_types_are_never_evaluated(tmp_path, capsys):
    config = tmp_path / "evil.toml"
    config.write_text(
        '[data]\nsource = "penguins"\ntarget = "species"\n'
        "[[steps]]\ntype = \"__import__('os').system('touch pwned')\"\n"
        '[model]\ntype = "TorchClassifier"\n'
    )
    assert main(["train", str(config)]) == 1
    assert "steps[0].type" in _error_line(capsys)
    assert not (tmp_path / "pwned").exists()


def test_schema_mismatch_at_predict_is_one_clear_line(
    trained, penguins_csv, tmp_path, capsys
):
    data = pd.read_csv(penguins_csv).drop(columns=["species", "island"])
    data.to_csv(tmp_path / "short.csv", index=False)
    status = main(
        ["predict", str(trained / "model.fwsk"), str(tmp_path / "short.csv"), "--quiet"]
    )
    assert status == 1
    assert "island" in _error_line(capsys)


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "inspect", str(tmp_path / "absent.fwsk")])


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "fireworks_sk", "--version"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("fireworks-sk ")


def test_a_closed_pipe_is_not_reported_as_an_error(monkeypatch, capsys):
    # `fireworks-sk inspect MODEL | head`: the reader leaves early.
    import fireworks_sk.cli as cli

    def reader_gone(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_inspect", reader_gone)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    assert main(["inspect", "model.fwsk"]) == 1
    assert capsys.readouterr().err == ""


# ------------------------------------------ every failure is one line
def _train_config(tmp_path, data_path, source="csv"):
    config = tmp_path / "run.toml"
    location = f'path = "{data_path}"'
    config.write_text(
        CONFIG.format(output=tmp_path / "out", source=source, location=location)
    )
    return config


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
@pytest.mark.parametrize("source", ["csv", "parquet"])
def test_train_refuses_a_data_path_that_is_not_a_regular_file(
    tmp_path, capsys, monkeypatch, kind, source
):
    if kind == "device":
        path, described = "/dev/zero", "a character device"
    elif kind == "fifo":
        path, described = tmp_path / "pipe.csv", "a FIFO (named pipe)"
        os.mkfifo(path)
    else:
        path, described = tmp_path / "folder", "a directory"
        path.mkdir()

    def never(*args, **kwargs):
        pytest.fail("the data was opened for reading")

    monkeypatch.setattr(pd, "read_csv", never)
    monkeypatch.setattr(pd, "read_parquet", never)
    assert main(["train", str(_train_config(tmp_path, path, source))]) == 1
    line = _error_line(capsys)
    assert f"'{path}' is {described}, not a regular file" in line


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A small saved classifier and a CSV it can predict."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    import fireworks_sk as fsk

    folder = tmp_path_factory.mktemp("small")
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = Pipeline([("scale", fsk.BatchNormalizer()), ("lr", LogisticRegression())])
    model.fit(frame, [0, 0, 1, 1])
    frame.to_csv(folder / "rows.csv", index=False)
    return fsk.save(model, folder / "model.fwsk"), folder / "rows.csv"


def _rewritten(path, target, edit_manifest):
    """A copy of a saved file whose manifest ``edit_manifest`` changed."""
    import zipfile

    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                edit_manifest(manifest)
                data = json.dumps(manifest).encode()
            copy.writestr(info, data)
    return target


def _patched_headers(path, target, offsets, value):
    """A copy of ``path`` with a 2-byte field of every zip header set to ``value``.

    ``offsets``: the field's offset in local headers and in central ones.
    """
    data = bytearray(path.read_bytes())
    for signature, offset in zip((b"PK\x03\x04", b"PK\x01\x02"), offsets):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + 2] = value.to_bytes(2, "little")
            start = data.find(signature, start + 4)
    target.write_bytes(bytes(data))
    return target


def _broken_model(kind, model, tmp_path):
    target = tmp_path / f"{kind}.fwsk"
    if kind == "versions-a-list":
        return _rewritten(model, target, lambda m: m.update(versions=["torch"]))
    if kind == "encrypted-flag":  # general purpose flag bit 0
        return _patched_headers(model, target, (6, 8), 0x1)
    return _patched_headers(model, target, (8, 10), 99)  # unknown compression


@pytest.mark.parametrize("kind", ["versions-a-list", "encrypted-flag", "compression"])
@pytest.mark.parametrize("command", ["inspect", "predict"])
def test_a_damaged_model_file_is_one_line_and_status_1(
    small_model, tmp_path, capsys, kind, command
):
    model, rows = small_model
    broken = _broken_model(kind, model, tmp_path)
    argv = [command, str(broken)] + (
        [str(rows), "--quiet"] if command == "predict" else []
    )
    assert main(argv) == 1
    assert _error_line(capsys).startswith("fireworks-sk: error: ")


def test_a_model_without_predict_is_one_line(small_model, tmp_path, capsys):
    import fireworks_sk as fsk

    model, rows = small_model
    scaler = fsk.save(fsk.BatchNormalizer().fit(pd.read_csv(rows)), tmp_path / "s.fwsk")
    assert main(["predict", str(scaler), str(rows), "--quiet"]) == 1
    assert "predict" in _error_line(capsys)


def test_an_unreachable_database_is_one_line_naming_it(small_model, tmp_path, capsys):
    model, _ = small_model
    url = f"sqlite:///{tmp_path}/no/such/folder/data.db"
    argv = ["predict", str(model), url, "--query", "SELECT a, b FROM t", "--quiet"]
    assert main(argv) == 1
    line = _error_line(capsys)
    assert "could not connect" in line and "no/such/folder/data.db" in line


def test_train_from_an_unreachable_database_is_one_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/no/such/folder/data.db"
    location = f'url = "{url}"\nquery = "SELECT * FROM penguins"'
    config = tmp_path / "run.toml"
    config.write_text(
        CONFIG.format(output=tmp_path / "out", source="sql", location=location)
    )
    assert main(["train", str(config)]) == 1
    assert "unable to open database file" in _error_line(capsys)


@pytest.mark.parametrize("nesting", ["array", "inline-table"])
def test_a_toml_nesting_bomb_is_one_line_naming_the_config(tmp_path, capsys, nesting):
    depth = 100_000
    if nesting == "array":
        value = "[" * depth + "]" * depth
    else:
        value = "{ a = " * depth + "1" + " }" * depth
    config = tmp_path / "bomb.toml"
    config.write_text(f"x = {value}\n")
    assert main(["train", str(config)]) == 1
    line = _error_line(capsys)
    assert "bomb.toml" in line and "nested too deeply" in line


def test_an_unexpected_error_is_one_line_naming_its_type(monkeypatch, capsys):
    import fireworks_sk.cli as cli

    def bug(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "_inspect", bug)
    assert main(["inspect", "model.fwsk"]) == 1
    line = _error_line(capsys)
    assert "ZeroDivisionError: division by zero" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "inspect", "model.fwsk"])


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    import fireworks_sk.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_inspect", interrupted)
    assert main(["inspect", "model.fwsk"]) == 130
    assert _error_line(capsys) == "fireworks-sk: interrupted"


def test_predict_refuses_a_device_as_data(small_model, capsys):
    model, _ = small_model
    assert main(["predict", str(model), "/dev/zero", "--quiet"]) == 1
    assert "'/dev/zero' is a character device" in _error_line(capsys)
