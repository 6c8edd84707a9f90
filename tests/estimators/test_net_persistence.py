"""A fitted Pipeline(Pipes + TorchClassifier) survives joblib in a fresh process."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline

from fireworks_sk import BatchNormalizer, OneHot, Stack, TorchClassifier

ROOT = Path(__file__).resolve().parents[2]


def _fitted_pipeline(frame):
    pipe = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("onehot", OneHot(columns=["colour"])),
            ("stack", Stack()),
            ("net", TorchClassifier(random_state=0, max_epochs=3)),
        ]
    )
    return pipe.fit(frame.drop(columns="label"), frame["label"])


def test_joblib_round_trip_in_a_fresh_process_gives_identical_proba(frame, tmp_path):
    pipe = _fitted_pipeline(frame)
    X = frame.drop(columns="label")
    joblib.dump(pipe, tmp_path / "model.joblib")
    X.to_pickle(tmp_path / "X.pkl")
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np, pandas as pd
        pipe = joblib.load({str(tmp_path / "model.joblib")!r})
        X = pd.read_pickle({str(tmp_path / "X.pkl")!r})
        np.save({str(tmp_path / "proba.npy")!r}, pipe.predict_proba(X))
        np.save({str(tmp_path / "labels.npy")!r}, pipe.predict(X).astype(str))
        """
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "proba.npy"), pipe.predict_proba(X)
    )
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), pipe.predict(X))


def test_pickle_keeps_fitted_schema_and_classes(frame):
    pipe = _fitted_pipeline(frame)
    loaded = pickle.loads(pickle.dumps(pipe))
    net = loaded.named_steps["net"]
    assert net.classes_.tolist() == ["ant", "bee", "cat"]
    assert net.inputs_ == ["features"]
    X = frame.drop(columns="label")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_trained_on_cuda_loads_and_predicts_on_a_cpu_only_process(
    blobs, tmp_path
):
    X, y = blobs
    clf = TorchClassifier(random_state=0, max_epochs=2, device="cuda").fit(X, y)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(
        """
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        clf = joblib.load("model.joblib")
        np.save("proba.npy", clf.predict_proba(np.load("X.npy")))
        """
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X), rtol=1e-4
    )
