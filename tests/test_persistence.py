"""save / load / inspect: manifest, checksum, atomic writes, skops, versions."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import platform
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from importlib import metadata

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import fireworks_sk.persistence as persistence
from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
    Impute,
    IndexEncoder,
    Junction,
    Message,
    OneHot,
    SchemaError,
    SelectColumns,
    Stack,
    inspect,
    load,
    save,
)
from fireworks_sk.exceptions import CorruptStateError
from fireworks_sk.persistence import (
    CorruptFileError,
    UntrustedTypesError,
    VersionMismatchWarning,
)
from tests._data import PIPE_TYPES, every_pipe


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
    packages = ["fireworks-sk", "torch", "scikit-learn", "skorch", "pandas", "numpy"]
    expected = {name: metadata.version(name) for name in packages}
    assert manifest["versions"] == {"python": platform.python_version(), **expected}
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
    real = persistence.installed_versions()
    monkeypatch.setattr(
        persistence, "installed_versions", lambda: {**real, "torch": "9.9.9"}
    )
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
    pipes = every_pipe(
        {
            OneHot: OneHot(min_frequency=5),
            IndexEncoder: IndexEncoder(handle_unknown="ignore"),
            Stack: Stack(["x", "t"]),
            SelectColumns: SelectColumns(["x", "size"]),
            DropColumns: DropColumns(["n"]),
            Junction: Junction(
                [("scale", BatchNormalizer(["x"])), ("codes", IndexEncoder(["n"]))]
            ),
        }
    )
    pipes.append(
        Pipeline(
            [("scale", BatchNormalizer()), ("onehot", OneHot()), ("stack", Stack())]
        )
    )
    return message, [pipe.fit(message) for pipe in pipes]


@pytest.mark.parametrize("index", range(len(PIPE_TYPES) + 1))
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


# ------------------------------------------------ skops holds no pickle
def _nets():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputRegressor

    from fireworks_sk import TorchClassifier, TorchRegressor

    return {
        "TransformedTargetRegressor": TransformedTargetRegressor(
            regressor=TorchRegressor(max_epochs=1)
        ),
        "MultiOutputRegressor": MultiOutputRegressor(TorchRegressor()),
        "VotingClassifier": VotingClassifier(
            [("lr", LogisticRegression()), ("net", TorchClassifier())]
        ),
        "dict": {"scaler": BatchNormalizer(), "model": TorchRegressor()},
        "unfitted net": TorchRegressor(),
        "nested Pipelines": Pipeline(
            [("outer", Pipeline([("inner", Pipeline([("net", TorchRegressor())]))]))]
        ),
        "module in a tuple": ("weights", [torch.nn.Linear(2, 1)]),
    }


@pytest.mark.parametrize("holder", sorted(_nets()))
def test_skops_refuses_a_torch_net_at_any_depth(tmp_path, holder):
    pytest.importorskip("skops")
    with pytest.raises(ValueError, match=r"cannot store (TorchRegressor|Torch|Linear)"):
        save(_nets()[holder], tmp_path / "m.fwsk", format="skops")
    assert not list(tmp_path.iterdir())


def test_skops_refuses_a_fitted_net_inside_a_meta_estimator(tmp_path):
    from sklearn.compose import TransformedTargetRegressor

    from fireworks_sk import TorchRegressor

    X = np.random.default_rng(0).normal(size=(20, 2)).astype("float32")
    model = TransformedTargetRegressor(
        regressor=TorchRegressor(max_epochs=1, train_split=None, random_state=0),
        func=np.log1p,
        inverse_func=np.expm1,
    ).fit(X, np.abs(X[:, 0]).astype("float32") + 1)
    pattern = r"cannot store TorchRegressor \(at TransformedTargetRegressor\.regressor"
    with pytest.raises(ValueError, match=pattern):
        save(model, tmp_path / "m.fwsk", format="skops")


def test_skops_saves_meta_estimators_without_nets(tmp_path, frame):
    # The control of the tests above: the walk refuses nets, not nesting.
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression

    model = TransformedTargetRegressor(
        Pipeline([("scale", BatchNormalizer(["x"])), ("lr", LinearRegression())])
    ).fit(frame[["x"]], frame["n"])
    path = save(model, tmp_path / "m.fwsk", format="skops")
    assert np.array_equal(load(path).predict(frame[["x"]]), model.predict(frame[["x"]]))


# ------------------------------------------ the receiver insists on skops
@pytest.fixture
def opened(monkeypatch):
    """The members read from any zip, in order."""
    names = []
    original = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        names.append(getattr(name, "filename", name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return names


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_load_format_skops_refuses_a_joblib_file_before_reading_it(tmp_path, opened):
    marker = tmp_path / "ran"
    path = save(_RunsCode(marker), tmp_path / "model.skops.fwsk")
    opened.clear()
    with pytest.raises(UntrustedTypesError, match="is a joblib file, not a skops"):
        load(path, format="skops")
    assert opened == ["manifest.json"]
    assert not marker.exists()


def test_load_format_none_follows_the_manifest(tmp_path, pipeline, frame):
    for format in ("joblib", "skops"):
        path = save(pipeline, tmp_path / f"{format}.fwsk", format=format)
        assert (
            load(path, format=None).transform(frame).equals(pipeline.transform(frame))
        )
        assert (
            load(path, format=format).transform(frame).equals(pipeline.transform(frame))
        )


def test_load_format_joblib_refuses_a_skops_file_and_unknown_formats(
    tmp_path, pipeline
):
    path = save(pipeline, tmp_path / "m.fwsk", format="skops")
    with pytest.raises(ValueError, match="is a skops file, not joblib"):
        load(path, format="joblib")
    with pytest.raises(ValueError, match="format must be one of"):
        load(path, format="pickle")


def test_trusted_must_be_a_list_of_names(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "m.fwsk", format="skops")
    with pytest.raises(TypeError, match="list of fully qualified type names"):
        load(path, trusted="builtins.eval")


# ------------------------------------------------------- bounded reads
def _zip(members):
    """A zip written by hand: (name, stored bytes, method, stated size, crc)."""
    out, central = io.BytesIO(), []
    for name, stored, method, size, crc in members:
        offset, encoded = out.tell(), name.encode()
        header = (method, 0, 0, crc, len(stored), size, len(encoded), 0)
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *header))
        out.write(encoded + stored)
        central.append(
            struct.pack("<4s2H", b"PK\x01\x02", 20, 20)
            + struct.pack("<4H3L5H2L", 0, *header[:-1], 0, 0, 0, 0, 0, offset)
            + encoded
        )
    directory = b"".join(central)
    start = out.tell()
    out.write(directory)
    count = len(members)
    out.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0
        )
    )
    return out.getvalue()


def _stored(name, data):
    return (name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))


def _deflated_zeros(name, mebibytes):
    """A member of ``mebibytes`` MiB of zeros in about a kilobyte per MiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(bytes(2**20), crc)
    stream = block * mebibytes + b"\x03\x00"  # an empty final block ends it
    return (name, stream, zipfile.ZIP_DEFLATED, mebibytes * 2**20, crc)


