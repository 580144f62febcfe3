"""Checking linker definitions against the types a component imports.

Host functions are untyped Python callables, so a function import only needs
*a* function; their values are checked at call time.  Instances are checked
export by export (extra exports are fine), core modules by their exports and
imports, as wasmtime's ``matching.rs`` does, with wasmtime's messages so that
substring checks written against wasmtime keep working.
"""

from __future__ import annotations

from typing import Optional

import wasmtime

from ..errors import LinkError
from ..types import model
from .linker import (
    Definition,
    FuncDefinition,
    InstanceDefinition,
    ModuleDefinition,
    ResourceDefinition,
    TrapDefinition,
    describe,
)


def describe_expected(expected: object) -> str:
    """The kind of an expected import type, in wasmtime's words."""
    if isinstance(expected, model.ComponentType):
        return "component"
    if isinstance(expected, model.InstanceType):
        return "instance"
    if isinstance(expected, model.FuncType):
        return "function"
    if isinstance(expected, model.CoreModuleType):
        return "core module"
    if isinstance(expected, model.TypeBound) and expected.resource is not None:
        return "resource"
    return "type"


def check_definition(expected: object, actual: Optional[Definition], engine: wasmtime.Engine) -> None:
    """Raise ``LinkError`` unless ``actual`` can satisfy an import of type ``expected``."""
    if isinstance(expected, model.CoreModuleType):
        if isinstance(actual, ModuleDefinition):
            _check_module(expected, actual.module)
            return
        _missing_or_wrong("module", actual)
    elif isinstance(expected, model.InstanceType):
        if actual is not None and not isinstance(actual, InstanceDefinition):
            raise LinkError(f"expected instance found {describe(actual)}")
        bound: set[int] = set()
        for name, export_type in expected.exports.items():
            if isinstance(export_type, model.TypeBound) and export_type.resource is None:
                continue  # named interface types have no definition to look up
            found = actual.items.get(name) if actual is not None else None
            if isinstance(export_type, model.TypeBound):
                key = id(export_type.resource)
                if key in bound and found is None:
                    continue  # `(eq $r)` to an earlier export: nothing to supply
                bound.add(key)
            try:
                check_definition(export_type, found, engine)
            except LinkError as err:
                raise err.with_context(f"instance export `{name}` has the wrong type") from None
    elif isinstance(expected, model.FuncType):
        if isinstance(actual, (FuncDefinition, TrapDefinition)):
            return
        _missing_or_wrong("function", actual)
    elif isinstance(expected, model.ComponentType):
        _missing_or_wrong("component", actual, wrong_always=True)
    elif isinstance(expected, model.TypeBound) and expected.resource is not None:
        if isinstance(actual, ResourceDefinition):
            return
        _missing_or_wrong("resource", actual)
    else:
        _missing_or_wrong("type", actual, wrong_always=True)


def _missing_or_wrong(kind: str, actual: Optional[Definition], wrong_always: bool = False) -> None:
    if actual is None:
        raise LinkError(f"{kind} implementation is missing")
    raise LinkError(f"expected {kind} found {describe(actual)}")


def _check_module(expected: model.CoreModuleType, module: wasmtime.Module) -> None:
    from .._engine.core import module_exports, module_imports

    actual_exports = {name: ty for name, ty in module_exports(module)}
    for name, want in expected.exports:
        have = actual_exports.get(name)
        if have is None:
            raise LinkError(f"module export `{name}` not defined")
        if not _core_matches(have, want):
            raise LinkError(f"module export `{name}` has the wrong type")
    expected_imports = {(m, n): ty for m, n, ty in expected.imports}
    for module_name, name, have in module_imports(module):
        wanted = expected_imports.get((module_name, name))
        if wanted is None:
            raise LinkError(f"module import `{module_name}::{name}` not defined")
        if not _core_matches(wanted, have):
            raise LinkError(f"module import `{module_name}::{name}` has the wrong type")


def _core_matches(actual: model.CoreExternType, expected: model.CoreExternType) -> bool:
    """Core extern subtyping: equal func/global/tag types, limits within the expected ones."""
    if actual.kind != expected.kind:
        return False
    if actual.kind == "func":
        return actual.func == expected.func
    have, want = actual.detail, expected.detail
    if not isinstance(have, tuple) or not isinstance(want, tuple):
        return have == want
    if actual.kind == "table":
        return have[0] == want[0] and _limits_match(have[1], have[2], want[1], want[2])
    if actual.kind == "memory":
        return have[2:] == want[2:] and _limits_match(have[0], have[1], want[0], want[1])
    return have == want


def _limits_match(min_have: int, max_have: Optional[int], min_want: int, max_want: Optional[int]) -> bool:
    if min_have < min_want:
        return False
    if max_want is None:
        return True
    return max_have is not None and max_have <= max_want
