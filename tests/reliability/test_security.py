"""Security: bound SQL parameters, configs that are never code, safe loading."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import fireworks_sk as fsk
from fireworks_sk.cli import main
from fireworks_sk.persistence import UntrustedTypesError
from fireworks_sk.sources import SQLSource

INJECTIONS = [
    "x'; DROP TABLE t; --",
    "' OR '1'='1",
    "s1' UNION SELECT name, sql FROM sqlite_master --",
    'x"); DELETE FROM t; --',
]


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table t(a real, b text)")
        connection.executemany(
            "insert into t values(?, ?)", [(i, f"s{i}") for i in range(5)]
        )
    return path


def _rows(path, table="t"):
    with sqlite3.connect(path) as connection:
        return connection.execute(f'select count(*) from "{table}"').fetchone()[0]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_source_binds_parameters_so_injections_match_nothing(database, injection):
    source = SQLSource(
        f"sqlite:///{database}", "select * from t where b = :b", 2, {"b": injection}
    )
    assert list(source) == []
    assert _rows(database) == 5
    # The same query still finds a real value: the parameter is compared, not run.
    found = SQLSource(
        f"sqlite:///{database}", "select * from t where b = :b", 2, {"b": "s3"}
    )
    assert [m["a"].tolist() for m in found] == [[3.0]]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_errors_name_the_parameters_but_not_their_values(database, injection):
    source = SQLSource(
        f"sqlite:///{database}", "select * from nope where b = :b", 2, {"b": injection}
    )
    with pytest.raises(fsk.FireworksError, match=r"Bound parameters: \['b'\]") as info:
        list(source)
    assert injection not in str(info.value)


def test_write_sql_quotes_the_table_name(database):
    hostile = 't"; DROP TABLE t; --'
    written = fsk.write_sql(
        [pd.DataFrame({"p": [1.0, 2.0]})], f"sqlite:///{database}", hostile
    )
    assert written == 2
    assert _rows(database) == 5
    assert _rows(database, hostile.replace('"', '""')) == 2


# ----------------------------------------------------------------- configs
CODE = "__import__('os').mkdir('pwned')"


def _config(**overrides):
    sections = {
        "data": "[data]\nsource = 'penguins'\ntarget = 'species'\ndropna = true\n",
        "steps": "[[steps]]\ntype = 'BatchNormalizer'\n[[steps]]\ntype = 'Stack'\n",
        "model": "[model]\ntype = 'TorchClassifier'\nparams = { max_epochs = 1 }\n",
        "search": "[search]\ncv = 2\n",
    }
    sections.update(overrides)
    return "seed = 0\noutput = 'out'\n" + "".join(sections.values())


CODE_CONFIGS = {
    "step type": {"steps": f'[[steps]]\ntype = "{CODE}"\n'},
    "model type": {"model": f'[model]\ntype = "{CODE}"\n'},
    "step params": {
        "steps": '[[steps]]\ntype = "BatchNormalizer"\n'
        f'params = {{ columns = "{CODE}" }}\n'
        "[[steps]]\ntype = 'Stack'\n"
    },
    "model params": {
        "model": f'[model]\ntype = "TorchClassifier"\nparams = {{ lr = "{CODE}" }}\n'
    },
    "grid": {"search": f'[search]\ncv = 2\n[search.grid]\n"model__lr" = ["{CODE}"]\n'},
    "target": {"data": f'[data]\nsource = "penguins"\ntarget = "{CODE}"\n'},
    "source": {"data": f'[data]\nsource = "{CODE}"\ntarget = "species"\n'},
    "scoring": {"search": f'[search]\ncv = 2\nscoring = "{CODE}"\n'},
}


@pytest.mark.parametrize("where", sorted(CODE_CONFIGS))
def test_cli_never_evaluates_config_values(tmp_path, monkeypatch, capsys, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(_config(**CODE_CONFIGS[where]))
    status = main(["train", "run.toml"])
    assert not (tmp_path / "pwned").exists()
    # Refused with one error line (or, for a grid value, failed inside the fit).
    assert status == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("fireworks-sk: error:")


def test_the_same_config_without_code_trains(tmp_path, monkeypatch):
    # The control of the test above: the config is otherwise valid.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(_config())
    assert main(["train", "run.toml"]) == 0
    assert (tmp_path / "out" / "model.fwsk").is_file()


# ----------------------------------------------------------------- loading
class _RunsCode:
    """Pickles to a call of os.mkdir: loading it with pickle runs that call."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_joblib_files_run_code_on_load_and_inspect_does_not(tmp_path):
    marker = tmp_path / "ran"
    path = fsk.save(_RunsCode(marker), tmp_path / "evil.fwsk")
    manifest = fsk.inspect(path)
    assert manifest["format"] == "joblib"
    assert not marker.exists()
    assert main(["inspect", "--manifest-only", str(path)]) == 0
    assert not marker.exists()
    # What docs/reliability.md warns about: load runs the pickled call.
    fsk.load(path)
    assert marker.exists()