def _manifest_for(payload_bytes, sha256="0" * 64):
    manifest = {
        "fireworks_sk_file": 1,
        "format": "skops",
        "object": "x.Y",
        "versions": {},
        "input_schema": None,
        "random_state": {},
        "created": "2026-01-01T00:00:00+00:00",
        "sha256": sha256,
        "payload_bytes": payload_bytes,
    }
    return json.dumps(manifest).encode()


def test_save_stores_members_uncompressed(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "m.fwsk", format="skops")
    with zipfile.ZipFile(path) as outer:
        assert {i.compress_type for i in outer.infolist()} == {zipfile.ZIP_STORED}
        inner = zipfile.ZipFile(io.BytesIO(outer.read("payload")))
    assert {i.compress_type for i in inner.infolist()} == {zipfile.ZIP_STORED}


def test_a_manifest_zip_bomb_is_refused_before_it_is_inflated(tmp_path, opened):
    # 1 GiB of manifest in a file of about a megabyte.
    path = tmp_path / "bomb.fwsk"
    bomb = _deflated_zeros("manifest.json", 1024)
    path.write_bytes(_zip([bomb, _stored("payload", b"")]))
    assert path.stat().st_size < 2 * 2**20
    for read in (inspect, load):
        with pytest.raises(CorruptFileError, match=r"bomb\.fwsk.*compressed"):
            read(path)
    assert opened == []


