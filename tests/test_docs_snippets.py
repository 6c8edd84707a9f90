"""Every Python code block of the documentation runs; every run config is valid.

The blocks of one page run in order in one process, sharing their names, in
an empty temporary folder. A block that shows the shape of a job on data or
services the reader supplies is preceded by ``<!-- not run: reason -->`` and
left out; every other ```` ```python ```` block is run. TOML blocks must pass
the checks of ``fireworks-sk train`` and build a Pipeline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(
    r"(?P<skip><!-- not run: [^>]+-->\n)?^```python\n(?P<code>.*?)^```",
    re.S | re.M,
)


def python_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [m["code"] for m in BLOCK.finditer(text) if not m["skip"]]


def _env() -> dict[str, str]:
    # The checkout under test comes first, whatever is installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]


@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=lambda page: str(page.relative_to(ROOT))
)
def test_page_code_runs(page, tmp_path):
    blocks = python_blocks(page)
    script = "\n\n".join(blocks)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**_env(), "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]


TOML = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if TOML.search(page.read_text(encoding="utf-8"))],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_page_run_configs_are_valid(page):
    tomllib = pytest.importorskip("tomllib")
    from fireworks_sk.runs import build_pipeline, check_config

    for text in TOML.findall(page.read_text(encoding="utf-8")):
        config = tomllib.loads(text)
        check_config(config)
        build_pipeline(config)
