"""docs/concepts.md's map of the modules is the truth: every module has a row,
and a module imports only from the rows above its own (imports made only for
type checkers aside)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fireworks_sk"


def _map_rows() -> dict[str, int]:
    """Module path (relative to the package) or package folder -> row number."""
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    table = text[text.index("| Module | Owns |") :].splitlines()[2:]
    rows: dict[str, int] = {}
    for number, line in enumerate(table):
        if not line.startswith("| `"):
            break
        folder = ""
        for item in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if "/" in item:
                folder = item if item.endswith("/") else item.rsplit("/", 1)[0] + "/"
            else:
                item = folder + item
            rows[item] = number
    return rows


def _modules() -> list[str]:
    return sorted(
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py"  # a package's public face, re-exporting
    )


def _row(module: str, rows: dict[str, int]) -> int | None:
    if module in rows:
        return rows[module]
    folder = module.rsplit("/", 1)[0] + "/" if "/" in module else ""
    return rows.get(folder)


def _runtime_imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every fireworks_sk import outside TYPE_CHECKING."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                "fireworks_sk"
            ):
                found.append((child.lineno, child.module))
                found.extend(
                    (child.lineno, f"{child.module}.{a.name}") for a in child.names
                )
            elif isinstance(child, ast.Import):
                found.extend(
                    (child.lineno, a.name)
                    for a in child.names
                    if a.name.startswith("fireworks_sk")
                )
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _target(name: str) -> list[str]:
    """The modules an import of ``name`` runs: a package runs all of its own."""
    relative = "/".join(name.split(".")[1:])
    if (PACKAGE / f"{relative}.py").exists():
        return [f"{relative}.py"]
    if relative and (PACKAGE / relative / "__init__.py").exists():
        return [m for m in _modules() if m.startswith(relative + "/")]
    return []


def test_every_module_has_a_row_in_the_map():
    rows = _map_rows()
    missing = [m for m in _modules() if _row(m, rows) is None]
    assert not missing, f"add rows to docs/concepts.md for {missing}"


def test_modules_import_only_from_rows_above_their_own():
    rows = _map_rows()
    upward = set()
    for module in _modules():
        own = _row(module, rows)
        for line, name in _runtime_imports(PACKAGE / module):
            for target in _target(name):
                if target == module or target.startswith(
                    module.rsplit("/", 1)[0] + "/__"
                ):
                    continue
                row = _row(target, rows)
                if own is not None and row is not None and row > own:
                    upward.add(f"{module}:{line} imports {target}")
    assert not upward, sorted(upward)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    # A module listed above message.py that imported it would be reported.
    rows = _map_rows()
    assert _row("exceptions.py", rows) < _row("message.py", rows)
    fake = tmp_path / "exceptions.py"
    fake.write_text("from fireworks_sk.message import Message\n")
    targets = [t for _, n in _runtime_imports(fake) for t in _target(n)]
    assert "message.py" in targets