def test_a_payload_zip_bomb_is_refused_before_it_is_inflated(tmp_path, opened):
    path = tmp_path / "bomb.fwsk"
    bomb = _deflated_zeros("payload", 64)
    path.write_bytes(_zip([_stored("manifest.json", _manifest_for(2**26)), bomb]))
    with pytest.raises(CorruptFileError, match=r"member 'payload' is compressed"):
        load(path)
    assert opened == []


def test_a_skops_payload_with_a_compressed_member_is_refused(tmp_path, pipeline):
    path = save(pipeline, tmp_path / "m.fwsk", format="skops")
    with zipfile.ZipFile(path) as outer:
        manifest = json.loads(outer.read("manifest.json"))
        inner = zipfile.ZipFile(io.BytesIO(outer.read("payload")))
    members = [_deflated_zeros("schema.json", 16)]
    members += [
        _stored(n, inner.read(n)) for n in inner.namelist() if n != "schema.json"
    ]
    _write_payload(path, manifest, _zip(members))
    with pytest.raises(CorruptFileError, match="member 'schema.json' is compressed"):
        load(path)


def test_a_manifest_over_the_limit_is_refused_unread(tmp_path, opened):
    path = tmp_path / "big.fwsk"
    manifest = b" " * (persistence._MANIFEST_LIMIT + 1)
    path.write_bytes(
        _zip([_stored("manifest.json", manifest), _stored("payload", b"")])
    )
    with pytest.raises(CorruptFileError, match="manifest states .* over the limit"):
        inspect(path)
    assert opened == []


def test_a_stated_size_larger_than_the_file_is_refused_unread(tmp_path, opened):
    path = tmp_path / "liar.fwsk"
    liar = ("payload", b"x" * 10, zipfile.ZIP_STORED, 2**31, 0)
    path.write_bytes(_zip([_stored("manifest.json", _manifest_for(2**31)), liar]))
    with pytest.raises(CorruptFileError, match="states 2147483648 bytes"):
        load(path)
    assert opened == []


def test_a_payload_size_other_than_the_manifest_says_is_refused_unread(
    tmp_path, pipeline, opened
):
    path = save(pipeline, tmp_path / "m.fwsk")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        payload = archive.read("payload")
    manifest["payload_bytes"] += 1
    path.write_bytes(
        _zip(
            [
                _stored("manifest.json", json.dumps(manifest).encode()),
                _stored("payload", payload),
            ]
        )
    )
    opened.clear()
    with pytest.raises(CorruptFileError, match="payload holds .* manifest says"):
        load(path)
    assert opened == ["manifest.json"]


# ------------------------------------------------ one error for a bad file
def _write_payload(path, manifest, payload):
    """Write ``payload`` as the file's payload, under ``manifest`` updated to
    state its checksum and size, so that only what the test changed is wrong."""
    manifest = {
        **manifest,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
    }
    manifest_member = _stored("manifest.json", json.dumps(manifest).encode())
    path.write_bytes(_zip([manifest_member, _stored("payload", payload)]))


def _with_manifest(path, **changes):
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        payload = archive.read("payload")
    manifest.update(changes)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("payload", payload)


@pytest.mark.parametrize(
    "field, value",
    [
        ("versions", ["torch", "2.0"]),
        ("versions", {"torch": 2}),
        ("payload_bytes", "12"),
        ("payload_bytes", True),
        ("sha256", 7),
        ("sha256", "not hex"),
        ("input_schema", "x"),
        ("input_schema", [{"name": 1}]),
        ("random_state", {"seed": "0"}),
        ("created", None),
        ("object", 3),
    ],
)
def test_manifest_fields_are_checked_by_type(tmp_path, pipeline, field, value):
    path = save(pipeline, tmp_path / "m.fwsk")
    _with_manifest(path, **{field: value})
    for read in (inspect, load):
        with pytest.raises(CorruptFileError, match=rf"m\.fwsk.*manifest's '{field}'"):
            read(path)


