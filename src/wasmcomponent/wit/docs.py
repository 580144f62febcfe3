"""Docs and feature gates from a component's ``package-docs`` custom section."""

from __future__ import annotations

from ..binary import ast
from . import model as w


def apply_package_docs(tree: ast.ComponentAST, resolve: w.Resolve) -> None:
    """Attach the docs and gates of ``tree``'s ``package-docs`` section (if any) to ``resolve``."""
