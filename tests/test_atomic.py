"""Every file the package writes is written one way: ``atomic_write``.

The rules: a temporary file per writer in the destination's folder, synced
before it is renamed over the destination, removed on any failure; errors
name the destination; destination names up to 250 characters are fine.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import fireworks_sk as fsk
from fireworks_sk._atomic import atomic_write
from fireworks_sk.cli import main
from fireworks_sk.runs import demo_config, run
from fireworks_sk.stream import write_parquet

pytest.importorskip("pyarrow")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads file names in /proc"
)


def _save(folder, name):
    return fsk.save({"v": 1}, folder / name)


def _write_parquet(folder, name):
    return write_parquet([np.arange(3)], folder / name)


def _model_and_data(folder):
    """A saved model and a CSV to predict for, in ``folder / "in"``."""
    data = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
    inputs = folder / "in"
    inputs.mkdir(exist_ok=True)
    fsk.save(LinearRegression().fit(data.to_numpy(), [0, 1, 2]), inputs / "m.fwsk")
    data.to_csv(inputs / "data.csv", index=False)
    return inputs / "m.fwsk", inputs / "data.csv"


def _run_predict(folder, name):
    model, data = folder / "in" / "m.fwsk", folder / "in" / "data.csv"
    out = ["--out", str(folder / name)]
    if main(["predict", str(model), str(data), "--quiet", *out]):
        raise OSError("predict failed")


def _predict_csv(folder, name):
    _model_and_data(folder)
    _run_predict(folder, name)


def _init(folder, name):
    if main(["init", str(folder / name), "--force"]):
        raise OSError("init failed")


# Each writer, with the word its error uses for what it was doing.
WRITERS = {
    "save": (_save, "model.fwsk", "Saving to"),
    "write_parquet": (_write_parquet, "out.parquet", "Writing Parquet to"),
    "predict --out": (_predict_csv, "out.csv", "Writing predictions to"),
    "init": (_init, "run.toml", "Writing the template to"),
}


@pytest.fixture(params=list(WRITERS))
def writer(request):
    return WRITERS[request.param]


def _names(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "in")


def test_every_writer_syncs_a_private_temporary_then_renames_it(
    tmp_path, monkeypatch, writer
):
    write, name, _ = writer
    events = _record_syncs_and_renames(monkeypatch)
    write(tmp_path, name)
    _assert_written_atomically(events, tmp_path / name)
    assert _names(tmp_path) == [name]


def _record_syncs_and_renames(monkeypatch):
    """Patch os.fsync and os.replace to log what they are called on."""
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source, destination):
        events.append(("replace", os.fspath(source), os.fspath(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _assert_written_atomically(events, path):
    renames = [e for e in events if e[0] == "replace" and e[2] == str(path)]
    assert len(renames) == 1, (path, events)
    temporary = renames[0][1]
    assert os.path.dirname(temporary) == str(path.parent)
    assert os.path.basename(temporary).startswith(f".{path.name}.")
    assert ("fsync", temporary) in events[: events.index(renames[0])]


def test_a_training_run_writes_each_of_its_files_atomically(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    config = demo_config(tmp_path / "run")
    config["model"]["params"]["max_epochs"] = 2
    config["search"] = {"cv": 2, "grid": {"model__lr": [0.01]}}
    events = _record_syncs_and_renames(monkeypatch)
    result = run(config, verbose=0)
    for name in ["model.fwsk", "run.json", "learning_curve.png"]:
        _assert_written_atomically(events, result.output / name)
    assert sorted(p.name for p in result.output.iterdir()) == [
        "learning_curve.png",
        "model.fwsk",
        "run.json",
    ]


@pytest.mark.parametrize("which", ["save", "write_parquet"])
def test_every_writer_keeps_the_old_file_when_the_rename_fails(
    tmp_path, monkeypatch, which
):
    write, name, action = WRITERS[which]
    (tmp_path / name).write_bytes(b"old")

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", source)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as info:
        write(tmp_path, name)
    monkeypatch.undo()
    assert isinstance(info.value, PermissionError)
    assert f"{action} '{tmp_path / name}' failed: Permission denied" in str(info.value)
    assert ".tmp" not in str(info.value)
    assert (tmp_path / name).read_bytes() == b"old"
    assert _names(tmp_path) == [name]


def test_predict_out_keeps_the_old_file_when_the_rename_fails(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "out.csv").write_bytes(b"old")
    _model_and_data(tmp_path)

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", source)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="predict failed"):
        _run_predict(tmp_path, "out.csv")
    monkeypatch.undo()
    error = capsys.readouterr().err
    assert f"Writing predictions to '{tmp_path / 'out.csv'}' failed" in error
    assert (tmp_path / "out.csv").read_bytes() == b"old"
    assert _names(tmp_path) == ["out.csv"]


def test_every_writer_takes_a_250_character_name(tmp_path, writer):
    write, name, _ = writer
    long_name = "n" * (250 - len(name)) + name
    write(tmp_path, long_name)
    assert _names(tmp_path) == [long_name]


def test_an_error_in_the_block_propagates_unchanged_and_leaves_nothing(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    error = OSError("the source went away")
    with pytest.raises(OSError) as info:
        with atomic_write(path, action="Writing") as handle:
            handle.write(b"new, half")
            raise error
    assert info.value is error
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["out.bin"]


def test_an_interrupt_while_syncing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path, action="Writing") as handle:
            handle.write(b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["out.bin"]


def test_concurrent_writers_never_share_a_temporary(tmp_path):
    path = tmp_path / "out.bin"
    inside, release = threading.Barrier(2), threading.Event()
    temporaries = []

    def write(content):
        with atomic_write(path, action="Writing") as handle:
            temporaries.append(os.readlink(f"/proc/self/fd/{handle.fileno()}"))
            handle.write(content)
            inside.wait(timeout=30)
            release.wait(timeout=30)

    threads = [threading.Thread(target=write, args=(c,)) for c in (b"a", b"b")]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(temporaries)) == 2
    assert path.read_bytes() in (b"a", b"b")
    assert _names(tmp_path) == ["out.bin"]


def test_a_stale_temporary_is_left_alone(tmp_path):
    path = tmp_path / "out.bin"
    stale = tmp_path / ".out.bin.abcd1234.tmp"
    stale.write_bytes(b"cut short by a kill")
    with atomic_write(path, action="Writing") as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new"
    assert stale.read_bytes() == b"cut short by a kill"
