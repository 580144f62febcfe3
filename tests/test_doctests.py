"""Every docstring example in the package runs as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import wasmcomponent

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(wasmcomponent.__path__, prefix="wasmcomponent.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