def test_skops_refuses_a_function_it_does_not_trust(tmp_path):
    pipe = fsk.FunctionPipe(func=os.mkdir)
    path = fsk.save(pipe, tmp_path / "f.fwsk", format="skops")
    with pytest.raises(UntrustedTypesError, match=r"mkdir"):
        fsk.load(path)


def _rewrite_skops_payload(path: Path, old: str, new: str) -> None:
    """Edit a skops file's schema and fix its checksum, as an attacker could."""
    with zipfile.ZipFile(path) as outer:
        manifest = json.loads(outer.read("manifest.json"))
        payload = outer.read("payload")
    inner_in, inner_out = zipfile.ZipFile(io.BytesIO(payload)), io.BytesIO()
    with zipfile.ZipFile(inner_out, "w") as rewritten:
        for name in inner_in.namelist():
            data = inner_in.read(name)
            if name == "schema.json":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            rewritten.writestr(name, data)
    payload = inner_out.getvalue()
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr("manifest.json", json.dumps(manifest))
        outer.writestr("payload", payload)


def test_skops_file_naming_a_torch_function_as_a_dtype_is_refused(tmp_path):
    pipe = fsk.ToTensor(dtype=torch.float32).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    path = fsk.save(pipe, tmp_path / "t.fwsk", format="skops")
    assert fsk.load(path).dtype is torch.float32
    _rewrite_skops_payload(path, '\\"float32\\"', '\\"load\\"')
    with pytest.raises(ValueError, match="'load' is not a torch dtype"):
        fsk.load(path)


def test_skops_loading_of_pipes_needs_no_trust(tmp_path):
    df = pd.DataFrame({"x": np.arange(4.0), "c": list("abab")})
    pipe = fsk.Junction([fsk.BatchNormalizer(), fsk.OneHot(columns=["c"])]).fit(df)
    loaded = fsk.load(fsk.save(pipe, tmp_path / "j.fwsk", format="skops"))
    assert loaded.transform(df).equals(pipe.transform(df))


def test_trusted_does_not_apply_to_joblib_files(tmp_path):
    path = fsk.save({"a": 1}, tmp_path / "m.fwsk")
    with pytest.raises(ValueError, match="'trusted' applies to skops files only"):
        fsk.load(path, trusted=["builtins.dict"])


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_source_binds_parameters_on_postgres(pg_url, injection):
    import sqlalchemy as sa

    table = "fwsk_reliability_injection"
    engine = sa.create_engine(pg_url)
    try:
        pd.DataFrame({"a": [0.0, 1.0], "b": ["s0", "s1"]}).to_sql(
            table, engine, if_exists="replace", index=False
        )
        query = f"select * from {table} where b = :b"
        assert list(SQLSource(engine, query, 2, {"b": injection})) == []
        assert [len(m) for m in SQLSource(engine, query, 2, {"b": "s1"})] == [1]
        with engine.connect() as connection:
            count = connection.execute(sa.text(f"select count(*) from {table}"))
            assert count.scalar() == 2
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"drop table if exists {table}"))
        engine.dispose()
