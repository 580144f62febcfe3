"""Rejecting gated features the engine has not switched on.

Walks the decoded tree once (core module bytes are not entered) looking for
``map`` types (feature ``cm-map``) and names carrying attributes such as
``implements`` (feature ``cm-implements``), with wasmparser's messages.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from ..binary import ast
from ..errors import ValidationError

GATED = frozenset({"cm-implements", "cm-map", "cm-nested-names"})
"""Gated features; ``cm-nested-names`` is applied by name parsing during validation."""


def check_features(tree: ast.ComponentAST, enabled: frozenset[str]) -> None:
    """Raise ``ValidationError`` for the first use of a gated feature not in ``enabled``."""
    if {"cm-implements", "cm-map"} <= enabled:
        return
    for node, offset in _walk(tree, tree.offset):
        if isinstance(node, ast.MapDef) and "cm-map" not in enabled:
            raise ValidationError("Maps require the component model map feature", node.offset or offset)
        if isinstance(node, ast.ExternName) and node.encoding == 2 and "cm-implements" not in enabled:
            raise ValidationError("the `cm-implements` feature is not active", node.offset or offset)


def _walk(node: object, offset: int) -> Iterator[tuple[object, int]]:
    """Every dataclass node below ``node`` with the nearest known offset (iterative: trees nest deeply)."""
    stack: list[tuple[object, int]] = [(node, offset)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, (tuple, list)):
            # Reversed, so nodes come out in binary order and the first use is reported.
            stack.extend((item, where) for item in reversed(current))
            continue
        if not dataclasses.is_dataclass(current) or isinstance(current, type):
            continue
        where = getattr(current, "offset", where) or where
        yield current, where
        for field in reversed(dataclasses.fields(current)):
            value = getattr(current, field.name)
            if isinstance(value, (tuple, list)) or dataclasses.is_dataclass(value):
                stack.append((value, where))