def test_deeply_nested_manifest_json_is_corrupt(tmp_path):
    path = tmp_path / "deep.fwsk"
    nested = b"[" * 200_000 + b"]" * 200_000
    path.write_bytes(_zip([_stored("manifest.json", nested), _stored("payload", b"")]))
    with pytest.raises(CorruptFileError, match=r"deep\.fwsk"):
        inspect(path)


def _flag_central_directory(data, offset, value):
    """Set a 2-byte field of each central directory entry of a zip."""
    data, start = bytearray(data), 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        data[start + offset : start + offset + 2] = struct.pack("<H", value)
        start += 4
    return bytes(data)


@pytest.mark.parametrize(
    "offset, value",
    [
        pytest.param(8, 0x1, id="encryption flag (was RuntimeError)"),
        pytest.param(10, 99, id="compression 99 (was NotImplementedError)"),
    ],
)
def test_zip_header_damage_is_corrupt_file_error(tmp_path, pipeline, offset, value):
    path = save(pipeline, tmp_path / "m.fwsk")
    path.write_bytes(_flag_central_directory(path.read_bytes(), offset, value))
    with pytest.raises(CorruptFileError, match=r"m\.fwsk"):
        load(path)


@pytest.mark.parametrize(
    "schema",
    [b"[]", b'{"protocol": 3}', b"{", b'{"__loader__": "Nope", "protocol": 3}'],
)
def test_a_broken_skops_schema_is_corrupt_file_error(tmp_path, pipeline, schema):
    path = save(pipeline, tmp_path / "m.fwsk", format="skops")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    _write_payload(path, manifest, _zip([_stored("schema.json", schema)]))
    with pytest.raises(CorruptFileError, match=r"m\.fwsk"):
        load(path)


# ---------------------------------------------------- temporary names
def test_a_legal_250_character_name_saves(tmp_path, pipeline, frame):
    path = tmp_path / ("m" * 245 + ".fwsk")
    assert len(path.name) == 250
    loaded = load(save(pipeline, path))
    assert loaded.transform(frame).equals(pipeline.transform(frame))
    _assert_only(tmp_path, [path.name])


def test_a_folder_refusing_the_temporary_file_names_the_target(
    tmp_path, pipeline, monkeypatch
):
    import tempfile

    temporary = str(tmp_path / ".model.fwsk.abcd1234.tmp")

    def read_only_folder(*args, **kwargs):
        raise PermissionError(13, "Permission denied", temporary)

    monkeypatch.setattr(tempfile, "mkstemp", read_only_folder)
    path = tmp_path / "model.fwsk"
    with pytest.raises(PermissionError, match="Saving to .*model.fwsk' failed") as info:
        save(pipeline, path)
    assert "abcd1234" not in str(info.value)


def test_a_skops_array_stating_more_data_than_it_holds_is_refused(tmp_path, frame):
    # numpy would allocate the stated 64 GiB before finding the data missing.
    path = save(BatchNormalizer(["x"]).fit(frame), tmp_path / "m.fwsk", format="skops")
    with zipfile.ZipFile(path) as outer:
        manifest = json.loads(outer.read("manifest.json"))
        inner = zipfile.ZipFile(io.BytesIO(outer.read("payload")))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**33,)}
    )
    members = [
        _stored(
            n, header.getvalue() + bytes(8) if n.endswith(".npy") else inner.read(n)
        )
        for n in inner.namelist()
    ]
    _write_payload(path, manifest, _zip(members))
    with pytest.raises(CorruptFileError, match="states 68719476736 bytes of data"):
        load(path)


def test_save_refuses_a_manifest_that_load_would_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "_MANIFEST_LIMIT", 100)
    with pytest.raises(ValueError, match=r"manifest takes \d+ bytes, over the 100"):
        save(BatchNormalizer(), tmp_path / "m.fwsk")
    assert not list(tmp_path.iterdir())


