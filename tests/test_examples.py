"""Every example script runs to completion, and the documentation site builds."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _env() -> dict[str, str]:
    # The checkout under test comes first, whatever is installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}


@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_the_examples_run_are_the_ones_the_pages_list(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    listed = set(re.findall(r"`(\w+\.py)`", text))
    assert {path.name for path in EXAMPLES} == listed


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, tmp_path):
    # Run from an empty folder so that an example writing files leaves none here.
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert not list(tmp_path.iterdir()), "examples write only to temporary folders"


def _missing_docs_packages() -> list[str]:
    missing = []
    for name in DOCS_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def test_documentation_builds_strictly(tmp_path):
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"the 'docs' extra is not installed (missing {missing})")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", tmp_path],
        cwd=ROOT,
        env={**_env(), "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "index.html").is_file()
