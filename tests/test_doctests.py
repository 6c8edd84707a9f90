"""The examples in fireworks_sk's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import fireworks_sk

PACKAGE = Path(fireworks_sk.__file__).parent
# Every module whose source holds an example; its docstrings must hold them all.
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# The optional dependency (extra) each module's examples use.
EXTRAS = {
    "fireworks_sk.cluster": "distributed",
    "fireworks_sk.persistence": "skops",
    "fireworks_sk.sources._files": "pyarrow",
    "fireworks_sk.sources._sql": "sqlalchemy",
}


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    return [test for test in tests if test.examples]


def test_the_examples_are_found():
    assert "fireworks_sk.message" in MODULES
    assert "fireworks_sk.pipes._normalize" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    if name in EXTRAS:
        pytest.importorskip(EXTRAS[name], reason="its extra is not installed")
    tests = _examples(name)
    in_source = Path(importlib.import_module(name).__file__).read_text("utf-8")
    found = sum(len(test.examples) for test in tests)
    assert found >= in_source.count(">>>"), f"{name}: examples outside docstrings"
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert list(tmp_path.iterdir()) == [], "an example left files behind"
