"""The fireworks-sk command, end to end in temporary folders."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import weakref
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from skorch.dataset import ValidSplit

import fireworks_sk.cli as cli
from fireworks_sk import (
    BatchNormalizer,
    OneHot,
    Stack,
    TorchClassifier,
    inspect,
    load,
    save,
)
from fireworks_sk.cli import main
from fireworks_sk.datasets import load_penguins
from fireworks_sk.runs import (
    ConfigError,
    curve_title,
    demo_config,
    load_config,
    read_data,
    run,
)

ROOT = Path(__file__).resolve().parents[1]

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
    assert record["versions"] == inspect(trained / "model.fwsk")["versions"]
    assert record["versions"]["torch"] == metadata.version("torch")
    assert record["versions"]["scikit-learn"] == metadata.version("scikit-learn")
    search, X_test, y_test = _same_search_by_hand(penguins_csv)
    assert record["best_params"] == search.best_params_
    assert record["cv_score"] == search.best_score_
    expected = accuracy_score(y_test, search.predict(X_test))
    assert record["metrics"]["test"]["accuracy"] == expected
    if importlib.util.find_spec("matplotlib") is None:
        assert record["learning_curve"] is None
    else:
        assert record["learning_curve"] == "learning_curve.png"
        assert (trained / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def _same_search_by_hand(penguins_csv):
    """CONFIG's search, built and fitted without runs.py: (search, X_test, y_test)."""
    frame = pd.read_csv(penguins_csv)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=3, stratify=y
    )
    model = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(columns=["island", "sex"])),
            ("stack", Stack()),
            (
                "model",
                TorchClassifier(
                    random_state=3,
                    max_epochs=4,
                    batch_size=64,
                    train_split=ValidSplit(0.2, stratified=True, random_state=3),
                ),
            ),
        ]
    )
    search = GridSearchCV(model, {"model__lr": [0.01, 0.03]}, cv=2)
    return search.fit(X_train, y_train), X_test, y_test


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


def _written(tmp_path, source):
    """The penguins (missing values kept) as a ``data`` section of ``source``."""
    frame = load_penguins()
    if source == "csv":
        frame.to_csv(tmp_path / "p.csv", index=False)
        return {"path": str(tmp_path / "p.csv")}
    if source == "parquet":
        # Several row groups: the run reads them all, as one table.
        frame.to_parquet(tmp_path / "p.parquet", row_group_size=50)
        return {"path": str(tmp_path / "p.parquet")}
    with sqlite3.connect(tmp_path / "p.db") as connection:
        frame.to_sql("penguins", connection, index=False)
    return {"url": f"sqlite:///{tmp_path / 'p.db'}", "query": "SELECT * FROM penguins"}


@pytest.mark.parametrize("source", ["csv", "parquet", "sql"])
def test_read_data_reads_what_pandas_reads(tmp_path, source):
    data = {"source": source, "target": "species", **_written(tmp_path, source)}
    if source == "csv":
        expected = pd.read_csv(data["path"])
    elif source == "parquet":
        expected = pd.read_parquet(data["path"])
    else:
        with sqlite3.connect(tmp_path / "p.db") as connection:
            expected = pd.read_sql("SELECT * FROM penguins", connection)
    pd.testing.assert_frame_equal(read_data(data), expected)


def test_read_data_infers_a_csv_dtype_from_every_row(tmp_path):
    # An integer column whose first missing value comes late is float
    # throughout, as pandas.read_csv reads it, not refused as a dtype change.
    rows = [*map(str, range(100_000)), ""]
    pd.DataFrame({"n": rows, "species": "a"}).to_csv(tmp_path / "d.csv", index=False)
    data = {"source": "csv", "path": str(tmp_path / "d.csv"), "target": "species"}
    assert read_data(data)["n"].dtype == np.float64


