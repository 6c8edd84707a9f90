"""save / load / inspect: manifest, checksum, atomic writes, skops, versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.pipeline import Pipeline

import fireworks_sk.persistence as persistence
from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
    IndexEncoder,
    Junction,
    Message,
    OneHot,
    SchemaError,
    SelectColumns,
    Stack,
    ToTensor,
    inspect,
    load,
    save,
)
from fireworks_sk.persistence import (
    CorruptFileError,
    UntrustedTypesError,
    VersionMismatchWarning,
)


def double_x(message):
    return message.assign(x=message["x"] * 2)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(5, 2, 60),
            "size": rng.choice(["s", "m", "l"], 60),
            "n": rng.integers(0, 4, 60),
        }
    )


@pytest.fixture
def pipeline(frame):
    steps = [
        ("scale", BatchNormalizer(["x"])),
        ("onehot", OneHot(["size"])),
        ("codes", IndexEncoder(["n"], handle_unknown="ignore")),
        ("stack", Stack(["x", "size"])),
    ]
    return Pipeline(steps).fit(frame)


def _assert_fresh_process_transform_equals(path, tmp_path, frame, pipeline):
    frame.to_csv(tmp_path / "data.csv", index=False)
    script = textwrap.dedent(
        f"""
        import pandas as pd, torch
        from fireworks_sk import load
        model = load({str(path)!r})
        out = model.transform(pd.read_csv({str(tmp_path / "data.csv")!r}))
        torch.save(out.to_tensors(), {str(tmp_path / "out.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    reloaded = torch.load(tmp_path / "out.pt")
    expected = pipeline.transform(pd.read_csv(tmp_path / "data.csv")).to_tensors()
    assert reloaded.keys() == expected.keys()
    for name in expected:
        assert torch.equal(reloaded[name], expected[name]), name


def test_save_then_load_in_a_fresh_process_gives_equal_output(
    tmp_path, frame, pipeline
):
    path = save(pipeline, tmp_path / "model.fwsk")
    _assert_fresh_process_transform_equals(path, tmp_path, frame, pipeline)


def test_inspect_reads_the_manifest(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "model.fwsk")
    manifest = inspect(path)
    assert manifest["format"] == "joblib"
    assert manifest["object"] == "sklearn.pipeline.Pipeline"
    assert {"torch", "scikit-learn", "pandas", "numpy", "python"} <= set(
        manifest["versions"]
    )
    assert [c["name"] for c in manifest["input_schema"]] == ["x", "size", "n"]
    assert manifest["input_schema"][0] == {
        "name": "x",
        "kind": "pandas",
        "dtype": "float64",
        "shape": [],
    }
    with zipfile.ZipFile(path) as archive:
        payload = archive.read("payload")
    assert manifest["payload_bytes"] == len(payload)


def test_manifest_records_random_states(tmp_path):
    from sklearn.linear_model import SGDClassifier

    model = Pipeline(
        [("scale", BatchNormalizer()), ("sgd", SGDClassifier(random_state=7))]
    )
    model.fit(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    assert inspect(save(model, tmp_path / "m.fwsk"))["random_state"] == {
        "sgd__random_state": 7
    }


def test_truncated_file_is_refused_naming_it(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "model.fwsk")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="model.fwsk.*corrupt"):
        load(path)


def test_altered_payload_is_refused(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "model.fwsk")
    with zipfile.ZipFile(path) as archive:
        manifest = archive.read("manifest.json")
        payload = bytearray(archive.read("payload"))
    payload[len(payload) // 2] ^= 0xFF
    with zipfile.ZipFile(path, "w") as archive:  # valid zip, altered content
        archive.writestr("manifest.json", manifest)
        archive.writestr("payload", bytes(payload))
    with pytest.raises(CorruptFileError, match="does not match the checksum"):
        load(path)


def test_a_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "notes.fwsk"
    path.write_text("not a model")
    with pytest.raises(CorruptFileError, match="notes.fwsk"):
        load(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.fwsk"):
        load(tmp_path / "nowhere.fwsk")
    with pytest.raises(FileNotFoundError, match="folder is missing"):
        save(BatchNormalizer(), tmp_path / "no" / "such" / "model.fwsk")


class _FailsToPickle:
    def __reduce__(self):
        raise RuntimeError("boom while pickling")


def _assert_only(tmp_path, names):
    assert sorted(os.listdir(tmp_path)) == sorted(names)


def test_exception_mid_pickle_keeps_the_previous_file(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "model.fwsk")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom while pickling"):
        save({"model": pipeline, "bad": _FailsToPickle()}, path)
    assert path.read_bytes() == before
    _assert_only(tmp_path, ["model.fwsk"])


def test_exception_while_writing_keeps_the_previous_file(
    tmp_path, pipeline, monkeypatch
):
    path = save(pipeline, tmp_path / "model.fwsk")
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save(BatchNormalizer().fit(pd.DataFrame({"a": [1.0, 2.0]})), path)
    assert path.read_bytes() == before
    _assert_only(tmp_path, ["model.fwsk"])


def test_version_mismatch_warns_with_both_versions(tmp_path, pipeline, monkeypatch):
    path = save(pipeline, tmp_path / "model.fwsk")
    real = persistence._versions()
    monkeypatch.setattr(persistence, "_versions", lambda: {**real, "torch": "9.9.9"})
    expected = re.escape(f"torch {real['torch']} (now 9.9.9)")
    with pytest.warns(VersionMismatchWarning, match=expected):
        load(path)


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        save(BatchNormalizer(), tmp_path / "m.fwsk", format="pickle")


def test_trusted_is_refused_for_joblib_files(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "m.fwsk")
    with pytest.raises(ValueError, match="joblib file"):
        load(path, trusted=["builtins.eval"])


def _fitted_pipes(frame):
    message = Message(frame).assign(t=torch.arange(60.0).reshape(30, 2).repeat(2, 1))
    pipes = [
        BatchNormalizer(),
        OneHot(min_frequency=5),
        IndexEncoder(handle_unknown="ignore"),
        ToTensor(),
        Stack(["x", "t"]),
        SelectColumns(["x", "size"]),
        DropColumns(["n"]),
        Junction([("scale", BatchNormalizer(["x"])), ("codes", IndexEncoder(["n"]))]),
        Pipeline(
            [("scale", BatchNormalizer()), ("onehot", OneHot()), ("stack", Stack())]
        ),
    ]
    return message, [pipe.fit(message) for pipe in pipes]


@pytest.mark.parametrize("index", range(9))
def test_every_pipe_round_trips_through_skops_without_trusting_anything(
    tmp_path, frame, index
):
    pytest.importorskip("skops")
    message, pipes = _fitted_pipes(frame)
    pipe = pipes[index]
    path = save(pipe, tmp_path / "pipe.fwsk", format="skops")
    assert inspect(path)["format"] == "skops"
    loaded = load(path)
    assert type(loaded) is type(pipe)
    assert loaded.transform(message).equals(pipe.transform(message))


def test_skops_refuses_untrusted_types_and_lists_them(tmp_path, frame):
    pytest.importorskip("skops")
    pipe = FunctionPipe(double_x).fit(frame)
    path = save(pipe, tmp_path / "pipe.fwsk", format="skops")
    with pytest.raises(UntrustedTypesError, match=r"test_persistence\.double_x"):
        load(path)
    name = f"{__name__}.double_x"
    loaded = load(path, trusted=[name])
    assert loaded.transform(frame).equals(pipe.transform(frame))


def test_joblib_dump_and_load_work_directly(tmp_path, frame, pipeline):
    import joblib

    joblib.dump(pipeline, tmp_path / "plain.joblib")
    loaded = joblib.load(tmp_path / "plain.joblib")
    assert loaded.transform(frame).equals(pipeline.transform(frame))


def test_manifest_is_plain_json(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "model.fwsk")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("manifest.json")) == inspect(path)


def test_skops_refuses_torch_modules_instead_of_pickling_them(tmp_path):
    pytest.importorskip("skops")
    model = Pipeline([("scale", BatchNormalizer()), ("net", torch.nn.Linear(2, 1))])
    with pytest.raises(ValueError, match="cannot store Linear"):
        save(model, tmp_path / "m.fwsk", format="skops")
    assert not list(tmp_path.iterdir())


def test_skops_file_loads_in_a_fresh_process(tmp_path, frame, pipeline):
    pytest.importorskip("skops")
    path = save(pipeline, tmp_path / "model.fwsk", format="skops")
    _assert_fresh_process_transform_equals(path, tmp_path, frame, pipeline)


@pytest.fixture
def loaded(tmp_path, pipeline):
    return load(save(pipeline, tmp_path / "model.fwsk"))


def test_loaded_model_names_missing_columns(loaded, frame):
    with pytest.raises(SchemaError, match=r"missing:\n- size"):
        loaded.transform(frame.drop(columns="size"))


def test_loaded_model_names_extra_columns(loaded, frame):
    with pytest.raises(SchemaError, match=r"unseen at fit time:\n- extra"):
        loaded.transform(frame.assign(extra=1.0))


def test_loaded_model_refuses_reordered_columns(loaded, frame):
    with pytest.raises(SchemaError, match="same order"):
        loaded.transform(frame[["size", "x", "n"]])


def test_loaded_model_warns_on_a_dtype_change_naming_both(loaded, frame):
    with pytest.warns(UserWarning, match="Column 'n' has dtype float64 .* int64"):
        loaded.transform(frame.assign(n=frame["n"].astype(float)))