def _tensor_frame():
    return Message(
        {"t": torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), "c": list("aab")}
    )


def _edit_positions(pipe):
    pipe._positions["c"] = np.array([0, 50_000_000])


def _edit_positions_length(pipe):
    pipe._positions["c"] = np.array([0, 1, 1])


def _edit_code_count(pipe):
    pipe.n_codes_["c"] = 10**9


def _edit_categories(pipe):
    pipe.categories_["c"] = np.array(["a", "b", "z"], dtype=object)


def _edit_mean(pipe):
    pipe.mean_["t"] = torch.zeros(1000, 1, dtype=torch.float64)


def _edit_moments(pipe):
    shift, offset, m2 = pipe._moments["t"]
    pipe._moments["t"] = (shift, offset, torch.zeros(2, 2, dtype=torch.float64))


def _edit_statistics(pipe):
    pipe.statistics_["t"] = torch.zeros(1000, 2, dtype=torch.float64)


_DISAGREEING_STATES = [
    (OneHot(["c"]), _edit_positions, "output positions for column 'c'"),
    (OneHot(["c"]), _edit_positions_length, "output positions for column 'c'"),
    (OneHot(["c"]), _edit_categories, "categories of column 'c' unlike"),
    (IndexEncoder(["c"]), _edit_code_count, "code count for column 'c'"),
    (IndexEncoder(["c"]), _edit_categories, "categories of column 'c' unlike"),
    (BatchNormalizer(["t"]), _edit_mean, r"column 't' of another shape .*\(2,\)"),
    (BatchNormalizer(["t"]), _edit_moments, "column 't' of another shape"),
    (Impute(["t"]), _edit_statistics, "column 't' of another shape"),
]


@pytest.mark.parametrize("format", ["joblib", "skops"])
@pytest.mark.parametrize(("pipe", "edit", "problem"), _DISAGREEING_STATES)
def test_load_refuses_fitted_state_that_disagrees_with_itself(
    tmp_path, pipe, edit, problem, format
):
    # A size stored apart from the data it describes sizes an allocation on
    # the first transform: a small file must not ask for gigabytes.
    if format == "skops":
        pytest.importorskip("skops")
    pipe = clone(pipe)
    message = _tensor_frame()
    fitted = Pipeline([("step", pipe.fit(message))])
    path = save(fitted, tmp_path / "m.fwsk", format=format)
    assert load(path).transform(message).equals(fitted.transform(message))
    edit(pipe)
    path = save(fitted, tmp_path / "m.fwsk", format=format)
    assert path.stat().st_size < 100_000
    named = f"m.fwsk.* is corrupt: {type(pipe).__name__} .*{problem}"
    with pytest.raises(CorruptFileError, match=named):
        load(path)


@pytest.mark.parametrize("reader", ["joblib", "pickle"])
@pytest.mark.parametrize(("pipe", "edit", "problem"), _DISAGREEING_STATES)
def test_unpickling_refuses_fitted_state_that_disagrees_with_itself(
    pipe, edit, problem, reader
):
    # The Pipe checks its own state as it is rebuilt: a file loaded without
    # fireworks_sk.load is refused as surely.
    pipe = clone(pipe).fit(_tensor_frame())
    edit(pipe)
    buffer = io.BytesIO()
    if reader == "joblib":
        joblib.dump(pipe, buffer)
    else:
        pickle.dump(pipe, buffer)
    buffer.seek(0)
    read = joblib.load if reader == "joblib" else pickle.load
    with pytest.raises(CorruptStateError, match=f"{type(pipe).__name__} .*{problem}"):
        read(buffer)