def test_read_data_refuses_data_without_rows(tmp_path):
    (tmp_path / "empty.csv").write_text("bill_length_mm,species\n")
    data = {"source": "csv", "path": str(tmp_path / "empty.csv"), "target": "species"}
    with pytest.raises(ConfigError, match=r"empty\.csv'.* has no rows"):
        read_data(data)


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
    expected = load(trained / "model.fwsk").predict(data)
    assert predictions["prediction"].tolist() == list(expected)


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
    out = tmp_path / "p.csv"
    model = str(trained / "model.fwsk")
    status = main(["predict", model, str(tmp_path / "short.csv"), "--out", str(out)])
    assert status == 1
    assert "names columns ['island'] that the input lacks" in _error_line(capsys)
    assert list(tmp_path.iterdir()) == [tmp_path / "short.csv"]  # nothing written


def _predict(model, data, *options):
    return main(["predict", str(model), str(data), "--quiet", *map(str, options)])


def test_predict_picks_and_orders_columns_by_the_saved_schema(
    trained, penguins_csv, tmp_path
):
    # An id first, the label still in, the columns reversed: all accepted.
    data = pd.read_csv(penguins_csv)
    shuffled = data.assign(id=[f"p{i}" for i in range(len(data))])
    shuffled = shuffled[["id", *data.columns[::-1]]]
    shuffled.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "p.csv"
    assert (
        _predict(
            trained / "model.fwsk", tmp_path / "new.csv", "--out", out, "--keep", "id"
        )
        == 0
    )
    written = pd.read_csv(out)
    model = load(trained / "model.fwsk")
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain open gives
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    assert list(written.columns) == ["id", "prediction"]
    assert list(written["id"]) == list(shuffled["id"])
    expected = model.predict(data.drop(columns="species"))
    assert list(written["prediction"]) == list(expected)


def test_predict_proba_writes_one_column_per_class(trained, penguins_csv, tmp_path):
    data = pd.read_csv(penguins_csv).drop(columns="species")
    out = tmp_path / "p.PARQUET"  # the extension in any case
    assert _predict(trained / "model.fwsk", penguins_csv, "--out", out, "--proba") == 0
    written = pd.read_parquet(out)
    model = load(trained / "model.fwsk")
    classes = [f"proba_{c}" for c in model.classes_]
    assert list(written.columns) == ["prediction", *classes]
    np.testing.assert_allclose(
        written[classes].to_numpy(), model.predict_proba(data), rtol=1e-6
    )


def test_predict_writes_every_output_of_a_two_output_regressor(tmp_path):
    data = load_penguins().dropna()
    X = data[["bill_length_mm", "bill_depth_mm"]]
    y = data[["flipper_length_mm", "body_mass_g"]].to_numpy()
    model = make_pipeline(BatchNormalizer(), LinearRegression()).fit(X, y)
    save(model, tmp_path / "two.fwsk")
    data.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "p.csv"
    assert _predict(tmp_path / "two.fwsk", tmp_path / "data.csv", "--out", out) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction_0", "prediction_1"]
    np.testing.assert_allclose(written.to_numpy(), model.predict(X))


def test_predict_refuses_an_unknown_output_format_before_any_work(tmp_path, capsys):
    # The model does not even exist: the extension is checked first.
    status = _predict(
        tmp_path / "absent.fwsk", tmp_path / "absent.csv", "--out", tmp_path / "p.json"
    )
    assert status == 1
    assert "follows the extension, one of ['.csv', '.parquet']" in _error_line(capsys)
    assert not (tmp_path / "p.json").exists()


def test_predict_refuses_a_keep_column_the_output_would_overwrite(
    trained, penguins_csv, tmp_path, capsys
):
    data = pd.read_csv(penguins_csv).assign(prediction="mine")
    data.to_csv(tmp_path / "new.csv", index=False)
    # Without --quiet: the error comes before the progress bar starts.
    model, data_path = trained / "model.fwsk", tmp_path / "new.csv"
    assert main(["predict", str(model), str(data_path), "--keep", "prediction"]) == 1
    assert "--keep names columns ['prediction'] that the output writes" in _error_line(
        capsys
    )


def test_predict_names_a_missing_keep_column(trained, penguins_csv, tmp_path, capsys):
    status = _predict(trained / "model.fwsk", penguins_csv, "--keep", "id")
    assert status == 1
    assert "--keep names columns ['id'] that the data lacks" in _error_line(capsys)


