"""Griffe extension: render Sphinx roles in numpydoc docstrings for mkdocstrings.

The package's docstrings use Sphinx roles (``:class:`~fireworks_sk.MessageLoader```),
which mkdocstrings would show as literal text. This extension rewrites a role
on a fully qualified ``fireworks_sk`` name into a cross-reference, which
``mkdocs build --strict`` then checks, and any other role into inline code.
The docstrings themselves stay as they are for ``help()`` and IDEs.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|obj|data|exc):`(~?)([\w.]+)`")


def _replace(match: re.Match[str]) -> str:
    short, path = match.group(1), match.group(2)
    label = path.rsplit(".", 1)[-1] if short else path
    if path.startswith("fireworks_sk."):
        return f"[`{label}`][{path}]"
    return f"`{label}`"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring griffe loads."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_replace, obj.docstring.value)