@pytest.mark.parametrize("format", ["joblib", "skops"])
@pytest.mark.parametrize(
    ("pipe", "attribute"),
    [
        (OneHot(["c"]), "_positions"),
        (IndexEncoder(["c"]), "n_codes_"),
        (BatchNormalizer(["t"]), "_moments"),
        (Impute(["t"]), "statistics_"),
        (BatchNormalizer(["t"]), "columns_"),
    ],
)
def test_load_refuses_a_fitted_state_missing_a_part(tmp_path, pipe, attribute, format):
    if format == "skops":
        pytest.importorskip("skops")
    pipe = clone(pipe).fit(_tensor_frame())
    delattr(pipe, attribute)
    path = save(pipe, tmp_path / "m.fwsk", format=format)
    with pytest.raises(
        CorruptFileError,
        match=f"m.fwsk.* is corrupt: {type(pipe).__name__} has an incomplete fitted "
        f"state \\(AttributeError: .*'{attribute}'",
    ):
        load(path)


@pytest.mark.parametrize(
    ("obj", "named"),
    [
        (
            Message({"t": torch.ones(2), "s": pd.Series(["x", "y"])}),
            "the pandas column 's' of the Message at Message",
        ),
        ({"w": torch.tensor([1.0, 2.0])}, r"the Tensor at dict\['w'\]"),
        (
            [0, {"frame": pd.DataFrame({"a": [1.0]})}],
            r"the DataFrame at list\[1\]\['frame'\]",
        ),
    ],
)
def test_skops_save_names_what_skops_cannot_store_and_points_to_joblib(
    tmp_path, obj, named
):
    pytest.importorskip("skops")
    with pytest.raises(ValueError, match=f"cannot store {named} .*format='joblib'"):
        save(obj, tmp_path / "m.fwsk", format="skops")
    assert list(tmp_path.iterdir()) == []
    save(obj, tmp_path / "m.fwsk")  # joblib stores it
    assert load(tmp_path / "m.fwsk").__class__ is obj.__class__


@pytest.mark.parametrize(
    "pipe", [OneHot(["c"]), IndexEncoder(["c"]), BatchNormalizer(["t"]), Impute(["t"])]
)
def test_a_pipe_between_its_schema_and_its_statistics_unpickles(pipe):
    # A Dask fit records the schema, then sends the Pipe to the workers to
    # learn: nothing learned yet is not an incomplete state, even with the
    # private state of an earlier fit lingering (a refit clears the fitted
    # attributes only).
    pipe = clone(pipe).fit(_tensor_frame())
    schema = {"columns_", "feature_names_in_", "n_features_in_"}
    for name in [n for n in vars(pipe) if n.endswith("_") and n not in schema]:
        delattr(pipe, name)
    assert pipe.__sklearn_is_fitted__()
    copy = pickle.loads(pickle.dumps(pipe))
    # Everything saved comes back (caches derived from the fit are not saved).
    assert sorted(vars(copy)) == sorted(pipe.__getstate__())


@pytest.mark.parametrize("format", ["joblib", "skops"])
def test_fitted_statistics_keep_their_shapes_through_save_and_load(tmp_path, format):
    # A one-value statistic is a 0-d tensor; it used to come back of shape (1,).
    if format == "skops":
        pytest.importorskip("skops")
    scaler = BatchNormalizer().fit(pd.DataFrame({"a": [1.0, 2.0, 4.0]}))
    save(scaler, tmp_path / "m.fwsk", format=format)
    loaded = load(tmp_path / "m.fwsk")
    copied = pickle.loads(pickle.dumps(scaler))
    for other in (loaded, copied):
        for name in ("mean_", "var_", "scale_"):
            assert getattr(other, name)["a"].shape == getattr(scaler, name)["a"].shape
            assert torch.equal(getattr(other, name)["a"], getattr(scaler, name)["a"])


def test_saved_tensor_whose_values_are_of_another_size_than_its_dtype_is_corrupt():
    from fireworks_sk._portable import from_portable, to_portable

    state = to_portable(torch.arange(4, dtype=torch.float64))
    state["values"] = np.zeros(4, dtype=np.int8)  # 1 byte each where 8 are stated
    with pytest.raises(ValueError, match="float64 tensor is stored as torch.int8"):
        from_portable(state)
    bits = to_portable(torch.tensor([1.5, 2.0], dtype=torch.bfloat16))
    assert from_portable(bits).dtype == torch.bfloat16  # same size: read as bits