def test_predict_writes_each_chunk_before_reading_the_next(monkeypatch, tmp_path):
    # Memory stays bounded: a chunk is written and dropped before the next one.
    alive = []
    written_before = []
    out = tmp_path / "p.csv"

    def chunks():
        for index in range(4):
            written_before.append(sum(ref() is not None for ref in alive))
            frame = pd.DataFrame({"prediction": [index] * 10})
            alive.append(weakref.ref(frame))
            yield frame
            del frame

    cli._write_csv_file(chunks(), out)
    gc.collect()
    assert written_before == [0, 0, 0, 0]
    assert pd.read_csv(out)["prediction"].tolist() == [
        i for i in range(4) for _ in range(10)
    ]


def _command(*args):
    return [sys.executable, "-m", "fireworks_sk", *map(str, args)]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_predict_into_a_closed_pipe_ends_quietly_with_status_0(
    trained, penguins_csv, tmp_path
):
    big = pd.concat([pd.read_csv(penguins_csv)] * 150, ignore_index=True)
    big.to_csv(tmp_path / "big.csv", index=False)
    # `fireworks-sk predict MODEL DATA | head -1`
    process = subprocess.Popen(
        _command("predict", trained / "model.fwsk", tmp_path / "big.csv", "--quiet"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline() == b"prediction\n"
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 0
    assert stderr == b""


def test_predict_progress_counts_whole_rows(trained, penguins_csv):
    result = subprocess.run(
        _command("predict", trained / "model.fwsk", penguins_csv),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = len(pd.read_csv(penguins_csv))
    assert f"{rows} rows" in result.stderr
    assert "0.00" not in result.stderr


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
    def reader_gone(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_inspect", reader_gone)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    assert main(["inspect", "model.fwsk"]) == 0
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
@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("source", ["csv", "parquet"])
def test_train_refuses_a_data_path_that_is_not_a_regular_file(
    tmp_path, capsys, monkeypatch, kind, source
):
    if kind == "device":
        path, described = "/dev/zero", "a character device"
    else:
        path, described = tmp_path / "pipe.csv", "a FIFO (named pipe)"
        os.mkfifo(path)

    def never(*args, **kwargs):
        pytest.fail("the data was opened for reading")

    monkeypatch.setattr(pd, "read_csv", never)
    monkeypatch.setattr(pd, "read_parquet", never)
    assert main(["train", str(_train_config(tmp_path, path, source))]) == 1
    line = _error_line(capsys)
    assert f"'{path}' is {described}, not a regular file" in line


# ------------------------------- one rule for the kind of a data path
def _parquet_folder(penguins_csv, folder):
    """The penguins as two Parquet files in ``folder``; returns the rows."""
    pytest.importorskip("pyarrow")
    data = pd.read_csv(penguins_csv)
    folder.mkdir()
    half = len(data) // 2
    data[:half].to_parquet(folder / "part-0.parquet", index=False)
    data[half:].to_parquet(folder / "part-1.parquet", index=False)
    return data


def _run_with_data(caller, trained, tmp_path, path, source):
    """``train`` or ``predict`` on the data at ``path``; returns the status."""
    if caller == "train":
        return main(["train", str(_train_config(tmp_path, path, source))])
    return main(["predict", str(trained / "model.fwsk"), str(path), "--quiet"])


@pytest.mark.parametrize("caller", ["train", "predict"])
@pytest.mark.parametrize("name", ["data.txt", "data", "data.csv.gz", "data.json"])
def test_a_data_file_of_another_kind_is_refused_naming_the_path_and_kinds(
    trained, tmp_path, capsys, caller, name
):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    assert _run_with_data(caller, trained, tmp_path, path, "csv") == 1
    line = _error_line(capsys)
    assert f"'{path}' is not a kind of data file that is read" in line
    assert "a .csv file, a Parquet file (.parquet, .parq, .pq)" in line
    assert "folder of Parquet files" in line


@pytest.mark.parametrize("caller", ["train", "predict"])
def test_a_missing_data_path_is_named(trained, tmp_path, capsys, caller):
    path = tmp_path / "absent.csv"
    assert _run_with_data(caller, trained, tmp_path, path, "csv") == 1
    assert f"No data file: '{path}'" in _error_line(capsys)


@pytest.mark.parametrize("caller", ["train", "predict"])
def test_a_folder_without_parquet_files_is_named(trained, tmp_path, capsys, caller):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.csv").write_text("a\n1\n")
    assert _run_with_data(caller, trained, tmp_path, folder, "parquet") == 1
    line = _error_line(capsys)
    assert f"No Parquet files in the directory: '{folder}'" in line


def test_predict_reads_a_folder_of_parquet_files(trained, penguins_csv, tmp_path):
    data = _parquet_folder(penguins_csv, tmp_path / "new")
    out = tmp_path / "p.csv"
    assert _predict(trained / "model.fwsk", tmp_path / "new", "--out", out) == 0
    expected = load(trained / "model.fwsk").predict(data.drop(columns="species"))
    assert pd.read_csv(out)["prediction"].tolist() == list(expected)


def test_train_reads_a_folder_of_parquet_files(penguins_csv, tmp_path):
    data = _parquet_folder(penguins_csv, tmp_path / "data")
    config = _train_config(tmp_path, tmp_path / "data", "parquet")
    assert main(["train", str(config)]) == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["data"]["rows"] == len(data)


@pytest.mark.parametrize(
    ("name", "source", "kind"),
    [("data.parquet", "csv", "parquet"), ("data.csv", "parquet", "csv")],
)
def test_train_refuses_a_data_source_that_disagrees_with_the_path(
    tmp_path, capsys, name, source, kind
):
    path = tmp_path / name
    path.write_bytes(b"")
    assert main(["train", str(_train_config(tmp_path, path, source))]) == 1
    assert (
        f"data.source is {source!r} but data.path '{path}' is {kind} data; set "
        f"data.source = {kind!r}." in _error_line(capsys)
    )


# ------------------------------------------ train explains itself
def _config(tmp_path, *replacements, source="penguins", location=""):
    """CONFIG on the bundled penguins (11 rows with missing values), edited."""
    text = CONFIG.format(output=tmp_path / "out", source=source, location=location)
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


@pytest.fixture
def no_search(monkeypatch):
    """Fail the test if the search starts: the error must come before it."""

    def never(*args, **kwargs):
        pytest.fail("the search started")

    monkeypatch.setattr(GridSearchCV, "fit", never)


def test_each_run_gets_its_own_folder_its_description_and_dropped_rows(
    tmp_path, capsys
):
    config = _config(tmp_path, ("seed = 3", 'seed = 3\ndescription = "first try"'))
    assert main(["train", str(config)]) == 0
    first = capsys.readouterr()
    assert main(["train", str(config)]) == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    again = json.loads((tmp_path / "out-2" / "run.json").read_text())
    assert record["metrics"] == again["metrics"]  # kept, not overwritten
    assert record["description"] == "first try"
    dropped = len(load_penguins()) - len(load_penguins().dropna())
    assert record["data"]["dropped_rows"] == dropped
    assert f"{dropped} dropped for missing values" in first.out
    assert "first try" in first.out
    assert "search: 100%" in first.err and "4/4" in first.err  # 2 candidates x 2
    assert "out-2" in capsys.readouterr().out
    # --force writes into the named folder.
    (tmp_path / "out" / "run.json").unlink()
    assert main(["train", str(config), "--force"]) == 0
    assert (tmp_path / "out" / "run.json").is_file()
    assert not (tmp_path / "out-3").exists()


def test_a_failing_step_is_one_line_naming_it_before_the_search(
    tmp_path, capsys, no_search
):
    config = _config(tmp_path, ('"island", "sex"', '"island", "plann"'))
    assert main(["train", str(config)]) == 1
    line = _error_line(capsys)
    assert line.startswith("fireworks-sk: error: Step 'onehot' (OneHot) failed")
    assert "names columns ['plann'] that the input lacks" in line
    assert len(line) < 500
    assert not (tmp_path / "out").exists()


def test_a_fit_failing_during_the_search_is_one_line(tmp_path, capsys):
    # The first candidate passes the trial fit; the second fails in the search.
    config = _config(tmp_path, ("[0.01, 0.03]", "[0.01, -1.0]"))
    assert main(["train", str(config)]) == 1
    err = capsys.readouterr().err
    # The progress bar's lines come first; the error is one line of its own.
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("search:")]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(
        "fireworks-sk: error: Step 'model' (TorchClassifier) failed in a trial fit "
        "of {'model__lr': -1.0} on 64 rows, in the search: ValueError: Invalid "
        "learning rate"
    )
    assert len(line) < 500
    assert not (tmp_path / "out").exists()  # the failed run leaves no folder


def test_a_search_failure_no_trial_fit_explains_is_still_one_line(
    tmp_path, capsys, monkeypatch
):
    def fails(self, X, y=None, **params):
        raise RuntimeError("out of memory\n  in a worker")

    monkeypatch.setattr(GridSearchCV, "fit", fails)
    assert main(["train", str(_config(tmp_path)), "--force"]) == 1
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("search:")]
    assert lines == [
        "fireworks-sk: error: A fit failed during the search: RuntimeError: out of "
        "memory in a worker"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seed = 3", 'seed = "abc"', "'seed' must be an integer; got 'abc'"),
        (
            'target = "species"',
            'target = "species"\ncolumns = "island"',
            "'data.columns' must be an array of column names",
        ),
        (
            'target = "species"',
            'target = "species"\ncolumns = ["island", "beak"]',
            "data.columns names columns ['beak'] that the data lacks",
        ),
        (
            'target = "species"',
            'target = "kind"',
            "data.target names columns ['kind'] that the data lacks",
        ),
        ("cv = 2", "cv = 1", "'search.cv' must be an integer >= 2; got 1"),
        (
            "cv = 2",
            'cv = 2\nscoring = "acuracy"',
            "'search.scoring' must be a scikit-learn scorer name",
        ),
        ("[0.01, 0.03]", "0.01", "'search.grid.model__lr' must be a non-empty array"),
        ('"model__lr"', '"model__lrr"', "search.grid: ValueError: Invalid parameter"),
        ("valid_fraction = 0.2", "valid_fraction = 2", "'model.valid_fraction' must"),
    ],
)
def test_config_errors_name_the_key_before_any_fit(
    tmp_path, capsys, no_search, old, new, message
):
    assert main(["train", str(_config(tmp_path, (old, new)))]) == 1
    assert message in _error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_an_existing_file_fails_before_any_fit(
    tmp_path, capsys, no_search
):
    (tmp_path / "out").write_text("not a folder")
    assert main(["train", str(_config(tmp_path))]) == 1
    assert "is an existing file; name a folder" in _error_line(capsys)


def test_init_writes_a_template_that_train_accepts(tmp_path, capsys, monkeypatch):
    path = tmp_path / "run.toml"
    assert main(["init", str(path)]) == 0
    text = path.read_text()
    assert text.count("#") > 20  # commented
    config = load_config(path)
    config.update(output=str(tmp_path / "run"))
    config["model"]["params"]["max_epochs"] = 2
    config["search"]["grid"] = {"model__lr": [0.03]}
    result = run(config, verbose=0)
    assert result.record["description"] == config["description"]
    # The template imputes: every penguin row is trained on, none dropped.
    assert result.record["data"]["rows"] == len(load_penguins())
    assert result.record["data"]["dropped_rows"] == 0
    assert main(["init", str(path)]) == 1  # never replaced silently
    assert "exists" in _error_line(capsys)


def test_demo_trains_on_the_raw_penguins_missing_values_included(tmp_path):
    config = demo_config(tmp_path / "demo")
    config["model"]["params"]["max_epochs"] = 2
    config["search"]["grid"] = {"model__lr": [0.03]}
    result = run(config, verbose=0)
    raw = load_penguins()
    assert raw.drop(columns="species").isna().any(axis=None)
    assert result.record["data"]["rows"] == len(raw)
    assert result.record["data"]["dropped_rows"] == 0
    model = load(result.model_path)
    assert len(model.predict(raw.drop(columns="species"))) == len(raw)


def test_train_help_points_to_init_and_the_docs(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "fireworks-sk init run.toml" in help_text
    assert "docs/production.md" in help_text


def test_the_learning_curve_names_the_model_and_counts_whole_epochs(penguins_csv):
    from fireworks_sk.estimators import plot_history

    frame = pd.read_csv(penguins_csv)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    pipeline = make_pipeline(
        BatchNormalizer(),
        OneHot(columns=["island", "sex"]),
        Stack(),
        TorchClassifier(max_epochs=3, random_state=0, verbose=0),
    )
    search = GridSearchCV(pipeline, {"torchclassifier__lr": [0.03]}, cv=2).fit(X, y)
    assert curve_title(search) == "TorchClassifier (torchclassifier__lr=0.03)"
    ax = plot_history(search.best_estimator_[-1])
    ax.figure.canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_xticks())


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


def test_a_failed_forced_run_keeps_the_folder_it_did_not_create(
    tmp_path, capsys, monkeypatch
):
    def fails(self, X, y=None, **params):
        raise RuntimeError("the search failed")

    monkeypatch.setattr(GridSearchCV, "fit", fails)
    (tmp_path / "out").mkdir()
    assert main(["train", str(_config(tmp_path)), "--force"]) == 1
    assert "the search failed" in capsys.readouterr().err
    assert (tmp_path / "out").is_dir()


class _RunsCode:
    """Unpickling it makes a folder: a stand-in for any code in a joblib file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("command", ["predict", "inspect"])
def test_format_skops_refuses_a_joblib_file_before_it_runs_code(
    small_model, tmp_path, capsys, command
):
    _, rows = small_model
    marker = tmp_path / "ran"
    model = save(_RunsCode(marker), tmp_path / "model.skops.fwsk")
    argv = [command, str(model), "--format", "skops"]
    argv += [str(rows), "--quiet"] if command == "predict" else []
    assert main(argv) == 1
    line = _error_line(capsys)
    assert "is a joblib file, not a skops file" in line and "model.skops.fwsk" in line
    assert not marker.exists()
    # Without --format the sender's manifest decides, and the file runs.
    main(argv[:2] + argv[4:])
    assert marker.exists()


def test_predict_and_inspect_load_a_skops_file_with_format_skops(
    small_model, tmp_path, capsys
):
    joblib_model, rows = small_model
    model = save(load(joblib_model), tmp_path / "model.fwsk", format="skops")
    out = tmp_path / "out.csv"
    assert _predict(model, rows, "--format", "skops", "--out", out) == 0
    expected = load(joblib_model).predict(pd.read_csv(rows))
    assert pd.read_csv(out).iloc[:, -1].tolist() == expected.tolist()
    assert main(["inspect", str(model), "--format", "skops"]) == 0
    assert "LogisticRegression" in capsys.readouterr().out


def test_trusted_names_reach_load_from_predict_and_inspect(tmp_path, capsys):
    import fireworks_sk as fsk

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    frame.to_csv(tmp_path / "rows.csv", index=False)
    model = make_pipeline(fsk.FunctionPipe(func=_unchanged), LinearRegression())
    model.fit(frame, [0.0, 2.0, 4.0, 6.0])
    path = save(model, tmp_path / "model.fwsk", format="skops")
    name = f"{__name__}._unchanged"
    assert _predict(path, tmp_path / "rows.csv", "--format", "skops") == 1
    assert name in _error_line(capsys)
    argv = ["--format", "skops", "--trusted", name]
    assert _predict(path, tmp_path / "rows.csv", *argv) == 0
    assert main(["inspect", str(path), *argv]) == 0


def _unchanged(message):
    return message


def test_a_run_leaves_the_callers_matplotlib_backend_and_figures_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    plt = pytest.importorskip("matplotlib.pyplot")
    before = matplotlib.get_backend()
    figures = plt.get_fignums()
    matplotlib.use("pdf")
    try:
        config = demo_config(tmp_path / "demo")
        config["model"]["params"]["max_epochs"] = 2
        config["search"]["grid"] = {"model__lr": [0.03]}
        result = run(config, verbose=0)
        assert (result.output / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
        assert matplotlib.get_backend() == "pdf"
        assert plt.get_fignums() == figures
    finally:
        matplotlib.use(before)
